"""MQTT 5 request/response as the contract describes it: paths built and checked, replies matched."""

import asyncio

import pytest
from evcsm_schema import CommandReply, ErrorCode, ErrorInfo, topics
from evcsm_schema.requests import CORRELATION_BYTES, Replies, ReplyPath


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


async def test_replies_find_their_request_pending_then_final() -> None:
    replies = Replies()
    pending = CommandReply.accepted("CP-7-1", "start", "req-1")
    final = CommandReply.failed(
        "CP-7-1", "start", ErrorInfo(code=ErrorCode.START_TIMEOUT, message="late"), "req-1"
    )
    with replies.expect(b"one") as one, replies.expect(b"two") as two:
        assert replies.deliver(b"one", pending.to_json())
        assert not replies.deliver(b"three", b"{}")
        assert not replies.deliver(None, b"{}")
        replies.drop(ConnectionError("lost"))  # `one` has its first reply: it waits on
        with pytest.raises(ConnectionError):
            await two.next()
        first = CommandReply.model_validate_json(await one.next())
        assert not first.final
        assert first.pending
        replies.deliver(b"one", final.to_json())
        last = CommandReply.model_validate_json(await one.next())
        assert last.final
        assert last.request_id == "req-1"
    assert len(replies) == 0
    assert not replies.deliver(b"one", b"{}")


async def test_a_reply_that_arrives_later_wakes_its_waiter() -> None:
    replies = Replies()
    with replies.expect(b"c") as waiting:
        task = asyncio.create_task(waiting.next())
        await asyncio.sleep(0)
        replies.deliver(b"c", b"payload")
        assert await asyncio.wait_for(task, 5) == b"payload"
