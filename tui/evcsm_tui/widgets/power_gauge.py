"""A horizontal bar of power now against the charger's maximum."""

from typing import ClassVar

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from evcsm_tui import fmt


class PowerGauge(Widget):
    """`████░░░░  7.40 / 22.0 kW`, as wide as the widget."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {"gauge--bar", "gauge--empty"}
    power_kw: reactive[float] = reactive(0.0)
    max_kw: reactive[float | None] = reactive(None)

    def render(self) -> Text:
        """The bar, then the figures."""
        maximum = self.max_kw
        figures = f" {fmt.kw(self.power_kw)} / {fmt.kw(maximum)} kW"
        width = max(0, self.size.width - len(figures))
        fraction = self.power_kw / maximum if maximum else 0.0
        filled, empty = fmt.gauge(fraction, width)
        return Text.assemble(
            (filled, self.get_component_rich_style("gauge--bar", partial=True)),
            (empty, self.get_component_rich_style("gauge--empty", partial=True)),
            figures,
        )
