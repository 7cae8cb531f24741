"""The dashboard as an operator deploys it: TLS, the operator's login and the broker's ACL."""

from pathlib import Path

import pytest
from evcsm_tui.app import EvcsmApp
from evcsm_tui.client import MqttLink
from evcsm_tui.config import parse_options

from tests.deploy.deployment import DAEMON_USER, OPERATOR_USER, Deployment, running_broker
from tests.support.broker import free_port
from tests.support.daemon import daemon_settings, running_daemon
from tests.tui.harness import FAST_BACKOFF, label, row, table_rows, wait_until

pytestmark = pytest.mark.broker


async def test_operator_over_tls_on_the_locked_down_broker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    deployment = Deployment.create(tmp_path)
    port = free_port()
    with running_broker(deployment, tls_port=port) as (_, files):
        ca_file = files / "certs" / "ca.crt"
        monkeypatch.setenv("EVCSM_MQTT_PASSWORD", deployment.password(OPERATOR_USER))
        options = parse_options(
            [
                "--mqtt-url",
                f"mqtts://{OPERATOR_USER}@localhost:{port}",
                "--mqtt-ca-file",
                str(ca_file),
            ]
        )
        link = MqttLink(options.broker, request_timeout=5.0, backoff=FAST_BACKOFF)
        app = EvcsmApp(link, export_dir=tmp_path, refresh_interval=0.05)
        settings = daemon_settings(
            f"mqtts://{DAEMON_USER}@localhost:{port}",
            mqtt_password=deployment.password(DAEMON_USER),
            mqtt_ca_file=str(ca_file),
        )
        async with running_daemon(settings), app.run_test(size=(100, 30)) as pilot:
            await wait_until(
                pilot, "daemon online", lambda: "daemon online" in label(app, "#daemon")
            )
            await wait_until(pilot, "CP1 idle", lambda: row(app, "CP1").get("status") == "Idle")
            assert "mqtts://evcsm-operator@localhost" in label(app, "#broker")
            await pilot.press("s")
            await wait_until(pilot, "CP1 charging", lambda: row(app, "CP1")["status"] == "Charging")
            await pilot.press("x")
            await wait_until(pilot, "CP1 stopped", lambda: row(app, "CP1")["status"] == "Idle")
            await pilot.press("h")
            await wait_until(
                pilot, "the session listed", lambda: len(table_rows(app, "#sessions")) == 1
            )
