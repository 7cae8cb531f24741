"""The simulated chargers: a meter that is cumulative, monotonic, derived from time, sped up; and
the fleet that reports them as events, its ticks as one batch."""

from datetime import datetime, timedelta

import pytest
from evcsm_daemon.chargers import ChargerSpec, SimulatedCharger, SimulatedFleet
from evcsm_daemon.core.events import (
    Acceptance,
    ChargerEvent,
    FleetSampled,
    Outcome,
    SessionBegan,
    SessionEnded,
)
from evcsm_daemon.core.profile import ChargeProfile
from evcsm_daemon.core.sessions import MeterReading, begin, finish
from evcsm_daemon.errors import StoreUnavailable, WriteNotConfirmed
from evcsm_schema import ChargingSession

from tests.support.clock import T0, FakeClock


def charger(speed: float = 1.0, kw: float = 22.0, charger_id: str = "CP1") -> SimulatedCharger:
    return SimulatedCharger(
        ChargerSpec(charger_id, kw), profile=ChargeProfile(max_power_kw=kw), speed=speed
    )


class Sink:
    """Stores what the fleet reports, as the service would; `refuse` fails the next event."""

    def __init__(self) -> None:
        self.events: list[ChargerEvent] = []
        self.batches: list[FleetSampled] = []
        self.sessions: dict[str, ChargingSession] = {}
        self.refuse: Exception | None = None

    async def handle(self, event: ChargerEvent) -> Outcome:
        self.events.append(event)
        if self.refuse is not None:
            error, self.refuse = self.refuse, None
            raise error
        if isinstance(event, SessionBegan):
            session = begin(event.charger_id, event.meter_start_wh, event.at)
            self.sessions[event.charger_id] = session
            return session
        if isinstance(event, SessionEnded):
            reading = MeterReading(event.meter_stop_wh, 0.0)
            return finish(self.sessions.pop(event.charger_id), reading, event.at, event.reason)
        return None

    def sampled(self, batch: FleetSampled) -> None:
        self.batches.append(batch)


def attached(*chargers: SimulatedCharger) -> tuple[SimulatedFleet, Sink, FakeClock]:
    clock = FakeClock()
    sink = Sink()
    fleet = SimulatedFleet(chargers)
    fleet.attach(sink, clock)
    return fleet, sink, clock


def session(started: datetime, meter_start_wh: int) -> ChargingSession:
    return begin("CP1", meter_start_wh, started)


@pytest.mark.parametrize(
    ("speed", "seconds", "wh"),
    [(1, 60, 366), (1, 3600, 22000), (60, 60, 22000), (10, 1, 61)],
)
async def test_register_grows_with_power_times_time(speed: float, seconds: int, wh: int) -> None:
    fleet, sink, clock = attached(charger(speed))
    assert await fleet.request_start("CP1", "TAG") is Acceptance.ACCEPTED
    (began,) = sink.events
    assert began == SessionBegan("CP1", T0, 0)
    fleet.sample(clock.advance(seconds))
    (batch,) = sink.batches
    ((charger_id, register, power),) = batch.readings
    assert (charger_id, register) == ("CP1", wh)  # 22 kW * seconds * speed / 3.6, floored to Wh
    assert power == pytest.approx(22.0)


async def test_register_carries_over_between_sessions() -> None:
    fleet, sink, clock = attached(charger())
    await fleet.request_start("CP1", "TAG")
    clock.advance(3600)
    await fleet.request_stop("CP1", sink.sessions["CP1"])
    ended = sink.events[-1]
    assert isinstance(ended, SessionEnded)
    assert ended.meter_stop_wh == 22000
    clock.advance(4 * 3600)
    fleet.sample(clock.now)
    assert sink.batches[-1].readings == []  # idle: nothing to report, no energy
    await fleet.request_start("CP1", "TAG")
    assert sink.events[-1] == SessionBegan("CP1", clock.now, 22000)
    fleet.sample(clock.advance(1800))
    assert sink.batches[-1].readings[0][1] == 33000


async def test_resume_recomputes_from_start_time() -> None:
    before = charger()
    before.plug_in(T0, 0)
    expected = before.read(T0 + timedelta(minutes=45)).wh
    after = charger()  # a new process: only the stored start time and register are known
    after.power_up(session(T0, 0))
    assert after.charging
    assert after.read(T0 + timedelta(minutes=45)).wh == expected


async def test_reading_never_goes_backwards_when_the_clock_does() -> None:
    cp = charger()
    cp.plug_in(T0, 0)
    high = cp.read(T0 + timedelta(minutes=10)).wh
    assert cp.read(T0 + timedelta(minutes=5)).wh == high


def test_power_up_restores_the_register_only_forward() -> None:
    cp = charger()
    stopped = finish(session(T0, 0), MeterReading(5000, 0), T0, None)
    cp.power_up(stopped)
    cp.power_up(finish(session(T0, 0), MeterReading(100, 0), T0, None))
    assert cp.read(T0).wh == 5000
    assert not cp.charging


def test_speed_must_be_positive() -> None:
    with pytest.raises(ValueError, match="speed"):
        charger(speed=0)


async def test_a_tick_of_the_fleet_is_one_batch_of_the_charging_chargers() -> None:
    fleet, sink, clock = attached(*(charger(charger_id=f"CP{k}") for k in range(5)))
    for k in (1, 3):
        await fleet.request_start(f"CP{k}", "TAG")
    fleet.sample(clock.advance(60))
    (batch,) = sink.batches
    assert batch.at == clock.now
    assert [reading[0] for reading in batch.readings] == ["CP1", "CP3"]


async def test_a_start_the_sink_could_not_store_is_not_begun() -> None:
    fleet, sink, clock = attached(charger())
    sink.refuse = StoreUnavailable("database unavailable")
    with pytest.raises(StoreUnavailable):
        await fleet.request_start("CP1", "TAG")
    fleet.sample(clock.advance(60))
    assert sink.batches[-1].readings == []


async def test_a_stop_the_sink_could_not_store_goes_on_charging() -> None:
    fleet, sink, clock = attached(charger())
    await fleet.request_start("CP1", "TAG")
    clock.advance(60)
    sink.refuse = StoreUnavailable("database unavailable")
    with pytest.raises(StoreUnavailable):
        await fleet.request_stop("CP1", sink.sessions["CP1"])
    fleet.sample(clock.advance(60))
    assert sink.batches[-1].readings[0][1] == 733


async def test_a_stop_taken_but_not_confirmed_is_in_effect() -> None:
    fleet, sink, clock = attached(charger())
    await fleet.request_start("CP1", "TAG")
    clock.advance(60)
    sink.refuse = WriteNotConfirmed("database did not confirm the write")
    with pytest.raises(WriteNotConfirmed):
        await fleet.request_stop("CP1", sink.sessions["CP1"])
    fleet.sample(clock.advance(60))
    assert sink.batches[-1].readings == []


async def test_a_fleet_that_is_not_attached_says_so() -> None:
    fleet = SimulatedFleet([charger()])
    with pytest.raises(RuntimeError, match="not attached"):
        await fleet.request_start("CP1", "TAG")


async def test_the_fleet_reads_the_chargers_asked_for_that_still_charge() -> None:
    fleet, sink, clock = attached(*(charger(charger_id=f"CP{n}") for n in range(1, 5)))
    for charger_id in ("CP3", "CP1", "CP4"):
        await fleet.request_start(charger_id, "TAG")
    assert fleet.charging() == ["CP3", "CP1", "CP4"]
    clock.advance(60)
    await fleet.request_stop("CP1", sink.sessions["CP1"])
    assert fleet.charging() == ["CP3", "CP4"]
    fleet.sample(clock.now, ["CP1", "CP2", "CP4"])  # CP1 stopped, CP2 idle
    ((charger_id, register, power),) = sink.batches[-1].readings
    assert (charger_id, register) == ("CP4", 366)
    assert power == pytest.approx(22.0)
    fleet.sample(clock.now)
    assert [reading[0] for reading in sink.batches[-1].readings] == ["CP3", "CP4"]


async def test_a_charger_powered_up_charging_is_read() -> None:
    fleet, sink, clock = attached(charger(charger_id="CP1"), charger(charger_id="CP2"))
    fleet.power_up({"CP2": session(T0, 1000).model_copy(update={"charger_id": "CP2"})})
    assert fleet.charging() == ["CP2"]
    fleet.sample(clock.advance(60))
    ((charger_id, register, power),) = sink.batches[-1].readings
    assert (charger_id, register) == ("CP2", 1366)
    assert power == pytest.approx(22.0)
