"""Property tests of the daemon's MQTT decoding: any topic and any bytes, never a crash.

`decode` either returns the model or raises one of the daemon's client errors. `Handlers.dispatch`
never raises; its reply is a well-formed contract model; and a message it rejects (an error reply,
or no reply at all) leaves the store and the chargers exactly as they were.
"""

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from evcsm_daemon.errors import BadRequest, PayloadTooLarge
from evcsm_daemon.mqtt.decode import decode
from evcsm_daemon.mqtt.handlers import Handlers
from evcsm_daemon.service import ChargingService
from evcsm_daemon.store import open_store
from evcsm_schema import (
    ChargingSession,
    CommandReply,
    CommandRequest,
    SeedCommand,
    SessionPage,
    SessionQuery,
    topics,
)
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from paho.mqtt.client import Client as PahoClient
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from tests.support.service import fleet
from tests.support.strategies import FUZZ, PAYLOADS, TOPICS

INBOUND = [SeedCommand, CommandRequest, SessionQuery]


@pytest.mark.parametrize("model", INBOUND, ids=lambda model: model.__name__)
@FUZZ
@given(payload=PAYLOADS, empty_ok=st.booleans())
def test_decode_returns_the_model_or_a_client_error(
    model: Any, payload: bytes, empty_ok: bool
) -> None:
    try:
        decoded = decode(model, payload, empty_ok=empty_ok)
    except (BadRequest, PayloadTooLarge) as exc:
        error = exc
    else:
        assert isinstance(decoded, model)
        return
    assert error.message


class Harness:
    """A service on the in-process store, driven from a synchronous property test."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        store = open_store("memory")
        loop.run_until_complete(store.ensure_indexes())
        self.store = store
        self.service = ChargingService(store, fleet(("CP1", 22.0), ("CP2", 11.0)))
        self.handlers = Handlers(self.service)

    def snapshot(self) -> tuple[SessionPage, list[ChargingSession]]:
        """Every stored session and the sessions charging now."""
        stored = self.loop.run_until_complete(self.store.query(SessionQuery(limit=1000)))
        return stored, self.service.active_sessions()


@pytest.fixture
def harness() -> Iterator[Harness]:
    loop = asyncio.new_event_loop()
    try:
        yield Harness(loop)
    finally:
        loop.close()


# The harness lives across examples on purpose: chargers charge or not as earlier examples left
# them, and the properties hold whatever the state.
@settings(FUZZ, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(topic=TOPICS, payload=PAYLOADS, has_reply_path=st.booleans())
def test_dispatch_never_raises_and_a_rejected_message_writes_nothing(
    harness: Harness, topic: str, payload: bytes, has_reply_path: bool
) -> None:
    before = harness.snapshot()
    answer = harness.loop.run_until_complete(
        harness.handlers.dispatch(topic, payload, has_reply_path=has_reply_path)
    )
    assert answer.follow is None  # simulated chargers act at once: one final reply
    reply = answer.reply
    if reply is not None:
        assert type(reply).model_validate_json(reply.to_json()) == reply
        assert (reply.error is None) == reply.ok
        if isinstance(reply, CommandReply):
            assert reply.ok == (reply.session is not None)
            # Only a configured charger is ever started or stopped, and only the one named.
            assert not reply.ok or reply.charger_id in harness.service.charger_ids()
            assert reply.session is None or reply.session.charger_id == reply.charger_id
    event("no reply" if reply is None else f"{type(reply).__name__} ok={reply.ok}")
    rejected = reply is not None and not reply.ok
    silent = reply is None and (has_reply_path or topic != topics.SEED_CHARGING)
    if rejected or silent:
        assert harness.snapshot() == before


@FUZZ
@given(topic=st.text(max_size=300))
def test_a_topic_name_the_daemon_accepts_is_one_paho_publishes(topic: str) -> None:
    if not topics.is_topic_name(topic):
        return
    # paho raises ValueError for what it refuses: empty topics, wildcards, over 65535 bytes. Not
    # connected, it gets as far as saying so.
    client = PahoClient(CallbackAPIVersion.VERSION2)
    assert client.publish(topic, b"").rc == MQTTErrorCode.MQTT_ERR_NO_CONN
