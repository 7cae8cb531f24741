"""The driver double's indexes and query planner: a server's B-tree index as a sorted list, and
the choice of index a server would make for a filter and a sort.

An index holds one entry per document it covers (all of them, or those its
`partialFilterExpression` matches): the document's key, a `mongo_query.part` (rank, value) per
indexed field in the field's direction, then the document's `_id` as a part (a server's record
id), all in one flat tuple. A filter's equality conditions on the index's leading fields, then a
range on the next one, become one contiguous run of entries, found by bisection; a sort is served
by walking that run forwards or backwards when the sorted fields, less those pinned by equality,
are the index's next fields in its directions or all against them (MongoDB's rule). Otherwise
the documents are sorted in memory, as a server's blocking SORT stage would.

A filter that holds every field of a unique index to one value is answered from that index at
once (`Index.pins`: one document at most, as a server's `_id` lookup). Otherwise the planner
considers every index whose leading field the filter constrains or that serves the sort,
provided the filter implies its partial filter, and the collection scan, and takes the plan that
reads the fewest entries, counted exactly (a server estimates by trial runs), preferring one
that needs no in-memory sort and no check of the fetched documents.
"""

from bisect import bisect_left
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import chain
from typing import Any

from pymongo.errors import OperationFailure

from tests.support.mongo_query import RANGE, Part, equal, is_operators, matches, part, rank_of

Entry = tuple[Any, ...]
Sort = Sequence[tuple[str, int]]
PAST = 100
"""Greater than any rank: a bound `(*prefix, rank, value, PAST)` comes after every entry whose
field holds that value, and before the next value's."""


class Parts:
    """A document's values as indexes order them, each computed once for all its indexes (the
    entries share them)."""

    def __init__(self, doc: Mapping[str, Any]) -> None:
        self.doc = doc
        self._found: dict[tuple[str, int], Part] = {}

    def __call__(self, name: str, direction: int = 1) -> Part:
        found = self._found.get((name, direction))
        if found is None:
            found = self._found[name, direction] = part(self.doc.get(name), direction)
        return found


@dataclass(slots=True)
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
    names: frozenset[str] = field(init=False)
    """The indexed fields."""
    fields: frozenset[str] = field(init=False)
    """Every field whose change can move, add or remove one of this index's entries."""

    def __post_init__(self) -> None:
        self.names = frozenset(name for name, _ in self.keys)
        self.fields = self.names | frozenset(self.partial or ())

    def spec(self) -> dict[str, Any]:
        """As `index_information()` describes it."""
        described: dict[str, Any] = {"v": 2, "key": list(self.keys)}
        if self.unique:
            described["unique"] = True
        if self.partial is not None:
            described["partialFilterExpression"] = dict(self.partial)
        return described

    def entry(self, doc: Mapping[str, Any], parts: Parts | None = None) -> Entry | None:
        """The document's entry (a missing field indexed as null), or None when the partial
        filter leaves it out."""
        if self.partial is not None and not matches(doc, self.partial):
            return None
        parts = parts or Parts(doc)
        return (*chain.from_iterable(parts(n, d) for n, d in self.keys), *parts("_id"))

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
        key = entry[:-2]
        at = bisect_left(self.entries, key)
        return any(
            found[:-2] == key and not (moving and found[-2:] == entry[-2:])
            for found in self.entries[at : at + 2]
        )

    def pins(self, flt: Mapping[str, Any]) -> bool:
        """A unique index of which `flt` holds every field to one value: it points at one
        document at most (`lookup`)."""
        if not self.unique or not flt.keys() >= self.names:
            return False
        return not any(is_operators(flt[name]) for name in self.names) and self.implied_by(flt)

    def lookup(self, flt: Mapping[str, Any]) -> Part | None:
        """The `_id` (as a part) of the document holding the key `flt` pins, if any."""
        key = tuple(chain.from_iterable(part(flt[name], d) for name, d in self.keys))
        at = bisect_left(self.entries, key)
        if at < len(self.entries) and self.entries[at][:-2] == key:
            found: Part = self.entries[at][-2:]
            return found
        return None

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
        prefix: Entry = ()
        pinned: set[str] = set()
        for name, direction in self.keys:
            if name not in flt:
                break
            condition = flt[name]
            if is_operators(condition) and set(condition) == {"$eq"}:
                condition = condition["$eq"]
            if not is_operators(condition):
                prefix += part(condition, direction)
                pinned.add(name)
                continue
            if set(condition) <= RANGE and _one_type(condition.values()):
                low, high = _range(prefix, condition, direction)
                return self._run(low, high, frozenset(pinned), frozenset({*pinned, name}), flt)
            break
        return self._run(prefix, (*prefix, PAST), frozenset(pinned), frozenset(pinned), flt)

    def _run(
        self,
        low: Entry,
        high: Entry,
        pinned: frozenset[str],
        checked: frozenset[str],
        flt: Mapping[str, Any],
    ) -> Bounds:
        start = bisect_left(self.entries, low) if low else 0  # no bound: the whole index
        end = bisect_left(self.entries, high) if low else len(self.entries)
        by_partial = {
            name
            for name, wanted in (self.partial or {}).items()
            if name in flt
            and not is_operators(wanted)
            and not is_operators(flt[name])
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


def _range(prefix: Entry, condition: Mapping[str, Any], direction: int) -> tuple[Entry, Entry]:
    """The bisection keys of `prefix` followed by a range on the next field."""
    rank = rank_of(next(iter(condition.values())))[0]
    # The range's ends in the index's own order: a descending index has them the other way.
    lower = {"$gte": False, "$gt": True} if direction > 0 else {"$lte": False, "$lt": True}
    upper = {"$lt": False, "$lte": True} if direction > 0 else {"$gt": False, "$gte": True}
    starts: list[Entry] = [(rank,) if direction > 0 else (-rank,)]  # the type's first entry
    ends: list[Entry] = [(rank + 1,) if direction > 0 else (-rank + 1,)]
    for ends_of_side, side in ((starts, lower), (ends, upper)):
        for op, past in side.items():
            if op in condition:
                ends_of_side.append(part(condition[op], direction) + ((PAST,) if past else ()))
    return (*prefix, *max(starts)), (*prefix, *min(ends))  # two ends on one side: the tighter


@dataclass(slots=True)
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
    indexes: Sequence[Index],
    flt: Mapping[str, Any],
    sort: Sort,
    wanted: int | None,
    size: int,
    *,
    hinted: bool = False,
) -> Plan:
    """The plan reading the fewest entries for `flt`, `sort`, and `wanted` documents at most;
    when `hinted`, the plan of the one index given, however little it helps."""
    choices: list[tuple[tuple[int, bool, bool, str], Plan]] = []
    if not hinted:
        scan = Plan(None, 0, size, 1, flt, sorted_by_index=not sort)
        read = min(size, wanted) if wanted is not None and not sort and not flt else size
        choices.append(((read, bool(sort), bool(flt), ""), scan))
    for index in indexes:
        narrows = index.keys[0][0] in flt
        if (not narrows and not sort and not hinted) or not index.implied_by(flt):
            continue
        bounds = index.bounds(flt)
        direction = index.order(sort, bounds.pinned) if sort else 1
        if not narrows and direction is None and not hinted:
            continue  # neither narrows the documents nor orders them
        residual = {name: c for name, c in flt.items() if name not in bounds.checked}
        read = bounds.high - bounds.low
        if direction is not None and not residual and wanted is not None:
            read = min(read, wanted)
        choice = Plan(
            index, bounds.low, bounds.high, direction or 1, residual, direction is not None
        )
        choices.append(((read, direction is None, bool(residual), index.name), choice))
    if not choices:  # the hinted index is partial, and the filter does not imply its filter
        raise OperationFailure("hint provided does not correspond to an existing index", code=2)
    return min(choices, key=lambda choice: choice[0])[1]
