"""The meter tick and the write-behind flush that stores its readings.

Every `interval` seconds, `service.tick()` reads the meters and publishes; it never waits for the
database. A second loop, the flusher, stores the latest reading of every session in one bulk
write, then pauses at least one interval and at least `FLUSH_DUTY` times as long as the write took,
so a slow store is written less often instead of slowing the ticks or eating the CPU. Readings it
has not stored yet lose nothing: they are recomputed from the meter after a restart. After each
flush, the flusher also settles the starts and stops the store could not confirm (`service.settle`).

Ticks are scheduled on the event loop's monotonic clock; a tick that starts late is measured
(lag = actual start - scheduled start) and, if a whole interval was missed, the schedule skips
ahead instead of bursting to catch up.
"""

import asyncio
import contextlib
import logging
from collections import deque
from dataclasses import dataclass, field

from evcsm_daemon.errors import StoreError
from evcsm_daemon.service import ChargingService

log = logging.getLogger(__name__)

SAMPLES = 100_000
FINAL_FLUSH_S = 4.0
"""The flush on shutdown gets this long, so SIGTERM is honoured well within 10 s."""
FLUSH_DUTY = 3.0
"""After a flush that took d seconds, the flusher waits at least FLUSH_DUTY x d."""


@dataclass
class TickStats:
    """Recent ticks (lag behind schedule, duration) and flushes (duration), in seconds."""

    lags: deque[float] = field(default_factory=lambda: deque(maxlen=SAMPLES))
    durations: deque[float] = field(default_factory=lambda: deque(maxlen=SAMPLES))
    store_durations: deque[float] = field(default_factory=lambda: deque(maxlen=SAMPLES))
    sessions: int = 0
    skipped: int = 0
    flushed: int = 0
    failed: int = 0
    settled: int = 0


class Ticker:
    """Runs the tick and flush loops until asked to stop; the last flush runs on the way out."""

    def __init__(self, service: ChargingService, interval: float) -> None:
        self._service = service
        self._interval = interval
        self._store_down = False
        self.stats = TickStats()

    async def run(self, stop: asyncio.Event) -> None:
        """Tick and flush until `stop` is set."""
        async with asyncio.TaskGroup() as group:
            group.create_task(self._ticks(stop), name="ticks")
            group.create_task(self._flushes(stop), name="flush")

    async def _ticks(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        due = loop.time() + self._interval
        while not await _stopped_by(stop, due):
            started = loop.time()
            self.stats.sessions += len(await self._service.tick())
            finished = loop.time()
            lag, took = started - due, finished - started
            self.stats.lags.append(lag)
            self.stats.durations.append(took)
            due += self._interval
            if due < finished:
                missed = int((finished - due) // self._interval) + 1
                self.stats.skipped += missed
                due += missed * self._interval
                _log_skipped(took, lag, self._interval, missed)

    async def _flushes(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        pause = self._interval
        while not await _stopped_by(stop, loop.time() + pause):
            took = await self.flush()
            pause = max(self._interval, FLUSH_DUTY * took)
        try:
            async with asyncio.timeout(FINAL_FLUSH_S):
                await self.flush()
        except TimeoutError:
            log.warning(
                "last readings not stored in %.0f s; they are recomputed on start", FINAL_FLUSH_S
            )

    async def flush(self) -> float:
        """Store what the ticks read; returns how long it took."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            self.stats.flushed += await self._service.flush()
            if self._service.unconfirmed:
                self.stats.settled += await self._service.settle()
        except StoreError as exc:
            self.stats.failed += 1
            if not self._store_down:
                log.warning("store writes failed, will retry: %s", exc.message)
            self._store_down = True
        else:
            if self._store_down:
                log.info("store writes succeed again")
            self._store_down = False
        took = loop.time() - started
        self.stats.store_durations.append(took)
        return took


def _log_skipped(took: float, lag: float, interval: float, missed: int) -> None:
    """One line on `missed` skipped ticks, blaming the tick when it overran the interval and
    otherwise the event loop that started it late (at start-up, a burst of commands)."""
    if took > interval:
        log.warning(
            "a tick took %.0f ms, longer than the %.0f ms interval: %d skipped",
            took * 1000,
            interval * 1000,
            missed,
        )
    else:
        log.warning(
            "a tick started %.0f ms late, the event loop busy with other work: %d skipped",
            lag * 1000,
            missed,
        )


async def _stopped_by(stop: asyncio.Event, deadline: float) -> bool:
    """Wait until `deadline` (loop time); True if `stop` was set first or meanwhile."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout_at(deadline):
            await stop.wait()
    return stop.is_set()
