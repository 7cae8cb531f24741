"""MQTT topic names, in one place.

The seed's two topics keep their names. Everything else lives under `evcsm/`:

- `evcsm/fleet/updates`                  `FleetUpdate`: every active session's reading, once a tick
- `evcsm/daemon/availability`            retained `online` / `offline` (the daemon's last will)
- `evcsm/chargers/{chargerId}/state`     retained `ChargerState`
- `evcsm/chargers/{chargerId}/cmd/{start|stop}`  `CommandRequest` → `CommandReply`
- `evcsm/sessions/query`                 `SessionQuery` → `SessionQueryReply`
- `evcsm/replies/{username}/{clientId}/...`  where clients ask replies to be sent (the broker's
                                         ACL lets each client read only the branch of its own user
                                         name and client id)

Reply branches name the user as well as the client id because the broker binds neither to the
other: a client that borrows another client's id still logs in as its own user, so it reads only
its own user's branch.
"""

import re

from evcsm_schema.messages import CommandAction

SEED_CHARGING = "charging/updates"
"""Seed commands in, status events out."""
SEED_SESSION = "session/updates"
"""Per-tick session readings out."""

PREFIX = "evcsm"
AVAILABILITY = f"{PREFIX}/daemon/availability"
FLEET_UPDATES = f"{PREFIX}/fleet/updates"
"""Every active session's reading of a tick, in one message (or a few, for a very large fleet)."""
CHARGER_STATE_ALL = f"{PREFIX}/chargers/+/state"
CHARGER_COMMAND_ALL = f"{PREFIX}/chargers/+/cmd/+"
SESSION_QUERY = f"{PREFIX}/sessions/query"
REPLY_PREFIX = f"{PREFIX}/replies"


def charger_state(charger_id: str) -> str:
    """Retained state topic of one charger."""
    return f"{PREFIX}/chargers/{charger_id}/state"


def charger_command(charger_id: str, action: CommandAction) -> str:
    """Command topic for `action` on one charger."""
    return f"{PREFIX}/chargers/{charger_id}/cmd/{action.value}"


ANONYMOUS = "anonymous"
"""The user level of a reply branch for a client that logs in without a user name."""
MAX_TOPIC_BYTES = 65535
"""MQTT's limit on a topic name, in UTF-8 bytes."""
_NON_CHARACTERS = "".join(chr(plane << 16 | low) for plane in range(17) for low in (0xFFFE, 0xFFFF))
_REFUSED_CHARS = re.compile(f"[+#\x00-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef{_NON_CHARACTERS}]")
"""Wildcards, and what Mosquitto refuses in a topic (it disconnects a client that sends one):
control characters, UTF-16 surrogates and Unicode non-characters."""


def reply_branch(username: str | None, client_id: str) -> str:
    """The filter that covers a client's own reply branch (subscribe to it)."""
    return f"{REPLY_PREFIX}/{username or ANONYMOUS}/{client_id}/#"


def reply_topic(username: str | None, client_id: str, kind: str = "reply") -> str:
    """A response topic in a client's own reply branch."""
    return f"{REPLY_PREFIX}/{username or ANONYMOUS}/{client_id}/{kind}"


def is_topic_name(topic: str) -> bool:
    """True for a valid MQTT topic name, one a message can be published on.

    Not empty, no wildcard (`+`, `#`) anywhere, at most 65535 bytes in UTF-8, and none of the
    characters a broker refuses (NUL and other control characters, surrogates, non-characters):
    publishing on a topic a broker refuses gets the publisher disconnected.
    """
    return (
        bool(topic)
        and _REFUSED_CHARS.search(topic) is None
        and len(topic.encode()) <= MAX_TOPIC_BYTES
    )


def is_reply_topic(topic: str) -> bool:
    """True for a topic name inside some client's reply branch, where the daemon may reply.

    `evcsm/replies/{username}/{clientId}[/...]`, a valid topic name with no empty level.
    """
    levels = topic.split("/")
    return (
        len(levels) >= 4
        and f"{levels[0]}/{levels[1]}" == REPLY_PREFIX
        and all(levels)
        and is_topic_name(topic)
    )


def parse_charger_topic(topic: str) -> tuple[str, list[str]] | None:
    """Split `evcsm/chargers/{id}/rest...` into the id and the remaining levels."""
    levels = topic.split("/")
    if len(levels) < 4 or levels[0] != PREFIX or levels[1] != "chargers":
        return None
    return levels[2], levels[3:]
