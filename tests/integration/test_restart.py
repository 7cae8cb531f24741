"""A daemon killed mid-session: the next one resumes the session from the store and the meter."""

import asyncio

from evcsm_schema import SessionQuery, SessionStatus, topics

from tests.support.broker import Mosquitto
from tests.support.daemon import daemon_settings, running_daemon
from tests.support.mqtt import probe


async def test_abrupt_restart_resumes_the_session(broker: Mosquitto) -> None:
    settings = daemon_settings(broker.url)
    async with probe(broker.port, topics.SEED_SESSION) as watcher:
        async with running_daemon(settings, graceful=False) as first:
            started = await watcher.request("evcsm/chargers/CP1/cmd/start")
            session_id = started["session"]["sessionId"]
            await asyncio.sleep(1.0)
            assert first.service is not None
            (before,) = first.service.active_sessions()
        # The first daemon was cancelled without any shutdown step, as a crash would do.
        await asyncio.sleep(1.0)
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
