"""The session rules of OCPP transactions: table-driven, with late and repeated samples."""

from datetime import timedelta

import pytest
from evcsm_daemon.core.events import MeterSample, TransactionStarted, TransactionStopped
from evcsm_daemon.core.transactions import (
    closed,
    opened,
    sampled,
    session_id_of,
    superseded,
)
from evcsm_schema import ChargingSession, SessionStatus
from evcsm_schema.session import DefaultStopReason

from tests.support.clock import T0

S = timedelta(seconds=1)
START = TransactionStarted("ST", 2, T0, 10_000, "TAG-1", None)


def sample(at_s: int, wh: int | None = None, kw: float | None = None) -> MeterSample:
    return MeterSample(T0 + at_s * S, wh, kw, None)


def session() -> ChargingSession:
    return opened(START, 42)


def test_a_start_opens_a_session_with_its_station_fields() -> None:
    opened_ = session()
    assert opened_.charger_id == "ST-2"
    assert opened_.status is SessionStatus.CHARGING
    assert opened_.start_time == opened_.updated_at == T0
    assert opened_.meter_start_wh == opened_.meter_wh == 10_000
    assert (opened_.transaction_id, opened_.charge_point_id) == (42, "ST")
    assert (opened_.connector_id, opened_.id_tag) == (2, "TAG-1")


def test_repeats_of_a_start_name_one_session_and_others_another() -> None:
    repeat = TransactionStarted("ST", 2, T0, 10_000, "TAG-1", None)
    assert session_id_of(repeat) == session_id_of(START) == session().session_id
    others = [
        TransactionStarted("ST", 1, T0, 10_000, "TAG-1", None),
        TransactionStarted("ST", 2, T0 + S, 10_000, "TAG-1", None),
        TransactionStarted("ST", 2, T0, 10_001, "TAG-1", None),
        TransactionStarted("ST", 2, T0, 10_000, "TAG-2", None),
        TransactionStarted("SU", 2, T0, 10_000, "TAG-1", None),
    ]
    assert len({session_id_of(e) for e in [START, *others]}) == 6


@pytest.mark.parametrize(
    ("samples", "meter_wh", "power_kw", "updated_s"),
    [
        ([], 10_000, 0.0, 0),
        ([sample(10, 10_050, 18.0)], 10_050, 18.0, 10),
        # no power reported: the register's rise over the time since the previous reading
        ([sample(60, 10_200)], 10_200, 12.0, 60),
        ([sample(60, 10_200), sample(120, 10_500)], 10_500, 18.0, 120),
        # several samples of one message are applied in timestamp order
        ([sample(120, 10_500), sample(60, 10_200)], 10_500, 18.0, 120),
        # a late sample never lowers the register, the time, or replaces the newest power
        ([sample(60, 10_200, 11.0), sample(30, 10_100, 7.0)], 10_200, 11.0, 60),
        # a repeated sample changes nothing more
        ([sample(60, 10_200, 11.0), sample(60, 10_200, 11.0)], 10_200, 11.0, 60),
        # a register that runs backwards keeps its highest value; the newer power counts
        ([sample(60, 10_200, 11.0), sample(90, 9_000, 3.0)], 10_200, 3.0, 90),
        # power only
        ([sample(5, None, 7.4)], 10_000, 7.4, 5),
    ],
)
def test_samples(
    samples: list[MeterSample], meter_wh: int, power_kw: float, updated_s: int
) -> None:
    after = sampled(session(), samples)
    assert after.meter_wh == meter_wh
    assert after.energy_consumed == (meter_wh - 10_000) / 1000
    assert after.power_kw == power_kw
    assert after.updated_at == T0 + updated_s * S


def test_messages_applied_in_any_order_end_alike() -> None:
    messages = [[sample(10, 10_050)], [sample(20, 10_100), sample(30, 10_150)], [sample(40)]]
    in_order = session()
    for message in messages:
        in_order = sampled(in_order, message)
    reversed_ = session()
    for message in reversed(messages):
        reversed_ = sampled(reversed_, message)
    assert reversed_.meter_wh == in_order.meter_wh == 10_150
    assert reversed_.updated_at == in_order.updated_at == T0 + 40 * S


@pytest.mark.parametrize(
    ("reason", "requested", "stored"),
    [
        (None, None, "Local"),
        ("EVDisconnected", None, "EVDisconnected"),
        ("Remote", None, "Remote"),
        ("Remote", "Stopped by API request", "Stopped by API request"),
        ("EmergencyStop", "Stopped by API request", "EmergencyStop"),
    ],
)
def test_a_stop_takes_its_transaction_data_then_the_final_register(
    reason: str | None, requested: str | None, stored: str
) -> None:
    stop = TransactionStopped(
        "ST", 42, T0 + 600 * S, 13_000, reason, None, (sample(300, 11_500), sample(500, 12_800))
    )
    done = closed(session(), stop, requested)
    assert done.status is SessionStatus.STOPPED
    assert done.meter_wh == 13_000
    assert done.energy_consumed == 3.0
    assert done.power_kw == 0.0
    assert done.end_time == T0 + 600 * S
    assert done.stop_reason == stored
    assert closed(done, stop) == done  # a repeated stop changes nothing


def test_a_stop_below_the_register_keeps_the_register() -> None:
    metered = sampled(session(), [sample(60, 10_900)])
    stop = TransactionStopped("ST", 42, T0 + 90 * S, 10_800, None, None, ())
    assert closed(metered, stop).meter_wh == 10_900


def test_an_open_session_is_superseded_at_the_new_start() -> None:
    metered = sampled(session(), [sample(60, 10_900, 9.0)])
    later = TransactionStarted("ST", 2, T0 + 3600 * S, 11_000, "TAG-2", None)
    done = superseded(metered, later)
    assert done.status is SessionStatus.STOPPED
    assert done.stop_reason == DefaultStopReason.SUPERSEDED
    assert done.end_time == T0 + 3600 * S
    assert done.meter_wh == 10_900
