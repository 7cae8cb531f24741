"""Start-up and shutdown: HTTP from the start, one line per retry, signals obeyed in every phase."""

import asyncio
import contextlib
import json
import logging
import signal
import socket
import time

import httpx
import pytest
from evcsm_daemon.config import METAVARS, Settings
from evcsm_daemon.main import main
from evcsm_daemon.runtime import connect_store

from tests.support.broker import Mosquitto, free_port
from tests.support.daemon import daemon_settings, running_daemon
from tests.support.process import (
    DaemonProcess,
    daemon_process,
    eventually,
    unreachable_mongodb,
)


async def test_unreachable_database_is_one_line_per_retry(caplog: pytest.LogCaptureFixture) -> None:
    port = free_port()
    uri = f"mongodb://evcsm:hunter2@127.0.0.1:{port}/evcsm"
    caplog.set_level(logging.WARNING)
    task = asyncio.create_task(connect_store(uri, timeout_ms=100), name="test-connect-store")

    async def two_lines() -> bool:
        return len(caplog.records) >= 2

    with contextlib.suppress(TimeoutError):
        await eventually("two retries logged", two_lines, within=5.0)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) >= 2, lines
    assert all(
        f"MongoDB mongodb://evcsm:***@127.0.0.1:{port}/evcsm unreachable" in line for line in lines
    )
    assert "retrying in 1 s" in lines[0]
    assert "retrying in 2 s" in lines[1]
    assert not any("hunter2" in line or "Traceback" in line for line in lines)
    assert all(record.exc_info is None for record in caplog.records)


async def test_broker_down_at_start_then_up(caplog: pytest.LogCaptureFixture) -> None:
    port = free_port()
    caplog.set_level(logging.WARNING)
    async with running_daemon(
        daemon_settings(f"mqtt://127.0.0.1:{port}"), wait_connected=False
    ) as daemon:
        assert daemon.bridge is not None

        async def unreachable_logged() -> bool:
            return any("unreachable" in r.getMessage() for r in caplog.records)

        with contextlib.suppress(TimeoutError):
            await eventually("the broker reported unreachable", unreachable_logged, within=5.0)
        line = next(r.getMessage() for r in caplog.records if "unreachable" in r.getMessage())
        assert line.startswith(f"MQTT broker mqtt://127.0.0.1:{port} unreachable")
        assert "retrying in" in line
        assert not daemon.bridge.connected.is_set()
        with Mosquitto(port=port):
            await asyncio.wait_for(daemon.bridge.connected.wait(), 30)
    assert all(record.exc_info is None for record in caplog.records)


@pytest.mark.usefixtures("_restore_logging")
def test_bad_settings_are_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--chargers", "CP1:lots", "--mongodb-uri", "memory"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("evcsm-daemon: chargers:")
    assert "not a number" in err
    assert "Traceback" not in err


def test_help_lists_every_setting_readably(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert set(METAVARS) == set(Settings.model_fields)
    for field, metavar in METAVARS.items():
        flag = "--" + field.replace("_", "-")
        assert f"[{flag} {metavar}]" in out, flag
        assert f"EVCSM_{field.upper()}" in " ".join(out.split()), field
    for python_type in ("SecretStr", "null", "{str", " str]", " float]", " int]"):
        assert python_type not in out
    assert "(default: unset)" in out


@pytest.mark.usefixtures("_restore_logging")
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--log-level", "LOUD"], "log_level: must be one of DEBUG, INFO"),
        (["--log-format", "xml"], "log_format: Input should be 'text' or 'json'"),
        (["--allowed-origins", "ops.example.com"], "allowed_origins: 'ops.example.com' is not"),
    ],
)
def test_bad_settings_name_the_setting(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert main([*args, "--mongodb-uri", "memory"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"evcsm-daemon: {message}")
    assert "Traceback" not in err


def test_json_logs_are_plain_json_lines() -> None:
    with daemon_process(EVCSM_LOG_FORMAT="json") as daemon:
        daemon.wait_until("/api/chargers", 200)
        assert daemon.get("/api/nothing-here").status_code == 404
        daemon.stop(signal.SIGTERM)
        lines = daemon.output().splitlines()
    assert any("Started server process" in line for line in lines)
    for line in lines:
        record = json.loads(line)
        assert set(record) == {"time", "level", "logger", "message"}, line
        assert "\x1b" not in line
        assert "\\u001b" not in line


def test_a_taken_http_port_is_one_line(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code = main(["--http-addr", f"127.0.0.1:{port}", "--mongodb-uri", "memory"])
    assert code == 1
    assert f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().out


SIGNALS = [signal.SIGTERM, signal.SIGINT]


@pytest.mark.parametrize("sig", SIGNALS, ids=lambda sig: sig.name)
def test_http_answers_while_the_database_is_unreachable_and_a_signal_stops_it(
    sig: signal.Signals,
) -> None:
    with daemon_process(EVCSM_MONGODB_URI=unreachable_mongodb()) as daemon:
        assert daemon.wait_until("/healthz", 200).json() == {"status": "ok"}
        readiness = daemon.get("/readyz")
        assert readiness.status_code == 503
        assert readiness.json() == {"ready": False, "broker": False, "database": False}
        for path in ("/api/chargers", "/api/sessions", "/api/ChargingSessionAPI/status"):
            waiting = daemon.get(path)
            assert waiting.status_code == 503, path
            assert waiting.headers["content-type"] == "application/problem+json"
            assert waiting.json()["code"] == "unavailable"
        start = httpx.post(f"{daemon.url}/api/chargers/CP1/start", timeout=10)
        assert start.status_code == 503
        daemon.stop(sig)
        assert daemon.process.returncode == 0, daemon.output()
        assert "Traceback" not in daemon.output()


@pytest.mark.parametrize("sig", SIGNALS, ids=lambda sig: sig.name)
def test_a_signal_stops_it_while_the_broker_is_unreachable(sig: signal.Signals) -> None:
    with daemon_process() as daemon:
        daemon.wait_until("/api/chargers", 200)
        readiness = daemon.get("/readyz")
        assert readiness.status_code == 503
        assert readiness.json() == {"ready": False, "broker": False, "database": True}
        daemon.stop(sig)
        assert daemon.process.returncode == 0, daemon.output()
        assert "Traceback" not in daemon.output()


def open_slow_request(port: int) -> socket.socket:
    """A write whose body never finishes arriving: a request in flight at shutdown."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(
        b"POST /api/chargers/CP2/stop HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\nContent-Length: 40\r\n\r\n{"
    )
    return sock


def test_sigterm_stops_a_running_daemon_with_a_request_in_flight(broker: Mosquitto) -> None:
    with daemon_process(EVCSM_MQTT_URL=broker.url) as daemon:
        daemon.wait_until("/readyz", 200)
        started = httpx.post(f"{daemon.url}/api/chargers/CP1/start", timeout=10)
        assert started.status_code == 201
        with open_slow_request(daemon.http_port):
            daemon.stop(signal.SIGTERM)
        assert daemon.process.returncode == 0, daemon.output()
        output = daemon.output()
        assert "Traceback" not in output
        assert "shutting down" in output
        assert output.rstrip().endswith("stopped")


def test_sigterm_stops_it_when_the_broker_hangs_during_shutdown(broker: Mosquitto) -> None:
    with daemon_process(EVCSM_MQTT_URL=broker.url) as daemon:
        daemon.wait_until("/readyz", 200)
        assert httpx.post(f"{daemon.url}/api/chargers/CP1/start", timeout=10).status_code == 201
        with broker.frozen():
            daemon.stop(signal.SIGTERM)
        assert daemon.process.returncode == 0, daemon.output()
        assert "Traceback" not in daemon.output()


def test_a_second_signal_during_shutdown_stops_it_at_once(broker: Mosquitto) -> None:
    with daemon_process(EVCSM_MQTT_URL=broker.url) as daemon:
        daemon.wait_until("/readyz", 200)
        with broker.frozen():
            daemon.process.send_signal(signal.SIGTERM)
            wait_for_line(daemon, "shutting down")
            daemon.stop(signal.SIGINT)
        assert daemon.process.returncode == 0, daemon.output()
        assert "SIGINT received again: stopping now" in daemon.output()
        assert "Traceback" not in daemon.output()


def wait_for_line(daemon: DaemonProcess, text: str) -> None:
    """Wait until the daemon has printed `text`."""
    deadline = time.monotonic() + 30
    while text not in daemon.output():
        assert time.monotonic() < deadline, f"never printed {text!r}:\n{daemon.output()}"
        time.sleep(0.05)
