"""Which charging chargers get their retained state republished at a tick.

A charger's retained state is published when its status changes, so while it charges the state
would keep the figures of the moment the session started (0 kWh, 0 kW) and a client that joins
late would read them. Instead every charging charger's state is republished every `every_s`
seconds, and never all at once: each tick refreshes at most its share, ceil(charging x tick /
every), the most overdue first (so a burst, such as every state published on connect, is spread
over the next few ticks). With 5,000 chargers charging, a 1 s tick
and 5 s between refreshes, that is 1,000 states a second, spread evenly, whatever bunched them.
"""

import math
from collections.abc import Iterable

STATE_REFRESH_S = 5.0
"""Longest time between two publications of a charging charger's retained state."""


class StateRefresh:
    """Remembers when each charging charger's state was last published; clock passed in."""

    def __init__(self, every_s: float, tick_s: float) -> None:
        self._every = every_s
        self._tick = tick_s
        self._published: dict[str, float] = {}

    def published(self, charger_id: str, now: float) -> None:
        """The charger's state went out at `now`."""
        self._published[charger_id] = now

    def forget(self, charger_id: str) -> None:
        """The charger stopped charging: nothing to refresh until it starts again."""
        self._published.pop(charger_id, None)

    def due(self, charging: Iterable[str], now: float) -> list[str]:
        """The chargers to refresh now (marked as published), at most this tick's share."""
        ids = list(charging)
        share = math.ceil(len(ids) * self._tick / self._every)
        overdue = [c for c in ids if self._published.get(c, -math.inf) + self._every <= now]
        if len(overdue) > share:
            overdue.sort(key=lambda c: self._published.get(c, -math.inf))
            overdue = overdue[:share]
        for charger_id in overdue:
            self._published[charger_id] = now
        return overdue
