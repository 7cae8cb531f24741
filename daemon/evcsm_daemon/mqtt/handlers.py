"""What each incoming MQTT message means: decode, call the service, build the reply.

Every failure becomes an `ErrorInfo` in one place (`_error_info`), logged once, and an error
reply shaped for its topic (`failure`); nothing a client sends can crash the daemon or write
anything when it is rejected. The charger of a command is the one its topic names: an empty id
is an unknown charger, never the default one (only the seed's topic means the default charger).

A start or stop that an OCPP charger accepted but has not carried out yet is answered twice:
at once `{"ok": true, "pending": true, "requestId": ...}`, then, when the station starts (or
stops) its transaction or the request fails, a final reply with the same correlation data
(`Answer.follow`; the bridge sends it). A simulated charger acts at once: one final reply, as
always. No worker waits for a station.
"""

import logging
from dataclasses import dataclass
from typing import TypeAlias

from evcsm_schema import (
    CommandAction,
    CommandReply,
    CommandRequest,
    ErrorCode,
    ErrorInfo,
    SeedCommand,
    SessionQuery,
    SessionQueryReply,
    SessionStatus,
    topics,
)
from evcsm_schema.session import DefaultStopReason

from evcsm_daemon.errors import (
    BadRequest,
    EvcsmError,
    NoActiveSession,
    PayloadTooLarge,
    UnknownCharger,
)
from evcsm_daemon.mqtt.decode import decode
from evcsm_daemon.pending import Pending
from evcsm_daemon.service import ChargingService

log = logging.getLogger(__name__)

Reply: TypeAlias = CommandReply | SessionQueryReply
BUSY = (
    "the daemon had more requests waiting than it takes (the broker sent past the daemon's"
    " Receive Maximum): nothing was done; send it again"
)


@dataclass(frozen=True, slots=True)
class Answer:
    """What to reply now, and the request whose outcome is replied later, if any."""

    reply: Reply | None
    follow: Pending | None = None

    def final(self) -> CommandReply:
        """The final reply to a followed request (call once it is done)."""
        assert self.follow is not None  # noqa: S101 - only asked of an answer that follows one
        assert isinstance(self.reply, CommandReply)  # noqa: S101 - so is its first reply
        return outcome(self.follow, self.reply.charger_id, self.reply.action)


def outcome(pending: Pending, charger_id: str, action: str) -> CommandReply:
    """The reply that tells how a settled request ended."""
    error = pending.error
    if error is not None:
        failure = error if isinstance(error, Exception) else RuntimeError(str(error))
        info = _error_info(f"{charger_id}/{action}", failure)
        return CommandReply.failed(charger_id, action, info, pending.request_id)
    return CommandReply.done(charger_id, action, pending.result, pending.request_id)


class Handlers:
    """Routes a message by topic to the service."""

    def __init__(self, service: ChargingService) -> None:
        self._service = service

    async def dispatch(self, topic: str, payload: bytes, *, has_reply_path: bool) -> Answer:
        """Handle one message; returns the reply to send, if the request has a reply path."""
        if topic == topics.SEED_CHARGING:
            if not payload:
                # What a client publishes to clear a retained message: not a command.
                log.info("ignored an empty message on %s", topic)
                return Answer(None)
            answer = await self._seed(payload)
            return answer if has_reply_path else Answer(None)
        if topic == topics.SESSION_QUERY:
            return Answer(await self._query(payload))
        parsed = topics.parse_charger_topic(topic)
        if parsed is not None and len(parsed[1]) == 2 and parsed[1][0] == "cmd":
            return await self._command(parsed[0], parsed[1][1], payload)
        log.warning("ignored a message on unexpected topic %.200r", topic)
        return Answer(None)

    def failure(self, topic: str, exc: Exception) -> Reply | None:
        """The error reply to a message on `topic` that failed with `exc` (logged once here)."""
        return self.error_reply(topic, _error_info(topic, exc))

    def busy(self, topic: str) -> Reply | None:
        """The error reply to a request refused unread because too many are waiting. Not logged
        here: the connection counts and logs refusals, which come in bursts."""
        return self.error_reply(topic, ErrorInfo(code=ErrorCode.UNAVAILABLE, message=BUSY))

    def error_reply(self, topic: str, error: ErrorInfo) -> Reply | None:
        """`error` as the reply a request on `topic` gets (None for a topic that has none)."""
        if topic == topics.SESSION_QUERY:
            return SessionQueryReply(ok=False, error=error)
        if topic == topics.SEED_CHARGING:
            return CommandReply.failed(self._service.default_charger or "", "seed", error)
        parsed = topics.parse_charger_topic(topic)
        if parsed is not None and len(parsed[1]) == 2 and parsed[1][0] == "cmd":
            return CommandReply.failed(parsed[0], parsed[1][1], error)
        return None

    async def _seed(self, payload: bytes) -> Answer:
        charger_id = self._service.default_charger or ""
        action = "seed"
        try:
            command = decode(SeedCommand, payload)
            if command.is_event:
                return Answer(None)
            if command.status is SessionStatus.CHARGING:
                action = CommandAction.START.value
                pending = await self._service.request_start(charger_id or None)
            else:
                action = CommandAction.STOP.value
                reason = command.reason or DefaultStopReason.SEED_CLIENT
                pending = await self._service.request_stop(charger_id or None, reason)
            return await _answer(pending, charger_id, action)
        except Exception as exc:  # noqa: BLE001 - supervisor boundary: log, reply, keep running
            return Answer(self._failure(topics.SEED_CHARGING, charger_id, action, exc))

    async def _command(self, charger_id: str, action: str, payload: bytes) -> Answer:
        topic = f"{charger_id}/{action}"
        if not charger_id:
            return Answer(self._failure(topic, charger_id, action, UnknownCharger(charger_id)))
        try:
            try:
                verb = CommandAction(action)
            except ValueError:
                raise BadRequest(f"unknown action {action!r}: use start or stop") from None
            request = decode(CommandRequest, payload, empty_ok=True)
            if verb is CommandAction.START:
                pending = await self._service.request_start(charger_id)
            else:
                pending = await self._service.request_stop(charger_id, request.reason)
            return await _answer(pending, charger_id, action)
        except Exception as exc:  # noqa: BLE001 - supervisor boundary: log, reply, keep running
            return Answer(self._failure(topic, charger_id, action, exc))

    async def _query(self, payload: bytes) -> SessionQueryReply:
        try:
            query = decode(SessionQuery, payload, empty_ok=True)
            page = await self._service.query(query)
        except Exception as exc:  # noqa: BLE001 - supervisor boundary: log, reply, keep running
            error = _error_info(topics.SESSION_QUERY, exc)
            return SessionQueryReply(ok=False, error=error)
        return SessionQueryReply(ok=True, page=page)

    @staticmethod
    def _failure(where: str, charger_id: str, action: str, exc: Exception) -> CommandReply:
        return CommandReply.failed(charger_id, action, _error_info(where, exc))


async def _answer(pending: Pending, charger_id: str, action: str) -> Answer:
    """The final reply when the request is settled (a simulated charger), else "pending" now
    and the outcome later; a failure raises."""
    if pending.done:
        session = await pending.wait()
        return Answer(CommandReply.done(charger_id, action, session))
    return Answer(CommandReply.accepted(charger_id, action, pending.request_id), pending)


def too_large(reply: Reply, size: int, limit: int) -> Reply:
    """The error reply that replaces `reply` when it is over the broker's packet limit."""
    exc = PayloadTooLarge(
        f"the reply of {size} bytes is over the broker's limit of {limit} bytes: ask for less"
        " (a smaller limit)"
    )
    if isinstance(reply, SessionQueryReply):
        return SessionQueryReply(ok=False, error=_error_info(topics.SESSION_QUERY, exc))
    where = f"{reply.charger_id}/{reply.action}"
    return CommandReply.failed(reply.charger_id, reply.action, _error_info(where, exc))


def _error_info(where: str, exc: Exception) -> ErrorInfo:
    """The error a client sees, logged once at the right level."""
    if isinstance(exc, NoActiveSession):
        log.info("%s: %s", where, exc.message)
        return exc.info()
    if isinstance(exc, EvcsmError):
        log.warning("rejected message on %s: %s", where, exc.message)
        return exc.info()
    log.error("failed to handle a message on %s", where, exc_info=exc)
    return ErrorInfo(code=ErrorCode.INTERNAL, message="internal error; see the daemon log")
