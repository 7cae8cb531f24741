"""Power over the last minutes as a bar chart scaled to the charger's maximum."""

from typing import ClassVar

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from evcsm_tui import fmt


class PowerChart(Widget):
    """Bars from 0 to the charger's maximum power, newest reading on the right."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {"chart--bars"}
    readings: reactive[tuple[float, ...]] = reactive(())
    ceiling_kw: reactive[float] = reactive(1.0)

    def render(self) -> Text:
        """One text line per row of the chart."""
        rows = fmt.spark_rows(self.readings, self.ceiling_kw, self.size.width, self.size.height)
        style = self.get_component_rich_style("chart--bars", partial=True)
        return Text("\n".join(rows), style=style, no_wrap=True)
