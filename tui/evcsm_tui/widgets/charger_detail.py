"""The selected charger in detail: energy in large digits beside every figure, then power."""

from datetime import datetime, tzinfo

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.markup import escape
from textual.widgets import Digits, Label, Static

from evcsm_tui import fmt
from evcsm_tui.figures import Figure, figures, simulated, station_figures
from evcsm_tui.state import ChargerView, DashboardState
from evcsm_tui.widgets.power_chart import PowerChart
from evcsm_tui.widgets.power_gauge import PowerGauge

LABEL_WIDTH = 12
"""Room for the longest figure label, "Stop reason", and a space."""


class ChargerDetail(Vertical):
    """One charger's live figures; its CSS classes follow the charger's status."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._shown: dict[str, object] = {}
        """What each label shows, so that an unchanged one is left alone."""

    def compose(self) -> ComposeResult:
        """Digits and figures on top, then the power gauge, the power chart and a notice."""
        with Horizontal(id="summary"):
            with Vertical(id="energy-box"):
                yield Digits(fmt.DASH, id="energy")
                yield Label("kWh this session", id="energy-unit")
            yield Static(id="figures")
            yield Static(id="station")
        yield PowerGauge(id="gauge")
        yield PowerChart(id="chart")
        yield Label(id="notice")

    def show(
        self,
        state: DashboardState,
        view: ChargerView | None,
        now: datetime,
        tz: tzinfo | None,
        *,
        empty: str = "No charger yet",
    ) -> None:
        """Show `view` as of `now`; `empty` is the title when no charger is selected."""
        notice = self._notice(state, view)
        self.set_class(view is None, "-empty")
        self.set_class(view is not None and view.charging, "-charging")
        self.set_class(not state.live, "-stale")
        self.set_class(not notice, "-no-notice")
        self._update("#notice", notice)
        if view is None:
            self.border_title = empty
            self.border_subtitle = ""
            self._update("#energy", fmt.DASH)
            return
        session = view.session
        status = view.status_label if state.live else "Unknown"
        marker = simulated(view.state.simulation_speed)
        title = " · ".join(part for part in (view.charger_id, status, marker) if part)
        self.border_title = escape(title)
        self.border_subtitle = f"session {session.session_id}" if session else "no session yet"
        self._update("#energy", fmt.kwh(view.energy_kwh))
        unit = "kWh this session" if view.charging or session is None else "kWh last session"
        self._update("#energy-unit", unit)
        self._rows("#figures", figures(view, now, tz))
        station = station_figures(view, tz)
        self.set_class(not station, "-no-station")
        self.set_class(view.state.error_code is not None, "-fault")
        self._rows("#station", station)
        gauge = self.query_one("#gauge", PowerGauge)
        gauge.power_kw = view.power_kw
        gauge.max_kw = view.max_kw
        chart = self.query_one(PowerChart)
        chart.readings = tuple(view.samples.powers)
        chart.ceiling_kw = view.max_kw
        chart.span_s = view.samples.span_s

    def _update(self, selector: str, text: str) -> None:
        """Change a label or the digits only when the text differs: each change lays the
        screen out again, and the detail is shown five times a second."""
        if self._shown.get(selector) == text:
            return
        self._shown[selector] = text
        widget = self.query_one(selector)
        if isinstance(widget, Digits):
            widget.update(text)
        elif isinstance(widget, Label):
            widget.update(Content(text))

    def _rows(self, selector: str, figures: list[Figure]) -> None:
        """Show labelled figures, one per line, only when they differ from those shown."""
        rows = tuple(figures)
        if self._shown.get(selector) == rows:
            return
        self._shown[selector] = rows
        self.query_one(selector, Static).update(
            Content("\n").join(
                Content.assemble((f"{f.label:<{LABEL_WIDTH}}", "dim"), f.value) for f in rows
            )
        )

    @staticmethod
    def _notice(state: DashboardState, view: ChargerView | None) -> str:
        if state.read_only:
            return f"Read-only: {state.read_only_reason}"
        reason = state.blocked_reason()
        if reason is not None:
            return f"Start/stop unavailable: {reason}"
        if view is not None and view.pending is not None:
            return f"Waiting for the daemon to {view.pending.value} {view.charger_id}…"
        return ""
