"""From topic and payload to a typed message, and the subscriptions that feed the dashboard.

A payload that does not decode is logged and dropped: a stray publisher on a shared broker must
not take the dashboard down or paint over the screen.
"""

import logging

from evcsm_schema import Availability, ChargerState, FleetUpdate, topics

from evcsm_tui.state import ChargerGone, Inbound

log = logging.getLogger(__name__)

SUBSCRIPTIONS = ((topics.AVAILABILITY, 1), (topics.CHARGER_STATE_ALL, 0), (topics.FLEET_UPDATES, 0))
"""What the dashboard listens to besides its own reply branch, with the QoS of each.

The readings come once a tick for the whole fleet on `evcsm/fleet/updates`, never one message
per session on `session/updates`. The charger states are taken at QoS 0: on a live connection
the broker delivers them in order either way, and the dashboard's session is a clean one, so
what it misses while disconnected comes back as retained states when it connects again,
whatever the QoS. QoS 1 would add an acknowledgement per message, and the daemon republishes a
fifth of the charging chargers' states every second (1,000 a second at 5,000 chargers).
"""


def decode(topic: str, payload: bytes) -> Inbound | None:
    """The message on `topic`, or None (logged) when it is not one the dashboard understands."""
    try:
        if topic == topics.AVAILABILITY:
            return Availability(payload.decode().strip())
        if topic == topics.FLEET_UPDATES:
            return FleetUpdate.model_validate_json(payload)
        parsed = topics.parse_charger_topic(topic)
        if parsed is not None and parsed[1] == ["state"]:
            return _charger_state(parsed[0], payload)
    except ValueError as exc:  # pydantic's ValidationError and bad UTF-8 are ValueErrors
        log.warning("ignored malformed message on %s: %.200s (%s)", topic, payload, exc)
        return None
    log.warning("ignored message on unexpected topic %s", topic)
    return None


def _charger_state(charger_id: str, payload: bytes) -> ChargerState | ChargerGone | None:
    if not payload:
        return ChargerGone(charger_id)  # its retained state was cleared
    state = ChargerState.model_validate_json(payload)
    if state.charger_id != charger_id:
        log.warning("ignored state on %s's topic naming charger %s", charger_id, state.charger_id)
        return None
    return state
