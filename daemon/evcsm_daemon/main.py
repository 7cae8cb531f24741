"""`evcsm-daemon`: parse settings, set up logging and signals, run the daemon."""

import asyncio
import logging
import signal
import sys

from pydantic import ValidationError
from pydantic_settings import CliApp

from evcsm_daemon import logs
from evcsm_daemon.config import Settings
from evcsm_daemon.runtime import Daemon

log = logging.getLogger("evcsm_daemon")


async def run(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """Run the daemon until `stop` is set or the task is cancelled."""
    await Daemon(settings).run(stop)


async def _serve(settings: Settings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await run(settings, stop)


def main(argv: list[str] | None = None) -> int:
    """Console entry point."""
    try:
        settings = CliApp.run(Settings, cli_args=sys.argv[1:] if argv is None else argv)
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            where = ".".join(str(level) for level in error["loc"]) or "settings"
            print(f"evcsm-daemon: {where}: {error['msg']}", file=sys.stderr)
        return 2
    logs.setup(settings.log_format, settings.log_level)
    try:
        asyncio.run(_serve(settings))
    except OSError as exc:
        log.error("%s", exc)  # noqa: TRY400 - one clear line, not a traceback
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
