"""Session rules of OCPP transactions: open, meter and close a session from what a station says.

A station reports its own cumulative register with its own timestamps, and messages it queued
while offline arrive late. So every rule here is a fold that is safe under repetition and under
late samples: samples are applied in timestamp order, the register is raised and never lowered,
and `updatedAt` never goes back. Power is the station's `Power.Active.Import` when it sends one;
otherwise it is the register's rise over the time since the previous reading. A sample older
than the session's latest reading can still raise the register (it never can in practice: the
register is monotonic), but it never changes the power, which belongs to the newest reading.

The session of a StartTransaction has a `sessionId` derived from the event's idempotency key
(a name-based UUID), so a repeated StartTransaction names the very same session and the store's
unique index on `sessionId` answers it with the transaction id it was first given.
"""

import uuid
from collections.abc import Iterable

from evcsm_schema import ChargingSession
from evcsm_schema.session import DefaultStopReason

from evcsm_daemon.core.events import MeterSample, TransactionStarted, TransactionStopped, charger_id
from evcsm_daemon.core.sessions import MeterReading, begin, finish, observe, to_ms

TRANSACTION_NAMESPACE = uuid.UUID("0b5c3f0e-9a57-4d2a-9a43-51f1a3c6e7d2")
"""Namespace of the session ids derived from StartTransaction idempotency keys."""
REMOTE_REASON = "Remote"
"""OCPP's reason for a stop asked remotely: the request's own reason is recorded instead."""
SECONDS_PER_HOUR_PER_WH_TO_KW = 3.6
"""kW = Wh / s * 3.6."""


def session_id_of(event: TransactionStarted) -> str:
    """The session id of a StartTransaction: equal for its repeats, different for any other."""
    return str(uuid.uuid5(TRANSACTION_NAMESPACE, event.idempotency_key))


def opened(event: TransactionStarted, transaction_id: int) -> ChargingSession:
    """The session a StartTransaction opens, at the station's time and register."""
    session = begin(
        charger_id(event.station_id, event.connector_id),
        event.meter_start_wh,
        event.at,
        session_id_of(event),
    )
    return session.model_copy(
        update={
            "transaction_id": transaction_id,
            "charge_point_id": event.station_id,
            "connector_id": event.connector_id,
            "id_tag": event.id_tag,
        }
    )


def sampled(session: ChargingSession, samples: Iterable[MeterSample]) -> ChargingSession:
    """`session` after the station's samples, applied in timestamp order."""
    for sample in sorted(samples, key=lambda s: s.at):
        session = _apply(session, sample)
    return session


def _apply(session: ChargingSession, sample: MeterSample) -> ChargingSession:
    if not session.active:
        return session
    at = to_ms(sample.at)
    wh = session.meter_wh if sample.energy_wh is None else sample.energy_wh
    power = session.power_kw
    if at >= session.updated_at:
        if sample.power_kw is not None:
            power = sample.power_kw
        elif sample.energy_wh is not None and at > session.updated_at:
            seconds = (at - session.updated_at).total_seconds()
            power = (wh - session.meter_wh) * SECONDS_PER_HOUR_PER_WH_TO_KW / seconds
    return observe(session, MeterReading(wh=wh, power_kw=power), at)


def stop_reason(event: TransactionStopped, requested: str | None) -> str:
    """The stored stop reason: the text of the stop EVCSM asked for, else the station's reason."""
    reason = event.reason or DefaultStopReason.LOCAL
    if requested is not None and reason == REMOTE_REASON:
        return requested
    return reason


def closed(
    session: ChargingSession, event: TransactionStopped, requested: str | None = None
) -> ChargingSession:
    """`session` after a StopTransaction: its transactionData, then `meterStop` at its time."""
    last = sampled(session, event.samples)
    return finish(
        last,
        MeterReading(wh=event.meter_stop_wh, power_kw=0.0),
        to_ms(event.at),
        stop_reason(event, requested),
    )


def superseded(session: ChargingSession, by: TransactionStarted) -> ChargingSession:
    """An open session closed because its connector started another transaction."""
    return finish(
        session,
        MeterReading(wh=session.meter_wh, power_kw=0.0),
        to_ms(by.at),
        DefaultStopReason.SUPERSEDED,
    )
