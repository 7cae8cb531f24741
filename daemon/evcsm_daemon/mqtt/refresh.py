"""Which charging chargers get their retained state republished at a tick.

A charger's retained state is published when its status changes, so while it charges the state
would keep the figures of the moment the session started (0 kWh, 0 kW) and a client that joins
late would read them. Instead every charging charger's state is republished every `every_s`
seconds, and never all at once: each tick refreshes at most its share, ceil(charging x tick /
every), the most overdue first (so a burst, such as every state published on connect, is spread
over the next few ticks).

The period grows with the fleet so that at most `per_s` states go out a second: each one is a
retained QoS 1 message that every dashboard decodes, while the live figures of every session
are in `evcsm/fleet/updates` each tick anyway. With the defaults (`EVCSM_STATE_REFRESH`,
`EVCSM_STATE_REFRESH_RATE`), 5 s and 500 a second, 2,500 charging
chargers are refreshed every 5 s, 10,000 every 20 s.
"""

import math
from collections.abc import Iterable

STATE_REFRESH_S = 5.0
"""Seconds between two publications of a charging charger's state, by default."""
STATE_REFRESH_PER_S = 500
"""Retained states republished a second at most, by default."""


class StateRefresh:
    """Remembers when each charging charger's state was last published; clock passed in."""

    def __init__(self, every_s: float, tick_s: float, per_s: float = math.inf) -> None:
        self._every = every_s
        self._tick = tick_s
        self._per_s = per_s
        self._published: dict[str, float] = {}

    def period(self, charging: int) -> float:
        """Seconds between two refreshes of a charger's state with `charging` chargers charging
        (infinite when refreshing is off)."""
        if self._every <= 0 or self._per_s <= 0:
            return math.inf
        return max(self._every, charging / self._per_s)

    def published(self, charger_id: str, now: float) -> None:
        """The charger's state went out at `now`."""
        self._published[charger_id] = now

    def forget(self, charger_id: str) -> None:
        """The charger stopped charging: nothing to refresh until it starts again."""
        self._published.pop(charger_id, None)

    def due(self, charging: Iterable[str], now: float) -> list[str]:
        """The chargers to refresh now (marked as published), at most this tick's share."""
        ids = list(charging)
        every = self.period(len(ids))
        if math.isinf(every):
            return []
        share = math.ceil(len(ids) * self._tick / every)
        overdue = [c for c in ids if self._published.get(c, -math.inf) + every <= now]
        if len(overdue) > share:
            overdue.sort(key=lambda c: self._published.get(c, -math.inf))
            overdue = overdue[:share]
        for charger_id in overdue:
            self._published[charger_id] = now
        return overdue
