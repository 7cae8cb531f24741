"""The stored session apart from the public one: MongoDB's document, mapped to `ChargingSession`.

`SessionDocument` lists the fields of a session's document, the seed's names and types, here
and only here: what clients are sent (`ChargingSession`, the contract) may change without one
stored field changing, and a field leaves or joins the documents only by an edit of this model.
Reading is tolerant (a field this model does not know, such as one the seed's driver wrote, is
ignored); writing produces exactly these fields.

Every backend gives a session the same kind of `id`, a MongoDB ObjectId as hex, so ids look
alike and order alike (by creation time) whatever stores them.
"""

from typing import Any

from bson import ObjectId
from evcsm_schema import ChargingSession
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class SessionDocument(BaseModel):
    """A session as MongoDB stores it (camelCase fields, `_id` an ObjectId)."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=True,
        extra="ignore",
        arbitrary_types_allowed=True,
    )

    id: ObjectId = Field(alias="_id")
    session_id: str
    charger_id: str
    status: str
    start_time: AwareDatetime  # the client reads datetimes aware (tz_aware, store.connect)
    end_time: AwareDatetime | None = None
    energy_consumed: float
    meter_start_wh: int
    meter_wh: int
    power_kw: float
    stop_reason: str | None = None
    updated_at: AwareDatetime
    transaction_id: int | None = None
    charge_point_id: str | None = None
    connector_id: int | None = None
    id_tag: str | None = None

    @classmethod
    def of(cls, session: ChargingSession) -> "SessionDocument":
        """The document of `session` (a new ObjectId when it has no `id` yet)."""
        fields = {name: getattr(session, name) for name in cls.model_fields if name != "id"}
        fields["status"] = session.status.value
        return cls(id=ObjectId(session.id) if session.id else ObjectId(), **fields)

    def session(self) -> ChargingSession:
        """The session this document holds; `_id` becomes the hex `id`."""
        fields = self.model_dump(exclude={"id"})
        return ChargingSession.model_validate({**fields, "id": str(self.id)})


DOCUMENT_FIELDS = frozenset(
    field.alias or name for name, field in SessionDocument.model_fields.items()
)
"""Every field a session's document may hold."""


def with_id(session: ChargingSession) -> ChargingSession:
    """`session` with its `id` set: kept if it has one, a new ObjectId's hex otherwise."""
    return session if session.id else session.model_copy(update={"id": str(ObjectId())})


def to_document(session: ChargingSession) -> dict[str, Any]:
    """The document to insert: camelCase fields, `_id` as an ObjectId, datetimes native."""
    return SessionDocument.of(session).model_dump(by_alias=True, exclude_none=True)


def from_document(doc: dict[str, Any]) -> ChargingSession:
    """A stored document as a session."""
    return SessionDocument.model_validate(doc).session()
