"""The pure state: how each message changes what the dashboard believes."""

from datetime import timedelta

import pytest
from evcsm_schema import Availability, ChargerStatus, CommandAction, FleetUpdate, SessionStatus
from evcsm_tui.state import (
    MAX_SAMPLES,
    SAMPLE_WINDOW,
    ChargerGone,
    DashboardState,
    Inbound,
    LinkChange,
    LinkStatus,
    Trace,
    fold,
    fold_all,
    set_pending,
    set_read_only,
)

from tests.tui.data import (
    CP1_SESSION,
    CP1_TICKS,
    CP2_SESSION,
    CP3_SESSION,
    FLEET,
    NOW,
    charger,
    reading,
    session,
    update,
)


def folded(*events: Inbound) -> DashboardState:
    state = DashboardState()
    for event in events:
        state = fold(state, event)
    return state


LIVE = (LinkChange(LinkStatus.CONNECTED), Availability.ONLINE, *FLEET)


def retagged(tick: FleetUpdate, **changes: str) -> FleetUpdate:
    """`tick` with its one reading's ids changed."""
    return tick.model_copy(update={"readings": [tick.readings[0].model_copy(update=changes)]})


def test_retained_states_build_the_fleet_in_id_order() -> None:
    state = folded(LinkChange(LinkStatus.CONNECTED), Availability.ONLINE, *reversed(FLEET))
    assert state.charger_ids == ["CP1", "CP2", "CP3", "DEPOT-04"]
    assert state.chargers["CP1"].status_label == "Charging"
    assert state.chargers["CP2"].status_label == "Idle"  # its last session is Stopped
    assert state.chargers["DEPOT-04"].status_label == "Idle"
    assert state.live


def test_fold_never_mutates_the_old_state() -> None:
    before = folded(*LIVE)
    chargers = dict(before.chargers)
    after = fold(before, CP1_TICKS[0])
    assert before.chargers == chargers
    assert after.chargers["CP1"].energy_kwh == pytest.approx(14.806)
    assert before.chargers["CP1"].energy_kwh == pytest.approx(14.8)


def test_ticks_move_energy_and_power_and_feed_the_chart() -> None:
    state = folded(*LIVE, *CP1_TICKS[:3])
    cp1 = state.chargers["CP1"]
    assert cp1.energy_kwh == pytest.approx(CP1_TICKS[2].readings[0].energy_consumed)
    assert cp1.power_kw == CP1_TICKS[2].readings[0].power_kw
    powers = [t.readings[0].power_kw for t in CP1_TICKS[:3]]
    assert list(cp1.samples.powers) == powers
    assert cp1.peak_kw == max(powers)


def test_a_late_tick_is_dropped() -> None:
    state = folded(*LIVE, CP1_TICKS[5], CP1_TICKS[2])
    assert state.chargers["CP1"].energy_kwh == pytest.approx(
        CP1_TICKS[5].readings[0].energy_consumed
    )
    assert len(state.chargers["CP1"].samples) == 1


@pytest.mark.parametrize(
    "tick",
    [
        pytest.param(
            update(CP2_SESSION, after=timedelta(seconds=1), energy_kwh=9, power_kw=5), id="stopped"
        ),
        pytest.param(retagged(CP1_TICKS[0], session_id="another-session"), id="other-session"),
        pytest.param(retagged(CP1_TICKS[0], charger_id="CP9"), id="unknown-charger"),
    ],
)
def test_ticks_that_do_not_match_the_retained_state_change_nothing(tick: Inbound) -> None:
    state = folded(*LIVE)
    assert fold(state, tick) is state


def test_a_stop_ends_the_live_readings() -> None:
    stopped = session(
        "CP1", 1, started=timedelta(minutes=42, seconds=7), energy_kwh=15.1, ended=timedelta(0)
    )
    state = folded(*LIVE, *CP1_TICKS[:3], charger("CP1", 22.0, stopped))
    cp1 = state.chargers["CP1"]
    assert cp1.status_label == "Idle"
    assert cp1.session is not None
    assert cp1.session.status is SessionStatus.STOPPED
    assert cp1.power_kw == 0.0
    assert cp1.energy_kwh == pytest.approx(15.1)
    assert cp1.live is None
    assert len(cp1.samples) == 3  # the finished session's curve stays on screen


def test_a_new_session_starts_a_new_chart() -> None:
    fresh = session("CP1", 9, started=timedelta(seconds=1), energy_kwh=0.0, power_kw=1.0)
    state = folded(*LIVE, *CP1_TICKS[:3], charger("CP1", 22.0, fresh))
    assert len(state.chargers["CP1"].samples) == 0
    assert state.chargers["CP1"].energy_kwh == 0.0


def test_a_state_newer_than_the_live_tick_wins() -> None:
    later = CP1_SESSION.model_copy(
        update={"energy_consumed": 20.0, "updated_at": CP1_TICKS[9].timestamp}
    )
    newer = FLEET[0].model_copy(update={"session": later})
    state = folded(*LIVE, CP1_TICKS[0], newer)
    assert state.chargers["CP1"].energy_kwh == 20.0


def test_the_chart_keeps_a_bounded_window() -> None:
    ticks = [
        update(CP1_SESSION, after=timedelta(seconds=i + 1), energy_kwh=15 + i / 1000, power_kw=20)
        for i in range(MAX_SAMPLES + 50)
    ]
    state = folded(*LIVE, *ticks)
    samples = state.chargers["CP1"].samples
    assert len(samples) <= MAX_SAMPLES
    assert samples.span_s <= SAMPLE_WINDOW.total_seconds()
    assert samples.times[-1] == ticks[-1].timestamp.timestamp()


def test_a_cleared_retained_state_removes_the_charger() -> None:
    state = folded(*LIVE, ChargerGone("CP2"))
    assert state.charger_ids == ["CP1", "CP3", "DEPOT-04"]


@pytest.mark.parametrize(
    ("events", "reason"),
    [
        ((), "not connected to the broker"),
        (
            (LinkChange(LinkStatus.DISCONNECTED, "refused"), Availability.ONLINE),
            "not connected to the broker",
        ),
        ((LinkChange(LinkStatus.CONNECTED),), "no daemon has announced itself on this broker"),
        ((LinkChange(LinkStatus.CONNECTED), Availability.OFFLINE), "the daemon is offline"),
        ((LinkChange(LinkStatus.CONNECTED), Availability.ONLINE), None),
    ],
)
def test_commands_are_blocked_with_a_reason(
    events: tuple[Inbound, ...], reason: str | None
) -> None:
    state = folded(*FLEET, *events)
    assert state.blocked_reason() == reason
    assert state.live is (reason is None)
    refusal = state.command_refusal("CP1", CommandAction.START)
    assert refusal == (None if reason is None else f"Start is disabled: {reason}.")


def test_a_pending_command_blocks_a_second_one_and_changes_no_status() -> None:
    state = set_pending(folded(*LIVE), "DEPOT-04", CommandAction.START)
    depot = state.chargers["DEPOT-04"]
    assert depot.pending is CommandAction.START
    assert depot.state.status is ChargerStatus.IDLE
    assert "still waiting" in (state.command_refusal("DEPOT-04", CommandAction.STOP) or "")
    cleared = set_pending(state, "DEPOT-04", None)
    assert cleared.chargers["DEPOT-04"].pending is None
    assert cleared.command_refusal("DEPOT-04", CommandAction.STOP) is None


def test_no_selection_is_refused() -> None:
    state = folded(*LIVE)
    assert state.command_refusal(None, CommandAction.START) == "no charger is selected"
    assert state.command_refusal("CP9", CommandAction.START) == "no charger is selected"


def test_read_only_refuses_every_command_and_outlives_a_reconnect() -> None:
    state = set_read_only(folded(*LIVE), "not authorised")
    assert state.read_only
    assert state.command_refusal("CP1", CommandAction.STOP) == (
        "Stop is unavailable: this dashboard is read-only."
    )
    state = folded(LinkChange(LinkStatus.DISCONNECTED, "gone"))
    state = set_read_only(state, "not authorised")
    again = fold(fold(state, LinkChange(LinkStatus.CONNECTED)), Availability.ONLINE)
    assert again.read_only_reason == "not authorised"
    assert set_read_only(again, "another reason") is again


def test_duration_runs_until_now_and_stops_at_the_end() -> None:
    state = folded(*LIVE)
    assert state.chargers["CP1"].duration_s(NOW) == 42 * 60 + 7
    assert state.chargers["CP2"].duration_s(NOW) == 53 * 60
    assert state.chargers["DEPOT-04"].duration_s(NOW) is None


def test_a_new_connection_forgets_the_daemon_until_its_retained_availability_returns() -> None:
    state = folded(*LIVE, LinkChange(LinkStatus.DISCONNECTED, "gone"))
    assert state.daemon is None
    state = fold(fold(state, LinkChange(LinkStatus.CONNECTED)), Availability.ONLINE)
    assert state.live
    assert state.chargers["CP1"].status_label == "Charging"  # last known values stay on screen


def test_one_fleet_update_moves_every_session_it_reads() -> None:
    tick = FleetUpdate(
        timestamp=CP1_SESSION.updated_at + timedelta(seconds=1),
        readings=[
            reading(CP1_SESSION, energy_kwh=14.9, power_kw=21.0),
            reading(CP3_SESSION, energy_kwh=0.5, power_kw=7.0),
            reading(CP2_SESSION, energy_kwh=9.0, power_kw=5.0),  # stopped: ignored
        ],
    )
    before = folded(*LIVE)
    state = fold(before, tick)
    assert (state.chargers["CP1"].energy_kwh, state.chargers["CP1"].power_kw) == (14.9, 21.0)
    assert (state.chargers["CP3"].energy_kwh, state.chargers["CP3"].power_kw) == (0.5, 7.0)
    assert state.chargers["CP2"] is before.chargers["CP2"]
    assert state.chargers["DEPOT-04"] is before.chargers["DEPOT-04"]
    assert before.chargers["CP1"].energy_kwh == pytest.approx(14.8)


def test_parts_of_a_tick_apply_one_by_one() -> None:
    at = CP1_SESSION.updated_at + timedelta(seconds=1)
    first = FleetUpdate(
        timestamp=at, part=1, parts=2, readings=[reading(CP1_SESSION, energy_kwh=15, power_kw=20)]
    )
    second = FleetUpdate(
        timestamp=at, part=2, parts=2, readings=[reading(CP3_SESSION, energy_kwh=1, power_kw=7)]
    )
    state = folded(*LIVE, first)
    assert state.chargers["CP1"].energy_kwh == 15
    assert state.chargers["CP3"].energy_kwh == pytest.approx(0.412)
    assert fold(state, second).chargers["CP3"].energy_kwh == 1


def test_a_batch_folds_as_its_events_one_by_one() -> None:
    events: list[Inbound] = [
        *LIVE,
        *CP1_TICKS[:5],
        ChargerGone("CP2"),
        LinkChange(LinkStatus.DISCONNECTED, "gone"),
        charger("CP2", 11.0, CP2_SESSION),
        LinkChange(LinkStatus.CONNECTED),
        Availability.ONLINE,
        *CP1_TICKS[5:9],
    ]
    one_by_one = folded(*events)
    batched = fold_all(DashboardState(), events)
    assert batched == one_by_one
    assert batched.order == ("CP1", "CP2", "CP3", "DEPOT-04")


def test_a_batch_that_changes_nothing_keeps_the_state() -> None:
    state = folded(*LIVE)
    stale = CP1_TICKS[0].model_copy(update={"timestamp": NOW - timedelta(hours=1)})
    assert fold_all(state, [stale, ChargerGone("CP9")]) is state


def test_a_trace_never_changes_once_made() -> None:
    first = Trace().add(1.0, 10.0).add(2.0, 11.0)
    second = first.add(3.0, 12.0)
    fork = first.add(3.0, 99.0)  # from the same trace again, as folding an older state does
    assert list(first.powers) == [10.0, 11.0]
    assert list(second.powers) == [10.0, 11.0, 12.0]
    assert list(fork.powers) == [10.0, 11.0, 99.0]
    assert list(second.add(4.0, 13.0).powers) == [10.0, 11.0, 12.0, 13.0]
    assert list(second.powers) == [10.0, 11.0, 12.0]


def test_a_trace_keeps_the_window_over_many_readings() -> None:
    trace = Trace()
    window = SAMPLE_WINDOW.total_seconds()
    for second in range(5 * MAX_SAMPLES):
        trace = trace.add(float(second) / 4, float(second))  # four readings a second
    assert len(trace) == MAX_SAMPLES
    assert trace.times[-1] == (5 * MAX_SAMPLES - 1) / 4
    assert trace.span_s <= window
    assert trace.peak_kw == 5 * MAX_SAMPLES - 1


def test_a_reading_with_its_own_time_is_ordered_by_it() -> None:
    state = folded(*LIVE, CP1_TICKS[5])
    older = CP1_TICKS[2].readings[0].model_copy(update={"timestamp": CP1_TICKS[2].timestamp})
    late = FleetUpdate(timestamp=CP1_TICKS[9].timestamp, readings=[older])
    assert fold(state, late) is state  # read before the reading shown: dropped
    newer = CP1_TICKS[7].readings[0].model_copy(update={"timestamp": CP1_TICKS[7].timestamp})
    moved = fold(state, FleetUpdate(timestamp=CP1_TICKS[9].timestamp, readings=[newer]))
    cp1 = moved.chargers["CP1"]
    assert cp1.live is not None
    assert cp1.live.at == CP1_TICKS[7].timestamp
    assert cp1.samples.times[-1] == CP1_TICKS[7].timestamp.timestamp()
