"""Races: many clients start, then stop, one charger at the same moment, over REST and MQTT.

Half the requests go over REST, each on a connection of its own (the daemon's connection cap is
raised to hold them all), half over MQTT 5 request/response, published back to back by one
client; both halves are sent together. Whatever the interleaving, a burst of starts must make
exactly one session, answered to every client, announced once on `charging/updates` and stored
once; a burst of stops must stop it once, every other answer being that same stopped session or
`no_active_session`. The store is a SQLite file, read apart from the daemon after each burst.
"""

import asyncio
import contextlib
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from evcsm_schema import topics

from bench.scenarios.rig import Outcome, client, running, scratch, stored
from tests.support.broker import Mosquitto
from tests.support.mqtt import Probe, wait_until
from tests.support.sqlite_file import stored_sessions

CHARGER = "CP1"
ANSWER_S = 120.0
QUIET_S = 10.0
"""A burst's MQTT replies are over when none has come for this long."""
STARTED = {"REST 200", "REST 201", "REST 202 done", "MQTT ok"}
STOPPED = {
    "REST 200",
    "REST 404",
    "REST 202 done",
    "REST 202 no_active_session",
    "MQTT ok",
    "MQTT no_active_session",
}
POLL_S = 0.1
"""How often a pending REST request's `Location` is asked for its outcome."""


@dataclass
class Burst:
    """The answers to one burst: session ids answered, how each came back, how long it took."""

    sessions: Counter[str] = field(default_factory=Counter)
    answers: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    def summary(self) -> dict[str, object]:
        """For the JSON report."""
        return {
            "answers": dict(self.answers),
            "sessions": len(self.sessions),
            "seconds": round(self.seconds, 3),
        }


@dataclass
class Race:
    """One daemon, its clients, and the sessions the bursts made so far."""

    http: httpx.AsyncClient
    mqtt: Probe
    path: Path
    count: int
    log: Callable[[], str]
    """The daemon's log so far."""
    made: list[str] = field(default_factory=list)
    last_reply: float = 0.0
    """When the latest MQTT reply of a burst arrived (monotonic clock)."""
    last_rest: float = 0.0
    """When the latest REST answer of a burst arrived."""

    async def burst(self, action: str) -> Burst:
        """`count` requests of `action` on CHARGER, half over REST and half over MQTT, at once."""
        over_rest = self.count // 2
        tag = uuid.uuid4().hex[:8]
        correlations = {f"{action}-{tag}-{n}".encode() for n in range(self.count - over_rest)}
        topic = f"evcsm/chargers/{CHARGER}/cmd/{action}"
        found = Burst()

        async def rest() -> None:
            try:
                response = await self.http.post(f"/api/chargers/{CHARGER}/{action}")
                if response.status_code == 202:
                    # Another request for the charger is under way: this one follows it.
                    outcome, session = await self.settled(response.headers["location"])
                    found.answers[f"REST 202 {outcome}"] += 1
                    self.last_rest = time.monotonic()
                    if session is not None:
                        found.sessions[session] += 1
                    return
            except httpx.TransportError as exc:
                found.answers[f"REST {type(exc).__name__}"] += 1
                return
            found.answers[f"REST {response.status_code}"] += 1
            self.last_rest = time.monotonic()
            if response.status_code < 300:
                found.sessions[response.json()["sessionId"]] += 1

        started = time.monotonic()
        await asyncio.gather(
            *(rest() for _ in range(over_rest)),
            *(self.mqtt.send(topic, b"{}", c) for c in correlations),
        )
        replies = await self.replies(correlations)
        found.seconds = max(0.0, self.last_reply - started, self.last_rest - started)
        for reply in replies:
            if reply["ok"]:
                found.answers["MQTT ok"] += 1
                found.sessions[reply["session"]["sessionId"]] += 1
            else:
                found.answers[f"MQTT {reply['error']['code']}"] += 1
        if missing := len(correlations) - len(replies):
            found.answers["MQTT no reply"] = missing
        return found

    async def settled(self, location: str) -> tuple[str, str | None]:
        """The outcome of a pending REST request (`done`, its error code, or `pending` if it
        never settled) and its session's id when done."""
        body: dict[str, Any] = {"state": "pending"}
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(ANSWER_S):
                while body["state"] == "pending":
                    await asyncio.sleep(POLL_S)
                    body = (await self.http.get(location)).json()
        if body["state"] == "failed":
            return str(body["error"]["code"]), None
        session = body.get("session")
        return str(body["state"]), session["sessionId"] if session else None

    async def replies(self, correlations: set[bytes]) -> list[dict[str, Any]]:
        """The final replies to `correlations` (a pending reply is followed by a final one),
        once all came or none came for QUIET_S."""
        mine: list[dict[str, Any]] = []
        seen = 0
        last = time.monotonic()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(ANSWER_S):
                while len(mine) < len(correlations) and time.monotonic() - last < QUIET_S:
                    await asyncio.sleep(0.05)
                    for message in self.mqtt.messages[seen:]:
                        if message.correlation in correlations:
                            last = self.last_reply = message.at
                            reply = message.json()
                            if not reply.get("pending"):
                                mine.append(reply)
                    seen = len(self.mqtt.messages)
        return mine

    def dropped(self) -> str:
        """What the daemon's log says about commands it dropped, if anything."""
        lines = [line for line in self.log().splitlines() if "dropped an incoming message" in line]
        return f" (the daemon's log: {lines[-1].split(': ', 1)[-1]})" if lines else ""

    def events(self, status: str) -> list[str]:
        """Session ids of the status events announced on `charging/updates` for CHARGER."""
        found = []
        for message in self.mqtt.on(topics.SEED_CHARGING):
            event = message.json()
            if event.get("chargerId") == CHARGER and event.get("status") == status:
                found.append(event["sessionId"])
        return found

    async def judge_starts(self, row: Outcome, began: Burst) -> None:
        """One session answered to everyone, announced once, stored once."""
        row.check(len(began.sessions) == 1, f"starts answered {len(began.sessions)} sessions")
        session = next(iter(began.sessions), "")
        self.made.append(session)
        refused = {k: v for k, v in began.answers.items() if k not in STARTED}
        row.check(not refused, f"starts refused or lost: {refused}{self.dropped()}")
        created = began.answers["REST 201"]
        row.check(created <= 1, f"{created} REST starts said 201 (created)")
        await self.judge_events(row, "Charging")
        await self.judge_store(row, active=session)
        row.details.setdefault("rounds", []).append(began.summary())

    async def judge_stops(self, row: Outcome, ended: Burst) -> None:
        """One stop: that stopped session to whoever got one, `no_active_session` to the rest."""
        got = sorted(ended.sessions)
        row.check(got == self.made[-1:], f"stops answered sessions {got}")
        refused = {k: v for k, v in ended.answers.items() if k not in STOPPED}
        row.check(not refused, f"stops refused or lost: {refused}{self.dropped()}")
        await self.judge_events(row, "Stopped")
        await self.judge_store(row, active=None)
        row.details.setdefault("rounds", []).append(ended.summary())

    async def judge_events(self, row: Outcome, status: str) -> None:
        """Each session made was announced exactly once with `status`."""
        last = self.made[-1]
        await wait_until(lambda: last in self.events(status))
        announced = self.events(status)
        row.check(
            announced == self.made,
            f"{len(announced)} {status} events for {len(self.made)} sessions",
        )

    async def judge_store(self, row: Outcome, active: str | None) -> None:
        """The API and the SQLite file hold exactly the sessions made, the last one `active`."""
        listed = sorted(s["sessionId"] for s in await stored(self.http, chargerId=CHARGER))
        row.check(
            listed == sorted(self.made),
            f"the API lists {len(listed)} sessions for {len(self.made)} made",
            lost=True,
        )
        rows = await asyncio.to_thread(stored_sessions, self.path)
        row.check(
            sorted(rows) == sorted(self.made),
            f"the file holds {len(rows)} sessions for {len(self.made)} made",
            lost=True,
        )
        charging = [sid for sid, found in rows.items() if found.status == "Charging"]
        want = [active] if active else []
        row.check(charging == want, f"the file has {len(charging)} charging", lost=True)


async def races(count: int, rounds: int) -> list[Outcome]:
    """`rounds` times: `count` concurrent starts of one charger, then `count` concurrent stops."""
    label = f"of one charger, REST + MQTT at once, x{rounds}"
    starts = Outcome(f"{count:,} concurrent starts {label}", count * rounds, "request")
    stops = Outcome(f"{count:,} concurrent stops {label}", count * rounds, "request")
    with scratch("races") as folder, Mosquitto() as broker:
        path = folder / "sessions.db"
        async with running(
            EVCSM_MQTT_URL=broker.url,
            EVCSM_STORE_URI=f"sqlite:{path}",
            EVCSM_HTTP_MAX_CONNECTIONS=str(max(100, count)),
            EVCSM_LOG_LEVEL="WARNING",
        ) as daemon:
            limits = httpx.Limits(max_connections=count, max_keepalive_connections=count)
            async with (
                httpx.AsyncClient(base_url=daemon.url, timeout=ANSWER_S, limits=limits) as http,
                client(broker.port, topics.SEED_CHARGING) as mqtt,
            ):
                race = Race(http, mqtt, path, count, daemon.output)
                for _ in range(rounds):
                    await race.judge_starts(starts, await race.burst("start"))
                    await race.judge_stops(stops, await race.burst("stop"))
            starts.check_daemon(daemon)
            stops.check_daemon(daemon)
    for row, what in ((starts, "session"), (stops, "stop")):
        summaries = row.details.get("rounds", [])
        single = sum(1 for r in summaries if r["sessions"] == 1)
        slowest = max((r["seconds"] for r in summaries), default=float("nan"))
        row.figure = (
            f"exactly 1 {what} in {single} of {rounds} bursts; the slowest burst's last answer"
            f" after {slowest:.1f} s"
        )
    return [starts, stops]


async def fleet_burst(count: int) -> list[Outcome]:
    """`count` chargers, each sent one MQTT start at the same moment: every one must start and
    be answered (no race here, only a burst of distinct commands)."""
    row = Outcome(f"{count:,} MQTT starts of {count:,} chargers at once", count, "request")
    chargers = [f"F{number:04d}" for number in range(1, count + 1)]
    with Mosquitto() as broker:
        async with (
            running(
                EVCSM_MQTT_URL=broker.url,
                EVCSM_STORE_URI="memory",
                EVCSM_CHARGERS=",".join(f"{c}:22" for c in chargers),
                EVCSM_LOG_LEVEL="WARNING",
            ) as daemon,
            httpx.AsyncClient(base_url=daemon.url, timeout=ANSWER_S) as http,
            client(broker.port) as mqtt,
        ):
            race = Race(http, mqtt, Path(), count, daemon.output)
            sent = {f"start-{c}".encode(): c for c in chargers}
            started = time.monotonic()
            await asyncio.gather(
                *(mqtt.send(f"evcsm/chargers/{c}/cmd/start", b"{}", k) for k, c in sent.items())
            )
            replies = await race.replies(set(sent))
            seconds = max(0.0, race.last_reply - started)
            states = (await http.get("/api/chargers")).json()
            dropped = race.dropped()
            row.check_daemon(daemon)
    charging = sum(1 for state in states if state["status"] == "Charging")
    ok = sum(1 for reply in replies if reply["ok"])
    errors = Counter(reply["error"]["code"] for reply in replies if not reply["ok"])
    row.check(len(replies) == count, f"{count - len(replies)} got no reply{dropped}")
    row.check(not errors, f"{len(replies) - ok} answered with an error: {dict(errors)}")
    row.check(charging == ok, f"{ok - charging} answered ok and never carried out", lost=True)
    row.details |= {
        "replies": len(replies),
        "errors": dict(errors),
        "charging": charging,
        "seconds": round(seconds, 2),
    }
    row.figure = f"{charging:,} charging, {len(replies):,} replies, the last after {seconds:.1f} s"
    return [row]
