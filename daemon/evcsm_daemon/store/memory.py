"""Meter readings written straight into the in-process store's documents.

mongomock answers every update by scanning the whole collection, once for the filter and once
per unique index, and it does so synchronously on the event loop: a tick's 1,000 updates took
~10 s of CPU. A reading changes no indexed field and no field of the partial index's filter, so
those scans can never find a conflict; this module applies the same `$max`/`$set` a MongoDB
server would, to the stored documents directly, in O(1) per session.

It reaches into mongomock-motor and mongomock internals (both pinned to exact versions). If a
release moves them, `documents_of()` returns None and the store falls back to public
`update_one` calls: slower, never wrong. The store tests run through this path.
"""

import logging
from collections.abc import MutableMapping, Sequence
from datetime import datetime
from typing import Any

from bson import ObjectId
from evcsm_schema import ChargingSession, SessionStatus
from mongomock.helpers import patch_datetime_awareness_in_document

log = logging.getLogger(__name__)

Documents = MutableMapping[ObjectId, dict[str, Any]]


def documents_of(collection: Any) -> Documents | None:  # noqa: ANN401 - a mongomock-motor collection
    """The stored documents of a mongomock-motor collection, keyed by `_id`, if reachable."""
    try:
        store = collection._AsyncMongoMockCollection__collection._store
        documents = store._documents
    except AttributeError:
        log.warning("in-process store internals not found; meter readings use slower updates")
        return None
    return documents if isinstance(documents, MutableMapping) else None


def apply_readings(documents: Documents, sessions: Sequence[ChargingSession]) -> None:
    """`$max` the register and energy, `$set` power and time, on documents still Charging."""
    for session in sessions:
        if session.id is None:
            continue
        doc = documents.get(ObjectId(session.id))
        if doc is None or doc.get("status") != SessionStatus.CHARGING.value:
            continue
        doc["meterWh"] = max(doc.get("meterWh", 0), session.meter_wh)
        doc["energyConsumed"] = max(doc.get("energyConsumed", 0.0), session.energy_consumed)
        doc["powerKw"] = session.power_kw
        doc["updatedAt"] = _stored(session.updated_at)


def _stored(moment: datetime) -> datetime:
    """A datetime as mongomock stores it: naive UTC, whole milliseconds."""
    value: datetime = patch_datetime_awareness_in_document(moment)  # type: ignore[no-untyped-call]
    return value
