"""Percentiles and the plain-text table the benchmarks print."""

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Spread:
    """A sample summarised: count, p50, p99 and max (nan when empty)."""

    count: int
    p50: float
    p99: float
    max: float

    @classmethod
    def of(cls, samples: Sequence[float]) -> "Spread":
        """Nearest-rank percentiles of `samples` (with few samples p99 is the maximum)."""
        ordered = sorted(samples)
        if not ordered:
            return cls(0, math.nan, math.nan, math.nan)
        return cls(len(ordered), _rank(ordered, 0.50), _rank(ordered, 0.99), ordered[-1])

    def ms(self) -> str:
        """`p50 / p99 / max` in milliseconds (samples are in seconds)."""
        return " / ".join(ms(value) for value in (self.p50, self.p99, self.max))


def _rank(ordered: Sequence[float], q: float) -> float:
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def ms(seconds: float) -> str:
    """Seconds as milliseconds, to 0.1 ms below 100 ms ("-" for nan)."""
    if math.isnan(seconds):
        return "-"
    millis = seconds * 1000
    return f"{millis:.1f}" if millis < 100 else f"{millis:,.0f}"


def table(title: str, rows: Sequence[tuple[str, str]]) -> str:
    """Two aligned columns under a title; a row with an empty value is a section heading."""
    width = max(len(name) for name, _ in rows)
    lines = [title, "-" * max(len(title), width + 30)]
    for name, value in rows:
        lines.append(name if not value else f"{name.ljust(width)}  {value}")
    return "\n".join(lines)
