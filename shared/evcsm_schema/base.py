"""Model bases: camelCase on the wire, as the seed system used, and snake_case in Python.

`WireModel` is for what EVCSM produces: frozen and strict about unknown fields, so a typo in our
own code fails loudly. `InboundModel` is for what clients send: unknown fields are ignored, so an
older or foreign client that adds a field keeps working.
"""

from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class WireModel(BaseModel):
    """A payload EVCSM produces: frozen, camelCase, unknown fields rejected."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=True,
        extra="forbid",
        use_attribute_docstrings=True,
        ser_json_inf_nan="null",
    )

    def to_json(self) -> bytes:
        """Serialise with wire names, leaving out fields that are unset (None)."""
        return self.model_dump_json(by_alias=True, exclude_none=True).encode()


class InboundModel(BaseModel):
    """A payload EVCSM reads from clients: camelCase, unknown fields ignored."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=True,
        extra="ignore",
        use_attribute_docstrings=True,
    )


def utc_now() -> datetime:
    """The current time as an aware UTC datetime."""
    return datetime.now(UTC)
