"""The wire contract: seed compatibility, strictness, committed JSON Schemas."""

import json
from pathlib import Path

import pytest
from evcsm_schema import (
    ChargingSession,
    CommandReply,
    ErrorCode,
    ErrorInfo,
    FleetUpdate,
    SeedCommand,
    SessionStatus,
    StatusEvent,
    topics,
)
from evcsm_schema.export import MQTT_PAYLOADS, REGENERATE, render
from pydantic import ValidationError

from tests.support.clock import T0

SCHEMAS = Path(__file__).parents[2] / "docs" / "schemas"


@pytest.mark.parametrize("name", sorted(MQTT_PAYLOADS))
def test_committed_schemas_match_the_models(name: str) -> None:
    path = SCHEMAS / f"{name}.json"
    assert path.exists(), f"{path} is missing: run `{REGENERATE}`"
    assert path.read_text(encoding="utf-8") == render(name), (
        f"{path} is out of date: run `{REGENERATE}`"
    )


def test_no_stray_schema_files() -> None:
    assert {p.stem for p in SCHEMAS.glob("*.json")} == set(MQTT_PAYLOADS)


def test_every_field_is_described() -> None:
    for name in MQTT_PAYLOADS:
        schema = json.loads(render(name))
        for definition in [schema, *schema.get("$defs", {}).values()]:
            for field, spec in definition.get("properties", {}).items():
                assert spec.get("description"), f"{name}: {field} has no description"


@pytest.mark.parametrize(
    ("payload", "status", "reason"),
    [
        (b'{"status":"Charging"}', SessionStatus.CHARGING, None),
        (b'{"status":"Stopped"}', SessionStatus.STOPPED, None),
        (
            b'{"status":"Stopped","reason":"Unexpected Disconnect"}',
            SessionStatus.STOPPED,
            "Unexpected Disconnect",
        ),
        (
            b'{"status":"Charging","startTime":"2025-02-25T12:00:00Z","extra":1}',
            SessionStatus.CHARGING,
            None,
        ),
        (b'{"status":"Stopped","reason":42}', SessionStatus.STOPPED, None),
    ],
)
def test_seed_commands_are_read_leniently(
    payload: bytes, status: SessionStatus, reason: str | None
) -> None:
    command = SeedCommand.model_validate_json(payload)
    assert command.status is status
    assert command.reason == reason
    assert not command.is_event


@pytest.mark.parametrize("payload", [b'{"status":"charging"}', b"{}", b'{"status":null}', b"1"])
def test_bad_seed_commands_are_refused(payload: bytes) -> None:
    with pytest.raises(ValidationError):
        SeedCommand.model_validate_json(payload)


def session(**changes: object) -> ChargingSession:
    values: dict[str, object] = {
        "session_id": "3f2a0c1e-0000-4000-8000-000000000000",
        "charger_id": "CP1",
        "status": SessionStatus.CHARGING,
        "start_time": T0,
        "energy_consumed": 1.5,
        "meter_start_wh": 1000,
        "meter_wh": 2500,
        "power_kw": 11.0,
        "updated_at": T0,
    }
    values.update(changes)
    return ChargingSession.model_validate(values)


def test_session_wire_names_are_the_seeds() -> None:
    wire = json.loads(session().to_json())
    assert wire["sessionId"] == "3f2a0c1e-0000-4000-8000-000000000000"
    assert wire["startTime"] == "2026-01-15T08:00:00Z"
    assert wire["status"] == "Charging"
    assert wire["energyConsumed"] == 1.5
    assert "endTime" not in wire


def test_own_events_carry_a_session_id_so_they_are_never_commands() -> None:
    event = StatusEvent.of(session())
    assert SeedCommand.model_validate_json(event.to_json()).is_event


@pytest.mark.parametrize(
    "changes",
    [
        {"energy_consumed": -0.1},
        {"meter_wh": 999},
        {"status": SessionStatus.STOPPED},  # stopped without an end time
        {"end_time": T0},  # charging with an end time
        {"start_time": T0.replace(tzinfo=None)},
        {"charger_id": "a/b"},
        {"charger_id": "#"},
        {"unknown": 1},
    ],
)
def test_inconsistent_sessions_are_refused(changes: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        session(**changes)


def test_a_reply_has_an_error_exactly_when_not_ok() -> None:
    error = ErrorInfo(code=ErrorCode.BAD_REQUEST, message="x")
    with pytest.raises(ValidationError):
        CommandReply(ok=True, charger_id="CP1", action="start", error=error)
    with pytest.raises(ValidationError):
        CommandReply(ok=False, charger_id="CP1", action="start")


@pytest.mark.parametrize(
    ("topic", "parsed"),
    [
        ("evcsm/chargers/CP1/cmd/start", ("CP1", ["cmd", "start"])),
        ("evcsm/chargers/CP1/state", ("CP1", ["state"])),
        ("evcsm/chargers/CP1", None),
        ("other/chargers/CP1/cmd/start", None),
    ],
)
def test_charger_topics(topic: str, parsed: tuple[str, list[str]] | None) -> None:
    assert topics.parse_charger_topic(topic) == parsed


@pytest.mark.parametrize(
    ("topic", "allowed"),
    [
        ("evcsm/replies/evcsm-operator/tui-1/reply", True),
        ("evcsm/replies/evcsm-operator/tui-1", True),
        ("evcsm/replies/anonymous/tui-1/a/b/c", True),
        ("evcsm/replies/evcsm-operator/tui-é/reply", True),
        ("evcsm/replies/tui-1", False),
        ("evcsm/replies", False),
        ("evcsm/replies/", False),
        ("evcsm/replies/+/x/y", False),
        ("evcsm/replies/a/#", False),
        # A wildcard inside a level: paho refuses to publish there (it once stopped the daemon).
        ("evcsm/replies/x/a+b", False),
        ("evcsm/replies/x/y/a#b", False),
        # Empty levels, NUL and what Mosquitto refuses in a topic (it disconnects the publisher).
        ("evcsm/replies//x/y", False),
        ("evcsm/replies/x/y/", False),
        ("evcsm/replies/x/y/a\x00b", False),
        ("evcsm/replies/x/y/a\x01b", False),
        ("evcsm/replies/x/y/\x7f", False),
        ("evcsm/replies/x/y/\ufdd0", False),
        ("evcsm/replies/x/y/\U0010ffff", False),
        ("evcsm/replies/x/y/\ud800", False),
        # MQTT's length limit is on UTF-8 bytes, not characters.
        ("evcsm/replies/x/y/" + "z" * (65535 - 18), True),
        ("evcsm/replies/x/y/" + "z" * (65536 - 18), False),
        ("evcsm/replies/x/y/" + "é" * 32759, False),
        ("evcsm/chargers/CP1/state", False),
        ("charging/updates", False),
    ],
    ids=lambda value: repr(value)[:40] if isinstance(value, str) else str(value),
)
def test_reply_topics(topic: str, allowed: bool) -> None:
    assert topics.is_reply_topic(topic) is allowed


def test_a_fleet_update_part_never_exceeds_its_parts() -> None:
    reading = {
        "sessionId": "s",
        "chargerId": "CP1",
        "energyConsumed": 1,
        "powerKw": 2,
        "meterWh": 3,
    }
    body = {"timestamp": "2026-01-15T08:00:00Z", "readings": [reading]}
    assert FleetUpdate.model_validate({**body, "part": 2, "parts": 2}).part == 2
    assert FleetUpdate.model_validate(body).parts == 1
    with pytest.raises(ValidationError):
        FleetUpdate.model_validate({**body, "part": 3, "parts": 2})
    with pytest.raises(ValidationError):
        FleetUpdate.model_validate({**body, "readings": [{**reading, "status": "Charging"}]})


def test_a_reply_topic_lies_in_its_clients_branch() -> None:
    topic = topics.reply_topic("evcsm-viewer", "wall-1", "q")
    assert topic == "evcsm/replies/evcsm-viewer/wall-1/q"
    assert topics.is_reply_topic(topic)
    assert topics.reply_branch("evcsm-viewer", "wall-1") == "evcsm/replies/evcsm-viewer/wall-1/#"
    assert topics.reply_topic(None, "dev-1") == "evcsm/replies/anonymous/dev-1/reply"
