"""MQTT attacks on the deployed configuration, replayed by its own viewer and operator users.

The broker runs the repository's mosquitto.conf and ACL with passwords from deploy/setup.sh; the
daemon logs in as its own user (so its client id carries the secret suffix). Each attack is a
row. After each, the same outcome is checked: the daemon still runs and printed no traceback,
`/readyz` answers 200, it never lost its broker, a viewer watching the retained availability
since the start never saw `offline`, and no session exists: no attack may write anything.
"""

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx
from evcsm_link.client import MqttError
from evcsm_schema import topics

from bench.scenarios.rig import (
    Outcome,
    broker_losses,
    client,
    daemon_login,
    locked_broker,
    running,
    scratch,
    stored,
)
from tests.deploy.deployment import OPERATOR_USER, VIEWER_USER, Deployment
from tests.support.broker import Mosquitto
from tests.support.mqtt import Probe, wait_until
from tests.support.process import DaemonProcess

CONFIGURED_ID = "evcsm-daemon"
"""The daemon's configured client id (docker-compose.yml's), the one an intruder would try."""
PLANTED = [
    ("evcsm/chargers/CP2/cmd/start", b"{}"),
    (topics.SEED_CHARGING, b'{"status":"Charging"}'),
]
BAD_RESPONSE_TOPICS = [
    "evcsm/replies/x/a+b",
    "evcsm/replies/x/#",
    "evcsm/replies//x/y",
    "evcsm/replies/+/x/y",
    "evcsm/replies/x",
    "evcsm/chargers/CP1/state",
    topics.AVAILABILITY,
]
DEPTH = 5000
"""Nesting of the deepest JSON payload: 10 KB, under the daemon's 16 KiB payload limit."""
MALFORMED = [
    b"not json",
    b"\xff\xfe",
    b"[]",
    b"null",
    b"5",
    b'"text"',
    b'{"reason":',
    b'{"a":1}{"b":2}',
    b"[" * DEPTH + b"]" * DEPTH,
]
TAKEOVERS = 5
PEEKS = 20
QUIET_S = 1.0
"""How long to wait for a message that must not come, after a later one arrived."""


@dataclass
class Target:
    """The daemon under attack, and what watches it."""

    broker: Mosquitto
    deployment: Deployment
    daemon: DaemonProcess
    http: httpx.AsyncClient
    watcher: Probe
    sessions: int = 0
    """Sessions stored before the attack: the attacks themselves write none."""

    def as_user(
        self, user: str, *subscriptions: str, client_id: str | None = None
    ) -> contextlib.AbstractAsyncContextManager[Probe]:
        """A client logged in as `user` of the deployment."""
        return client(
            self.broker.port,
            *subscriptions,
            deployment=self.deployment,
            user=user,
            client_id=client_id,
        )

    async def outcome(self, row: Outcome) -> None:
        """The daemon is unharmed and nothing was written."""
        row.check_daemon(self.daemon)
        ready = (await self.http.get("/readyz")).status_code
        row.check(ready == 200, f"/readyz answered {ready}")
        row.check(broker_losses(self.daemon) == 0, "the daemon lost its broker")
        flaps = [m for m in self.watcher.on(topics.AVAILABILITY) if m.payload != b"online"]
        row.check(not flaps, f"availability went {flaps[0].payload!r}" if flaps else "")
        sessions = len(await stored(self.http))
        written = sessions - self.sessions
        self.sessions = sessions
        row.check(not written, f"{written} sessions written", lost=True)
        row.figure = (
            "daemon alive, availability never offline, nothing written; " + row.figure
        ).rstrip("; ")


Attack = Callable[[Target], Awaitable[Outcome]]


async def planted(target: Target) -> Outcome:
    """Retained commands planted before the daemon started are replayed to it, and ignored."""
    row = Outcome("retained commands planted by the operator, replayed on connect", 2, "message")
    daemon = target.daemon
    await wait_until(lambda: daemon.output().count("ignored a retained message") >= len(PLANTED))
    async with target.as_user(VIEWER_USER, topics.SEED_CHARGING) as late:
        await asyncio.sleep(QUIET_S)
        left = [m.payload for m in late.on(topics.SEED_CHARGING) if m.retain]
    row.check(not left, f"charging/updates still holds {left}")
    row.figure = "both logged, the seed one cleared"
    return row


async def response_topics(target: Target) -> Outcome:
    """Requests whose response topic is a filter, empty-levelled, too long or another's topic."""
    row = Outcome(
        "response topics with wildcards, empty levels, or a state topic",
        2 * len(BAD_RESPONSE_TOPICS),
        "request",
    )
    refused_before = target.daemon.output().count("refused response topic")
    async with (
        target.as_user(VIEWER_USER, "evcsm/chargers/+/state") as viewer,
        target.as_user(OPERATOR_USER) as operator,
    ):
        await wait_until(lambda: len(viewer.on("evcsm/chargers/CP1/state")) >= 1)
        for number, bad in enumerate(BAD_RESPONSE_TOPICS):
            await viewer.send(topics.SESSION_QUERY, b"{}", b"q%d" % number, bad)
            await operator.send("evcsm/chargers/CP2/cmd/stop", b"{}", b"s%d" % number, bad)
        answered = await viewer.request(topics.SESSION_QUERY)
        row.check(answered["ok"] is True, "a good query after them was not answered")
        await asyncio.sleep(QUIET_S)
        forged = [m for m in viewer.on("evcsm/chargers/CP1/state") if b'"ok"' in m.payload]
    refused = target.daemon.output().count("refused response topic") - refused_before
    row.check(refused == row.inputs, f"{refused} of {row.inputs} refused in the log")
    row.check(not forged, "a reply landed on a charger's state topic")
    row.figure = f"{refused} refused, one log line each; no state forged"
    return row


async def takeover(target: Target) -> Outcome:
    """The viewer and the operator log in with the daemon's configured client id."""
    row = Outcome(
        f"the daemon's client id '{CONFIGURED_ID}' taken by viewer and operator",
        2 * TAKEOVERS,
        "login",
    )
    for _ in range(TAKEOVERS):
        for user in (VIEWER_USER, OPERATOR_USER):
            async with target.as_user(user, client_id=CONFIGURED_ID) as intruder:
                await intruder.client.publish(topics.SESSION_QUERY, b"{}", qos=1)
    async with target.as_user(VIEWER_USER) as viewer:
        row.check((await viewer.request(topics.SESSION_QUERY))["ok"] is True, "no answer after")
    row.figure = "the daemon kept its connection"
    return row


async def peeking(target: Target) -> Outcome:
    """The viewer reads every reply branch, then borrows the operator's client id to do so."""
    row = Outcome(
        "the viewer reading the operator's replies, own id and borrowed id", 2 * PEEKS, "reply"
    )
    everything = f"{topics.REPLY_PREFIX}/#"
    async with (
        target.as_user(VIEWER_USER, everything, topics.SEED_CHARGING) as viewer,
        target.as_user(OPERATOR_USER) as operator,
    ):
        victim = operator.client_id
        for _ in range(PEEKS):
            await operator.request(topics.SESSION_QUERY, b'{"limit":1}')
        await marker(operator, viewer)
        seen = [m for m in viewer.messages if m.topic.startswith(topics.REPLY_PREFIX)]
        row.check(not seen, f"the viewer read {len(seen)} of the operator's replies")
    # The operator's id is free now: the viewer takes it and reads every branch again, while
    # the operator, from another connection, has replies sent to its old branch.
    async with (
        target.as_user(VIEWER_USER, everything, topics.SEED_CHARGING, client_id=victim) as viewer,
        target.as_user(OPERATOR_USER) as operator,
    ):
        branch = topics.reply_topic(OPERATOR_USER, victim)
        for number in range(PEEKS):
            await operator.send(topics.SESSION_QUERY, b'{"limit":1}', b"p%d" % number, branch)
        await operator.request(topics.SESSION_QUERY, b'{"limit":1}')
        await asyncio.sleep(QUIET_S)
        await marker(operator, viewer)
        seen = [m for m in viewer.messages if m.topic.startswith(topics.REPLY_PREFIX)]
        row.check(not seen, f"with the borrowed id the viewer read {len(seen)} replies")
    row.figure = "0 replies read"
    return row


async def marker(operator: Probe, viewer: Probe) -> None:
    """Publish an event on charging/updates and wait until the viewer has it: whatever the
    broker routed to the viewer before, it has received by then."""
    mark = f'{{"status":"Stopped","sessionId":"marker-{uuid.uuid4().hex}"}}'.encode()
    await operator.client.publish(topics.SEED_CHARGING, mark, qos=1)
    await viewer.wait_for(lambda m: m.payload == mark)


async def empty_charger(target: Target) -> Outcome:
    """Commands on `evcsm/chargers//cmd/...`: never the default charger."""
    row = Outcome("commands with an empty charger id", 2, "request")
    async with target.as_user(OPERATOR_USER) as operator:
        for action in ("start", "stop"):
            reply = await operator.request(f"evcsm/chargers//cmd/{action}")
            code = reply.get("error", {}).get("code")
            row.check(code == "unknown_charger", f"{action} answered {reply}")
    row.figure = "both answered unknown_charger"
    return row


async def oversized(target: Target) -> Outcome:
    """20 KB, 100 KB and 2 MB payloads: an error, dropped by the broker, the sender cut off."""
    row = Outcome("oversized payloads: 20 KB, 100 KB, 2 MB", 3, "message")
    async with target.as_user(OPERATOR_USER) as operator:
        reply = await operator.request("evcsm/chargers/CP2/cmd/stop", b"x" * 20_000)
        code = reply.get("error", {}).get("code")
        row.check(code == "payload_too_large", f"20 KB answered {reply}")
        await operator.send("evcsm/chargers/CP2/cmd/stop", b"x" * 100_000, b"100k")
        await operator.request(topics.SESSION_QUERY)
        await asyncio.sleep(QUIET_S)
        row.check(not [m for m in operator.messages if m.correlation == b"100k"], "100 KB answered")
    cut = False
    try:
        async with target.as_user(OPERATOR_USER) as sender:
            await sender.client.publish(
                "evcsm/chargers/CP2/cmd/stop", b"x" * 2_000_000, qos=1, timeout=10
            )
            await sender.request(topics.SESSION_QUERY)
    except MqttError:
        cut = True
    row.check(cut, "a 2 MB publish was taken")
    row.figure = "payload_too_large; dropped for the daemon; the sender disconnected"
    return row


async def malformed(target: Target) -> Outcome:
    """Payloads that are not what a command or query must be, on every request topic."""
    request_topics = [
        "evcsm/chargers/CP1/cmd/start",
        "evcsm/chargers/CP1/cmd/stop",
        topics.SESSION_QUERY,
    ]
    row = Outcome(
        "malformed payloads, 5,000-deep JSON among them",
        len(MALFORMED) * len(request_topics),
        "request",
    )
    codes: dict[str, int] = {}
    async with target.as_user(OPERATOR_USER) as operator:
        for topic in request_topics:
            for payload in MALFORMED:
                reply = await operator.request(topic, payload)
                code = reply.get("error", {}).get("code", "ok")
                codes[code] = codes.get(code, 0) + 1
    wrong = {c: n for c, n in codes.items() if c != "bad_request"}
    row.check(not wrong, f"answered {wrong}")
    row.details["codes"] = codes
    row.figure = ", ".join(f"{n} {c}" for c, n in sorted(codes.items()))
    return row


async def viewer_commands(target: Target) -> Outcome:
    """The viewer sends commands, which its role may not publish."""
    row = Outcome("commands from the viewer (refused by the ACL)", 3, "message")
    async with target.as_user(VIEWER_USER) as viewer:
        for topic, payload in (
            ("evcsm/chargers/CP1/cmd/start", b"{}"),
            (topics.SEED_CHARGING, b'{"status":"Charging"}'),
            ("evcsm/chargers/CP2/cmd/start", b"{}"),
        ):
            await viewer.client.publish(topic, payload, qos=1)
    row.figure = "none carried out"
    return row


ATTACKS: list[Attack] = [
    planted,
    response_topics,
    takeover,
    peeking,
    empty_charger,
    oversized,
    malformed,
    viewer_commands,
]


async def mqtt_attacks() -> list[Outcome]:
    """Every attack in turn on one daemon, each judged on its own."""
    rows = []
    with scratch("attacks") as folder, locked_broker(folder) as (broker, deployment):
        async with client(broker.port, deployment=deployment, user=OPERATOR_USER) as planter:
            for topic, payload in PLANTED:
                await planter.client.publish(topic, payload, qos=1, retain=True)
        async with (
            running(**daemon_login(broker, deployment), EVCSM_STORE_URI="memory") as daemon,
            httpx.AsyncClient(base_url=daemon.url, timeout=30) as http,
            client(
                broker.port, topics.AVAILABILITY, deployment=deployment, user=VIEWER_USER
            ) as watcher,
        ):
            await watcher.wait_for(lambda m: m.payload == b"online")
            target = Target(broker, deployment, daemon, http, watcher)
            for attack in ATTACKS:
                row = await attack(target)
                await target.outcome(row)
                rows.append(row)
    return rows
