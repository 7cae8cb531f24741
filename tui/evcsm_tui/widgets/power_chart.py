"""Power over the last minutes as a bar chart scaled to the charger's maximum, with axes."""

from typing import ClassVar

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from evcsm_tui import fmt


class PowerChart(Widget):
    """Bars from 0 to the charger's maximum power, newest reading on the right."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {"chart--bars", "chart--axis"}
    readings: reactive[tuple[float, ...]] = reactive(())
    ceiling_kw: reactive[float] = reactive(1.0)
    span_s: reactive[float] = reactive(0.0)
    """Seconds from the oldest reading to the newest."""

    def render(self) -> Text:
        """One text line per row of the chart."""
        width, height = self.size
        chart = fmt.power_chart(self.readings, self.ceiling_kw, self.span_s, width, height)
        bars = self.get_component_rich_style("chart--bars", partial=True)
        axis = self.get_component_rich_style("chart--axis", partial=True)
        text = Text(no_wrap=True)
        last = len(chart.rows) - 1
        for index, row in enumerate(chart.rows):
            if chart.gutter and index == last:
                text.append(row, axis)
            else:
                text.append(row[: chart.gutter], axis)
                text.append(row[chart.gutter :], bars)
            if index < last:
                text.append("\n")
        return text
