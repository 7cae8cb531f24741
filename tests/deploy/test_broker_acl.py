"""The repo's mosquitto.conf and ACL on a real Mosquitto, with the password file setup.sh made.

Who may publish what, who reads what: every row is a real publish through the locked-down
broker and a real subscriber that either receives it or, as the marker proves, never will.
"""

import uuid
from dataclasses import dataclass

import aiomqtt
import pytest
from evcsm_schema import CommandAction, topics
from paho.mqtt.reasoncodes import ReasonCode

from tests.deploy.clients import delivered, mqtt_client, role_clients, unique_id
from tests.deploy.deployment import (
    DAEMON_USER,
    MOSQUITTO_ACL,
    OPERATOR_USER,
    VIEWER_USER,
    Deployment,
)
from tests.support.broker import Mosquitto

pytestmark = pytest.mark.broker

# Connect refusals: 134 "Bad user name or password", 135 "Not authorized".
REFUSED = {134, 135}
CHARGER = "CP1"
COMMAND = topics.charger_command(CHARGER, CommandAction.START)
STATE = topics.charger_state(CHARGER)


def reply_branch(user: str) -> str:
    """Stands for a reply topic in `user`'s own branch (filled in with its client id)."""
    return f"<reply:{user}>"


@dataclass(frozen=True)
class Flow:
    """`writer` publishes on `topic`; does `reader`, subscribed to it, receive the message?"""

    writer: str
    reader: str
    topic: str
    arrives: bool

    def __str__(self) -> str:
        verdict = "reaches" if self.arrives else "never reaches"
        return f"{self.writer} on {self.topic} {verdict} {self.reader}"


FLOWS = [
    # Commands: the operator's only.
    Flow(OPERATOR_USER, DAEMON_USER, COMMAND, arrives=True),
    Flow(OPERATOR_USER, DAEMON_USER, topics.SEED_CHARGING, arrives=True),
    Flow(VIEWER_USER, DAEMON_USER, COMMAND, arrives=False),
    Flow(VIEWER_USER, DAEMON_USER, topics.charger_command(CHARGER, CommandAction.STOP), False),
    Flow(VIEWER_USER, DAEMON_USER, topics.SEED_CHARGING, arrives=False),
    Flow(DAEMON_USER, DAEMON_USER, COMMAND, arrives=False),
    # History queries: operator and viewer ask, the daemon reads.
    Flow(OPERATOR_USER, DAEMON_USER, topics.SESSION_QUERY, arrives=True),
    Flow(VIEWER_USER, DAEMON_USER, topics.SESSION_QUERY, arrives=True),
    # What the daemon publishes, and nobody else may.
    Flow(DAEMON_USER, VIEWER_USER, STATE, arrives=True),
    Flow(DAEMON_USER, OPERATOR_USER, STATE, arrives=True),
    Flow(DAEMON_USER, VIEWER_USER, topics.AVAILABILITY, arrives=True),
    Flow(DAEMON_USER, OPERATOR_USER, topics.AVAILABILITY, arrives=True),
    Flow(DAEMON_USER, VIEWER_USER, topics.SEED_SESSION, arrives=True),
    Flow(DAEMON_USER, OPERATOR_USER, topics.SEED_SESSION, arrives=True),
    Flow(DAEMON_USER, VIEWER_USER, topics.FLEET_UPDATES, arrives=True),
    Flow(DAEMON_USER, OPERATOR_USER, topics.FLEET_UPDATES, arrives=True),
    Flow(OPERATOR_USER, VIEWER_USER, topics.FLEET_UPDATES, arrives=False),
    Flow(DAEMON_USER, VIEWER_USER, topics.SEED_CHARGING, arrives=True),
    Flow(OPERATOR_USER, VIEWER_USER, STATE, arrives=False),
    Flow(VIEWER_USER, OPERATOR_USER, STATE, arrives=False),
    Flow(OPERATOR_USER, VIEWER_USER, topics.AVAILABILITY, arrives=False),
    Flow(OPERATOR_USER, VIEWER_USER, topics.SEED_SESSION, arrives=False),
    # Replies: the daemon writes them; each client reads its own branch only.
    Flow(DAEMON_USER, OPERATOR_USER, reply_branch(OPERATOR_USER), arrives=True),
    Flow(DAEMON_USER, VIEWER_USER, reply_branch(VIEWER_USER), arrives=True),
    Flow(DAEMON_USER, VIEWER_USER, reply_branch(OPERATOR_USER), arrives=False),
    Flow(DAEMON_USER, OPERATOR_USER, reply_branch(VIEWER_USER), arrives=False),
    Flow(OPERATOR_USER, VIEWER_USER, reply_branch(VIEWER_USER), arrives=False),
    # Nobody but the daemon reads commands and queries.
    Flow(OPERATOR_USER, VIEWER_USER, COMMAND, arrives=False),
    Flow(OPERATOR_USER, OPERATOR_USER, COMMAND, arrives=False),
    Flow(OPERATOR_USER, VIEWER_USER, topics.SESSION_QUERY, arrives=False),
]


@pytest.mark.parametrize("flow", FLOWS, ids=str)
async def test_who_publishes_and_reads_what(
    locked_broker: Mosquitto, deployment: Deployment, flow: Flow
) -> None:
    users = (DAEMON_USER, OPERATOR_USER, VIEWER_USER)
    async with role_clients(locked_broker.port, deployment, *users) as clients:
        topic = flow.topic
        for user in users:
            topic = topic.replace(
                reply_branch(user), topics.reply_topic(user, clients[user].client_id)
            )
        await clients[flow.reader].subscribe(topic)
        assert await delivered(clients, flow.writer, flow.reader, topic) is flow.arrives


async def test_reading_every_reply_gets_only_ones_own(
    locked_broker: Mosquitto, deployment: Deployment
) -> None:
    users = (DAEMON_USER, OPERATOR_USER, VIEWER_USER)
    async with role_clients(locked_broker.port, deployment, *users) as clients:
        await clients[VIEWER_USER].subscribe(f"{topics.REPLY_PREFIX}/#")
        operator_reply = topics.reply_topic(OPERATOR_USER, clients[OPERATOR_USER].client_id)
        own_reply = topics.reply_topic(VIEWER_USER, clients[VIEWER_USER].client_id)
        assert not await delivered(clients, DAEMON_USER, VIEWER_USER, operator_reply)
        assert await delivered(clients, DAEMON_USER, VIEWER_USER, own_reply)


async def test_retained_state_reaches_a_viewer_that_connects_later(
    locked_broker: Mosquitto, deployment: Deployment
) -> None:
    state_topic = topics.charger_state(f"CP-{uuid.uuid4().hex[:8]}")
    state = f'{{"status":"Idle","n":"{uuid.uuid4().hex}"}}'.encode()
    async with role_clients(locked_broker.port, deployment, DAEMON_USER) as clients:
        await clients[DAEMON_USER].publish(state_topic, state, retain=True)
    async with role_clients(locked_broker.port, deployment, VIEWER_USER) as clients:
        await clients[VIEWER_USER].subscribe(state_topic)
        assert (state_topic, state) in await clients[VIEWER_USER].wait_for(state)


@pytest.mark.parametrize(
    ("username", "password"),
    [
        pytest.param(None, None, id="anonymous"),
        pytest.param(VIEWER_USER, "wrong", id="wrong-password"),
        pytest.param("evcsm-admin", "anything", id="unknown-user"),
    ],
)
async def test_clients_without_valid_credentials_are_refused(
    locked_broker: Mosquitto, username: str | None, password: str | None
) -> None:
    with pytest.raises(aiomqtt.MqttCodeError) as refused:
        async with mqtt_client(locked_broker.port, username, password, unique_id("intruder")):
            pass
    rc = refused.value.rc
    assert (rc.value if isinstance(rc, ReasonCode) else rc) in REFUSED


async def test_one_roles_password_does_not_open_another_role(
    locked_broker: Mosquitto, deployment: Deployment
) -> None:
    with pytest.raises(aiomqtt.MqttCodeError):
        async with mqtt_client(
            locked_broker.port, OPERATOR_USER, deployment.password(VIEWER_USER), "swap"
        ):
            pass


def read_acl(text: str) -> tuple[set[tuple[str, str]], dict[str, set[tuple[str, str]]]]:
    """The ACL file as (patterns, {user: {(access, topic)}}); `readwrite` split in two."""
    patterns: set[tuple[str, str]] = set()
    users: dict[str, set[tuple[str, str]]] = {}
    user: str | None = None
    for line in text.splitlines():
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        keyword, *rest = words
        if keyword == "user":
            user = rest[0]
            users[user] = set()
            continue
        access, topic = rest
        grants = {(a, topic) for a in ("read", "write") if access in (a, "readwrite")}
        assert grants, f"unknown access {access!r} in {line!r}"
        if keyword == "pattern":
            patterns |= grants
        else:
            assert keyword == "topic", f"unknown line {line!r}"
            assert user is not None, f"a grant before the first user: {line!r}"
            users[user] |= grants
    return patterns, users


def test_the_acl_grants_exactly_the_roles_topics() -> None:
    read, write = "read", "write"
    patterns, users = read_acl(MOSQUITTO_ACL.read_text(encoding="utf-8"))
    assert patterns == {(read, f"{topics.REPLY_PREFIX}/%u/%c/#")}
    assert users == {
        DAEMON_USER: {
            (read, topics.SEED_CHARGING),
            (write, topics.SEED_CHARGING),
            (write, topics.SEED_SESSION),
            (write, topics.FLEET_UPDATES),
            (write, topics.AVAILABILITY),
            (write, topics.CHARGER_STATE_ALL),
            (write, f"{topics.REPLY_PREFIX}/#"),
            (read, topics.CHARGER_COMMAND_ALL),
            (read, topics.SESSION_QUERY),
        },
        OPERATOR_USER: {
            (read, topics.SEED_CHARGING),
            (write, topics.SEED_CHARGING),
            (write, topics.CHARGER_COMMAND_ALL),
            (write, topics.SESSION_QUERY),
            (read, topics.SEED_SESSION),
            (read, topics.FLEET_UPDATES),
            (read, topics.AVAILABILITY),
            (read, topics.CHARGER_STATE_ALL),
        },
        VIEWER_USER: {
            (read, topics.SEED_CHARGING),
            (read, topics.SEED_SESSION),
            (read, topics.FLEET_UPDATES),
            (read, topics.AVAILABILITY),
            (read, topics.CHARGER_STATE_ALL),
            (write, topics.SESSION_QUERY),
        },
    }


def test_the_password_file_holds_exactly_the_acl_users_hashed(deployment: Deployment) -> None:
    _, users = read_acl(MOSQUITTO_ACL.read_text(encoding="utf-8"))
    entries = dict(
        line.split(":", 1) for line in deployment.passwd_file.read_text().splitlines() if line
    )
    assert set(entries) == set(users)
    for user, stored in entries.items():
        assert stored.startswith("$7$"), f"{user}: not a PBKDF2-SHA512 hash"
        assert deployment.password(user) not in stored
