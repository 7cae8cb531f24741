"""Hypothesis strategies: valid contract models, and the raw topics and payloads a client can send.

Valid models respect what the models check beyond their JSON Schema (a stopped session has an
end time, a reply carries an error exactly when it is not ok). Raw input mixes arbitrary bytes,
arbitrary JSON, near-valid requests and the known topics with arbitrary levels, so that every
branch of a decoder is reached.
"""

import json
import os
import string
from datetime import UTC, datetime, timedelta
from typing import Any

from evcsm_schema import (
    CHARGER_ID_PATTERN,
    ChargerState,
    ChargerStatus,
    ChargingSession,
    CommandAction,
    CommandReply,
    CommandRequest,
    ErrorCode,
    ErrorInfo,
    FleetReading,
    FleetUpdate,
    SeedCommand,
    SessionPage,
    SessionQuery,
    SessionQueryReply,
    SessionStatus,
    SessionUpdate,
    StatusEvent,
    topics,
)
from evcsm_schema.messages import MAX_OFFSET
from hypothesis import settings
from hypothesis import strategies as st

EXAMPLES = int(os.environ.get("EVCSM_FUZZ_EXAMPLES", "150"))
REPEATABLE = "EVCSM_FUZZ_EXAMPLES" not in os.environ
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=REPEATABLE)
"""The MQTT property tests' settings: in `./dev test` 150 examples each, the same every run;
EVCSM_FUZZ_EXAMPLES asks for more, drawn afresh on each run (docs/testing.md)."""

# Hypothesis takes naive bounds; `timezones` makes every value it draws aware (UTC).
EARLIEST = datetime(2000, 1, 1)  # noqa: DTZ001
LATEST = datetime(2100, 1, 1)  # noqa: DTZ001
TIMES = st.datetimes(min_value=EARLIEST, max_value=LATEST, timezones=st.just(UTC))
CHARGER_IDS = st.from_regex(CHARGER_ID_PATTERN, fullmatch=True)
TEXT = st.text(max_size=40)
FIGURES = st.floats(min_value=0, max_value=1e6, allow_nan=False, allow_infinity=False)
ERRORS = st.builds(ErrorInfo, code=st.sampled_from(ErrorCode), message=TEXT)


@st.composite
def sessions(draw: st.DrawFn, status: SessionStatus | None = None) -> ChargingSession:
    """A consistent session: energy from the register, an end time exactly when stopped."""
    status = status or draw(st.sampled_from(SessionStatus))
    start = draw(TIMES)
    meter_start = draw(st.integers(0, 10**9))
    meter = meter_start + draw(st.integers(0, 10**7))
    stopped = status is SessionStatus.STOPPED
    return ChargingSession(
        id=draw(st.none() | st.text(string.hexdigits, min_size=24, max_size=24)),
        session_id=str(draw(st.uuids())),
        charger_id=draw(CHARGER_IDS),
        status=status,
        start_time=start,
        end_time=start + timedelta(seconds=draw(st.integers(0, 10**6))) if stopped else None,
        energy_consumed=(meter - meter_start) / 1000,
        meter_start_wh=meter_start,
        meter_wh=meter,
        power_kw=0.0 if stopped else draw(FIGURES),
        stop_reason=draw(st.none() | TEXT) if stopped else None,
        updated_at=draw(TIMES),
    )


@st.composite
def charger_states(draw: st.DrawFn) -> ChargerState:
    """A charger's retained state."""
    status = draw(st.sampled_from(ChargerStatus))
    charging = status is ChargerStatus.CHARGING
    session = draw(sessions(SessionStatus.CHARGING)) if charging else draw(st.none() | sessions())
    return ChargerState(
        charger_id=draw(CHARGER_IDS),
        max_power_kw=draw(st.floats(min_value=0.1, max_value=9999, allow_nan=False)),
        status=status,
        session=session,
        updated_at=draw(TIMES),
    )


@st.composite
def command_replies(draw: st.DrawFn) -> CommandReply:
    """A command reply: a session when ok, an error when not."""
    ok = draw(st.booleans())
    return CommandReply(
        ok=ok,
        charger_id=draw(TEXT),
        action=draw(st.sampled_from(CommandAction).map(str) | TEXT),
        session=draw(st.none() | sessions()) if ok else None,
        error=None if ok else draw(ERRORS),
    )


@st.composite
def query_replies(draw: st.DrawFn) -> SessionQueryReply:
    """A history reply: a page when ok, an error when not."""
    if not draw(st.booleans()):
        return SessionQueryReply(ok=False, error=draw(ERRORS))
    items = draw(st.lists(sessions(), max_size=4))
    page = SessionPage(
        items=items,
        total=len(items) + draw(st.integers(0, 100)),
        limit=draw(st.integers(1, 1000)),
        offset=draw(st.integers(0, 10**6)),
    )
    return SessionQueryReply(ok=True, page=page)


@st.composite
def fleet_updates(draw: st.DrawFn) -> FleetUpdate:
    """One part of a tick's readings; some readings were taken before the tick."""
    charging = draw(st.lists(sessions(SessionStatus.CHARGING), max_size=4))
    tick = max([s.updated_at for s in charging], default=draw(TIMES))
    parts = draw(st.integers(1, 5))
    return FleetUpdate(
        timestamp=tick,
        part=draw(st.integers(1, parts)),
        parts=parts,
        readings=[FleetReading.of(session, tick) for session in charging],
    )


QUERIES = st.builds(
    SessionQuery,
    charger_id=st.none() | CHARGER_IDS,
    status=st.none() | st.sampled_from(SessionStatus),
    since=st.none() | TIMES,
    until=st.none() | TIMES,
    limit=st.integers(1, 1000),
    offset=st.integers(0, MAX_OFFSET),
)

PAYLOAD_MODELS: dict[str, st.SearchStrategy[Any]] = {
    "SeedCommand": st.builds(
        SeedCommand,
        status=st.sampled_from(SessionStatus),
        session_id=st.none() | TEXT,
        reason=st.none() | st.text(max_size=200),
    ),
    "StatusEvent": sessions().map(StatusEvent.of),
    "SessionUpdate": sessions(SessionStatus.CHARGING).map(SessionUpdate.of),
    "FleetUpdate": fleet_updates(),
    "ChargerState": charger_states(),
    "CommandRequest": st.builds(CommandRequest, reason=st.none() | st.text(max_size=200)),
    "CommandReply": command_replies(),
    "SessionQuery": QUERIES,
    "SessionQueryReply": query_replies(),
}
"""A valid instance of every JSON MQTT payload model, by its schema's name."""

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=12,
)
NEAR_VALID = st.fixed_dictionaries(
    {},
    optional={
        "status": st.sampled_from(["Charging", "Stopped", "Paused", "", 1]) | JSON_VALUES,
        "sessionId": st.none() | TEXT,
        "reason": JSON_VALUES,
        "chargerId": st.sampled_from(["CP1", "CP2", "", "NOPE"]) | JSON_VALUES,
        "limit": st.integers(-5, 2000) | JSON_VALUES,
        "offset": st.integers(-5, 10**7),
        "since": st.sampled_from(["2026-01-01T00:00:00Z", "2026-01-01T00:00:00", "noon"]),
        "until": st.sampled_from(["2030-01-01T00:00:00+02:00", ""]) | JSON_VALUES,
    },
)
PAYLOADS = st.one_of(
    st.binary(max_size=200),
    JSON_VALUES.map(lambda value: json.dumps(value).encode()),
    NEAR_VALID.map(lambda value: json.dumps(value).encode()),
    st.sampled_from([b"", b" ", b"{}", b'{"status":"Charging"}', b'{"status":"Stopped"}']),
    st.integers(16 * 1024 - 2, 16 * 1024 + 2).map(lambda n: b'"' + b"x" * (n - 2) + b'"'),
)
"""What a client may publish: any bytes, any JSON, requests that are almost right."""

LEVELS = st.sampled_from(["CP1", "CP2", "", "NOPE", "+", "#", "cmd", "start", "stop"]) | TEXT
TOPICS = st.one_of(
    st.sampled_from([topics.SEED_CHARGING, topics.SESSION_QUERY, topics.AVAILABILITY]),
    st.sampled_from(
        [f"evcsm/chargers/{c}/cmd/{a}" for c in ("CP1", "CP2", "") for a in CommandAction]
    ),
    st.builds("evcsm/chargers/{}/cmd/{}".format, LEVELS, LEVELS),
    st.builds("evcsm/chargers/{}/{}".format, LEVELS, LEVELS),
    st.lists(LEVELS, max_size=6).map("/".join),
    st.text(max_size=60),
)
"""Topics a message may arrive on: the daemon's own, with any charger and action, and any other."""
