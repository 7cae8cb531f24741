"""Who may connect, as `EVCSM_OCPP_CHARGE_POINTS` says; the settings' own checks."""

import pytest
from evcsm_daemon.chargers.ocpp import Admission, ChargePointList, OcppConfig


def test_identities_passwords_and_the_wildcard() -> None:
    listed = ChargePointList.parse(" CP1, CP2:pa:ss ,")
    assert listed.admission("CP1") is Admission.OPEN
    assert listed.admission("CP2") is Admission.PASSWORD
    assert listed.password("CP2") == "pa:ss"
    assert listed.admission("CP3") is Admission.UNKNOWN
    lab = ChargePointList.parse("*,CP2:secret")
    assert lab.admission("CP3") is Admission.OPEN
    assert lab.admission("CP2") is Admission.PASSWORD
    assert ChargePointList.parse("").admission("CP1") is Admission.UNKNOWN


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("CP1,CP1", "listed twice"),
        ("CP 1", "must match"),
        ("CP1:", "empty password"),
        ("C" * 49, "must match"),
        ("CP/1", "must match"),
    ],
)
def test_bad_lists_are_refused(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ChargePointList.parse(spec)


@pytest.mark.parametrize(
    "overrides",
    [
        {"port": 70000},
        {"meter_interval_s": 0},
        {"heartbeat_interval_s": -1},
        {"max_connections": 0},
    ],
)
def test_bad_settings_are_refused(overrides: dict[str, int]) -> None:
    with pytest.raises(ValueError, match=r"must|not in"):
        OcppConfig(**overrides)  # type: ignore[arg-type]


def test_silence_limit_is_two_heartbeats() -> None:
    assert OcppConfig(heartbeat_interval_s=30).silence_limit_s == 60
