"""Command-line options and environment: where the broker is and how to log in."""

import argparse
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from evcsm_schema.broker import parse_broker_url

from evcsm_tui.errors import ConfigError

DEFAULT_URL = "mqtt://127.0.0.1:1883"


@dataclass(frozen=True)
class BrokerConfig:
    """How to reach the broker."""

    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ca_file: Path | None = None
    """CA bundle that verifies an mqtts:// broker; the system's CAs when None."""

    @classmethod
    def from_url(
        cls, url: str, password: str | None = None, ca_file: Path | None = None
    ) -> "BrokerConfig":
        """Parse `mqtt[s]://[user[:password]@]host[:port]`; `password` fills in a missing one."""
        try:
            parsed = parse_broker_url(url)
        except ValueError as exc:
            raise ConfigError(str(exc)) from exc
        return cls(
            host=parsed.host,
            port=parsed.port,
            tls=parsed.tls,
            username=parsed.username,
            password=parsed.password or password or None,
            ca_file=ca_file,
        )

    @property
    def label(self) -> str:
        """The address to show on screen, never with the password."""
        scheme = "mqtts" if self.tls else "mqtt"
        user = f"{self.username}@" if self.username else ""
        return f"{scheme}://{user}{self.host}:{self.port}"


@dataclass(frozen=True)
class Options:
    """Everything the command line and the environment decide."""

    broker: BrokerConfig
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


def parse_options(argv: Sequence[str] | None, env: Mapping[str, str] | None = None) -> Options:
    """Read the options; a bad value raises `ConfigError`."""
    env = os.environ if env is None else env
    parser = argparse.ArgumentParser(
        prog="evcsm-tui",
        description="Terminal dashboard for EVCSM: watch chargers, start and stop sessions.",
        epilog="The broker password can also come from EVCSM_MQTT_PASSWORD.",
    )
    parser.add_argument(
        "--mqtt-url",
        default=env.get("EVCSM_MQTT_URL", DEFAULT_URL),
        help="broker as mqtt[s]://[user[:password]@]host[:port] (env EVCSM_MQTT_URL)",
    )
    parser.add_argument(
        "--mqtt-ca-file",
        type=Path,
        default=env.get("EVCSM_MQTT_CA_FILE") or None,
        help="CA bundle that verifies an mqtts:// broker (env EVCSM_MQTT_CA_FILE; default: system CAs)",
    )
    parser.add_argument(
        "--log-file",
        type=Path,
        default=None,
        help="where to write the log (default: $XDG_STATE_HOME/evcsm/tui.log)",
    )
    parser.add_argument(
        "--export-dir",
        type=Path,
        default=Path.cwd(),
        help="where the history screen writes CSV exports (default: the current folder)",
    )
    parser.add_argument(
        "--command-timeout",
        type=float,
        default=10.0,
        help="seconds to wait for the daemon's reply to a command (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    if args.command_timeout <= 0:
        raise ConfigError("--command-timeout must be positive")
    return Options(
        broker=BrokerConfig.from_url(
            args.mqtt_url, env.get("EVCSM_MQTT_PASSWORD"), args.mqtt_ca_file
        ),
        log_files=(args.log_file,) if args.log_file else default_log_files(env),
        log_required=args.log_file is not None,
        export_dir=args.export_dir,
        command_timeout=args.command_timeout,
    )
