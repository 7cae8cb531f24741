"""`evcsm/fleet/updates`: one message a tick with every active session's reading, and the
setting that limits the seed's per-session `session/updates`."""

import pytest
from evcsm_schema import CommandAction, FleetUpdate, SessionUpdate, topics

from tests.support.broker import Mosquitto
from tests.support.daemon import daemon_settings, running_daemon
from tests.support.mqtt import probe


@pytest.mark.parametrize(
    ("setting", "seed_chargers"),
    [("all", {"CP1", "CP2"}), ("default", {"CP1"}), ("off", set())],
)
async def test_each_tick_reads_every_session_once_and_the_setting_limits_the_seed_topic(
    broker: Mosquitto, setting: str, seed_chargers: set[str]
) -> None:
    settings = daemon_settings(broker.url, session_updates=setting)
    async with (
        running_daemon(settings),
        probe(broker.port, topics.FLEET_UPDATES, topics.SEED_SESSION) as client,
    ):
        started = {}
        for charger_id in ("CP1", "CP2"):
            reply = await client.request(topics.charger_command(charger_id, CommandAction.START))
            started[charger_id] = reply["session"]["sessionId"]
        both = await client.wait_for(
            lambda m: m.topic == topics.FLEET_UPDATES and len(m.json()["readings"]) == 2
        )
        later = await client.wait_for(
            lambda m: (
                m.topic == topics.FLEET_UPDATES
                and FleetUpdate.model_validate_json(m.payload).timestamp
                > FleetUpdate.model_validate_json(both.payload).timestamp
            )
        )
        update = FleetUpdate.model_validate_json(later.payload)
        assert (update.part, update.parts) == (1, 1)
        assert {r.charger_id: r.session_id for r in update.readings} == started
        cp1 = next(r for r in update.readings if r.charger_id == "CP1")
        assert cp1.power_kw == 22.0
        assert cp1.energy_consumed > 0
        seed = [
            SessionUpdate.model_validate_json(m.payload) for m in client.on(topics.SEED_SESSION)
        ]
        assert {s.charger_id for s in seed} == seed_chargers
