"""The daemon's MQTT connection: subscriptions, the outbox, request/response, availability.

One long-lived client with MQTT 5 and a persistent session, reconnecting with jittered backoff
(`mqtt.connection` holds its limits). On every connect it announces `online` (retained; its last
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
import logging
import random
import socket
import ssl
import time
from collections.abc import Sequence

import aiomqtt
from evcsm_schema import (
    Availability,
    ChargerState,
    ChargerStatus,
    ChargingSession,
    StatusEvent,
    topics,
)
from evcsm_schema.broker import parse_broker_url
from paho.mqtt.subscribeoptions import SubscribeOptions

from evcsm_daemon.config import Settings
from evcsm_daemon.mqtt.connection import Connection, client_id, connect_properties
from evcsm_daemon.mqtt.fleet import MAX_FLEET_BYTES, fleet_payloads, payload_limit
from evcsm_daemon.mqtt.handlers import Answer, Handlers
from evcsm_daemon.mqtt.inbox import WORKERS, Inbox
from evcsm_daemon.mqtt.outbox import Outbox, Outgoing
from evcsm_daemon.mqtt.readings import session_update
from evcsm_daemon.mqtt.refresh import StateRefresh
from evcsm_daemon.service import ChargingService

log = logging.getLogger(__name__)

BACKOFF_MAX_S = 30.0
SHUTDOWN_PUBLISH_S = 3.0


class MqttBridge:
    """Connects the service to the broker."""

    def __init__(self, settings: Settings, service: ChargingService) -> None:
        self._broker = parse_broker_url(settings.mqtt_url)
        password = settings.mqtt_password.get_secret_value() if settings.mqtt_password else None
        self._password = password or self._broker.password
        self._ca_file = settings.mqtt_ca_file
        self.client_id = client_id(settings.mqtt_client_id, self._broker.username, self._password)
        self._session_updates = settings.session_updates
        self._service = service
        self.inbox = Inbox(Handlers(service), self._follow)
        self._refresh = StateRefresh(
            settings.state_refresh, settings.tick_interval, settings.state_refresh_rate
        )
        self.outbox = Outbox()
        self._client: Connection | None = None
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

    def _follow(self, answer: Answer, topic: str, correlation: bytes | None) -> None:
        """Queue the final reply once the pending request of `answer` settles."""

        def settled(_: object) -> None:
            final = answer.final()
            self.outbox.put(Outgoing(topic, b"", 1, reply=final, correlation=correlation))

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
        self.outbox.put_burst(topics.FLEET_UPDATES, fleet_payloads(sessions, limit))
        self.outbox.put_burst(topics.SEED_SESSION, self._seed_sessions(sessions), session_update)
        charging = (session.charger_id for session in sessions)
        for charger_id in self._refresh.due(charging, time.monotonic()):
            self.outbox.put(self._state_message(self._service.state(charger_id)))

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
        """Stay connected until cancelled, reconnecting with jittered exponential backoff."""
        failures = 0
        while True:
            error: Exception | None = None
            try:
                async with self._make_client() as client:
                    failures = 0
                    await self._serve(client)
            except* aiomqtt.MqttError as group:
                error = group.exceptions[0]
            self._client = None
            if _cancel_pending():
                # A TaskGroup that fails while its task is being cancelled raises the failure
                # (an ExceptionGroup) instead of CancelledError: honour the cancel here.
                raise asyncio.CancelledError
            self.connected.clear()
            failures += 1
            delay = min(BACKOFF_MAX_S, 0.5 * 2 ** min(failures, 6)) * random.uniform(0.8, 1.2)  # noqa: S311 - jitter, not crypto
            log.warning(
                "MQTT broker %s unreachable (%s); retrying in %.1f s", self.address, error, delay
            )
            await asyncio.sleep(delay)

    async def shutdown(self) -> None:
        """Publish `offline` (retained) and disconnect, if connected."""
        client = self._client
        if client is None:
            return
        with contextlib.suppress(aiomqtt.MqttError, TimeoutError):
            async with asyncio.timeout(SHUTDOWN_PUBLISH_S):
                await self.outbox.send_queued(client)
                await client.publish(
                    topics.AVAILABILITY, Availability.OFFLINE.value.encode(), qos=1, retain=True
                )

    @property
    def connection(self) -> Connection | None:
        """The broker connection, while there is one."""
        return self._client

    @property
    def backlog(self) -> int:
        """Incoming messages waiting for a worker."""
        return len(self._client.messages) if self._client is not None else 0

    async def _serve(self, client: Connection) -> None:
        self._client = client
        self.connects += 1
        await client.publish(
            topics.AVAILABILITY, Availability.ONLINE.value.encode(), qos=1, retain=True
        )
        no_local = SubscribeOptions(qos=1, noLocal=True)
        await client.subscribe(
            [
                (topics.SEED_CHARGING, no_local),
                (topics.CHARGER_COMMAND_ALL, no_local),
                (topics.SESSION_QUERY, no_local),
            ]
        )
        for state in self._service.states():
            self.outbox.put(self._state_message(state))
        self.connected.set()
        log.info("connected to MQTT broker %s", self.address)
        async with asyncio.TaskGroup() as group:
            group.create_task(self.outbox.drain(client), name="mqtt-outbox")
            for number in range(1, WORKERS):
                group.create_task(self.inbox.work(client), name=f"mqtt-worker-{number}")
            # This task is worker 0. The body must not finish first: Python 3.11's TaskGroup
            # leaves its task cancelled when a child fails while the body waits in __aexit__.
            await self.inbox.work(client)

    def _state_message(self, state: ChargerState) -> Outgoing:
        if state.status is ChargerStatus.CHARGING:
            self._refresh.published(state.charger_id, time.monotonic())
        else:
            self._refresh.forget(state.charger_id)
        return Outgoing(topics.charger_state(state.charger_id), state.to_json(), qos=1, retain=True)

    def _make_client(self) -> Connection:
        tls: ssl.SSLContext | None = None
        if self._broker.tls:
            tls = ssl.create_default_context(cafile=self._ca_file)
        return Connection(
            self._broker.host,
            self._broker.port,
            username=self._broker.username,
            password=self._password,
            identifier=self.client_id,
            protocol=aiomqtt.ProtocolVersion.V5,
            will=aiomqtt.Will(
                topics.AVAILABILITY, Availability.OFFLINE.value.encode(), qos=1, retain=True
            ),
            tls_context=tls,
            timeout=10,
            # Without it a reply waits ~40 ms behind the delayed ACK of the PUBACK sent before it.
            socket_options=((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),),
            max_queued_outgoing_messages=None,
            clean_start=False,
            properties=connect_properties(),
            refuse=self.inbox.refusal,
        )


def _cancel_pending() -> bool:
    """True when the running task has been asked to cancel."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0
