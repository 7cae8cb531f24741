"""Settings: every one a command-line flag and an environment variable (`EVCSM_...`).

The broker settings are the daemon's (`evcsm_link.settings.BrokerOptions`): the same names, the
same password rule, the same order of precedence (flag, then environment, then default).
"""

import os
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from evcsm_link.settings import BROKER_METAVARS, ProgramSettings, cli_source
from evcsm_schema.broker import BrokerUrl
from evcsm_schema.requests import REPLY_WAIT_S
from pydantic import Field, ValidationError
from pydantic_settings import CliApp, SettingsConfigDict
from pydantic_settings.exceptions import SettingsError

from evcsm_tui.errors import ConfigError


class Settings(ProgramSettings):
    """Terminal dashboard for EVCSM: watch chargers, start and stop sessions."""

    model_config = SettingsConfigDict(cli_prog_name="evcsm-tui")

    command_timeout: float = Field(
        default=REPLY_WAIT_S,
        gt=0,
        description="Seconds to wait for the daemon's answer to a start or stop.",
    )
    export_dir: Path | None = Field(
        default=None,
        description="Where the history's CSV exports and the screenshots go (unset: the "
        "current folder).",
    )
    log_file: Path | None = Field(
        default=None,
        description="Where to write the log (unset: $XDG_STATE_HOME/evcsm/tui.log, else "
        "~/.local/state/evcsm/tui.log, else one in the temporary folder).",
    )


METAVARS = {
    **BROKER_METAVARS,
    "command_timeout": "SECONDS",
    "export_dir": "PATH",
    "log_file": "PATH",
}
"""How `--help` names each setting's value."""


@dataclass(frozen=True)
class Options:
    """Everything the command line and the environment decide."""

    broker: BrokerUrl
    log_files: tuple[Path, ...]
    """Where to log, in order of preference: the first that can be opened is used."""
    log_required: bool
    """True when --log-file named the file: failing to open it is then an error."""
    export_dir: Path
    command_timeout: float


def default_log_files(env: Mapping[str, str]) -> tuple[Path, ...]:
    """`$XDG_STATE_HOME/evcsm/tui.log` (or under ~/.local/state), else one in the temp folder.

    The second is for accounts without a writable home, such as the dashboard's container user.
    """
    state_home = env.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    fallback = Path(tempfile.gettempdir()) / f"evcsm-tui-{os.getuid()}.log"
    return Path(state_home) / "evcsm" / "tui.log", fallback


def parse_options(argv: Sequence[str] | None = None) -> Options:
    """Read the flags (`argv`, else the command line's) and the environment; a bad value
    raises `ConfigError` naming it. `--help` prints the help and exits."""
    args = list(sys.argv[1:] if argv is None else argv)
    source = cli_source(Settings, METAVARS)
    try:
        settings = CliApp.run(Settings, cli_args=args, cli_settings_source=source)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        where = ".".join(str(level) for level in error["loc"]) or "settings"
        raise ConfigError(f"{where}: {error['msg'].removeprefix('Value error, ')}") from None
    except SettingsError as exc:
        raise ConfigError(str(exc)) from None
    log_file = settings.log_file
    return Options(
        broker=settings.broker(),
        log_files=(log_file,) if log_file else default_log_files(os.environ),
        log_required=log_file is not None,
        export_dir=settings.export_dir or Path.cwd(),
        command_timeout=settings.command_timeout,
    )
