"""`evcsm-daemon`: parse settings, set up logging and signals, run the daemon."""

import asyncio
import logging
import signal
import sys

from pydantic import ValidationError
from pydantic_settings import CliApp

from evcsm_daemon import logs
from evcsm_daemon.config import Settings, cli_source
from evcsm_daemon.runtime import Daemon

log = logging.getLogger("evcsm_daemon")


async def run(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """Run the daemon until `stop` is set or the task is cancelled."""
    await Daemon(settings).run(stop)


async def _serve(settings: Settings) -> None:
    """Run until SIGTERM or SIGINT (graceful); a second signal stops at once."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    main = asyncio.current_task()
    forced = False

    def on_signal(sig: signal.Signals) -> None:
        nonlocal forced
        if not stop.is_set():
            log.info("%s received: stopping", sig.name)
            stop.set()
        elif not forced and main is not None:
            log.warning("%s received again: stopping now", sig.name)
            forced = True
            main.cancel()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal, sig)
    try:
        await run(settings, stop)
    except asyncio.CancelledError:
        if not forced:
            raise


def main(argv: list[str] | None = None) -> int:
    """Console entry point."""
    try:
        settings = CliApp.run(
            Settings,
            cli_args=sys.argv[1:] if argv is None else argv,
            cli_settings_source=cli_source(),
        )
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            where = ".".join(str(level) for level in error["loc"]) or "settings"
            message = error["msg"].removeprefix("Value error, ")
            print(f"evcsm-daemon: {where}: {message}", file=sys.stderr)
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
