"""A daemon killed mid-session: the next one resumes the session from the store and the meter."""

import asyncio
import signal
from pathlib import Path

import httpx
from evcsm_daemon.runtime import build_chargers
from evcsm_schema import SessionQuery, SessionStatus, topics
from evcsm_schema.base import utc_now

from tests.support.broker import Mosquitto
from tests.support.daemon import daemon_settings, running_daemon
from tests.support.mqtt import probe
from tests.support.process import DaemonProcess, eventually
from tests.support.sqlite_file import stored_sessions


async def test_abrupt_restart_resumes_the_session(broker: Mosquitto) -> None:
    settings = daemon_settings(broker.url)
    async with probe(broker.port, topics.SEED_SESSION) as watcher:
        async with running_daemon(settings, graceful=False) as first:
            started = await watcher.request("evcsm/chargers/CP1/cmd/start")
            session_id = started["session"]["sessionId"]
            await watcher.wait_for(
                lambda m: m.topic == topics.SEED_SESSION and m.json()["energyConsumed"] > 0
            )
            assert first.service is not None
            (before,) = first.service.active_sessions()
        # The first daemon was cancelled without any shutdown step, as a crash would do. Its
        # charger's register runs on: wait until it is 300 Wh on, as the next daemon reads it.
        meter = build_chargers(settings).charger("CP1")
        meter.power_up(before)

        async def metered_on() -> bool:
            return meter.read(utc_now()).wh >= before.meter_wh + 300

        await eventually("the register 300 Wh on", metered_on)
        seen = len(watcher.messages)
        async with running_daemon(settings) as second:
            assert second.service is not None
            (resumed,) = second.service.active_sessions()
            assert resumed.session_id == session_id
            assert resumed.meter_start_wh == before.meter_start_wh
            # The meter kept running while no daemon was up: energy continued, not restarted.
            assert resumed.meter_wh >= before.meter_wh + 300  # 22 kW x 60 for >= 1 s = 366 Wh
            update = await watcher.wait_for(
                lambda m: m.topic == topics.SEED_SESSION and watcher.messages.index(m) >= seen
            )
            assert update.json()["sessionId"] == session_id
            assert update.json()["energyConsumed"] >= resumed.energy_consumed
            again = await watcher.request("evcsm/chargers/CP1/cmd/start")
            assert again["session"]["sessionId"] == session_id
            store = second.service.store
            charging = await store.query(SessionQuery(status=SessionStatus.CHARGING))
            assert charging.total == 1
            stopped = await watcher.request("evcsm/chargers/CP1/cmd/stop")
            assert stopped["session"]["energyConsumed"] >= resumed.energy_consumed


async def test_kill_9_loses_no_session_of_the_sqlite_store(
    broker: Mosquitto, tmp_path: Path
) -> None:
    """The real daemon, killed with SIGKILL mid-session, restarted on the same SQLite file."""
    path = tmp_path / "sessions.db"
    settings = {
        "EVCSM_MQTT_URL": broker.url,
        "EVCSM_STORE_URI": f"sqlite:{path}",
        "EVCSM_CHARGERS": "CP1:22,CP2:11",
        "EVCSM_SIM_SPEED": "60",
        "EVCSM_TICK_INTERVAL": "0.2",
    }
    first, second = DaemonProcess(**settings), DaemonProcess(**settings)
    try:
        await first.start()
        async with httpx.AsyncClient(base_url=first.url, timeout=10) as api:

            async def cp2_has_energy() -> bool:
                charger = (await api.get("/api/chargers/CP2")).json()
                return bool(charger["session"]["energyConsumed"] > 0)

            stopped: dict[str, dict[str, object]] = {}
            for _ in range(3):
                assert (await api.post("/api/chargers/CP2/start")).status_code == 201
                await eventually("CP2 metering", cp2_has_energy)
                done = (await api.post("/api/chargers/CP2/stop")).json()
                stopped[done["sessionId"]] = done
            started = await api.post("/api/chargers/CP1/start")
            assert started.status_code == 201
            active = started.json()["sessionId"]

            async def flushed() -> int:
                row = (await asyncio.to_thread(stored_sessions, path))[active]
                return row.meter_wh if row.status == "Charging" and row.meter_wh > 0 else 0

            meter_before = await eventually("a stored reading of CP1", flushed)
        assert first.kill() == -signal.SIGKILL

        # What the file holds after the crash: every stop, and the active session's energy.
        after_crash = stored_sessions(path)
        assert len(after_crash) == 4
        for sid, done in stopped.items():
            assert after_crash[sid] == ("CP2", "Stopped", done["meterWh"], done["energyConsumed"])
        assert after_crash[active].status == "Charging"
        assert after_crash[active].meter_wh >= meter_before

        await second.start()
        async with httpx.AsyncClient(base_url=second.url, timeout=10) as api:
            page = (await api.get("/api/sessions", params={"limit": 100})).json()
            assert page["total"] == 4
            listed = {s["sessionId"]: s for s in page["items"]}
            for sid, done in stopped.items():
                assert listed[sid] == done
            cp1 = (await api.get("/api/chargers/CP1")).json()
            assert cp1["status"] == "Charging"
            assert cp1["session"]["sessionId"] == active
            resumed = cp1["session"]["meterWh"]
            assert resumed >= after_crash[active].meter_wh

            async def metering_on() -> bool:
                row = (await asyncio.to_thread(stored_sessions, path))[active]
                return row.status == "Charging" and row.meter_wh > resumed

            await eventually("CP1 metered and stored after the restart", metering_on)
            final = (await api.post("/api/chargers/CP1/stop")).json()
            assert final["sessionId"] == active
            assert final["meterWh"] > resumed
        assert second.kill(signal.SIGTERM) == 0
        assert stored_sessions(path)[active].status == "Stopped"
    finally:
        first.close()
        second.close()
