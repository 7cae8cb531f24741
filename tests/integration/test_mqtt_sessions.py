"""Commands across the daemon's reconnects: kept while it is away, never replayed from retained.

The daemon reaches the broker through a proxy the test cuts, so its connection drops while the
broker and the test's clients carry on.
"""

import logging
from collections.abc import Awaitable, Callable

import pytest
from evcsm_daemon.runtime import Daemon
from evcsm_schema import topics

from tests.support.broker import Mosquitto
from tests.support.daemon import daemon_settings, running_daemon
from tests.support.mqtt import probe, wait_until
from tests.support.proxy import Proxy, proxy_to


async def reconnect(
    daemon: Daemon, proxy: Proxy, while_away: Callable[[], Awaitable[None]] | None = None
) -> None:
    """Drop the daemon's connection, run `while_away()` meanwhile, let it connect again."""
    assert daemon.bridge is not None
    bridge = daemon.bridge
    connects = bridge.connects
    proxy.cut()
    await wait_until(lambda: not bridge.connected.is_set())
    if while_away is not None:
        await while_away()
    proxy.restore()
    await wait_until(lambda: bridge.connects > connects and bridge.connected.is_set())


async def test_a_command_sent_while_the_daemon_is_away_is_carried_out(broker: Mosquitto) -> None:
    async with (
        proxy_to(broker.port) as proxy,
        running_daemon(daemon_settings(proxy.url)) as daemon,
        probe(broker.port) as operator,
    ):
        assert daemon.service is not None
        correlation = b"sent-while-away"

        async def send() -> None:
            await operator.send("evcsm/chargers/CP2/cmd/start", b"{}", correlation)

        await reconnect(daemon, proxy, send)
        reply = await operator.wait_for(lambda m: m.correlation == correlation)
        assert reply.json()["ok"] is True
        assert [s.charger_id for s in daemon.service.active_sessions()] == ["CP2"]


async def test_retained_commands_are_never_replayed(
    broker: Mosquitto, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with probe(broker.port) as planter:
        # Planted before the daemon ever connects: replayed to it on every subscription.
        await planter.client.publish("evcsm/chargers/CP2/cmd/start", b"{}", qos=1, retain=True)
    async with (
        proxy_to(broker.port) as proxy,
        running_daemon(daemon_settings(proxy.url)) as daemon,
        probe(broker.port, topics.SEED_CHARGING) as client,
    ):
        service = daemon.service
        assert service is not None
        started = await client.request("evcsm/chargers/CP1/cmd/start")
        assert started["ok"] is True
        # Planted while it runs: carried out once, as a command sent now.
        await client.client.publish(topics.SEED_CHARGING, b'{"status":"Stopped"}', 1, retain=True)
        await wait_until(lambda: not service.active_sessions())
        again = await client.request("evcsm/chargers/CP1/cmd/start")
        assert again["ok"] is True
        assert again["session"]["sessionId"] != started["session"]["sessionId"]
        seen = len(client.messages)

        await reconnect(daemon, proxy)
        # The daemon clears the planted seed command (an empty retained message) ...
        await client.wait_for(
            lambda m: (
                m.topic == topics.SEED_CHARGING
                and not m.payload
                and client.messages.index(m) >= seen
            )
        )
        # ... and only logs the one on a topic it may not write.
        await wait_until(
            lambda: (
                sum(
                    "ignored a retained message on 'evcsm/chargers/CP2" in r.message
                    for r in caplog.records
                )
                >= 2
            )
        )
        assert [s.charger_id for s in service.active_sessions()] == ["CP1"]
        assert service.active_sessions()[0].session_id == again["session"]["sessionId"]
    async with probe(broker.port, topics.SEED_CHARGING) as late:
        marker = b'{"status":"Charging","sessionId":"marker"}'
        await late.client.publish(topics.SEED_CHARGING, marker, qos=1)
        await late.wait_for(lambda m: m.payload == marker)
        assert [m.payload for m in late.on(topics.SEED_CHARGING)] == [marker]
