"""How figures read on screen: energy, power, durations, times and gauges.

Energy keeps three decimals below 10 kWh so a running session visibly moves (one watt-hour is
0.001 kWh); power keeps two decimals below 10 kW and one above.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from statistics import fmean

DASH = "—"
FULL = "█"
EMPTY = "░"


def kwh(value: float | None) -> str:
    """Energy in kWh, without the unit."""
    if value is None:
        return DASH
    if value < 10:
        return f"{value:.3f}"
    if value < 1000:
        return f"{value:.2f}"
    return f"{value:.1f}"


def kw(value: float | None) -> str:
    """Power in kW, without the unit."""
    if value is None:
        return DASH
    return f"{value:.2f}" if value < 10 else f"{value:.1f}"


def duration(seconds: float | None) -> str:
    """`H:MM:SS`, with days in front past 24 hours."""
    if seconds is None:
        return DASH
    total = int(seconds)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{hours}:{minutes:02d}:{secs:02d}"
    return f"{days}d {text}" if days else text


def ago(seconds: float) -> str:
    """A short span back in time: `0:42` (minutes and seconds) below an hour, else `H:MM:SS`."""
    if seconds >= 3600:
        return duration(seconds)
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}:{secs:02d}"


def short_id(session_id: str | None) -> str:
    """The first eight characters of a session id: enough to tell sessions apart on screen."""
    return session_id[:8] if session_id else DASH


def clock(moment: datetime | None, tz: tzinfo | None) -> str:
    """`HH:MM:SS` in the operator's time zone (`tz`, or the machine's when None)."""
    return moment.astimezone(tz).strftime("%H:%M:%S") if moment else DASH


def stamp(moment: datetime | None, tz: tzinfo | None) -> str:
    """`YYYY-MM-DD HH:MM:SS` in the operator's time zone."""
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S") if moment else DASH


def file_stamp(moment: datetime, tz: tzinfo | None) -> str:
    """`YYYYmmdd-HHMMSS` in the operator's time zone, for the names of files the dashboard saves."""
    return moment.astimezone(tz).strftime("%Y%m%d-%H%M%S")


def gauge(fraction: float, width: int) -> tuple[str, str]:
    """The filled and the empty part of a bar `width` cells wide."""
    filled = round(min(1.0, max(0.0, fraction)) * width)
    if fraction > 0 and filled == 0:
        filled = 1
    return FULL * filled, EMPTY * (width - filled)


def minute(moment: datetime | None, tz: tzinfo | None) -> str:
    """`YYYY-MM-DD HH:MM` in the operator's time zone."""
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M") if moment else DASH


def end_minute(start: datetime, end: datetime | None, tz: tzinfo | None) -> str:
    """The end as `HH:MM` when on the start's day, else in full."""
    if end is None:
        return DASH
    if end.astimezone(tz).date() == start.astimezone(tz).date():
        return end.astimezone(tz).strftime("%H:%M")
    return minute(end, tz)


BARS = " ▁▂▃▄▅▆▇█"
"""Eighths of a cell, from empty to full."""


def spark_rows(values: Sequence[float], ceiling: float, width: int, height: int) -> list[str]:
    """A bar chart of `values` scaled from 0 to `ceiling`, newest on the right, top row first.

    More values than columns are averaged into `width` buckets; fewer leave the left side
    empty, so the chart fills from the right as readings arrive.
    """
    if width <= 0 or height <= 0:
        return []
    columns = _buckets(values, width)
    levels = height * (len(BARS) - 1)
    heights = [_level(value, ceiling, levels) for value in columns]
    pad = " " * (width - len(heights))
    rows = []
    for row in reversed(range(height)):
        base = row * (len(BARS) - 1)
        rows.append(pad + "".join(BARS[min(len(BARS) - 1, max(0, h - base))] for h in heights))
    return rows


AXIS_MIN_HEIGHT = 3
"""Below this many rows the chart is bars only: a scale would leave no room for them."""


@dataclass(frozen=True)
class Chart:
    """The power chart's text rows; the first `gutter` columns of each and the last row are axes."""

    rows: list[str]
    gutter: int
    """Width of the kW scale on the left; 0 when the chart is too small for axes."""


def power_chart(
    values: Sequence[float], ceiling: float, span_s: float, width: int, height: int
) -> Chart:
    """`spark_rows` with a kW scale on the left and a time line below.

    The scale marks the charger's maximum at the top and 0 at the bottom; the time line says
    how far back the oldest reading shown lies (`span_s`) and puts "now" on the right.
    """
    top, bottom = kw(ceiling), "0"
    gutter = len(top) + 2
    bars_w = width - gutter
    if height < AXIS_MIN_HEIGHT or bars_w < 2 * len("now"):
        return Chart(spark_rows(values, ceiling, width, height), 0)
    bars = spark_rows(values, ceiling, bars_w, height - 1)
    rows = []
    for index, bar in enumerate(bars):
        label = top if index == 0 else bottom if index == len(bars) - 1 else ""
        rows.append(f"{label:>{gutter - 2}} {'┤' if label else '│'}{bar}")
    line = ["─"] * bars_w
    line[-len("now") :] = "now"
    if values:
        since = f"{ago(span_s)} ago"
        start = max(0, min(bars_w - min(len(values), bars_w), bars_w - len(since) - 4))
        line[start : start + len(since)] = since
    rows.append(f"{'kW':>{gutter - 2}} └" + "".join(line))
    return Chart(rows, gutter)


def _level(value: float, ceiling: float, levels: int) -> int:
    if ceiling <= 0 or value <= 0:
        return 0
    return max(1, round(min(1.0, value / ceiling) * levels))


def _buckets(values: Sequence[float], width: int) -> list[float]:
    count = len(values)
    if count <= width:
        return list(values)
    return [fmean(values[i * count // width : (i + 1) * count // width]) for i in range(width)]
