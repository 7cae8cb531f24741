"""MQTT 5 request/response as the contract describes it: reply paths built and checked."""

import pytest
from evcsm_schema import topics
from evcsm_schema.requests import CORRELATION_BYTES, ReplyPath


def test_a_new_path_is_in_the_clients_own_branch_with_fresh_correlation() -> None:
    first, second = ReplyPath.new("evcsm-operator", "tui-1", "cmd"), ReplyPath.new(None, "tui-1")
    assert first.topic == "evcsm/replies/evcsm-operator/tui-1/cmd"
    assert second.topic == "evcsm/replies/anonymous/tui-1/reply"
    assert first.correlation is not None
    assert len(first.correlation) == CORRELATION_BYTES
    assert first.correlation != second.correlation
    assert topics.is_reply_topic(first.topic)


@pytest.mark.parametrize(
    "topic", [topics.charger_state("CP1"), "evcsm/replies/x", "evcsm/replies/+/y/z", 5]
)
def test_the_daemon_refuses_a_response_topic_outside_every_reply_branch(topic: object) -> None:
    with pytest.raises(ValueError, match="refused response topic"):
        ReplyPath.accept(topic, b"c")


def test_a_request_without_a_response_topic_asks_for_no_reply() -> None:
    assert ReplyPath.accept(None, b"c") is None
    assert ReplyPath.accept("evcsm/replies/u/c/r", "not bytes") == ReplyPath("evcsm/replies/u/c/r")
