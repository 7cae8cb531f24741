"""Faults and attacks against the real daemon process: what was tried, and what held.

    uv run python -m bench.faults                          # every scenario, short counts
    uv run python -m bench.faults --only races,mqtt-attacks
    uv run python -m bench.faults --only soak --soak 600   # the 10-minute soak
    uv run python -m bench.faults --json faults.json       # every figure as JSON too ('-': stdout)

Each scenario starts the daemon's entry point as a process of its own, on free loopback ports,
against its own Mosquitto: the tests' open broker, or the repository's mosquitto.conf and ACL
with passwords from deploy/setup.sh where roles matter. It prints one Markdown row per fault
(inputs tried, failures, crashes, data lost or wrongly written, the figure that matters), the
broken promises under the table, and exits 1 if any. Every scenario is bounded by its counts
and by a time limit, and all traffic stays on loopback. docs/reliability.md explains each row.
"""

import argparse
import asyncio
import datetime as dt
import json
import logging
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bench.machine import Machine
from bench.scenarios.attacks import mqtt_attacks
from bench.scenarios.hostile import mqtt_flood, rest_bodies, signals, slow_clients
from bench.scenarios.outages import broker_kill, daemon_kill
from bench.scenarios.races import fleet_burst, races
from bench.scenarios.rig import Outcome
from bench.scenarios.soak import slow_subscriber, soak

Run = Callable[[argparse.Namespace], Awaitable[list[Outcome]]]


@dataclass(frozen=True, slots=True)
class Scenario:
    """One entry of `--only`: what it does, how to run it, and how long it may take."""

    name: str
    run: Run
    limit: Callable[[argparse.Namespace], float]
    """Seconds it may take with the given arguments, after which it counts as failed."""


SCENARIOS = [
    Scenario(
        "races",
        lambda a: races(a.races, a.race_rounds),
        lambda a: 120 + a.races * a.race_rounds * 0.1,
    ),
    Scenario(
        "fleet-burst", lambda a: fleet_burst(a.fleet_burst), lambda a: 120 + a.fleet_burst * 0.1
    ),
    Scenario(
        "broker-kill",
        lambda a: broker_kill(a.broker_kills, a.outage),
        lambda a: 60 + a.broker_kills * (a.outage + 45),
    ),
    Scenario(
        "daemon-kill", lambda a: daemon_kill(a.daemon_kills), lambda a: 60 + a.daemon_kills * 60
    ),
    Scenario(
        "slow-subscriber",
        lambda a: slow_subscriber(a.slow_fleet, a.slow_seconds),
        lambda a: 120 + a.slow_seconds,
    ),
    Scenario("soak", lambda a: soak(a.fleet, a.soak), lambda a: 120 + a.soak * 1.2),
    Scenario("mqtt-attacks", lambda _: mqtt_attacks(), lambda _: 240),
    Scenario("mqtt-flood", lambda a: mqtt_flood(a.flood), lambda a: 120 + a.flood / 500),
    Scenario("rest-bodies", lambda a: rest_bodies(a.body_mb), lambda _: 300),
    Scenario(
        "slow-clients", lambda a: slow_clients(a.slow, a.hold), lambda a: 120 + a.hold + a.slow / 50
    ),
    Scenario("signals", lambda _: signals(), lambda _: 300),
]
NAMES = [scenario.name for scenario in SCENARIOS]


async def run_one(scenario: Scenario, args: argparse.Namespace) -> list[Outcome]:
    """The scenario's rows; a scenario that overruns or fails unexpectedly is one failed row."""
    limit = scenario.limit(args)
    try:
        async with asyncio.timeout(limit):
            return await scenario.run(args)
    except TimeoutError:
        problem = f"did not finish within {limit:.0f} s"
    except Exception as exc:  # noqa: BLE001 - one scenario's failure is its row, not the end of the run
        problem = f"stopped by {type(exc).__name__}: {exc}"
    return [Outcome(scenario.name, 0, "", failures=1, problems=[problem])]


def table(rows: list[Outcome]) -> str:
    """The Markdown table, then every broken promise."""
    lines = [
        "| Scenario | Inputs tried | Failures | Crashes | Data lost or wrongly written | Figure |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {row.scenario} | {row.tried} | {row.failures} | {row.crashes}"
        f" | {row.lost} | {row.figure} |"
        for row in rows
    ]
    problems = [f"- {row.scenario}: {problem}" for row in rows for problem in row.problems]
    return "\n".join(lines + (["", "Broken:", *problems] if problems else []))


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only", default=",".join(NAMES), help=f"comma-separated: {', '.join(NAMES)}"
    )
    parser.add_argument("--json", metavar="PATH", help="write the rows as JSON ('-': stdout)")
    parser.add_argument("--races", type=int, default=1000, help="requests per burst (half REST)")
    parser.add_argument("--race-rounds", type=int, default=3, help="start and stop bursts")
    parser.add_argument(
        "--fleet-burst", type=int, default=500, help="chargers started at once over MQTT"
    )
    parser.add_argument("--broker-kills", type=int, default=3, help="kill -9 of the broker")
    parser.add_argument("--outage", type=float, default=2.0, help="seconds the broker stays dead")
    parser.add_argument("--daemon-kills", type=int, default=3, help="kill -9 of the daemon")
    parser.add_argument("--fleet", type=int, default=100, help="chargers charging in the soak")
    parser.add_argument(
        "--slow-fleet", type=int, default=200, help="chargers beside the slow subscriber"
    )
    parser.add_argument(
        "--slow-seconds", type=float, default=45.0, help="the slow subscriber's run"
    )
    parser.add_argument("--soak", type=float, default=60.0, help="seconds of the soak")
    parser.add_argument("--flood", type=int, default=20_000, help="MQTT flood messages")
    parser.add_argument("--body-mb", type=int, default=300, help="size of the oversized bodies")
    parser.add_argument("--slow", type=int, default=200, help="half-open HTTP connections")
    parser.add_argument("--hold", type=float, default=15.0, help="seconds to hold them")
    args = parser.parse_args(argv)
    unknown = set(args.only.split(",")) - set(NAMES)
    if unknown:
        parser.error(f"unknown scenarios {sorted(unknown)}; choose from {', '.join(NAMES)}")
    return args


async def run(args: argparse.Namespace) -> list[Outcome]:
    """Every chosen scenario in turn, with how long each took."""
    chosen = set(args.only.split(","))
    rows: list[Outcome] = []
    for scenario in SCENARIOS:
        if scenario.name in chosen:
            started = time.monotonic()
            found = await run_one(scenario, args)
            for row in found:
                row.details["scenario_seconds"] = round(time.monotonic() - started, 1)
            rows += found
    return rows


def main(argv: list[str] | None = None) -> int:
    """Run, print the table (and the JSON), return the exit status."""
    args = parse(argv)
    logging.basicConfig(level=logging.WARNING)
    # The MQTT library's own chatter (pending publishes, resets by the broker) is expected here.
    logging.getLogger("mqtt").setLevel(logging.CRITICAL)
    machine = Machine.here()
    started = dt.datetime.now(dt.UTC)
    rows = asyncio.run(run(args))
    report = {
        "date": started.isoformat(timespec="seconds"),
        "machine": machine.describe(),
        "arguments": {k: v for k, v in vars(args).items() if k != "json"},
        "rows": [row.as_json() for row in rows],
    }
    if args.json == "-":
        print(json.dumps(report, indent=2))
    else:
        print(f"{started:%Y-%m-%d %H:%M} UTC, {machine.describe()}\n")
        print(table(rows))
        if args.json:
            with open(args.json, "w", encoding="utf-8") as out:  # noqa: PTH123 - a path from the command line
                json.dump(report, out, indent=2)
    return 0 if all(row.held for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
