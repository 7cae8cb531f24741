"""Property test of the dashboard's decoding: any topic, any bytes, never an exception."""

from evcsm_schema import Availability, ChargerState, FleetUpdate, SessionUpdate, topics
from evcsm_tui.state import ChargerGone
from evcsm_tui.wire import decode
from hypothesis import given
from hypothesis import strategies as st

from tests.support.strategies import FUZZ, PAYLOAD_MODELS, PAYLOADS, TOPICS

DASHBOARD_TOPICS = TOPICS | st.sampled_from(
    [topics.FLEET_UPDATES, topics.SEED_SESSION, topics.charger_state("CP1")]
)


@FUZZ
@given(topic=DASHBOARD_TOPICS, payload=PAYLOADS)
def test_anything_decodes_to_a_message_or_none(topic: str, payload: bytes) -> None:
    decoded = decode(topic, payload)
    assert decoded is None or isinstance(
        decoded, Availability | FleetUpdate | ChargerState | ChargerGone
    )


@FUZZ
@given(
    state=PAYLOAD_MODELS["ChargerState"],
    fleet=PAYLOAD_MODELS["FleetUpdate"],
    update=PAYLOAD_MODELS["SessionUpdate"],
)
def test_what_the_daemon_publishes_decodes_to_itself(
    state: ChargerState, fleet: FleetUpdate, update: SessionUpdate
) -> None:
    assert decode(topics.charger_state(state.charger_id), state.to_json()) == state
    assert decode(topics.FLEET_UPDATES, fleet.to_json()) == fleet
    assert decode(topics.SEED_SESSION, update.to_json()) is None  # not read: the aggregate is
