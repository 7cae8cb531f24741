"""REST bodies of the OCPP station commands and the station listing (`/api/stations`).

An operator reads a station's identity and connection, and sends it the OCPP 1.6 commands
that need a person: read or change its configuration, reset it, unlock a connector, make a
connector (or the whole station) operative or inoperative, or ask it to send a message now.
Every request body is checked against OCPP's own limits before anything is sent: a key is at
most 50 characters, a value at most 500, a connector id 0 to 32.
"""

from enum import StrEnum
from typing import Annotated

from pydantic import AwareDatetime, BeforeValidator, Field

from evcsm_schema.base import InboundModel, WireModel
from evcsm_schema.session import ChargerId

MAX_CONNECTOR_ID = 32
"""Connector ids a command may name (as the central system accepts from stations)."""


def _integral(value: object) -> object:
    """An int (not a bool), or a number JSON writes with a fraction of zero (`2.0`, which JSON
    Schema counts as an integer); anything else is refused."""
    if isinstance(value, bool):
        raise ValueError("must be a whole number")  # noqa: TRY004 - pydantic wants ValueError
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, int):
        return value
    raise ValueError("must be a whole number")


ConnectorNumber = Annotated[int, Field(ge=1, le=MAX_CONNECTOR_ID), BeforeValidator(_integral)]
"""A connector id in a JSON body, 1 to 32: a whole number, not a string, a bool or a fraction
(the bounds come before the validator, or the JSON Schema of an optional one loses them)."""
ConnectorOrStation = Annotated[int, Field(ge=0, le=MAX_CONNECTOR_ID), BeforeValidator(_integral)]
"""A connector id, or 0 for the whole station."""

KEY_LENGTH = 50
VALUE_LENGTH = 500

ConfigKey = Annotated[str, Field(min_length=1, max_length=KEY_LENGTH)]


class StationInfo(WireModel):
    """One OCPP charge point: who it is, whether it is connected, its connectors."""

    charge_point_id: str = Field(description="The charge point's identity.")
    connected: bool = Field(description="Its WebSocket is open now.")
    vendor: str | None = Field(default=None, description="Vendor (BootNotification).")
    model: str | None = Field(default=None, description="Model (BootNotification).")
    serial_number: str | None = Field(default=None, description="Serial number.")
    firmware_version: str | None = Field(default=None, description="Firmware version.")
    last_message_at: AwareDatetime | None = Field(
        default=None, description="When it last sent anything (UTC)."
    )
    error_code: str | None = Field(
        default=None, description="Connector 0's OCPP error code while the station reports one."
    )
    chargers: list[ChargerId] = Field(description="The charger ids of its connectors.")


class Resetting(StrEnum):
    """Soft restarts the station's software, Hard the whole station."""

    SOFT = "Soft"
    HARD = "Hard"


class Operability(StrEnum):
    """Whether a connector (or the station, connector 0) may be used."""

    OPERATIVE = "Operative"
    INOPERATIVE = "Inoperative"


class TriggeredMessage(StrEnum):
    """Messages a station may be asked to send now."""

    BOOT_NOTIFICATION = "BootNotification"
    DIAGNOSTICS_STATUS_NOTIFICATION = "DiagnosticsStatusNotification"
    FIRMWARE_STATUS_NOTIFICATION = "FirmwareStatusNotification"
    HEARTBEAT = "Heartbeat"
    METER_VALUES = "MeterValues"
    STATUS_NOTIFICATION = "StatusNotification"


class GetConfigurationRequest(InboundModel):
    """Body of `POST /api/stations/{id}/get-configuration`; no keys asks for every key."""

    keys: list[ConfigKey] = Field(
        default_factory=list,
        max_length=100,
        description="Configuration keys to read (each at most 50 characters); empty: all.",
    )


class ConfigurationKey(WireModel):
    """One configuration key as the station reported it."""

    key: str = Field(description="The key.")
    readonly: bool = Field(description="The station does not let it be changed.")
    value: str | None = Field(default=None, description="Its value, if the station told it.")


class ConfigurationReply(WireModel):
    """The station's answer to GetConfiguration."""

    configuration_key: list[ConfigurationKey] = Field(description="The keys it knows.")
    unknown_key: list[str] = Field(description="The keys asked for that it does not know.")


class ChangeConfigurationRequest(InboundModel):
    """Body of `POST /api/stations/{id}/change-configuration`."""

    key: str = Field(min_length=1, max_length=KEY_LENGTH, description="The key to set.")
    value: str = Field(max_length=VALUE_LENGTH, description="Its new value.")


class ResetRequest(InboundModel):
    """Body of `POST /api/stations/{id}/reset`."""

    type: Resetting = Field(description="Soft or Hard.")


class UnlockConnectorRequest(InboundModel):
    """Body of `POST /api/stations/{id}/unlock-connector`."""

    connector_id: ConnectorNumber = Field(description="The connector to unlock.")


class ChangeAvailabilityRequest(InboundModel):
    """Body of `POST /api/stations/{id}/change-availability`."""

    connector_id: ConnectorOrStation = Field(description="The connector; 0 for the whole station.")
    type: Operability = Field(description="Operative or Inoperative.")


class TriggerMessageRequest(InboundModel):
    """Body of `POST /api/stations/{id}/trigger-message`."""

    requested_message: TriggeredMessage = Field(description="The message to send now.")
    connector_id: ConnectorNumber | None = Field(
        default=None,
        description="Only for this connector (absent: the station decides, usually all).",
    )


class CommandStatus(WireModel):
    """The station's answer to a command: its OCPP status word."""

    charge_point_id: str = Field(description="The station that answered.")
    action: str = Field(description="The OCPP action sent.")
    status: str = Field(
        description="The station's answer: Accepted, Rejected, RebootRequired, NotSupported, "
        "Scheduled, Unlocked, UnlockFailed or NotImplemented, as the action allows."
    )
