"""Charge point requests (schema-valid payloads) as charger events; no IO.

The schemas leave some faults through: a timestamp that is no date, a meter value that is no
number, a negative register, a connector id out of range. Each raises `RpcError` with
PropertyConstraintViolation and nothing of the message is acted on.

Meter values: Energy.Active.Import.Register (the default measurand) in Wh (the default unit) or
kWh, floored to whole Wh; Power.Active.Import in W (the default, as no station means Wh by a
power) or kW; SoC in percent. Values for one phase, other measurands and signed data are ignored
(logged at debug); of several usable values of one measurand in a sample, the first counts.
"""

import logging
import math
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from fractions import Fraction
from typing import Any

from evcsm_daemon.chargers.ocpp.rpc import CallErrorCode, Payload, RpcError
from evcsm_daemon.core.events import (
    ConnectorStatus,
    ConnectorStatusChanged,
    MeterSample,
    MeterValuesReported,
    StationBooted,
    TransactionStarted,
    TransactionStopped,
)

log = logging.getLogger(__name__)

ENERGY = "Energy.Active.Import.Register"
POWER = "Power.Active.Import"
SOC = "SoC"
MAX_WH = 2**53 - 1
"""A register beyond this is no meter (and would not survive a JSON number)."""
MAX_POWER_W = 10**9
_NUMBER = re.compile(r"[+-]?(?:\d{1,30}(?:\.\d{0,30})?|\.\d{1,30})(?:[eE][+-]?\d{1,3})?", re.ASCII)
"""A decimal number in ASCII digits (Unicode digits, NaN, inf and `_` are not meter values)."""
_ENERGY_SCALE = {"Wh": 1, "kWh": 1000}
_POWER_SCALE = {"W": Fraction(1, 1000), "kW": Fraction(1)}


def invalid(description: str) -> RpcError:
    """A value the schema lets through but that makes no sense."""
    return RpcError(CallErrorCode.PROPERTY_CONSTRAINT_VIOLATION, description)


def parse_time(value: str, what: str = "timestamp") -> datetime:
    """An OCPP date-time as aware UTC; one without a zone is taken as UTC."""
    try:
        moment = datetime.fromisoformat(value)
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (ValueError, OverflowError):
        raise invalid(f"{what} {value[:40]!r} is not an ISO 8601 date-time") from None


def check_connector(connector_id: int, max_connector_id: int, *, station_wide: bool) -> int:
    """`connector_id` if in range (0 only where the whole station is meant)."""
    low = 0 if station_wide else 1
    if not low <= connector_id <= max_connector_id:
        raise invalid(f"connectorId {connector_id} is not in {low}..{max_connector_id}")
    return connector_id


def check_register(wh: int, what: str) -> int:
    """A meter register in Wh, if plausible."""
    if not 0 <= wh <= MAX_WH:
        raise invalid(f"{what} {wh} Wh is not a meter register")
    return wh


def _number(value: str, measurand: str) -> Fraction:
    if not _NUMBER.fullmatch(value.strip()):
        raise invalid(f"{measurand} value {value[:40]!r} is not a number")
    return Fraction(value.strip())


def _reading(sampled: Payload) -> tuple[str, int | float] | None:
    """The measurand and its value in EVCSM's unit, or None when it is not used."""
    measurand = sampled.get("measurand", ENERGY)
    if measurand not in {ENERGY, POWER, SOC}:
        log.debug("ignored meter value of measurand %s", measurand)
        return None
    if "phase" in sampled:
        log.debug("ignored %s value of phase %s", measurand, sampled["phase"])
        return None
    if sampled.get("format") == "SignedData":
        log.debug("ignored signed %s value", measurand)
        return None
    number = _number(sampled["value"], measurand)
    if measurand == ENERGY:
        unit = sampled.get("unit", "Wh")
        if unit not in _ENERGY_SCALE:
            raise invalid(f"{ENERGY} in {unit}: expected Wh or kWh")
        wh = number * _ENERGY_SCALE[unit]
        if not 0 <= wh <= MAX_WH:
            raise invalid(f"{ENERGY} {sampled['value'][:40]} {unit} is not a meter register")
        return measurand, math.floor(wh)
    if measurand == POWER:
        unit = sampled.get("unit", "W")
        if unit not in _POWER_SCALE:
            raise invalid(f"{POWER} in {unit}: expected W or kW")
        if abs(number * 1000 * _POWER_SCALE[unit]) > MAX_POWER_W:
            raise invalid(f"{POWER} {sampled['value'][:40]} {unit} is out of range")
        return measurand, float(number * _POWER_SCALE[unit])
    if sampled.get("unit", "Percent") != "Percent" or not 0 <= number <= 100:
        raise invalid(f"SoC {sampled['value'][:40]} is not a percentage")
    return measurand, float(number)


def meter_samples(meter_values: Iterable[Payload]) -> tuple[MeterSample, ...]:
    """MeterValue entries as samples; entries with nothing usable are left out."""
    samples: list[MeterSample] = []
    for entry in meter_values:
        at = parse_time(entry["timestamp"])
        found: dict[str, int | float] = {}
        for sampled in entry["sampledValue"]:
            reading = _reading(sampled)
            if reading is not None and reading[0] not in found:
                found[reading[0]] = reading[1]
        if not found:
            continue
        energy = found.get(ENERGY)
        power, soc = found.get(POWER), found.get(SOC)
        samples.append(
            MeterSample(
                at=at,
                energy_wh=None if energy is None else int(energy),
                power_kw=None if power is None else float(power),
                soc_percent=None if soc is None else float(soc),
            )
        )
    return tuple(samples)


def booted(station_id: str, payload: Payload, now: datetime) -> StationBooted:
    """A BootNotification."""
    return StationBooted(
        station_id=station_id,
        at=now,
        vendor=payload["chargePointVendor"],
        model=payload["chargePointModel"],
        serial=payload.get("chargePointSerialNumber", payload.get("chargeBoxSerialNumber")),
        firmware=payload.get("firmwareVersion"),
    )


def status_changed(
    station_id: str, payload: Payload, now: datetime, max_connector_id: int
) -> ConnectorStatusChanged:
    """A StatusNotification; without a timestamp it happened now."""
    stamp: Any = payload.get("timestamp")
    return ConnectorStatusChanged(
        station_id=station_id,
        connector_id=check_connector(payload["connectorId"], max_connector_id, station_wide=True),
        at=now if stamp is None else parse_time(stamp),
        status=ConnectorStatus(payload["status"]),
        error_code=payload["errorCode"],
        info=payload.get("info"),
        vendor_error_code=payload.get("vendorErrorCode"),
    )


def transaction_started(
    station_id: str, payload: Payload, max_connector_id: int
) -> TransactionStarted:
    """A StartTransaction."""
    return TransactionStarted(
        station_id=station_id,
        connector_id=check_connector(payload["connectorId"], max_connector_id, station_wide=False),
        at=parse_time(payload["timestamp"]),
        meter_start_wh=check_register(payload["meterStart"], "meterStart"),
        id_tag=payload["idTag"],
        reservation_id=payload.get("reservationId"),
    )


def meter_values_reported(
    station_id: str, payload: Payload, max_connector_id: int
) -> MeterValuesReported | None:
    """A MeterValues message, or None when it holds nothing usable."""
    connector = check_connector(payload["connectorId"], max_connector_id, station_wide=True)
    samples = meter_samples(payload["meterValue"])
    if not samples:
        return None
    return MeterValuesReported(station_id, connector, payload.get("transactionId"), samples)


def transaction_stopped(station_id: str, payload: Payload) -> TransactionStopped:
    """A StopTransaction, its transactionData as samples."""
    return TransactionStopped(
        station_id=station_id,
        transaction_id=payload["transactionId"],
        at=parse_time(payload["timestamp"]),
        meter_stop_wh=check_register(payload["meterStop"], "meterStop"),
        reason=payload.get("reason"),
        id_tag=payload.get("idTag"),
        samples=meter_samples(payload.get("transactionData", ())),
    )
