"""OCPP-J 1.6 RPC frames: parsing, schema validation and the CALLERROR codes, in one place.

    [2, "<uniqueId>", "<Action>", {payload}]                  CALL
    [3, "<uniqueId>", {payload}]                              CALLRESULT
    [4, "<uniqueId>", "<errorCode>", "<description>", {...}]  CALLERROR

A frame that is not one of these raises `FrameError`: FormationViolation for every fault of the
frame itself (not JSON, not an array, a wrong MessageTypeId, missing or mistyped elements). Its
`unique_id` is the frame's own when one can be read, else "-1": OCPP 1.6 says nothing here, and
"-1" is what OCPP 2.0.1 prescribes and common central systems answer. A broken CALLRESULT or
CALLERROR is never answered (errors about errors would ping-pong between two peers).

Payload faults found by the OCPP 1.6 JSON schemas (those the `ocpp` package ships) are named by
the 1.6 spec's own codes: a missing required field is ProtocolError ("Payload for Action is
incomplete"), a wrong type or an over-long CiString TypeConstraintViolation, too few or too many
array items OccurenceConstraintViolation (sic, the 1.6 spelling), an unknown field
FormationViolation, and any other invalid value PropertyConstraintViolation.
"""

import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ocpp.messages import get_validator
from ocpp.v16.enums import Action

OCPP_VERSION = "1.6"
MAX_UNIQUE_ID = 36
UNREADABLE_ID = "-1"

Payload = dict[str, Any]


class CallErrorCode(StrEnum):
    """CALLERROR codes as OCPP-J 1.6 section 4.2.3 names them."""

    NOT_IMPLEMENTED = "NotImplemented"
    """Requested Action is not known by receiver."""
    NOT_SUPPORTED = "NotSupported"
    """Requested Action is recognized but not supported by the receiver."""
    INTERNAL_ERROR = "InternalError"
    PROTOCOL_ERROR = "ProtocolError"
    SECURITY_ERROR = "SecurityError"
    FORMATION_VIOLATION = "FormationViolation"
    PROPERTY_CONSTRAINT_VIOLATION = "PropertyConstraintViolation"
    OCCURENCE_CONSTRAINT_VIOLATION = "OccurenceConstraintViolation"
    TYPE_CONSTRAINT_VIOLATION = "TypeConstraintViolation"
    GENERIC_ERROR = "GenericError"


class RpcError(Exception):
    """A fault answered to the station as a CALLERROR with `code`."""

    def __init__(self, code: CallErrorCode, description: str) -> None:
        super().__init__(f"{code}: {description}")
        self.code = code
        self.description = description


class FrameError(RpcError):
    """A frame that is not a well-formed OCPP-J message."""

    def __init__(self, description: str, unique_id: str | None, *, answer: bool = True) -> None:
        super().__init__(CallErrorCode.FORMATION_VIOLATION, description)
        self.unique_id = unique_id or UNREADABLE_ID
        self.answer = answer
        """False for a broken CALLRESULT/CALLERROR: logged, never answered."""


@dataclass(frozen=True, slots=True)
class Call:
    """A request."""

    unique_id: str
    action: str
    payload: Payload


@dataclass(frozen=True, slots=True)
class CallResult:
    """A successful answer."""

    unique_id: str
    payload: Payload


@dataclass(frozen=True, slots=True)
class CallError:
    """An error answer."""

    unique_id: str
    code: str
    description: str
    details: Payload = field(default_factory=dict)


Frame = Call | CallResult | CallError

CALL, CALLRESULT, CALLERROR = 2, 3, 4
_SHAPES: dict[int, tuple[type, ...]] = {
    CALL: (str, str, dict),
    CALLRESULT: (str, dict),
    CALLERROR: (str, str, str, dict),
}


def _no_constants(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


def parse_frame(text: str | bytes) -> Frame:
    """One WebSocket message as a frame; `FrameError` when it is not one."""
    if isinstance(text, bytes):
        raise FrameError("binary frames are not OCPP-J; send JSON text", None)
    try:
        message = json.loads(text, parse_constant=_no_constants)
    except (ValueError, RecursionError):
        raise FrameError("message is not valid JSON", None) from None
    if not isinstance(message, list) or not message:
        raise FrameError("message is not a JSON array [MessageTypeId, UniqueId, ...]", None)
    unique_id = message[1] if len(message) > 1 and isinstance(message[1], str) else None
    type_id = message[0]
    if type(type_id) is not int or type_id not in _SHAPES:
        raise FrameError(f"MessageTypeId {type_id!r} is not 2, 3 or 4", unique_id)
    answer = type_id == CALL
    shape, elements = _SHAPES[type_id], message[1:]
    if len(elements) != len(shape) or not all(
        isinstance(item, kind) for item, kind in zip(elements, shape, strict=True)
    ):
        names = {CALL: "CALL", CALLRESULT: "CALLRESULT", CALLERROR: "CALLERROR"}[type_id]
        kinds = ", ".join("string" if kind is str else "object" for kind in shape)
        raise FrameError(f"a {names} is [{type_id}, {kinds}]", unique_id, answer=answer)
    if len(elements[0]) > MAX_UNIQUE_ID:
        raise FrameError(f"UniqueId is longer than {MAX_UNIQUE_ID}", unique_id, answer=answer)
    if type_id == CALL:
        return Call(*elements)
    if type_id == CALLRESULT:
        return CallResult(*elements)
    return CallError(*elements)


def _dumps(message: list[Any]) -> str:
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False)


def call_frame(unique_id: str, action: str, payload: Payload) -> str:
    """A CALL as text."""
    return _dumps([CALL, unique_id, action, payload])


def result_frame(unique_id: str, payload: Payload) -> str:
    """A CALLRESULT as text."""
    return _dumps([CALLRESULT, unique_id, payload])


def error_frame(unique_id: str, code: CallErrorCode, description: str) -> str:
    """A CALLERROR as text."""
    return _dumps([CALLERROR, unique_id, str(code), description, {}])


KNOWN_ACTIONS = frozenset(action.value for action in Action)
"""Every OCPP 1.6 action (with the security extension): the rest is NotImplemented."""

_CODE_OF_KEYWORD = {
    "type": CallErrorCode.TYPE_CONSTRAINT_VIOLATION,
    "maxLength": CallErrorCode.TYPE_CONSTRAINT_VIOLATION,
    "required": CallErrorCode.PROTOCOL_ERROR,
    "minItems": CallErrorCode.OCCURENCE_CONSTRAINT_VIOLATION,
    "maxItems": CallErrorCode.OCCURENCE_CONSTRAINT_VIOLATION,
    "additionalProperties": CallErrorCode.FORMATION_VIOLATION,
}


def validate(action: str, payload: Payload, *, answer: bool = False) -> None:
    """Check a request (or, with `answer`, a response) against the OCPP 1.6 schema."""
    validator = get_validator(CALLRESULT if answer else CALL, action, OCPP_VERSION)
    error = next(iter(validator.iter_errors(payload)), None)
    if error is None:
        return
    keyword = str(error.validator)
    where = "/".join(str(part) for part in error.absolute_path)
    code = _CODE_OF_KEYWORD.get(keyword, CallErrorCode.PROPERTY_CONSTRAINT_VIOLATION)
    raise RpcError(code, f"{where or 'payload'}: {error.message}"[:300])
