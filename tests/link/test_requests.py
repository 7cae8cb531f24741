"""The client side of request/response: replies matched to the requests that wait for them."""

import asyncio

import pytest
from evcsm_link.requests import Replies
from evcsm_schema import CommandReply, ErrorCode, ErrorInfo


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
