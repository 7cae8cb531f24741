"""The broker settings both programs read: one type, one password rule, the same names."""

from pathlib import Path

import pytest
from evcsm_daemon.config import Settings as DaemonSettings
from evcsm_link.settings import BrokerOptions
from evcsm_schema.broker import BrokerUrl, parse_broker_url
from evcsm_tui.config import parse_options
from evcsm_tui.errors import ConfigError
from pydantic import ValidationError


@pytest.fixture(autouse=True)
def _no_broker_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("EVCSM_MQTT_URL", "EVCSM_MQTT_PASSWORD", "EVCSM_MQTT_CA_FILE"):
        monkeypatch.delenv(name, raising=False)


def test_the_url_password_or_the_setting_whichever_is_given() -> None:
    assert BrokerOptions(mqtt_url="mqtt://op:s3cret@broker").broker().password == "s3cret"
    assert BrokerOptions(mqtt_url="mqtt://op@broker", mqtt_password="s3cret").broker() == (
        BrokerUrl("broker", 1883, username="op", password="s3cret")
    )
    same = BrokerOptions(mqtt_url="mqtt://op:s3cret@broker", mqtt_password="s3cret")
    assert same.broker().password == "s3cret"


def test_two_different_passwords_are_refused_by_both_programs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Before, the daemon took the setting's and the dashboard the URL's, each silently.
    with pytest.raises(ValidationError, match="different passwords"):
        DaemonSettings(mqtt_url="mqtt://op:one@broker", mqtt_password="two")
    monkeypatch.setenv("EVCSM_MQTT_PASSWORD", "two")
    with pytest.raises(ConfigError, match="different passwords"):
        parse_options(["--mqtt-url", "mqtt://op:one@broker"])


def test_both_programs_read_the_same_broker_from_the_same_variables(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("EVCSM_MQTT_URL", "mqtts://evcsm-operator@broker.site:8884")
    monkeypatch.setenv("EVCSM_MQTT_PASSWORD", "s3cret")
    monkeypatch.setenv("EVCSM_MQTT_CA_FILE", str(tmp_path / "ca.crt"))
    expected = parse_broker_url("mqtts://evcsm-operator:s3cret@broker.site:8884").with_ca_file(
        tmp_path / "ca.crt"
    )
    assert DaemonSettings().broker() == expected
    assert parse_options([]).broker == expected
    assert "s3cret" not in repr(expected)
    assert "s3cret" not in expected.label


def test_the_address_shows_neither_user_nor_password_and_the_label_only_the_user() -> None:
    broker = parse_broker_url("mqtts://op%40site:p%3Ass@broker:8884/")
    assert str(broker) == "mqtts://broker:8884"
    assert broker.label == "mqtts://op@site@broker:8884"
