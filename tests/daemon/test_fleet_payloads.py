"""A tick's readings as `FleetUpdate` payloads: every reading once, in order, none over the limit."""

from datetime import timedelta

import pytest
from evcsm_daemon.core.sessions import begin
from evcsm_daemon.mqtt.fleet import (
    MAX_FLEET_BYTES,
    ReadingTooLarge,
    fleet_payloads,
    payload_limit,
)
from evcsm_schema import ChargingSession, FleetUpdate

from tests.support.clock import T0


def charging(count: int) -> list[ChargingSession]:
    """`count` sessions a minute into charging, read at T0 + 60 s."""
    read_at = T0 + timedelta(seconds=60)
    return [
        begin(f"CP{number:04d}", 1_000_000 + number, T0).model_copy(
            update={
                "meter_wh": 1_000_000 + number + 367,
                "energy_consumed": 0.367,
                "power_kw": 22.0,
                "updated_at": read_at,
            }
        )
        for number in range(count)
    ]


def test_no_active_session_publishes_nothing() -> None:
    assert fleet_payloads([]) == []


def test_a_tick_that_fits_is_one_message_with_every_reading() -> None:
    sessions = charging(3)
    (payload,) = fleet_payloads(sessions)
    update = FleetUpdate.model_validate_json(payload)
    assert (update.part, update.parts) == (1, 1)
    assert update.timestamp == T0 + timedelta(seconds=60)
    assert [r.session_id for r in update.readings] == [s.session_id for s in sessions]
    first = update.readings[0]
    assert (first.charger_id, first.energy_consumed, first.power_kw, first.meter_wh) == (
        "CP0000",
        0.367,
        22.0,
        1_000_367,
    )


@pytest.mark.parametrize(("count", "limit"), [(5000, MAX_FLEET_BYTES), (200, 4096), (7, 300)])
def test_a_large_tick_is_split_into_numbered_parts_under_the_limit(count: int, limit: int) -> None:
    sessions = charging(count)
    payloads = fleet_payloads(sessions, limit)
    assert len(payloads) > 1
    assert all(len(payload) <= limit for payload in payloads)
    updates = [FleetUpdate.model_validate_json(payload) for payload in payloads]
    assert [(u.part, u.parts) for u in updates] == [
        (n, len(updates)) for n in range(1, len(updates) + 1)
    ]
    read = [r.session_id for u in updates for r in u.readings]
    assert read == [s.session_id for s in sessions]


def test_a_limit_below_one_reading_is_refused() -> None:
    with pytest.raises(ReadingTooLarge):
        fleet_payloads(charging(2), 100)


def test_a_reading_taken_before_the_tick_carries_its_own_time() -> None:
    sessions = charging(3)
    earlier = T0 + timedelta(seconds=20)
    sessions[1] = sessions[1].model_copy(update={"updated_at": earlier})
    (payload,) = fleet_payloads(sessions)
    update = FleetUpdate.model_validate_json(payload)
    assert update.timestamp == T0 + timedelta(seconds=60)
    assert [r.timestamp for r in update.readings] == [None, earlier, None]
    assert payload.count(b'"timestamp"') == 2


def test_the_limit_follows_a_broker_that_takes_smaller_packets() -> None:
    assert payload_limit(268_435_455) == MAX_FLEET_BYTES  # no limit announced
    assert payload_limit(1024 * 1024) == MAX_FLEET_BYTES  # the deployment's broker
    small = payload_limit(16 * 1024)
    assert small < 16 * 1024 - len("evcsm/fleet/updates")
    payloads = fleet_payloads(charging(500), small)
    assert len(payloads) > 1
    assert all(len(payload) <= small for payload in payloads)
