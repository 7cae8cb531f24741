"""MQTT topic names, in one place.

The seed's two topics keep their names. Everything else lives under `evcsm/`:

- `evcsm/fleet/updates`                  `FleetUpdate`: every active session's reading, once a tick
- `evcsm/daemon/availability`            retained `online` / `offline` (the daemon's last will)
- `evcsm/chargers/{chargerId}/state`     retained `ChargerState`
- `evcsm/chargers/{chargerId}/cmd/{start|stop}`  `CommandRequest` → `CommandReply`
- `evcsm/sessions/query`                 `SessionQuery` → `SessionQueryReply`
- `evcsm/replies/{clientId}/...`         where clients ask replies to be sent (the broker's ACL
                                         lets each client read only its own reply branch)
"""

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


def reply_topic(client_id: str, kind: str = "reply") -> str:
    """A response topic in a client's own reply branch."""
    return f"{REPLY_PREFIX}/{client_id}/{kind}"


def is_reply_topic(topic: str) -> bool:
    """True for a topic inside some client's reply branch, where the daemon may send replies."""
    levels = topic.split("/")
    return (
        len(levels) >= 3
        and f"{levels[0]}/{levels[1]}" == REPLY_PREFIX
        and all(level and level not in ("+", "#") for level in levels[2:])
    )


def parse_charger_topic(topic: str) -> tuple[str, list[str]] | None:
    """Split `evcsm/chargers/{id}/rest...` into the id and the remaining levels."""
    levels = topic.split("/")
    if len(levels) < 4 or levels[0] != PREFIX or levels[1] != "chargers":
        return None
    return levels[2], levels[3:]
