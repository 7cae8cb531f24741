"""Turning raw MQTT payloads into contract models, or a clear `BadRequest`."""

from typing import TypeVar

from pydantic import BaseModel, ValidationError

from evcsm_daemon.errors import BadRequest, PayloadTooLarge

M = TypeVar("M", bound=BaseModel)
MAX_PAYLOAD = 16 * 1024
"""Largest payload accepted from a client, in bytes; every valid request is far smaller."""


def describe(exc: ValidationError) -> str:
    """A one-line summary of what failed validation."""
    parts = []
    for error in exc.errors(include_url=False)[:3]:
        where = ".".join(str(level) for level in error["loc"]) or "payload"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)


def decode(model: type[M], payload: bytes, *, empty_ok: bool = False) -> M:
    """Validate a JSON payload as `model`."""
    if len(payload) > MAX_PAYLOAD:
        raise PayloadTooLarge(f"payload of {len(payload)} bytes is over {MAX_PAYLOAD} bytes")
    if empty_ok and not payload.strip():
        payload = b"{}"
    try:
        return model.model_validate_json(payload)
    except ValidationError as exc:
        raise BadRequest(f"invalid {model.__name__}: {describe(exc)}") from exc
