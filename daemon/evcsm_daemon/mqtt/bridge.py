"""The daemon's MQTT connection: subscriptions, the outbox, request/response, availability.

One long-lived client with MQTT 5 and a persistent session (`mqtt.connection` holds its
limits), reconnecting with the shared jittered backoff (`evcsm_link.backoff`). On every connect it announces `online` (retained; its last
will says `offline`), re-publishes every charger's retained state and subscribes with no-local,
so it never receives its own publications. A fixed number of workers handle what arrives
(`mqtt.inbox`). Status changes and ticks arrive from the service as calls that only enqueue; one
task drains the outbox while connected, so a slow broker never stalls a tick. A tick is one
`FleetUpdate` on `evcsm/fleet/updates` (`mqtt.fleet`; parts for a very large fleet), plus the
seed's per-session `session/updates` for the sessions `EVCSM_SESSION_UPDATES` names. Tick updates
are dropped while disconnected (the next tick carries the newer reading); status events wait in the
outbox, and so do the final replies to requests an OCPP charger accepted (`Answer.follow`), so a
reconnection meanwhile loses none.
"""

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Sequence
from typing import Literal

from evcsm_link.backoff import Backoff
from evcsm_link.client import MqttClient, MqttError, no_local
from evcsm_link.reconnect import stay_connected
from evcsm_schema import (
    Availability,
    ChargerState,
    ChargerStatus,
    ChargingSession,
    StatusEvent,
    topics,
)
from evcsm_schema.broker import BrokerUrl
from evcsm_schema.requests import ReplyPath

from evcsm_daemon.mqtt.connection import client_id, daemon_client
from evcsm_daemon.mqtt.fleet import MAX_FLEET_BYTES, fleet_parts, fleet_time, payload_limit
from evcsm_daemon.mqtt.handlers import Answer, Handlers
from evcsm_daemon.mqtt.inbox import WORKERS, Inbox
from evcsm_daemon.mqtt.outbox import Outbox, Outgoing
from evcsm_daemon.mqtt.readings import fleet_reading, session_update
from evcsm_daemon.mqtt.refresh import STATE_REFRESH_PER_S, STATE_REFRESH_S, StateRefresh
from evcsm_daemon.service import ChargingService

log = logging.getLogger(__name__)

SHUTDOWN_PUBLISH_S = 3.0
RECONNECT = Backoff(first=1.0, cap=30.0)
"""Waits between connection attempts to the broker."""

SessionUpdates = Literal["all", "default", "off"]
"""Which sessions' readings also go to the seed's `session/updates` (EVCSM_SESSION_UPDATES)."""


class MqttBridge:
    """Connects the service to the broker."""

    def __init__(
        self,
        broker: BrokerUrl,
        service: ChargingService,
        *,
        configured_id: str = "evcsm-daemon",
        session_updates: SessionUpdates = "all",
        tick_interval: float = 1.0,
        state_refresh: float = STATE_REFRESH_S,
        state_refresh_rate: int = STATE_REFRESH_PER_S,
    ) -> None:
        self._broker = broker
        self.client_id = client_id(configured_id, broker.username, broker.password)
        self._session_updates = session_updates
        self._service = service
        self.inbox = Inbox(Handlers(service), self._follow)
        self._refresh = StateRefresh(state_refresh, tick_interval, state_refresh_rate)
        self.outbox = Outbox()
        self._client: MqttClient | None = None
        self.connected = asyncio.Event()
        self.connects = 0
        service.subscribe(self)

    @property
    def dropped(self) -> int:
        """Messages dropped because the outbox was full."""
        return self.outbox.dropped

    @property
    def address(self) -> str:
        """The broker address, without credentials."""
        return str(self._broker)

    # Event sink: called by the service, never blocks.

    def status_changed(self, session: ChargingSession, state: ChargerState) -> None:
        """Queue the seed status event and the charger's retained state."""
        self.outbox.put(Outgoing(topics.SEED_CHARGING, StatusEvent.of(session).to_json(), qos=1))
        self.outbox.put(self._state_message(state))

    def charger_changed(self, state: ChargerState) -> None:
        """Queue the charger's retained state (a new charger, or a new status)."""
        self.outbox.put(self._state_message(state))

    def _follow(self, answer: Answer, path: ReplyPath) -> None:
        """Queue the final reply once the pending request of `answer` settles."""

        def settled(_: object) -> None:
            self.outbox.put(Outgoing(path.topic, b"", 1, reply=answer.final(), path=path))

        if answer.follow is not None:
            answer.follow.on_done(settled)

    def ticked(self, sessions: Sequence[ChargingSession]) -> None:
        """Queue the tick's `FleetUpdate` and its `session/updates` (dropped when offline).

        A share of the charging chargers also get their retained state republished, so that it
        carries live figures (`mqtt.refresh`).
        """
        if not self.connected.is_set():
            return
        client = self._client
        limit = payload_limit(client.broker_max_packet) if client else MAX_FLEET_BYTES
        if sessions:
            tick = fleet_time(sessions)
            self.outbox.put_burst(
                topics.FLEET_UPDATES,
                sessions,
                functools.partial(fleet_reading, tick=tick),
                functools.partial(fleet_parts, tick, max_bytes=limit),
            )
        self.outbox.put_burst(topics.SEED_SESSION, self._seed_sessions(sessions), session_update)
        charging = (session.charger_id for session in sessions)
        self.outbox.put_series(self._refresh.due(charging, time.monotonic()), self._current_state)

    def _seed_sessions(self, sessions: Sequence[ChargingSession]) -> Sequence[ChargingSession]:
        """The sessions whose readings go to `session/updates` as well."""
        if self._session_updates == "all":
            return sessions
        if self._session_updates == "off":
            return ()
        default = self._service.default_charger
        return [session for session in sessions if session.charger_id == default]

    # Connection.

    async def run(self) -> None:
        """Stay connected until cancelled, reconnecting with the shared jittered backoff."""
        await stay_connected(
            lambda: daemon_client(self._broker, self.client_id, self.inbox.refusal),
            self._serve,
            policy=RECONNECT,
            lost=self._lost,
        )

    def _lost(self, error: MqttError | None, delay: float) -> None:
        self.connected.clear()
        log.warning(
            "MQTT broker %s unreachable (%s); retrying in %.1f s", self.address, error, delay
        )

    async def shutdown(self) -> None:
        """Publish `offline` (retained) and disconnect, if connected."""
        client = self._client
        if client is None:
            return
        with contextlib.suppress(MqttError, TimeoutError):
            async with asyncio.timeout(SHUTDOWN_PUBLISH_S):
                await self.outbox.send_queued(client)
                await client.publish(
                    topics.AVAILABILITY, Availability.OFFLINE.value.encode(), qos=1, retain=True
                )

    @property
    def connection(self) -> MqttClient | None:
        """The broker connection, while there is one."""
        return self._client

    @property
    def backlog(self) -> int:
        """Incoming messages waiting for a worker."""
        return self._client.backlog if self._client is not None else 0

    async def _serve(self, client: MqttClient) -> None:
        """Serve one connection until it ends."""
        self._client = client
        try:
            self.connects += 1
            await client.publish(
                topics.AVAILABILITY, Availability.ONLINE.value.encode(), qos=1, retain=True
            )
            own_excluded = no_local(qos=1)
            await client.subscribe(
                [
                    (topics.SEED_CHARGING, own_excluded),
                    (topics.CHARGER_COMMAND_ALL, own_excluded),
                    (topics.SESSION_QUERY, own_excluded),
                ]
            )
            self.outbox.put_series(self._service.charger_ids(), self._current_state)
            self.connected.set()
            log.info("connected to MQTT broker %s", self.address)
            async with asyncio.TaskGroup() as group:
                group.create_task(self.outbox.drain(client), name="mqtt-outbox")
                for number in range(1, WORKERS):
                    group.create_task(self.inbox.work(client), name=f"mqtt-worker-{number}")
                # This task is worker 0. The body must not finish first: Python 3.11's TaskGroup
                # leaves its task cancelled when a child fails while the body waits in __aexit__.
                await self.inbox.work(client)
        finally:
            self._client = None

    def _current_state(self, charger_id: str) -> Outgoing:
        """The charger's retained state as it is now (made when the outbox sends it)."""
        return self._state_message(self._service.state(charger_id))

    def _state_message(self, state: ChargerState) -> Outgoing:
        if state.status is ChargerStatus.CHARGING:
            self._refresh.published(state.charger_id, time.monotonic())
        else:
            self._refresh.forget(state.charger_id)
        return Outgoing(topics.charger_state(state.charger_id), state.to_json(), qos=1, retain=True)
