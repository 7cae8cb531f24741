"""The retained state of a charging charger carries live figures for a client that joins late."""

from evcsm_schema import topics

from tests.support.broker import Mosquitto
from tests.support.daemon import daemon_settings, running_daemon
from tests.support.mqtt import probe


async def test_a_late_client_reads_live_figures_in_the_retained_state(broker: Mosquitto) -> None:
    state_topic = topics.charger_state("CP1")
    async with (
        running_daemon(daemon_settings(broker.url, state_refresh=0.5)),
        probe(broker.port, topics.SEED_SESSION, state_topic) as client,
    ):
        started = await client.request("evcsm/chargers/CP1/cmd/start")
        assert started["session"]["energyConsumed"] == 0.0
        # The state published at the start carries the start's figures; a refresh follows.
        refreshed = await client.wait_for(
            lambda m: (
                m.topic == state_topic
                and (m.json().get("session") or {}).get("energyConsumed", 0) > 0
            )
        )
        assert refreshed.json()["status"] == "Charging"
        async with probe(broker.port, state_topic) as late:
            retained = await late.wait_for(lambda m: m.topic == state_topic)
        session = retained.json()["session"]
        assert retained.retain
        assert session["sessionId"] == started["session"]["sessionId"]
        assert session["energyConsumed"] >= refreshed.json()["session"]["energyConsumed"]
        assert session["powerKw"] == 22.0
        updates = [m.json() for m in client.on(topics.SEED_SESSION)]
        assert any(u["meterWh"] >= session["meterWh"] for u in updates)
