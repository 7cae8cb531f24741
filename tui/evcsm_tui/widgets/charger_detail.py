"""The selected charger in detail: energy in large digits, power gauge and sparkline, totals."""

from datetime import datetime, tzinfo

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.markup import escape
from textual.widgets import Digits, Label

from evcsm_tui import fmt
from evcsm_tui.state import ChargerView, DashboardState
from evcsm_tui.widgets.power_chart import PowerChart
from evcsm_tui.widgets.power_gauge import PowerGauge


class ChargerDetail(Vertical):
    """One charger's live figures; its CSS classes follow the charger's status."""

    def compose(self) -> ComposeResult:
        """Digits on the left, gauge, sparkline and times on the right."""
        with Horizontal():
            with Vertical(id="energy-box"):
                yield Digits(fmt.DASH, id="energy")
                yield Label("kWh this session", id="energy-unit")
            with Vertical(id="figures"):
                yield PowerGauge(id="gauge")
                yield PowerChart(id="chart")
                yield Label(id="times")
                yield Label(id="totals")
        yield Label(id="notice")

    def show(
        self, state: DashboardState, view: ChargerView | None, now: datetime, tz: tzinfo | None
    ) -> None:
        """Show `view` (None when no charger is selected) as of `now`."""
        self.set_class(view is None, "-empty")
        self.set_class(view is not None and view.charging, "-charging")
        self.set_class(not state.live, "-stale")
        self.query_one("#notice", Label).update(Content(self._notice(state, view)))
        if view is None:
            self.border_title = "No charger yet"
            self.border_subtitle = ""
            self.query_one("#energy", Digits).update(fmt.DASH)
            return
        session = view.session
        status = view.status_label if state.live else "Unknown"
        self.border_title = escape(f"{view.charger_id} · {status}")
        self.border_subtitle = f"session {session.session_id}" if session else "no session yet"
        self.query_one("#energy", Digits).update(fmt.kwh(view.energy_kwh))
        gauge = self.query_one("#gauge", PowerGauge)
        gauge.power_kw = view.power_kw
        gauge.max_kw = view.max_kw
        chart = self.query_one(PowerChart)
        chart.readings = tuple(sample.power_kw for sample in view.samples)
        chart.ceiling_kw = view.max_kw
        self.query_one("#times", Label).update(Content(self._times(view, now, tz)))
        self.query_one("#totals", Label).update(Content(self._totals(view, now)))

    @staticmethod
    def _times(view: ChargerView, now: datetime, tz: tzinfo | None) -> str:
        session = view.session
        if session is None:
            return "No session on this charger yet"
        started = f"Started {fmt.stamp(session.start_time, tz)}"
        if session.end_time is None:
            return f"{started}   running {fmt.duration(session.duration_s(now))}"
        return f"{started}   ended {fmt.clock(session.end_time, tz)}"

    @staticmethod
    def _totals(view: ChargerView, now: datetime) -> str:
        session = view.session
        if session is None:
            return ""
        meter_wh = view.live.meter_wh if view.live else session.meter_wh
        text = (
            f"{fmt.kwh(view.energy_kwh)} kWh in {fmt.duration(session.duration_s(now))}  "
            f"peak {fmt.kw(view.peak_kw)} kW  meter {meter_wh / 1000:.3f} kWh"
        )
        if session.stop_reason:
            text += f"  stop: {session.stop_reason}"
        return text

    @staticmethod
    def _notice(state: DashboardState, view: ChargerView | None) -> str:
        reason = state.blocked_reason()
        if reason is not None:
            return f"Start/stop unavailable: {reason}"
        if view is not None and view.pending is not None:
            return f"Waiting for the daemon to {view.pending.value} {view.charger_id}…"
        return ""
