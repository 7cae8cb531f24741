"""The charger boundary: a driver takes start and stop requests; chargers answer with events.

A charger is not asked for its meter, nor told what to do with it. It pushes: it starts and stops
sessions (on request, or on its own: an RFID card, a car unplugged), reports readings on its own
schedule, goes offline and comes back. Every such fact reaches the service as an event of
`evcsm_daemon.core.events`, through the sink the driver was given. A request only answers
whether the charger will act (`Acceptance`); the session appears when its event arrives.

Two drivers exist:

- the simulated fleet (`chargers.simulated.SimulatedFleet`), whose chargers act at once: its
  `request_start` hands `SessionBegan` to the sink and answers when the sink has stored it;
- OCPP stations, through `StationDriver` around the central system (`ChargerCommands`): a
  request is a RemoteStart/RemoteStopTransaction, and the transaction's events come later.
"""

from dataclasses import dataclass
from typing import Protocol

from evcsm_schema import ChargingSession

from evcsm_daemon.core.events import Acceptance
from evcsm_daemon.errors import BadRequest


@dataclass(frozen=True, slots=True)
class ChargerSpec:
    """A configured charger: its id and its maximum power."""

    charger_id: str
    max_power_kw: float
    simulation_speed: float | None = None
    """How much faster than real time a simulated charger's meter runs; None for a real one."""


class ChargerDriver(Protocol):
    """Carries start and stop requests to the chargers it serves.

    Each raises what the charger's side raises (`ChargerCommandError`s for a station; for a
    simulated charger, whatever the sink raised while storing its event).
    """

    async def request_start(self, charger_id: str, id_tag: str) -> Acceptance:
        """Ask the charger to start a session for `id_tag`."""
        ...

    async def request_stop(self, charger_id: str, session: ChargingSession) -> Acceptance:
        """Ask the charger to stop `session`."""
        ...


class RemoteTransactions(Protocol):
    """The part of `ChargerCommands` that starts and stops transactions."""

    async def request_start(self, charger_id: str, id_tag: str) -> Acceptance:
        """RemoteStartTransaction on the charger's connector for `id_tag`."""
        ...

    async def request_stop(self, charger_id: str, transaction_id: int) -> Acceptance:
        """RemoteStopTransaction of `transaction_id` on the charger's station."""
        ...


class StationDriver:
    """`ChargerDriver` over OCPP: remote start and stop through the central system."""

    def __init__(self, commands: RemoteTransactions) -> None:
        self.commands = commands

    async def request_start(self, charger_id: str, id_tag: str) -> Acceptance:
        """RemoteStartTransaction on the charger's connector."""
        return await self.commands.request_start(charger_id, id_tag)

    async def request_stop(self, charger_id: str, session: ChargingSession) -> Acceptance:
        """RemoteStopTransaction of the session's transaction."""
        if session.transaction_id is None:
            raise BadRequest(f"session {session.session_id} has no OCPP transaction")
        return await self.commands.request_stop(charger_id, session.transaction_id)
