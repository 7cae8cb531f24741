"""Decoding what arrives on the topics; anything malformed is logged and dropped."""

import logging

import pytest
from evcsm_schema import Availability, topics
from evcsm_tui.state import ChargerGone
from evcsm_tui.wire import decode

from tests.tui.data import CP1_TICKS, FLEET


def test_each_topic_decodes_to_its_message() -> None:
    assert decode(topics.AVAILABILITY, b"online") is Availability.ONLINE
    assert decode(topics.AVAILABILITY, b"offline\n") is Availability.OFFLINE
    assert decode(topics.FLEET_UPDATES, CP1_TICKS[0].to_json()) == CP1_TICKS[0]
    assert decode(topics.charger_state("CP1"), FLEET[0].to_json()) == FLEET[0]
    assert decode(topics.charger_state("CP2"), b"") == ChargerGone("CP2")


@pytest.mark.parametrize(
    ("topic", "payload"),
    [
        (topics.AVAILABILITY, b"maybe"),
        (topics.AVAILABILITY, b"\xff\xfe"),
        (topics.FLEET_UPDATES, b"{not json"),
        (topics.SEED_SESSION, CP1_TICKS[0].to_json()),  # not subscribed: never read
        (topics.FLEET_UPDATES, b'{"timestamp": "2026-01-01T00:00:00Z", "part": 2, "readings": []}'),
        (topics.charger_state("CP2"), FLEET[0].to_json()),  # names CP1 on CP2's topic
        (topics.charger_state("CP1"), b"[]"),
        ("evcsm/chargers/CP1/cmd/start", b"{}"),
        ("somewhere/else", b"{}"),
    ],
)
def test_malformed_or_unexpected_messages_are_logged_and_dropped(
    topic: str, payload: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="evcsm_tui.wire"):
        assert decode(topic, payload) is None
    assert any(
        topic in record.getMessage() or "CP1" in record.getMessage() for record in caplog.records
    )
