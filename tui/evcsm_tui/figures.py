"""What the detail panel says about the selected charger: one labelled figure per line.

Pure: the panel renders these rows; tests read them without a screen. Every figure of the
charger's current or last session has its row (power, meter, start, duration, stop reason), so
none of them is cut off at 80 columns the way one long line was.

A simulated charger's meter runs `simulationSpeed` times faster than real time. Durations stay in
real time, as the history and the REST API give them; the simulated time follows in brackets, so
that energy over time reads as the power it is.
"""

from dataclasses import dataclass
from datetime import datetime, tzinfo

from evcsm_schema import ChargingSession

from evcsm_tui import fmt
from evcsm_tui.state import ChargerView, DashboardState


@dataclass(frozen=True)
class Figure:
    """One line of the detail panel."""

    label: str
    value: str


def simulated(speed: float | None) -> str:
    """`simulated x10` (or `simulated` at real speed); empty for a real charger."""
    if speed is None:
        return ""
    return "simulated" if speed == 1 else f"simulated x{speed:g}"


def fleet_simulated(state: DashboardState) -> str:
    """The header's marker: `simulated x10` when every charger runs at that speed, `simulated`
    when they differ or only some are simulated, empty when none is."""
    speeds = {view.state.simulation_speed for view in state.chargers.values()}
    if speeds <= {None}:
        return ""
    if len(speeds) == 1:
        return simulated(speeds.pop())
    return "simulated"


def station_figures(view: ChargerView, tz: tzinfo | None) -> list[Figure]:
    """An OCPP charger's station: the fault it reports, who made it, when it was last heard."""
    state = view.state
    if state.charge_point_id is None:
        return []
    rows: list[Figure] = []
    if state.error_code is not None:
        info = f" · {state.error_info}" if state.error_info else ""
        rows.append(Figure("Error", f"{state.error_code}{info}"))
    made = " ".join(part for part in (state.vendor, state.model) if part) or fmt.DASH
    firmware = f" · firmware {state.firmware_version}" if state.firmware_version else ""
    rows.append(Figure("Station", f"{state.charge_point_id} #{state.connector_id or 0}"))
    rows.append(Figure("Model", f"{made}{firmware}"))
    heard = fmt.stamp(state.last_message_at, tz) if state.last_message_at else "never"
    rows.append(Figure("Last seen", heard))
    return rows


def figures(view: ChargerView, now: datetime, tz: tzinfo | None) -> list[Figure]:
    """The rows for `view` as of `now`, times in `tz`."""
    session = view.session
    peak = f" · peak {fmt.kw(view.peak_kw)}" if view.samples else ""
    rated = view.state.max_power_kw
    of = f" of {fmt.kw(rated)}" if rated is not None else ""  # unknown for an OCPP charger
    power = Figure("Power", f"{fmt.kw(view.power_kw)} kW{of}{peak}")
    if session is None:
        return [power, Figure("Session", "none on this charger yet")]
    meter_wh = view.live.meter_wh if view.live else session.meter_wh
    return [
        power,
        Figure("Meter", f"{meter_wh / 1000:.3f} kWh"),
        Figure("Started", fmt.stamp(session.start_time, tz)),
        Figure(session.status.value, _duration(session, view.state.simulation_speed, now, tz)),
        Figure("Stop reason", session.stop_reason or fmt.DASH),
    ]


def _duration(
    session: ChargingSession, speed: float | None, now: datetime, tz: tzinfo | None
) -> str:
    seconds = session.duration_s(now)
    text = fmt.duration(seconds)
    if session.end_time is not None:
        text = f"{fmt.clock(session.end_time, tz)} after {text}"
    else:
        text = f"for {text}"
    if speed is not None and speed != 1:
        text += f" ({fmt.duration(seconds * speed)} simulated)"
    return text
