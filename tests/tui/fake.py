"""A link that serves fixed data: the dashboard without a broker, for snapshot tests."""

import asyncio
from collections.abc import Sequence

from evcsm_schema import (
    Availability,
    CommandAction,
    CommandReply,
    ErrorCode,
    ErrorInfo,
    SessionPage,
    SessionQuery,
    SessionQueryReply,
)
from evcsm_tui.client import Accepted, Sent, Sink
from evcsm_tui.state import Inbound, LinkChange, LinkStatus

from tests.tui.data import CP1_TICKS, FLEET, HISTORY


class FixedLink:
    """Connects at once, hands over `events`, refuses commands and serves `HISTORY`."""

    label = "mqtt://broker.site.example:1883"

    def __init__(
        self,
        events: Sequence[Inbound] = (
            LinkChange(LinkStatus.CONNECTED),
            Availability.ONLINE,
            *FLEET,
            *CP1_TICKS,
        ),
    ) -> None:
        self.events = tuple(events)

    async def run(self, sink: Sink) -> None:
        for event in self.events:
            sink(event)
        await asyncio.Event().wait()  # connected until cancelled

    async def command(
        self, charger_id: str, action: CommandAction, accepted: Accepted | None = None
    ) -> CommandReply:
        return CommandReply(
            ok=False,
            charger_id=charger_id,
            action=action.value,
            error=ErrorInfo(code=ErrorCode.UNAVAILABLE, message="fixed data: no daemon"),
        )

    async def query_sessions(
        self, query: SessionQuery, sent: Sent | None = None
    ) -> SessionQueryReply:
        if sent is not None:
            sent()
        items = [
            s
            for s in HISTORY
            if query.charger_id in (None, s.charger_id) and query.status in (None, s.status)
        ]
        page = SessionPage(items=items, total=len(items), limit=query.limit, offset=query.offset)
        return SessionQueryReply(ok=True, page=page)
