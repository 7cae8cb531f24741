"""Mapping between `ChargingSession` and its MongoDB document (the seed's field names).

Every backend gives a session the same kind of `id`, a MongoDB ObjectId as hex, so ids look
alike and order alike (by creation time) whatever stores them.
"""

from typing import Any

from bson import ObjectId
from evcsm_schema import ChargingSession


def with_id(session: ChargingSession) -> ChargingSession:
    """`session` with its `id` set: kept if it has one, a new ObjectId's hex otherwise."""
    return session if session.id else session.model_copy(update={"id": str(ObjectId())})


def to_document(session: ChargingSession) -> dict[str, Any]:
    """The document to insert: camelCase fields, `_id` as an ObjectId, datetimes native."""
    doc: dict[str, Any] = session.model_dump(by_alias=True, exclude_none=True, exclude={"id"})
    doc["status"] = session.status.value
    doc["_id"] = ObjectId(session.id) if session.id else ObjectId()
    return doc


def from_document(doc: dict[str, Any]) -> ChargingSession:
    """A stored document as a session; `_id` becomes the hex `id`."""
    fields = {key: value for key, value in doc.items() if key != "_id"}
    return ChargingSession.model_validate({**fields, "id": str(doc["_id"])})
