"""The meter tick: every `interval` seconds, one `service.tick()`, with lag statistics.

Ticks are scheduled on the event loop's monotonic clock; a tick that starts late is measured
(lag = actual start - scheduled start) and, if a whole interval was missed, the schedule skips
ahead instead of bursting to catch up: readings are absolute, so a skipped tick loses nothing.
"""

import asyncio
import contextlib
import logging
from collections import deque
from dataclasses import dataclass, field

from evcsm_daemon.errors import StoreUnavailable
from evcsm_daemon.service import ChargingService

log = logging.getLogger(__name__)

SAMPLES = 100_000


@dataclass
class TickStats:
    """Recent ticks: lag behind schedule, duration, and the store's share of it (seconds)."""

    lags: deque[float] = field(default_factory=lambda: deque(maxlen=SAMPLES))
    durations: deque[float] = field(default_factory=lambda: deque(maxlen=SAMPLES))
    store_durations: deque[float] = field(default_factory=lambda: deque(maxlen=SAMPLES))
    sessions: int = 0
    skipped: int = 0
    failed: int = 0


class Ticker:
    """Runs the tick loop until asked to stop, finishing the tick in progress."""

    def __init__(self, service: ChargingService, interval: float) -> None:
        self._service = service
        self._interval = interval
        self.stats = TickStats()

    async def run(self, stop: asyncio.Event) -> None:
        """Tick until `stop` is set."""
        loop = asyncio.get_running_loop()
        due = loop.time() + self._interval
        store_down = False
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout_at(due):
                    await stop.wait()
            if stop.is_set():
                return
            started = loop.time()
            try:
                sessions = await self._service.tick()
            except StoreUnavailable as exc:
                self.stats.failed += 1
                if not store_down:
                    log.warning("tick not stored, will retry next tick: %s", exc.message)
                store_down = True
            else:
                if store_down:
                    log.info("ticks are stored again")
                store_down = False
                self.stats.sessions += len(sessions)
            finished = loop.time()
            self.stats.lags.append(started - due)
            self.stats.durations.append(finished - started)
            self.stats.store_durations.append(self._service.last_store_seconds)
            due += self._interval
            if due < finished:
                missed = int((finished - due) // self._interval) + 1
                self.stats.skipped += missed
                due += missed * self._interval
