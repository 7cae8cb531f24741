"""How figures read on screen: energy, power, durations, times and gauges.

Energy keeps three decimals below 10 kWh so a running session visibly moves (one watt-hour is
0.001 kWh); power keeps two decimals below 10 kW and one above.
"""

from collections.abc import Sequence
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


def short_id(session_id: str | None) -> str:
    """The first eight characters of a session id: enough to tell sessions apart on screen."""
    return session_id[:8] if session_id else DASH


def clock(moment: datetime | None, tz: tzinfo | None) -> str:
    """`HH:MM:SS` in the operator's time zone (`tz`, or the machine's when None)."""
    return moment.astimezone(tz).strftime("%H:%M:%S") if moment else DASH


def stamp(moment: datetime | None, tz: tzinfo | None) -> str:
    """`YYYY-MM-DD HH:MM:SS` in the operator's time zone."""
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S") if moment else DASH


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


def _level(value: float, ceiling: float, levels: int) -> int:
    if ceiling <= 0 or value <= 0:
        return 0
    return max(1, round(min(1.0, value / ceiling) * levels))


def _buckets(values: Sequence[float], width: int) -> list[float]:
    count = len(values)
    if count <= width:
        return list(values)
    return [fmean(values[i * count // width : (i + 1) * count // width]) for i in range(width)]
