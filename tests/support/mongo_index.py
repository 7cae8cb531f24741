"""The driver double's indexes and query planner: a server's B-tree index as a sorted list, and
the choice of index a server would make for a filter and a sort.

An index holds one entry per document it covers (all of them, or those its
`partialFilterExpression` matches): the document's key, one `mongo_query.part` per indexed field
in the field's direction, followed by the document's `_id` (as a part: a server's record id). A filter's equality conditions on the
index's leading fields, then a range on the next one, become one contiguous run of entries, found
by bisection; a sort is served by walking that run forwards or backwards when the sorted fields,
less those pinned by equality, are the index's next fields in its directions or all against
them (MongoDB's rule). Otherwise the documents are sorted in memory, as a server's blocking
SORT stage would.

The planner considers every index whose leading field the filter constrains or that serves the
sort, provided the filter implies its partial filter, and the collection scan; it takes the plan
that reads the fewest entries, counted exactly (a server estimates by trial runs), preferring one
that needs no in-memory sort and no check of the fetched documents.
"""

from bisect import bisect_left
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tests.support.mongo_query import RANGE, Part, equal, is_operators, matches, part, rank_of

Entry = tuple[Any, ...]
Sort = Sequence[tuple[str, int]]


@dataclass(frozen=True)
class Bounds:
    """The run of an index's entries a filter selects, and what the index checked of it."""

    low: int
    high: int
    pinned: frozenset[str]
    """Fields held to one value by the leading equality conditions."""
    checked: frozenset[str]
    """Fields whose whole condition the run satisfies: no document need be read for them."""


@dataclass
class Index:
    """One index: its spec and its entries in index order."""

    name: str
    keys: tuple[tuple[str, int], ...]
    unique: bool = False
    partial: Mapping[str, Any] | None = None
    entries: list[Entry] = field(default_factory=list)

    @property
    def fields(self) -> frozenset[str]:
        """Every field whose change can move, add or remove one of this index's entries."""
        return frozenset(name for name, _ in self.keys) | frozenset(self.partial or ())

    def spec(self) -> dict[str, Any]:
        """As `index_information()` describes it."""
        described: dict[str, Any] = {"v": 2, "key": list(self.keys)}
        if self.unique:
            described["unique"] = True
        if self.partial is not None:
            described["partialFilterExpression"] = dict(self.partial)
        return described

    def key(self, doc: Mapping[str, Any]) -> Entry:
        """The document's key in this index (a missing field indexed as null)."""
        return tuple(part(doc.get(name), direction) for name, direction in self.keys)

    def entry(self, doc: Mapping[str, Any]) -> Entry | None:
        """The document's entry, or None when the partial filter leaves it out."""
        if self.partial is not None and not matches(doc, self.partial):
            return None
        return (*self.key(doc), part(doc["_id"]))

    def add(self, entry: Entry) -> None:
        self.entries.insert(bisect_left(self.entries, entry), entry)

    def remove(self, entry: Entry) -> None:
        at = bisect_left(self.entries, entry)
        if at == len(self.entries) or self.entries[at] != entry:
            raise AssertionError(f"index {self.name}: entry {entry!r} is missing")
        del self.entries[at]

    def clashes(self, entry: Entry, *, moving: bool = False) -> bool:
        """A unique index holds this entry's key already: for another document when `moving`
        the document's own entry (an update), for any document otherwise (an insert)."""
        if not self.unique:
            return False
        key = entry[:-1]
        at = bisect_left(self.entries, key)
        return any(
            found[:-1] == key and not (moving and found[-1] == entry[-1])
            for found in self.entries[at : at + 2]
        )

    def implied_by(self, flt: Mapping[str, Any]) -> bool:
        """Every document `flt` matches is in this index (its partial filter follows)."""
        for name, wanted in (self.partial or {}).items():
            condition = flt.get(name)
            if is_operators(wanted) and wanted == {"$exists": True}:
                if condition is None or (is_operators(condition) and not set(condition) <= RANGE):
                    return False
            elif (
                is_operators(wanted)
                or name not in flt
                or is_operators(condition)
                or not equal(condition, wanted)
            ):
                return False
        return True

    def bounds(self, flt: Mapping[str, Any]) -> Bounds:
        """The run of entries `flt` selects: equalities on the leading fields, then a range."""
        prefix: tuple[Part, ...] = ()
        pinned: set[str] = set()
        low: Entry | None = None
        high: Entry | None = None
        for name, direction in self.keys:
            if name not in flt:
                break
            condition = flt[name]
            if is_operators(condition) and set(condition) == {"$eq"}:
                condition = condition["$eq"]
            if not is_operators(condition):
                prefix += (part(condition, direction),)
                pinned.add(name)
                continue
            if set(condition) <= RANGE and _one_type(condition.values()):
                low, high = _range(prefix, condition, direction)
                pinned_or_ranged = {*pinned, name}
                return self._run(low, high, frozenset(pinned), frozenset(pinned_or_ranged), flt)
            break
        low = prefix
        high = (*prefix[:-1], (*prefix[-1], 1)) if prefix else None
        return self._run(low, high, frozenset(pinned), frozenset(pinned), flt)

    def _run(
        self,
        low: Entry,
        high: Entry | None,
        pinned: frozenset[str],
        checked: frozenset[str],
        flt: Mapping[str, Any],
    ) -> Bounds:
        start = bisect_left(self.entries, low) if low else 0
        end = bisect_left(self.entries, high) if high is not None else len(self.entries)
        by_partial = {
            name
            for name, wanted in (self.partial or {}).items()
            if not is_operators(wanted)
            and not is_operators(flt.get(name, {}))
            and name in flt
            and equal(flt[name], wanted)
        }
        return Bounds(start, max(start, end), pinned, checked | by_partial)

    def order(self, sort: Sort, pinned: frozenset[str]) -> int | None:
        """1 or -1 when walking the run forwards or backwards yields `sort`; None otherwise."""
        wanted = [(name, direction) for name, direction in sort if name not in pinned]
        if not wanted or (self.unique and pinned >= {name for name, _ in self.keys}):
            return 1  # everything sorted is pinned, or at most one document
        rest = [(name, direction) for name, direction in self.keys if name not in pinned]
        if len(wanted) > len(rest) or [n for n, _ in wanted] != [n for n, _ in rest[: len(wanted)]]:
            return None
        turns = {mine * theirs for (_, mine), (_, theirs) in zip(wanted, rest, strict=False)}
        return turns.pop() if len(turns) == 1 else None


def _one_type(values: Any) -> bool:
    ranks = {rank_of(value)[0] for value in values if value is not None}
    return len(ranks) == 1 and None not in values


def _range(
    prefix: tuple[Part, ...], condition: Mapping[str, Any], direction: int
) -> tuple[Entry, Entry]:
    """The bisection keys of `prefix` followed by a range on the next field."""
    rank = rank_of(next(iter(condition.values())))[0]
    # The range's ends in the index's own order: a descending index has them the other way.
    lower = {"$gte": False, "$gt": True} if direction > 0 else {"$lte": False, "$lt": True}
    upper = {"$lt": False, "$lte": True} if direction > 0 else {"$gt": False, "$gte": True}
    starts: list[Part] = [(rank,) if direction > 0 else (-rank,)]  # the type's first entry
    ends: list[Part] = [(rank + 1,) if direction > 0 else (-rank + 1,)]
    starts += [
        part(condition[op], direction) + (1,) * past
        for op, past in lower.items()
        if op in condition
    ]
    ends += [
        part(condition[op], direction) + (1,) * past
        for op, past in upper.items()
        if op in condition
    ]
    return (*prefix, max(starts)), (*prefix, min(ends))  # both ends of a side: the tighter


@dataclass(frozen=True)
class Plan:
    """How a query is answered: from an index's run (or every document), then checked, sorted."""

    index: Index | None
    low: int
    high: int
    direction: int
    residual: Mapping[str, Any]
    """What each fetched document must still match."""
    sorted_by_index: bool


def plan(
    indexes: Sequence[Index], flt: Mapping[str, Any], sort: Sort, wanted: int | None, size: int
) -> Plan:
    """The plan reading the fewest entries for `flt`, `sort`, and `wanted` documents at most."""
    choices: list[tuple[tuple[int, bool, bool, str], Plan]] = []
    scan = Plan(None, 0, size, 1, flt, sorted_by_index=not sort)
    read = min(size, wanted) if wanted is not None and not sort and not flt else size
    choices.append(((read, bool(sort), bool(flt), ""), scan))
    for index in indexes:
        if not index.implied_by(flt):
            continue
        bounds = index.bounds(flt)
        direction = index.order(sort, bounds.pinned) if sort else 1
        leading = index.keys[0][0]
        if leading not in flt and (direction is None or not sort):
            continue  # neither narrows the documents nor orders them
        residual = {name: c for name, c in flt.items() if name not in bounds.checked}
        read = bounds.high - bounds.low
        if direction is not None and not residual and wanted is not None:
            read = min(read, wanted)
        choice = Plan(
            index, bounds.low, bounds.high, direction or 1, residual, direction is not None
        )
        choices.append(((read, direction is None, bool(residual), index.name), choice))
    return min(choices, key=lambda choice: choice[0])[1]
