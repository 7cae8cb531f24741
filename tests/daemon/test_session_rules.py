"""Session rules: begin, observe, finish; energy always from the register."""

from datetime import timedelta

import pytest
from evcsm_daemon.core.sessions import MeterReading, begin, energy_kwh, finish, observe
from evcsm_schema import SessionStatus

from tests.support.clock import T0


def test_begin_sets_the_seed_fields() -> None:
    session = begin("CP1", 1234, T0.replace(microsecond=123456))
    assert session.status is SessionStatus.CHARGING
    assert session.start_time.microsecond == 123000  # cut to what MongoDB stores
    assert session.meter_start_wh == session.meter_wh == 1234
    assert session.energy_consumed == 0.0
    assert session.end_time is None
    assert len(session.session_id) == 36


@pytest.mark.parametrize(
    ("readings", "meter_wh", "energy"),
    [
        ([1500], 1500, 0.5),
        ([1500, 2500], 2500, 1.5),
        ([1500, 1400], 1500, 0.5),  # a register never runs backwards: stale reading ignored
        ([1001, 1002, 1003], 1003, 0.003),
        ([999], 1000, 0.0),
    ],
)
def test_observe_tracks_the_register(readings: list[int], meter_wh: int, energy: float) -> None:
    session = begin("CP1", 1000, T0)
    for k, wh in enumerate(readings, start=1):
        session = observe(session, MeterReading(wh, 7.4), T0 + timedelta(seconds=k))
    assert session.meter_wh == meter_wh
    assert session.energy_consumed == energy
    assert session.power_kw == 7.4
    assert session.updated_at == T0 + timedelta(seconds=len(readings))


def test_energy_is_exact_to_the_wh() -> None:
    assert energy_kwh(0, 123_456_789) == 123456.789
    assert energy_kwh(100, 100) == 0.0


def test_finish_stops_with_the_final_reading() -> None:
    session = begin("CP1", 0, T0)
    stopped = finish(session, MeterReading(3000, 11.0), T0 + timedelta(minutes=20), "Unplugged")
    assert stopped.status is SessionStatus.STOPPED
    assert stopped.end_time == T0 + timedelta(minutes=20)
    assert stopped.energy_consumed == 3.0
    assert stopped.power_kw == 0.0
    assert stopped.stop_reason == "Unplugged"
    assert stopped.duration_s(T0 + timedelta(days=1)) == 1200


def test_a_stopped_session_takes_no_more_readings() -> None:
    stopped = finish(begin("CP1", 0, T0), MeterReading(10, 0), T0, None)
    assert stopped.stop_reason == "Stopped by request"
    assert observe(stopped, MeterReading(99, 5), T0 + timedelta(hours=1)) == stopped
    assert finish(stopped, MeterReading(99, 5), T0 + timedelta(hours=1), "again") == stopped
