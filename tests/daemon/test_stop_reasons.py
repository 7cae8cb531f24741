"""A stop reason is at most 200 characters, over REST and MQTT alike: longer is refused, never cut."""

import json

import httpx
from evcsm_daemon.api import create_app
from evcsm_daemon.api.access import AccessPolicy
from evcsm_daemon.mqtt.handlers import Handlers
from evcsm_schema import CommandReply, ErrorCode, Readiness, topics
from evcsm_schema.session import MAX_STOP_REASON

from tests.support.clock import FakeClock
from tests.support.service import make_service

TOO_LONG = "x" * (MAX_STOP_REASON + 1)
LONGEST = "y" * MAX_STOP_REASON


async def ready() -> Readiness:
    return Readiness(ready=True, broker=True, database=True)


async def test_a_reason_over_the_limit_is_refused_by_mqtt_and_rest_and_stops_nothing() -> None:
    service = await make_service(FakeClock())
    handlers = Handlers(service)
    await service.start("CP1")
    command = json.dumps({"reason": TOO_LONG}).encode()
    answer = await handlers.dispatch("evcsm/chargers/CP1/cmd/stop", command, has_reply_path=True)
    assert isinstance(answer.reply, CommandReply)
    assert answer.reply.error is not None
    assert answer.reply.error.code is ErrorCode.BAD_REQUEST  # before: cut to 200 and stopped
    seed = json.dumps({"status": "Stopped", "reason": TOO_LONG}).encode()
    answer = await handlers.dispatch(topics.SEED_CHARGING, seed, has_reply_path=True)
    assert isinstance(answer.reply, CommandReply)
    assert answer.reply.error is not None
    assert answer.reply.error.code is ErrorCode.BAD_REQUEST
    app = create_app(service, ready, AccessPolicy())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as api:
        response = await api.post("/api/chargers/CP1/stop", json={"reason": TOO_LONG})
    assert response.status_code == 422
    assert response.json()["code"] == "bad_request"
    assert service.state("CP1").status == "Charging"


async def test_a_reason_at_the_limit_is_recorded_whole() -> None:
    service = await make_service(FakeClock())
    handlers = Handlers(service)
    await service.start("CP1")
    command = json.dumps({"reason": LONGEST}).encode()
    answer = await handlers.dispatch("evcsm/chargers/CP1/cmd/stop", command, has_reply_path=True)
    assert isinstance(answer.reply, CommandReply)
    assert answer.reply.session is not None
    assert answer.reply.session.stop_reason == LONGEST
