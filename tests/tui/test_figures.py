"""The detail panel's figures: every one on its own line, simulated time marked."""

from datetime import UTC

from evcsm_schema import Availability, ChargerState
from evcsm_tui.figures import Figure, figures, fleet_simulated, simulated
from evcsm_tui.state import DashboardState, Inbound, LinkChange, LinkStatus, fold

from tests.tui.data import CP1_TICKS, FLEET, NOW


def fleet_state(*chargers: ChargerState) -> DashboardState:
    events: list[Inbound] = [LinkChange(LinkStatus.CONNECTED), Availability.ONLINE]
    state = DashboardState()
    for event in (*events, *chargers, *CP1_TICKS[:3]):
        state = fold(state, event)
    return state


def at_speed(speed: float | None, *chargers: ChargerState) -> list[ChargerState]:
    return [c.model_copy(update={"simulation_speed": speed}) for c in chargers]


def test_a_charging_charger_shows_every_figure_on_its_own_line() -> None:
    view = fleet_state(*FLEET).chargers["CP1"]
    assert figures(view, NOW, UTC) == [
        Figure("Power", "20.4 kW of 22.0 · peak 21.4"),
        Figure("Meter", "1114.818 kWh"),
        Figure("Started", "2026-03-02 13:47:53"),
        Figure("Charging", "for 0:42:07"),
        Figure("Stop reason", "—"),
    ]


def test_a_stopped_session_on_a_simulated_charger_gives_real_and_simulated_time() -> None:
    view = fleet_state(*at_speed(10.0, *FLEET)).chargers["CP2"]
    assert figures(view, NOW, UTC)[1:] == [
        Figure("Meter", "1206.250 kWh"),
        Figure("Started", "2026-03-02 13:25:00"),
        Figure("Stopped", "14:18:00 after 0:53:00 (8:50:00 simulated)"),
        Figure("Stop reason", "Stopped by operator"),
    ]
    assert figures(view, NOW, UTC)[0] == Figure("Power", "0.00 kW of 11.0")


def test_a_charger_without_sessions() -> None:
    view = fleet_state(*FLEET).chargers["DEPOT-04"]
    assert figures(view, NOW, UTC) == [
        Figure("Power", "0.00 kW of 50.0"),
        Figure("Session", "none on this charger yet"),
    ]


def test_the_simulation_marker() -> None:
    assert simulated(None) == ""
    assert simulated(1.0) == "simulated"
    assert simulated(10.0) == "simulated x10"
    assert simulated(2.5) == "simulated x2.5"
    assert fleet_simulated(fleet_state(*FLEET)) == ""
    assert fleet_simulated(fleet_state(*at_speed(10.0, *FLEET))) == "simulated x10"
    mixed = [*at_speed(10.0, *FLEET[:2]), *FLEET[2:]]
    assert fleet_simulated(fleet_state(*mixed)) == "simulated"
