"""Options: the broker URL, the password from the environment, bad values."""

import os
from pathlib import Path

import pytest
from evcsm_schema.broker import BrokerUrl, parse_broker_url
from evcsm_tui.config import default_log_files, parse_options
from evcsm_tui.errors import ConfigError


@pytest.fixture(autouse=True)
def _no_evcsm_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test sets the variables it reads."""
    for name in [n for n in os.environ if n.startswith("EVCSM_")]:
        monkeypatch.delenv(name)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mqtt://broker.site", BrokerUrl("broker.site", 1883)),
        ("mqtts://broker.site", BrokerUrl("broker.site", 8883, tls=True)),
        ("mqtt://127.0.0.1:1884", BrokerUrl("127.0.0.1", 1884)),
        (
            "mqtts://op%40site:p%3Ass@broker:8884/",
            BrokerUrl("broker", 8884, tls=True, username="op@site", password="p:ss"),
        ),
    ],
)
def test_urls(url: str, expected: BrokerUrl) -> None:
    assert parse_broker_url(url) == expected
    assert parse_options(["--mqtt-url", url]).broker == expected


@pytest.mark.parametrize(
    "url", ["http://broker", "mqtt://", "mqtt://broker:99999", "mqtt://broker/path", "broker:1883"]
)
def test_bad_urls_are_config_errors(url: str) -> None:
    with pytest.raises(ConfigError):
        parse_options(["--mqtt-url", url])


def test_the_password_can_come_from_the_environment_and_never_shows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("EVCSM_MQTT_PASSWORD", "s3cret")
    monkeypatch.setenv("XDG_STATE_HOME", "/var/state")
    options = parse_options(["--mqtt-url", "mqtts://operator@broker"])
    assert options.broker.password == "s3cret"
    assert options.broker.label == "mqtts://operator@broker:8883"
    assert "s3cret" not in options.broker.label
    assert options.log_files[0] == Path("/var/state/evcsm/tui.log")
    assert not options.log_required


def test_the_url_comes_from_the_environment_and_the_flag_wins(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert parse_options([]).broker == BrokerUrl("127.0.0.1", 1883)
    monkeypatch.setenv("EVCSM_MQTT_URL", "mqtt://from-env:1999")
    assert parse_options([]).broker.host == "from-env"
    assert parse_options(["--mqtt-url", "mqtt://flag"]).broker.host == "flag"


def test_a_timeout_must_be_positive() -> None:
    with pytest.raises(ConfigError):
        parse_options(["--command-timeout", "0"])


@pytest.mark.parametrize("value", ["0", "-3", "soon", "nan"])
def test_a_bad_timeout_from_the_environment_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("EVCSM_COMMAND_TIMEOUT", value)
    with pytest.raises(ConfigError):
        parse_options([])
    monkeypatch.setenv("EVCSM_COMMAND_TIMEOUT", "2.5")
    assert parse_options([]).command_timeout == 2.5


def test_log_files_default_to_the_state_folder_then_the_temp_folder() -> None:
    preferred, fallback = default_log_files({})
    assert preferred == Path.home() / ".local" / "state" / "evcsm" / "tui.log"
    assert fallback.name == f"evcsm-tui-{os.getuid()}.log"
    chosen = parse_options(["--log-file", "/x/tui.log"])
    assert chosen.log_files == (Path("/x/tui.log"),)
    assert chosen.log_required
