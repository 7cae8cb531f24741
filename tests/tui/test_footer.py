"""The footer rebuilds its keys only when what they show changes."""

from datetime import UTC
from pathlib import Path

from evcsm_schema import CommandAction, CommandReply, topics
from evcsm_tui.app import EvcsmApp
from evcsm_tui.client import Accepted
from evcsm_tui.errors import NotAuthorised
from evcsm_tui.screens.dashboard import DashboardScreen
from evcsm_tui.screens.history import HistoryScreen
from evcsm_tui.widgets.footer import KeysFooter
from textual.app import App
from textual.widgets._footer import FooterKey

from tests.tui.data import NOW
from tests.tui.fake import FixedLink
from tests.tui.harness import row, wait_until


class RefusingLink(FixedLink):
    """The broker refuses this login's commands."""

    async def command(
        self, charger_id: str, action: CommandAction, accepted: Accepted | None = None
    ) -> CommandReply:
        topic = topics.charger_command(charger_id, action)
        raise NotAuthorised(f"not authorised: the broker does not let this login publish {topic}")


def footer_keys(app: App[None]) -> list[FooterKey]:
    return list(app.screen.query_one(KeysFooter).query(FooterKey))


async def test_the_same_keys_are_not_rebuilt_and_changed_keys_are(tmp_path: Path) -> None:
    app = EvcsmApp(RefusingLink(), export_dir=tmp_path, now=lambda: NOW, tz=UTC)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, "fleet shown", lambda: bool(row(app, "DEPOT-04")))
        await wait_until(pilot, "the footer's keys", lambda: bool(footer_keys(app)))
        before = footer_keys(app)
        assert {key.key for key in before} >= {"s", "x", "h"}

        await pilot.press("h")
        await wait_until(pilot, "the history", lambda: isinstance(app.screen, HistoryScreen))
        await wait_until(pilot, "its keys", lambda: "c" in {k.key for k in footer_keys(app)})
        await pilot.press("escape")
        await wait_until(pilot, "the dashboard", lambda: isinstance(app.screen, DashboardScreen))
        await pilot.pause()
        after = footer_keys(app)
        assert [id(key) for key in after] == [id(key) for key in before]  # the same widgets

        await pilot.press("s")  # refused: the dashboard turns read-only, start and stop leave
        await wait_until(
            pilot, "start and stop gone", lambda: "s" not in {k.key for k in footer_keys(app)}
        )
        assert "x" not in {key.key for key in footer_keys(app)}
        assert "h" in {key.key for key in footer_keys(app)}
