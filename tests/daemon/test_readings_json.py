"""The tick's hand-written JSON is byte for byte what the schema models write."""

from datetime import UTC, datetime, timedelta, timezone

from evcsm_daemon.mqtt.readings import fleet_reading, fleet_update, number, session_update, time
from evcsm_schema import ChargingSession, FleetReading, FleetUpdate, SessionStatus, SessionUpdate
from hypothesis import given
from hypothesis import strategies as st

from tests.support.strategies import FUZZ, TIMES, sessions

ANY_FLOAT = st.floats(min_value=0, allow_nan=False)
"""Every value a session's energy or power may hold (infinity included: the models allow it)."""
ZONES = st.sampled_from(
    [UTC, timezone(timedelta(hours=1)), timezone(timedelta(hours=-5, minutes=-30))]
)


@st.composite
def odd_sessions(draw: st.DrawFn) -> ChargingSession:
    """Charging sessions with any text as id, any figures and times in any zone."""
    session = draw(sessions(SessionStatus.CHARGING))
    return session.model_copy(
        update={
            "session_id": draw(st.text(max_size=40)),
            "energy_consumed": draw(ANY_FLOAT),
            "power_kw": draw(ANY_FLOAT),
            "updated_at": draw(TIMES).astimezone(draw(ZONES)),
        }
    )


@FUZZ
@given(odd_sessions())
def test_a_session_update_is_what_the_model_writes(session: ChargingSession) -> None:
    assert session_update(session) == SessionUpdate.of(session).to_json()


@FUZZ
@given(st.lists(odd_sessions(), min_size=1, max_size=5), TIMES, st.integers(1, 3))
def test_a_fleet_update_is_what_the_model_writes(
    sessions: list[ChargingSession], tick: datetime, part: int
) -> None:
    tick = sessions[0].updated_at if part == 2 else tick  # a reading at the tick omits its time
    model = FleetUpdate(
        timestamp=tick,
        part=part,
        parts=3,
        readings=[FleetReading.of(session, tick) for session in sessions],
    )
    written = fleet_update(tick, part, 3, [fleet_reading(s, tick) for s in sessions])
    assert written == model.to_json()


def test_numbers_and_times_outside_the_usual_range_follow_pydantic() -> None:
    assert [number(value) for value in (0.0, 1e-5, 5e-324, 1e16, 22.0, float("inf"))] == [
        "0.0",
        "0.00001",
        "5e-324",
        "1e+16",
        "22.0",
        "null",
    ]
    instant = datetime(2025, 1, 1, tzinfo=UTC)
    elsewhere = instant.astimezone(timezone(timedelta(hours=1)))
    assert instant == elsewhere
    assert (time(instant), time(elsewhere)) == (
        '"2025-01-01T00:00:00Z"',
        '"2025-01-01T01:00:00+01:00"',
    )
