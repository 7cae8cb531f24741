"""What a MongoDB server does to one document, for the driver double: BSON's order of values,
filters matched, update operators applied.

Values are ordered as BSON orders them across types (null < numbers < strings < ObjectId <
booleans < dates) and within a type (numbers by value, strings by code point, which is UTF-8's
byte order, ObjectIds by their bytes, dates by milliseconds). A comparison operator matches only
values of its argument's type, as a server's does (type bracketing), and `{field: None}` matches a
missing field too. Only what `MongoStore` sends is implemented: any other operator, a dotted
path, an array or an embedded document raises `NotImplementedError`.
"""

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from bson import ObjectId
from pymongo.errors import WriteError

MISSING: Any = object()
"""A field the document does not have."""

Part = tuple[Any, ...]
"""One value as an index or a sort orders it: its type's rank first, then a comparable value."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
RANGE = frozenset({"$gt", "$gte", "$lt", "$lte"})
_PLAIN = frozenset({int, float, str, datetime})
"""Types whose values of one type Python orders as BSON does."""


class Reversed:
    """A value that orders the other way round (a string in a descending index)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Reversed) and self.value == other.value

    def __hash__(self) -> int:
        return hash(self.value)

    def __lt__(self, other: "Reversed") -> bool:
        return bool(other.value < self.value)

    def __gt__(self, other: "Reversed") -> bool:
        return bool(other.value > self.value)

    def __le__(self, other: "Reversed") -> bool:
        return bool(other.value <= self.value)

    def __ge__(self, other: "Reversed") -> bool:
        return bool(other.value >= self.value)


def rank_of(value: Any) -> tuple[int, Any]:
    """BSON's rank of `value`'s type, and a value that orders as BSON does within it (the value
    itself where Python orders it so: index entries then share the document's objects)."""
    kind = type(value)
    if kind is str or kind is datetime:  # dates decode aware and exact to the millisecond
        return (3 if kind is str else 9), value
    if value is None or value is MISSING:
        return 1, 0
    if isinstance(value, bool):
        return 8, int(value)
    if isinstance(value, int | float):
        return 2, value
    if isinstance(value, ObjectId):
        return 7, value
    raise NotImplementedError(f"ordering {kind.__name__} values")


def part(value: Any, direction: int = 1) -> Part:
    """`value` as an index key orders it: ascending, or descending when `direction` is -1."""
    rank, comparable = rank_of(value)
    if direction > 0:
        return (rank, comparable)
    if isinstance(comparable, datetime):
        return (-rank, -((comparable - _EPOCH) // _MS))
    if isinstance(comparable, ObjectId):
        return (-rank, -int.from_bytes(comparable.binary, "big"))
    if isinstance(comparable, int | float):
        return (-rank, -comparable)
    return (-rank, Reversed(comparable))


def value_of(name: str, doc: Mapping[str, Any]) -> Part:
    """The document's field `name` as a sort orders it (null when missing)."""
    return part(doc.get(name))


def equal(value: Any, wanted: Any) -> bool:
    """`{field: wanted}` matches `value` (null matches a missing field)."""
    if type(value) is str and type(wanted) is str:
        return value == wanted
    if wanted is None:
        return value is None or value is MISSING
    return value is not MISSING and rank_of(value) == rank_of(wanted)


def is_operators(condition: Any) -> bool:
    """The condition is a document of operators (`{"$gte": ...}`), not a value to equal."""
    if type(condition) is not dict and not isinstance(condition, Mapping):
        return False
    return bool(condition) and all(str(name).startswith("$") for name in condition)


def _holds(operator: str, value: Any, argument: Any) -> bool:
    if operator == "$eq":
        return equal(value, argument)
    if operator == "$ne":
        return not equal(value, argument)
    if operator == "$in":
        return any(equal(value, one) for one in argument)
    if operator == "$exists":
        return (value is not MISSING) is bool(argument)
    if operator in RANGE:
        if argument is None:
            raise NotImplementedError(f"{operator} null")
        if value is MISSING or rank_of(value)[0] != rank_of(argument)[0]:
            return False  # type bracketing: a date range matches dates only
        mine, theirs = rank_of(value)[1], rank_of(argument)[1]
        return bool(
            {
                "$gt": mine > theirs,
                "$gte": mine >= theirs,
                "$lt": mine < theirs,
                "$lte": mine <= theirs,
            }[operator]
        )
    raise NotImplementedError(f"query operator {operator}")


def matches(doc: Mapping[str, Any], flt: Mapping[str, Any]) -> bool:
    """`doc` matches every condition of `flt`."""
    for name, condition in flt.items():
        if name.startswith("$") or "." in name:
            raise NotImplementedError(f"filter on {name!r}")
        value = doc.get(name, MISSING)
        if isinstance(value, list | dict):
            raise NotImplementedError(f"matching the {type(value).__name__} in {name!r}")
        if is_operators(condition):
            if not all(_holds(op, value, arg) for op, arg in condition.items()):
                return False
        elif not equal(value, condition):
            return False
    return True


def equalities(flt: Mapping[str, Any]) -> dict[str, Any]:
    """The fields `flt` pins to one value: what an upsert inserts from the filter."""
    pinned: dict[str, Any] = {}
    for name, condition in flt.items():
        if not is_operators(condition):
            pinned[name] = condition
        elif set(condition) == {"$eq"}:
            pinned[name] = condition["$eq"]
    return pinned


UPDATES = frozenset({"$set", "$max", "$inc"})


def updated_fields(change: Mapping[str, Any]) -> set[str]:
    """The fields `change` writes; a server's refusals of the update, raised."""
    if not change or not UPDATES.issuperset(change):
        raise NotImplementedError(f"update {sorted(change)!r}")
    named: list[str] = [name for op in change.values() for name in op]
    written = set(named)
    if "_id" in written:
        raise WriteError(
            "Performing an update on the path '_id' would modify the immutable field '_id'", code=66
        )
    if len(named) != len(written):
        raise WriteError("Updating the same path twice would create a conflict", code=40)
    if any("." in name or name.startswith("$") for name in named):
        raise NotImplementedError(f"update paths {named!r}")
    return written


def apply_update(doc: dict[str, Any], change: Mapping[str, Any]) -> None:
    """Apply `$set`, `$max` and `$inc` to `doc` in place (`updated_fields` checked them)."""
    doc.update(change.get("$set", {}))
    for name, value in change.get("$max", {}).items():
        current = doc.get(name, MISSING)
        if current is MISSING:
            doc[name] = value
        elif type(value) is type(current) and type(value) in _PLAIN:
            if value > current:  # one type: compared as it is
                doc[name] = value
        elif part(value) > part(current):
            doc[name] = value
    for name, value in change.get("$inc", {}).items():
        current = doc.get(name, 0)
        if not isinstance(value, int | float) or not isinstance(current, int | float):
            raise WriteError(f"Cannot apply $inc to {name!r}: not a number", code=14)
        doc[name] = current + value
