"""How long to wait before connecting again: jittered exponential backoff with a cap.

One policy for every connection an EVCSM program keeps up (the daemon's broker and database, the
dashboard's broker). After the n-th failure in a row the wait is drawn at random between 80 %
and all of `min(cap, first * 2 ** (n - 1))`: it doubles while the peer stays away, never passes
the cap, and the random fifth keeps the clients of a restarted broker from all coming back in
the same instant. A success starts the count again.
"""

import random
from dataclasses import dataclass, field

JITTER = 0.2
"""A wait is up to this share shorter than its ceiling, at random."""
MAX_DOUBLINGS = 32
"""Past this many failures the ceiling no longer grows (and `2 ** n` stays small)."""


@dataclass(frozen=True, slots=True)
class Backoff:
    """The waits between attempts: from `first` seconds, doubling, at most `cap`."""

    first: float = 1.0
    cap: float = 30.0

    def __post_init__(self) -> None:
        if not 0 < self.first <= self.cap:
            raise ValueError("backoff needs 0 < first <= cap")

    def ceiling(self, failures: int) -> float:
        """The longest wait after `failures` failures in a row (1 for the first)."""
        return min(self.cap, self.first * 2.0 ** min(max(failures, 1) - 1, MAX_DOUBLINGS))

    def delay(self, failures: int, rng: random.Random | None = None) -> float:
        """Seconds to wait after `failures` failures in a row: 80 % to 100 % of the ceiling."""
        ceiling = self.ceiling(failures)
        return (rng or _RANDOM).uniform(ceiling * (1 - JITTER), ceiling)


@dataclass(slots=True)
class Retries:
    """One connection's failures in a row, and the wait each calls for."""

    policy: Backoff = field(default_factory=Backoff)
    failures: int = 0

    def failed(self) -> float:
        """Count a failure; the seconds to wait before the next attempt."""
        self.failures += 1
        return self.policy.delay(self.failures)

    def succeeded(self) -> None:
        """The connection is up: the next failure waits the shortest time again."""
        self.failures = 0


_RANDOM = random.Random()  # noqa: S311 - spreads reconnections in time; nothing secret depends on it
