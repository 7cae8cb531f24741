"""A service on the in-process store with a fake clock, and a listener that records what it hears."""

from collections.abc import Sequence

from evcsm_daemon.chargers import ChargerSpec, SimulatedCharger, SimulatedFleet
from evcsm_daemon.core.profile import ChargeProfile
from evcsm_daemon.service import ChargingService
from evcsm_daemon.store import SessionStore, open_store
from evcsm_schema import ChargerState, ChargingSession

from tests.support.clock import FakeClock


class Recorder:
    """An event sink that keeps what it was told."""

    def __init__(self) -> None:
        self.changes: list[ChargingSession] = []
        self.states: list[ChargerState] = []
        self.ticks: list[list[ChargingSession]] = []
        self.chargers: list[ChargerState] = []

    def status_changed(self, session: ChargingSession, state: ChargerState) -> None:
        self.changes.append(session)
        self.states.append(state)

    def charger_changed(self, state: ChargerState) -> None:
        self.chargers.append(state)

    def ticked(self, sessions: Sequence[ChargingSession]) -> None:
        self.ticks.append(list(sessions))


def fleet(*specs: tuple[str, float]) -> SimulatedFleet:
    """Simulated chargers of these ids and powers."""
    return SimulatedFleet(
        [
            SimulatedCharger(ChargerSpec(cid, kw), profile=ChargeProfile(max_power_kw=kw))
            for cid, kw in specs
        ]
    )


async def make_service(clock: FakeClock, store: SessionStore | None = None) -> ChargingService:
    """A resumed service with CP1 (22 kW) and CP2 (11 kW), on `store` or a new memory store."""
    store = store or open_store("memory")
    await store.ensure_indexes()
    service = ChargingService(store, fleet(("CP1", 22.0), ("CP2", 11.0)), clock=clock)
    await service.resume()
    return service
