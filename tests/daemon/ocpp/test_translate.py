"""MeterValues translation, table-driven and property-based (Hypothesis)."""

import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from evcsm_daemon.chargers.ocpp.rpc import CallErrorCode, RpcError
from evcsm_daemon.chargers.ocpp.translate import MAX_WH, meter_samples, parse_time
from evcsm_daemon.core.events import MeterSample
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

T1 = "2025-02-25T12:00:00Z"
AT = datetime(2025, 2, 25, 12, tzinfo=UTC)
PHASES = ["L1", "L2", "L3", "N", "L1-N", "L2-N", "L3-N", "L1-L2", "L2-L3", "L3-L1"]
OTHER_MEASURANDS = ["Voltage", "Current.Import", "Frequency", "Temperature", "Power.Offered"]

relaxed = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])


def one(*sampled: dict[str, str], timestamp: str = T1) -> tuple[MeterSample, ...]:
    return meter_samples([{"timestamp": timestamp, "sampledValue": list(sampled)}])


@pytest.mark.parametrize(
    ("sampled", "expected"),
    [
        ({"value": "1234"}, MeterSample(AT, 1234, None, None)),
        ({"value": "1234.9", "unit": "Wh"}, MeterSample(AT, 1234, None, None)),
        ({"value": "1.2349", "unit": "kWh"}, MeterSample(AT, 1234, None, None)),
        ({"value": "1.5e3"}, MeterSample(AT, 1500, None, None)),
        ({"value": " 7 "}, MeterSample(AT, 7, None, None)),
        ({"value": "7400", "measurand": "Power.Active.Import"}, MeterSample(AT, None, 7.4, None)),
        (
            {"value": "11", "measurand": "Power.Active.Import", "unit": "kW"},
            MeterSample(AT, None, 11.0, None),
        ),
        (
            {"value": "55.5", "measurand": "SoC", "unit": "Percent"},
            MeterSample(AT, None, None, 55.5),
        ),
        ({"value": "-0", "unit": "Wh"}, MeterSample(AT, 0, None, None)),
    ],
)
def test_units_and_measurands(sampled: dict[str, str], expected: MeterSample) -> None:
    assert one(sampled) == (expected,)


@pytest.mark.parametrize(
    "sampled",
    [
        {"value": "abc"},
        {"value": ""},
        {"value": "NaN"},
        {"value": "inf"},
        {"value": "1_000"},
        {"value": "0x10"},
        {"value": "1e9999"},
        {"value": "-1"},
        {"value": str(MAX_WH + 1)},
        {"value": "10", "unit": "A"},
        {"value": "10", "measurand": "Power.Active.Import", "unit": "Wh"},
        {"value": "1e10", "measurand": "Power.Active.Import", "unit": "kW"},
        {"value": "101", "measurand": "SoC"},
        {"value": "50", "measurand": "SoC", "unit": "Wh"},
        {"value": "٣"},  # an Arabic-Indic digit: Python's int() would take it
    ],
)
def test_values_that_are_no_usable_number_are_a_clean_error(sampled: dict[str, str]) -> None:
    with pytest.raises(RpcError) as error:
        one(sampled)
    assert error.value.code is CallErrorCode.PROPERTY_CONSTRAINT_VIOLATION


def test_ignored_values_and_the_first_of_a_measurand_counts() -> None:
    samples = one(
        {"value": "signed:abc", "format": "SignedData"},
        {"value": "900", "phase": "L1"},
        {"value": "230", "measurand": "Voltage", "unit": "V"},
        {"value": "1000"},
        {"value": "2000", "location": "Inlet"},
    )
    assert samples == (MeterSample(AT, 1000, None, None),)
    assert one({"value": "230", "measurand": "Voltage"}) == ()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-02-25T12:00:00Z", AT),
        ("2025-02-25T12:00:00", AT),
        ("2025-02-25T13:00:00+01:00", AT),
        ("2025-02-25T12:00:00.5Z", AT + timedelta(milliseconds=500)),
    ],
)
def test_timestamps_become_aware_utc(text: str, expected: datetime) -> None:
    parsed = parse_time(text)
    assert parsed == expected
    assert parsed.tzinfo is UTC


@pytest.mark.parametrize(
    "text", ["yesterday", "", "2025-13-01T00:00:00Z", "0001-01-01T00:00:00+01:00"]
)
def test_bad_timestamps_are_a_clean_error(text: str) -> None:
    with pytest.raises(RpcError):
        parse_time(text)


registers = st.integers(min_value=0, max_value=10**12)


@relaxed
@given(registers)
def test_wh_and_kwh_of_the_same_register_agree(wh: int) -> None:
    kwh = f"{wh // 1000}.{wh % 1000:03d}"
    assert one({"value": str(wh), "unit": "Wh"})[0].energy_wh == wh
    assert one({"value": kwh, "unit": "kWh"})[0].energy_wh == wh
    assert one({"value": str(wh)})[0].energy_wh == wh


@relaxed
@given(st.decimals(min_value=0, max_value=10**9, places=6, allow_nan=False, allow_infinity=False))
def test_kwh_is_floored_to_whole_wh(kwh: Decimal) -> None:
    (sample,) = one({"value": str(kwh), "unit": "kWh"})
    assert sample.energy_wh == math.floor(kwh * 1000)


@relaxed
@given(st.integers(min_value=-(10**9), max_value=10**9))
def test_power_in_w_and_kw_agree(watts: int) -> None:
    in_w = one({"value": str(watts), "measurand": "Power.Active.Import", "unit": "W"})[0]
    in_kw = one(
        {"value": str(Decimal(watts) / 1000), "measurand": "Power.Active.Import", "unit": "kW"}
    )[0]
    assert in_w.power_kw == pytest.approx(watts / 1000)
    assert in_w.power_kw == pytest.approx(in_kw.power_kw)


def sampled_values() -> st.SearchStrategy[dict[str, str]]:
    """Any sampled value the schema allows, its value any text."""
    return st.fixed_dictionaries(
        {"value": st.one_of(st.text(max_size=30), registers.map(str))},
        optional={
            "measurand": st.sampled_from(
                ["Energy.Active.Import.Register", "Power.Active.Import", "SoC", *OTHER_MEASURANDS]
            ),
            "unit": st.sampled_from(["Wh", "kWh", "W", "kW", "Percent", "A", "V"]),
            "phase": st.sampled_from(PHASES),
            "format": st.sampled_from(["Raw", "SignedData"]),
        },
    )


meter_value_lists = st.lists(
    st.fixed_dictionaries(
        {
            "timestamp": st.datetimes(
                min_value=datetime(2000, 1, 1),  # noqa: DTZ001 - hypothesis takes naive bounds
                max_value=datetime(2100, 1, 1),  # noqa: DTZ001 - hypothesis takes naive bounds
                timezones=st.just(UTC),
            ).map(lambda moment: moment.isoformat()),
            "sampledValue": st.lists(sampled_values(), min_size=1, max_size=6),
        }
    ),
    min_size=1,
    max_size=5,
)


@relaxed
@given(meter_value_lists)
def test_any_schema_valid_input_gives_samples_or_a_clean_error(
    entries: list[dict[str, Any]],
) -> None:
    failure: CallErrorCode | None
    try:
        samples = meter_samples(entries)
    except RpcError as error:
        failure = error.code
    else:
        failure = None
    if failure is not None:
        assert failure is CallErrorCode.PROPERTY_CONSTRAINT_VIOLATION
        return
    assert len(samples) <= len(entries)
    for sample in samples:
        assert sample.at.tzinfo is UTC
        assert sample.energy_wh is None or 0 <= sample.energy_wh <= MAX_WH
        assert sample.soc_percent is None or 0 <= sample.soc_percent <= 100
        assert (sample.energy_wh, sample.power_kw, sample.soc_percent) != (None, None, None)


@relaxed
@given(meter_value_lists, st.lists(st.sampled_from(PHASES), min_size=1, max_size=4), st.data())
def test_phase_values_never_change_the_result(
    entries: list[dict[str, Any]], phases: list[str], data: st.DataObject
) -> None:
    def outcome(values: list[dict[str, Any]]) -> tuple[MeterSample, ...] | str:
        try:
            return meter_samples(values)
        except RpcError as error:
            return error.code

    with_phases = [
        {
            **entry,
            "sampledValue": [
                *entry["sampledValue"],
                *({"value": data.draw(st.text(max_size=10)), "phase": phase} for phase in phases),
            ],
        }
        for entry in entries
    ]
    assert outcome(with_phases) == outcome(entries)


def test_zone_offsets_of_samples_are_normalised() -> None:
    (sample,) = one({"value": "1"}, timestamp="2025-02-25T14:00:00+02:00")
    assert sample.at == AT
    assert sample.at.utcoffset() == UTC.utcoffset(None)
