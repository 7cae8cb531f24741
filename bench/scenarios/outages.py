"""Outages: the broker killed with SIGKILL mid-charge, and the daemon killed mid-session.

Broker: the repository's mosquitto.conf (persistence on, as deployed) and ACL; the daemon logs in
as its own user, stores sessions in SQLite and meters one 22 kW charger. Each round a viewer
reads a few `session/updates`, the broker is killed, stays dead `outage` seconds, and comes back
on the same port. What must hold: the daemon is back (`/readyz` and the retained availability
`online`), every reading ever seen equals the register the meter gives for its timestamp (so
the energy of the outage is counted, none is lost and none invented), the register never goes
back, and the charger still has its one session.

Daemon: its SQLite file while one charger charges and another is started and stopped as fast as
REST answers; the daemon is killed at a random moment, then started again on the same file. What
must hold: every stop the API answered is in the file exactly as answered, every answered start
is there, the charging session's stored register never goes back, at most one session per charger
is charging, and after the restart the same session charges on.
"""

import asyncio
import contextlib
import itertools
import random
import signal
import statistics
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from evcsm_daemon.core.profile import ChargeProfile
from evcsm_schema import topics

from bench.scenarios.rig import (
    Outcome,
    broker_losses,
    client,
    daemon_login,
    locked_broker,
    running,
    scratch,
    stored,
)
from tests.deploy.deployment import VIEWER_USER, Deployment
from tests.support.broker import Mosquitto
from tests.support.mqtt import Probe, wait_until
from tests.support.process import eventually
from tests.support.sqlite_file import StoredSession, stored_sessions

SPEED = 10.0
TICK_S = 0.5
POWER_KW = 22.0
READINGS = 6
"""Readings a viewer takes between two kills."""
BACK_S = 60.0
"""How long the daemon may take to be back after the broker, before the round fails."""
SLACK_WH = 2
"""Timestamps carry microseconds and the store keeps milliseconds: a reading may differ from the
register recomputed from its timestamp by this much."""


def register_wh(start: dict[str, Any], at: datetime) -> int:
    """What the simulated 22 kW charger's register says at `at` for the session `start`."""
    began = datetime.fromisoformat(start["startTime"])
    elapsed = (at - began).total_seconds() * SPEED
    return int(start["meterStartWh"]) + int(ChargeProfile(POWER_KW).energy_kwh(elapsed) * 1000)


def readings(viewer: Probe, session_id: str) -> list[tuple[datetime, int]]:
    """(timestamp, meterWh) of every update of `session_id` the viewer received."""
    found = []
    for message in viewer.on(topics.SEED_SESSION):
        update = message.json()
        if update["sessionId"] == session_id:
            found.append((datetime.fromisoformat(update["timestamp"]), int(update["meterWh"])))
    return found


async def broker_kill(kills: int, outage: float) -> list[Outcome]:
    """`kills` rounds of kill -9 on the broker while one charger charges."""
    row = Outcome(f"broker kill -9 while charging ({outage:g} s down), x{kills}", kills, "kill")
    with scratch("broker-kill") as folder, locked_broker(folder) as (broker, deployment):
        path = folder / "sessions.db"
        async with (
            running(
                **daemon_login(broker, deployment),
                EVCSM_STORE_URI=f"sqlite:{path}",
                EVCSM_CHARGERS="CP1:22",
                EVCSM_SIM_SPEED=str(SPEED),
                EVCSM_TICK_INTERVAL=str(TICK_S),
            ) as daemon,
            httpx.AsyncClient(base_url=daemon.url, timeout=30) as http,
        ):
            start = (await http.post("/api/chargers/CP1/start")).json()
            session = start["sessionId"]
            seen: list[tuple[datetime, int]] = []
            back: list[float] = []
            restored: list[str] = []

            async def viewer_life(until: int) -> None:
                async with client(
                    broker.port, topics.SEED_SESSION, deployment=deployment, user=VIEWER_USER
                ) as viewer:
                    await wait_until(lambda: len(readings(viewer, session)) >= until, BACK_S)
                    seen.extend(readings(viewer, session))

            await viewer_life(READINGS)
            for _ in range(kills):
                broker.kill()
                await asyncio.sleep(outage)
                broker.start()
                up = time.monotonic()
                restored.append(await retained_availability(broker, deployment))
                try:
                    await daemon_back(http, broker, deployment)
                except TimeoutError:
                    row.fail(f"the daemon was not back within {BACK_S:.0f} s")
                    break
                back.append(time.monotonic() - up)
                await viewer_life(READINGS)
            stop = (await http.post("/api/chargers/CP1/stop")).json()
            listed = await stored(http)
            row.check_daemon(daemon)
            row.details["broker_losses_logged"] = broker_losses(daemon)
        judge_energy(row, start, seen, stop)
        row.check(
            [s["sessionId"] for s in listed] == [session],
            f"{len(listed)} sessions stored for one charge",
            lost=True,
        )
        file_row = stored_sessions(path)[session]
        row.check(
            file_row == ("CP1", "Stopped", stop["meterWh"], stop["energyConsumed"]),
            f"the file holds {file_row}, the stop answered {stop['meterWh']} Wh",
            lost=True,
        )
    row.details |= {
        "back_s": [round(b, 2) for b in back],
        "retained_after_restart": restored,
        "readings": len(seen),
    }
    worst = max(back) if back else float("nan")
    row.figure = (
        f"back online within {worst:.1f} s of the broker (median"
        f" {statistics.median(back) if back else float('nan'):.1f} s); {len(seen)} readings"
        " on the register, none lost or back; one session"
    )
    return [row]


async def retained_availability(broker: Mosquitto, deployment: Deployment) -> str:
    """The retained availability a viewer reads right after the broker came back."""
    async with client(
        broker.port, topics.AVAILABILITY, deployment=deployment, user=VIEWER_USER
    ) as viewer:
        with contextlib.suppress(TimeoutError):
            await wait_until(lambda: bool(viewer.on(topics.AVAILABILITY)), 0.5)
        first = viewer.on(topics.AVAILABILITY)[:1]
        if not first:
            return "none"
        return first[0].payload.decode() + (" (retained)" if first[0].retain else "")


async def daemon_back(http: httpx.AsyncClient, broker: Mosquitto, deployment: Deployment) -> None:
    """Wait until `/readyz` answers 200 and a new viewer reads the retained `online`."""

    async def ready() -> bool:
        with contextlib.suppress(httpx.TransportError):
            return (await http.get("/readyz")).status_code == 200
        return False

    async with asyncio.timeout(BACK_S):
        await eventually("ready", ready, BACK_S)
        async with client(
            broker.port, topics.AVAILABILITY, deployment=deployment, user=VIEWER_USER
        ) as viewer:
            await wait_until(
                lambda: any(m.payload == b"online" for m in viewer.on(topics.AVAILABILITY)),
                BACK_S,
            )


def judge_energy(
    row: Outcome, start: dict[str, Any], seen: list[tuple[datetime, int]], stop: dict[str, Any]
) -> None:
    """Every reading is the register at its time; none goes back; the stop adds up."""
    seen.sort()
    off = [(at, wh) for at, wh in seen if abs(wh - register_wh(start, at)) > SLACK_WH]
    row.check(not off, f"{len(off)} readings off the register, first {off[:1]}", lost=True)
    back = [b for a, b in itertools.pairwise(seen) if b[1] < a[1]]
    row.check(not back, f"the register went back {len(back)} times", lost=True)
    end = datetime.fromisoformat(stop["endTime"])
    row.check(
        abs(stop["meterWh"] - register_wh(start, end)) <= SLACK_WH,
        f"the stop's register {stop['meterWh']} Wh is not the meter's at {end}",
        lost=True,
    )
    energy = (stop["meterWh"] - stop["meterStartWh"]) / 1000
    row.check(
        abs(stop["energyConsumed"] - energy) < 1e-9,
        f"energyConsumed {stop['energyConsumed']} is not the register's {energy}",
        lost=True,
    )
    gaps = [(b[0] - a[0]).total_seconds() for a, b in itertools.pairwise(seen)]
    row.details["longest_gap_between_readings_s"] = round(max(gaps, default=0.0), 2)


async def daemon_kill(kills: int, seed: int = 1) -> list[Outcome]:
    """`kills` rounds: kill -9 of the daemon at a random moment, then a restart on its file."""
    row = Outcome(f"daemon kill -9 mid-session on SQLite, x{kills}", kills, "kill")
    rng = random.Random(seed)
    ledger = Ledger()
    with scratch("daemon-kill") as folder, Mosquitto() as broker:
        path = folder / "sessions.db"
        settings = {
            "EVCSM_MQTT_URL": broker.url,
            "EVCSM_STORE_URI": f"sqlite:{path}",
            "EVCSM_SIM_SPEED": "60",
            "EVCSM_TICK_INTERVAL": "0.2",
        }
        restarts: list[float] = []
        for round_no in range(kills + 1):
            began = time.monotonic()
            async with (
                running(**settings) as daemon,
                httpx.AsyncClient(base_url=daemon.url, timeout=30) as http,
            ):
                restarts.append(time.monotonic() - began)
                await ledger.resume(row, http, path)
                if round_no == kills:
                    await ledger.finish(row, http, path)
                    row.check(daemon.kill(signal.SIGTERM) == 0, "SIGTERM did not end it cleanly")
                    break
                cycling = asyncio.create_task(ledger.cycle(http), name="faults-cycle-cp2")
                await asyncio.sleep(rng.uniform(1.0, 3.0))
                before = await asyncio.to_thread(stored_sessions, path)
                row.check(daemon.kill() == -signal.SIGKILL, "the daemon was not killed by SIGKILL")
                cycling.cancel()
                await asyncio.gather(cycling, return_exceptions=True)
                if "Traceback" in daemon.output():
                    row.crashes += 1
            ledger.judge(row, before, await asyncio.to_thread(stored_sessions, path))
    row.details |= {
        "answered_stops": len(ledger.stops),
        "answered_starts": len(ledger.starts),
        "restart_to_ready_s": [round(r, 2) for r in restarts],
    }
    row.figure = (
        f"{len(ledger.stops)} answered stops and {len(ledger.starts)} answered starts all in the"
        f" file; charging session resumed {ledger.resumed} of {kills} times;"
        f" ready {statistics.median(restarts):.1f} s after start"
    )
    return [row]


class Ledger:
    """What the API answered, to compare with what the file holds after each kill."""

    def __init__(self) -> None:
        self.stops: dict[str, dict[str, Any]] = {}
        self.starts: set[str] = set()
        self.charging: str | None = None
        """The session CP1 charges through every kill."""
        self.floor_wh = 0
        """CP1's register as last stored before a kill."""
        self.resumed = 0

    async def resume(self, row: Outcome, http: httpx.AsyncClient, path: Path) -> None:
        """CP1 charges its session again (or starts the first one), from where it was."""
        if self.charging is None:
            started = (await http.post("/api/chargers/CP1/start")).json()
            self.charging = started["sessionId"]
            self.starts.add(self.charging)
            return
        state = (await http.get("/api/chargers/CP1")).json()
        session = state.get("session", {})
        resumed = state["status"] == "Charging" and session.get("sessionId") == self.charging
        row.check(resumed, f"CP1 came back {state['status']} with {session.get('sessionId')}")
        row.check(
            session.get("meterWh", 0) >= self.floor_wh,
            f"CP1 resumed at {session.get('meterWh')} Wh, below the stored {self.floor_wh}",
            lost=True,
        )

        def metered_again() -> bool:
            found = stored_sessions(path).get(self.charging or "")
            return found is not None and found.meter_wh > self.floor_wh

        with contextlib.suppress(TimeoutError):
            await wait_until(metered_again, 30)
        if resumed and metered_again():
            self.resumed += 1

    async def cycle(self, http: httpx.AsyncClient) -> None:
        """Start and stop CP2 as fast as the API answers, noting every answer."""
        while True:
            started = await http.post("/api/chargers/CP2/start")
            if started.status_code in {200, 201}:
                self.starts.add(started.json()["sessionId"])
            stopped = await http.post("/api/chargers/CP2/stop")
            if stopped.status_code == 200:
                body = stopped.json()
                self.stops[body["sessionId"]] = body

    def judge(
        self, row: Outcome, before: dict[str, StoredSession], after: dict[str, StoredSession]
    ) -> None:
        """After a kill: every answer in the file, the register never lower, one charging each."""
        for sid, body in self.stops.items():
            want = (body["chargerId"], "Stopped", body["meterWh"], body["energyConsumed"])
            row.check(
                after.get(sid) == want,
                f"stop {sid} answered {want}, file {after.get(sid)}",
                lost=True,
            )
        missing = self.starts - set(after)
        row.check(not missing, f"{len(missing)} answered starts missing from the file", lost=True)
        if self.charging is not None and self.charging in before:
            was, now = before[self.charging], after.get(self.charging)
            row.check(
                now is not None and now.status == "Charging" and now.meter_wh >= was.meter_wh,
                f"CP1's session went from {was} to {now}",
                lost=True,
            )
            self.floor_wh = now.meter_wh if now is not None else self.floor_wh
        for charger in ("CP1", "CP2"):
            charging = [
                s for s in after.values() if s.charger_id == charger and s.status == "Charging"
            ]
            row.check(
                len(charging) <= 1, f"{len(charging)} sessions charging on {charger}", lost=True
            )

    async def finish(self, row: Outcome, http: httpx.AsyncClient, path: Path) -> None:
        """Stop everything; the API and the file list the same sessions, all stopped."""
        for charger in ("CP1", "CP2"):
            stopped = await http.post(f"/api/chargers/{charger}/stop")
            if stopped.status_code == 200:
                self.stops[stopped.json()["sessionId"]] = stopped.json()
        self.charging = None
        listed = {s["sessionId"] for s in await stored(http)}
        in_file = stored_sessions(path)
        row.check(listed == set(in_file), "the API and the file list different sessions", lost=True)
        self.judge(row, in_file, in_file)
        still = [sid for sid, s in in_file.items() if s.status == "Charging"]
        row.check(not still, f"{len(still)} sessions still charging after the stops", lost=True)
