"""Settings: the fleet, addresses and URLs are checked when read."""

import pytest
from evcsm_daemon.config import Settings, parse_fleet, split_addr
from evcsm_daemon.runtime import Daemon, access_policy
from evcsm_daemon.store.connect import redact_uri
from evcsm_schema.broker import parse_broker_url
from pydantic import ValidationError
from pydantic_settings import CliApp


def test_defaults_match_the_seed() -> None:
    settings = Settings()
    assert str(settings.http_addr) == "127.0.0.1:5274"
    assert settings.mongodb_uri == "mongodb://localhost:27017/evcsm"
    assert [c.charger_id for c in settings.chargers] == ["CP1"]
    assert settings.start_timeout == 60.0


def test_environment_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVCSM_CHARGERS", "A:11, B:7.4")
    monkeypatch.setenv("EVCSM_SIM_SPEED", "30")
    monkeypatch.setenv("EVCSM_API_TOKEN", "s3cret")
    monkeypatch.setenv("EVCSM_START_TIMEOUT", "90")
    settings = Settings()
    assert settings.start_timeout == 90
    assert [(c.charger_id, c.max_power_kw) for c in settings.chargers] == [("A", 11.0), ("B", 7.4)]
    assert settings.sim_speed == 30
    assert settings.api_token is not None
    assert "s3cret" not in repr(settings)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("CP1:abc", "not a number"),
        ("CP1:0", "must be in"),
        ("CP/1:11", "must match"),
        ("CP#:11", "must match"),
        ("A:11,A:22", "twice"),
        ("A,", "must match"),
    ],
)
def test_bad_fleets_are_refused(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_fleet(spec)
    with pytest.raises(ValidationError):
        Settings(chargers=spec)


def test_no_simulated_charger_needs_an_ocpp_listener() -> None:
    assert parse_fleet(" ") == []
    with pytest.raises(ValidationError, match="chargers is empty"):
        Settings(chargers="")
    settings = Settings(chargers="", ocpp_addr="127.0.0.1:9000", ocpp_charge_points="CP-7")
    assert settings.chargers == ()
    assert settings.default_charger_id() is None


def test_the_default_charger_is_the_first_simulated_one_or_the_one_configured() -> None:
    assert Settings(chargers="A,B").default_charger_id() == "A"
    settings = Settings(
        chargers="A",
        ocpp_addr="127.0.0.1:9000",
        ocpp_charge_points="CP-7",
        default_charger="CP-7-1",
    )
    assert settings.default_charger_id() == "CP-7-1"
    assert Settings(chargers="A,B", default_charger="B").default_charger_id() == "B"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"chargers": "CP-7-1", "ocpp_charge_points": "CP-7"}, "would be a connector of OCPP"),
        ({"chargers": "LAB-2", "ocpp_charge_points": "*"}, "would be a connector of OCPP"),
        ({"default_charger": "CP-8-1", "ocpp_charge_points": "CP-7"}, "neither a simulated"),
        ({"default_charger": "CP-7-x", "ocpp_charge_points": "CP-7"}, "neither a simulated"),
        ({"ocpp_cert_file": "cert.pem"}, "go together"),
        ({"ocpp_charge_points": "CP 7"}, "must match"),
        ({"ocpp_charge_points": "CP-7:"}, "empty password"),
        ({"ocpp_meter_interval": 0}, "greater than or equal"),
        ({"ocpp_addr": "nowhere"}, "not host:port"),
    ],
)
def test_bad_ocpp_settings_are_refused(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Settings.model_validate({"ocpp_addr": "127.0.0.1:9000", **fields})


def test_simulated_ids_apart_from_unlisted_stations_are_fine() -> None:
    settings = Settings(chargers="CP-8-1", ocpp_addr="127.0.0.1:9000", ocpp_charge_points="CP-7")
    assert [c.charger_id for c in settings.chargers] == ["CP-8-1"]


def test_charge_point_passwords_stay_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVCSM_OCPP_CHARGE_POINTS", "CP-7:hunter22,CP-8")
    settings = Settings(ocpp_addr="127.0.0.1:9000")
    assert "hunter22" not in repr(settings)
    assert settings.charge_points().password("CP-7") == "hunter22"


def test_a_charger_without_power_gets_22_kw() -> None:
    assert parse_fleet("X")[0].max_power_kw == 22.0


@pytest.mark.parametrize(
    ("url", "tls", "host", "port", "user", "password"),
    [
        ("mqtt://broker", False, "broker", 1883, None, None),
        ("mqtts://broker", True, "broker", 8883, None, None),
        ("mqtt://evcsm:p%40ss@10.0.0.5:1884", False, "10.0.0.5", 1884, "evcsm", "p@ss"),
    ],
)
def test_broker_urls(
    url: str, tls: bool, host: str, port: int, user: str | None, password: str | None
) -> None:
    address = parse_broker_url(url)
    assert (address.tls, address.host, address.port) == (tls, host, port)
    assert (address.username, address.password) == (user, password)
    assert "p@ss" not in str(address)


@pytest.mark.parametrize(
    "url", ["http://broker", "broker:1883", "mqtt://", "mqtt://broker:99999", "mqtt://broker/path"]
)
def test_bad_broker_urls(url: str) -> None:
    with pytest.raises(ValidationError):
        Settings(mqtt_url=url)


@pytest.mark.parametrize(
    ("addr", "pair"),
    [("127.0.0.1:5274", ("127.0.0.1", 5274)), (":80", ("0.0.0.0", 80)), ("[::1]:1", ("::1", 1))],
)
def test_listen_addresses(addr: str, pair: tuple[str, int]) -> None:
    assert split_addr(addr) == pair


@pytest.mark.parametrize("addr", ["5274", "host:", "host:99999", "host:port"])
def test_bad_listen_addresses(addr: str) -> None:
    with pytest.raises(ValueError, match="host:port"):
        split_addr(addr)


def test_passwords_are_kept_out_of_log_lines() -> None:
    uri = "mongodb://evcsm:hunter2@db1,db2/evcsm?replicaSet=rs0"
    assert "hunter2" not in redact_uri(uri)
    assert redact_uri(uri).startswith("mongodb://evcsm:***@db1")


def test_access_settings_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVCSM_HTTP_ADDR", "0.0.0.0:5274")
    monkeypatch.setenv("EVCSM_ALLOWED_HOSTS", "evcsm.site.lan, *.Example.com.")
    monkeypatch.setenv("EVCSM_ALLOWED_ORIGINS", "https://ops.example.com:443, http://10.0.0.5:8080")
    monkeypatch.setenv("EVCSM_HTTP_MAX_CONNECTIONS", "20")
    settings = Settings()
    policy = access_policy(settings)
    assert policy.hosts == ("evcsm.site.lan", "*.example.com")
    assert policy.origins == ("https://ops.example.com", "http://10.0.0.5:8080")
    assert Daemon(settings).limits.max_connections == 20


def test_access_defaults_come_from_the_listen_address() -> None:
    assert access_policy(Settings(http_addr="127.0.0.1:5274")).hosts == ()
    assert access_policy(Settings(http_addr="evcsm.site.lan:80")).hosts == ("evcsm.site.lan",)
    assert access_policy(Settings()).origins == ()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("allowed_hosts", "evcsm/api"),
        ("allowed_hosts", "ev*sm.lan"),
        ("allowed_hosts", "evcsm.lan:5274"),
        ("allowed_origins", "ops.example.com"),
        ("allowed_origins", "https://ops.example.com/app"),
        ("allowed_origins", "ftp://ops.example.com"),
        ("allowed_origins", "https://ops.example.com:99999"),
        ("http_max_connections", 0),
        ("state_refresh", -1),
        ("state_refresh", "often"),
        ("state_refresh_rate", -5),
        ("state_refresh_rate", 2.5),
    ],
)
def test_bad_access_settings_are_refused(field: str, value: object) -> None:
    with pytest.raises(ValidationError):
        Settings.model_validate({field: value})


def test_the_store_is_named_by_either_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVCSM_MONGODB_URI", "mongodb://db:27017/fleet")  # as docker-compose sets
    assert Settings().store_uri == "mongodb://db:27017/fleet"
    monkeypatch.delenv("EVCSM_MONGODB_URI")
    monkeypatch.setenv("EVCSM_STORE_URI", "sqlite:/var/lib/evcsm/sessions.db")
    settings = Settings()
    assert settings.store_uri == settings.mongodb_uri == "sqlite:/var/lib/evcsm/sessions.db"
    monkeypatch.setenv("EVCSM_MONGODB_URI", "sqlite:/var/lib/evcsm/sessions.db")
    assert Settings().store_uri == "sqlite:/var/lib/evcsm/sessions.db"
    monkeypatch.setenv("EVCSM_MONGODB_URI", "memory")
    with pytest.raises(ValidationError, match="differ: set only one"):
        Settings()


def test_the_store_flags() -> None:
    assert CliApp.run(Settings, cli_args=["--store-uri", "memory"]).store_uri == "memory"
    assert CliApp.run(Settings, cli_args=["--mongodb-uri", "memory"]).store_uri == "memory"
