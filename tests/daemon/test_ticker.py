"""The tick and flush loops: ticks never wait for the store; stopping stores the last readings."""

import asyncio
import time
from collections.abc import Callable, Sequence

import pytest
from evcsm_daemon.ticker import Ticker
from evcsm_schema import ChargingSession

from tests.support.clock import FakeClock
from tests.support.service import make_service


async def wait_until(condition: Callable[[], bool], what: str) -> None:
    """Poll `condition` (the loops under test offer no event to wait on) for up to 10 s."""
    async with asyncio.timeout(10):
        while not condition():  # noqa: ASYNC110 - polling state owned by the loops under test
            await asyncio.sleep(0.01)
    assert condition(), what


async def test_ticks_go_on_while_the_store_hangs() -> None:
    clock = FakeClock()
    service = await make_service(clock)
    await service.start("CP1")
    store = service.store
    released = asyncio.Event()
    real_save = store.save_readings

    async def hanging_save(sessions: Sequence[ChargingSession]) -> None:
        await released.wait()
        await real_save(sessions)

    store.save_readings = hanging_save  # type: ignore[method-assign]
    published: list[int] = []

    class Counter:
        def status_changed(self, session: ChargingSession, state: object) -> None:
            pass

        def charger_changed(self, state: object) -> None:
            pass

        def ticked(self, sessions: Sequence[ChargingSession]) -> None:
            clock.advance(10)
            published.append(len(sessions))

    service.subscribe(Counter())
    ticker = Ticker(service, interval=0.02)
    stop = asyncio.Event()
    task = asyncio.create_task(ticker.run(stop))
    await wait_until(lambda: len(published) >= 20, "ticks while the store hangs")
    assert ticker.stats.flushed == 0
    assert ticker.stats.skipped <= 2
    released.set()
    await wait_until(lambda: ticker.stats.flushed >= 1, "a flush once the store answers")
    stop.set()
    await asyncio.wait_for(task, 10)
    stored = await store.active("CP1")
    (live,) = service.active_sessions()
    assert stored is not None
    assert stored.meter_wh == live.meter_wh  # the last flush on the way out stored the latest


async def test_stopping_flushes_the_last_readings() -> None:
    clock = FakeClock()
    service = await make_service(clock)
    await service.start("CP2")
    ticker = Ticker(service, interval=60)  # no tick or flush would come by itself
    stop = asyncio.Event()
    task = asyncio.create_task(ticker.run(stop))
    clock.advance(3600)
    await service.tick()
    stop.set()
    await asyncio.wait_for(task, 10)
    stored = await service.store.active("CP2")
    assert stored is not None
    assert stored.meter_wh == 11000
    assert ticker.stats.flushed == 1


async def test_an_overrunning_tick_is_skipped_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    service = await make_service(clock)
    await service.start("CP1")

    class Slow:
        """Makes one tick take far longer than the interval, as an overloaded machine would."""

        def __init__(self) -> None:
            self.ticks = 0

        def status_changed(self, session: ChargingSession, state: object) -> None:
            pass

        def charger_changed(self, state: object) -> None:
            pass

        def ticked(self, sessions: Sequence[ChargingSession]) -> None:
            self.ticks += 1
            if self.ticks == 2:
                time.sleep(0.25)  # blocks the loop: five 50 ms intervals go by

    slow = Slow()
    service.subscribe(slow)
    ticker = Ticker(service, interval=0.05)
    stop = asyncio.Event()
    task = asyncio.create_task(ticker.run(stop))
    await wait_until(lambda: slow.ticks >= 4, "ticks after the slow one")
    stop.set()
    await asyncio.wait_for(task, 10)
    assert ticker.stats.skipped >= 3
    (line,) = [
        r.getMessage() for r in caplog.records if "longer than the 50 ms interval" in r.getMessage()
    ]
    assert "skipped" in line


async def test_a_late_tick_is_logged_as_late_not_as_long(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A short tick that starts late (the loop busy with start-up work) is not reported as a
    tick that took longer than the interval."""
    clock = FakeClock()
    service = await make_service(clock)
    await service.start("CP1")
    ticker = Ticker(service, interval=0.05)
    stop = asyncio.Event()
    task = asyncio.create_task(ticker.run(stop))
    for _ in range(3):  # the task group starts the tick loop, which takes its schedule
        await asyncio.sleep(0)
    time.sleep(0.25)  # noqa: ASYNC251 - blocks the loop on purpose: five 50 ms intervals go by
    await wait_until(lambda: ticker.stats.skipped >= 1 and len(ticker.stats.lags) >= 2, "ticks")
    stop.set()
    await asyncio.wait_for(task, 10)
    messages = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert messages
    assert not [m for m in messages if "longer than the 50 ms interval" in m]
    assert "started" in messages[0]
    assert "ms late" in messages[0]
