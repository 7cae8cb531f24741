"""The driver double's "server": collections of documents and the indexes created on them.

Each collection has the `_id_` index and whatever `create_index` adds (built over the documents
already there, refused on duplicates as a server refuses it), and answers finds, counts, distinct
values and updates through `mongo_index.plan`: from an index's run where one serves, by a
collection scan where none does. Every write keeps every index in step and checks the unique
ones first, so a refused write changes nothing. `Stats` counts what a server's explain output
would show: documents fetched, documents sorted in memory, collection scans.
"""

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from itertools import islice, pairwise
from typing import Any

from bson import ObjectId
from pymongo.errors import DuplicateKeyError, OperationFailure

from tests.support.mongo_index import Index, Parts, Plan, Sort, plan
from tests.support.mongo_query import (
    Part,
    apply_update,
    equalities,
    matches,
    part,
    updated_fields,
    value_of,
)

ID_INDEX = "_id_"


@dataclass
class Stats:
    """What the server read to answer, over its lifetime."""

    fetched: int = 0
    """Documents read: those of an index's run it could not check alone, every one in a scan."""
    sorted: int = 0
    """Documents put through an in-memory sort."""
    scans: int = 0
    """Collection scans."""

    def since(self, before: "Stats") -> "Stats":
        """What was read after `before` (a copy of these figures, taken earlier)."""
        return Stats(
            self.fetched - before.fetched, self.sorted - before.sorted, self.scans - before.scans
        )


@dataclass
class Documents:
    """One collection: documents by `_id`, and its indexes."""

    name: str
    stats: Stats
    docs: dict[Part, dict[str, Any]] = field(default_factory=dict)
    indexes: dict[str, Index] = field(default_factory=dict)
    _indexed: frozenset[str] | None = None

    def __post_init__(self) -> None:
        self.indexes[ID_INDEX] = Index(ID_INDEX, (("_id", 1),), unique=True)

    @property
    def indexed(self) -> frozenset[str]:
        """Every field an index's entries depend on: an update writing none of them moves none."""
        if self._indexed is None:
            self._indexed = frozenset().union(*(i.fields for i in self.indexes.values()))
        return self._indexed

    def create_index(
        self,
        keys: Sequence[tuple[str, int]],
        name: str,
        *,
        unique: bool = False,
        partial: Mapping[str, Any] | None = None,
    ) -> str:
        """Create (and build) an index; the same spec again is a no-op, a clash an error."""
        index = Index(name, tuple(keys), unique=unique, partial=dict(partial) if partial else None)
        existing = self.indexes.get(name)
        if existing is not None:
            if existing.spec() != index.spec():
                raise OperationFailure(
                    f"An existing index has the same name as the requested index: {name}",
                    code=86,  # IndexKeySpecsConflict
                )
            return name
        for other in self.indexes.values():
            if other.spec() == index.spec():
                raise OperationFailure(
                    f"Index already exists with a different name: {other.name}",
                    code=85,  # IndexOptionsConflict
                )
        entries = [entry for doc in self.docs.values() if (entry := index.entry(doc))]
        entries.sort()
        index.entries = entries
        for previous, entry in pairwise(entries):
            if unique and previous[:-1] == entry[:-1]:
                raise self._duplicate(index)
        self.indexes[name] = index
        self._indexed = None
        return name

    def drop_index(self, name: str) -> None:
        """Drop an index by name, as `dropIndexes` does."""
        if name == ID_INDEX:
            raise OperationFailure("cannot drop _id index", code=72)  # InvalidOptions
        if self.indexes.pop(name, None) is None:
            raise OperationFailure(f"index not found with name [{name}]", code=27)
        self._indexed = None

    def insert(self, doc: dict[str, Any]) -> None:
        """Insert `doc` (it has its `_id`), unless a unique index holds its key already."""
        parts = Parts(doc)
        added = [
            (index, entry) for index in self.indexes.values() if (entry := index.entry(doc, parts))
        ]
        for index, entry in added:
            if index.clashes(entry):
                raise self._duplicate(index)
        self.docs[parts("_id")] = doc
        for index, entry in added:
            index.add(entry)

    def update(
        self, flt: Mapping[str, Any], change: Mapping[str, Any], *, upsert: bool = False
    ) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """Update the first document `flt` matches (or insert one, with `upsert`): the document
        before and after."""
        written = updated_fields(change)
        found = next(self.find(flt, (), limit=1), None)
        if found is None:
            if not upsert:
                return None, None
            created = {"_id": ObjectId(), **equalities(flt)}
            apply_update(created, change)
            self.insert(created)
            return None, created
        after = dict(found)
        apply_update(after, change)
        moved = []
        for index in self.indexes.values() if not self.indexed.isdisjoint(written) else ():
            if index.fields.isdisjoint(written):
                continue  # none of its keys, nor its partial filter, changed
            old, new = index.entry(found), index.entry(after)
            if old != new:
                if new is not None and index.clashes(new, moving=True):
                    raise self._duplicate(index)
                moved.append((index, old, new))
        for index, old, new in moved:
            if old is not None:
                index.remove(old)
            if new is not None:
                index.add(new)
        self.docs[part(found["_id"])] = after
        return found, after

    def find(
        self, flt: Mapping[str, Any], sort: Sort, skip: int = 0, limit: int | None = None
    ) -> Iterator[dict[str, Any]]:
        """The documents `flt` matches, in `sort`'s order, after `skip`, at most `limit`."""
        wanted = skip + limit if limit is not None else None
        for index in self.indexes.values():
            if index.pins(flt):  # one document at most, looked up
                at = index.lookup(flt)
                one = self.docs[at] if at is not None else None
                self.stats.fetched += one is not None
                if one is not None and matches(one, flt) and skip == 0 and limit != 0:
                    yield one
                return
        chosen = self._plan(flt, sort, wanted)
        if not chosen.sorted_by_index:
            found = list(self._walk(chosen))
            self.stats.sorted += len(found)
            for name, direction in reversed(sort):
                found.sort(key=partial(value_of, name), reverse=direction < 0)
            yield from found[skip:wanted]
            return
        if chosen.index is not None and not chosen.residual:
            # Every entry of the run matches: skip and limit by position, reading no more.
            low, high = chosen.low, chosen.high
            if chosen.direction > 0:
                low = min(high, low + skip)
                high = high if limit is None else min(high, low + limit)
            else:
                high = max(low, high - skip)
                low = low if limit is None else max(low, high - limit)
            chosen = Plan(chosen.index, low, high, chosen.direction, {}, sorted_by_index=True)
            skip, wanted = 0, limit
        yield from islice(self._walk(chosen), skip, wanted)

    def count(self, flt: Mapping[str, Any], hint: str | None = None) -> int:
        """How many documents `flt` matches: from an index's run alone when it checks it all;
        from the index named `hint` if given, as a server does."""
        if hint is None:
            chosen = self._plan(flt, (), None)
        elif hint in self.indexes:
            chosen = plan([self.indexes[hint]], flt, (), None, len(self.docs), hinted=True)
        else:
            raise OperationFailure("hint provided does not correspond to an existing index", code=2)
        if not chosen.residual:
            if chosen.index is None:
                self.stats.fetched += len(self.docs)  # a scan reads them all, if to check nothing
            return chosen.high - chosen.low
        return sum(1 for _ in self._walk(chosen))

    def _plan(self, flt: Mapping[str, Any], sort: Sort, wanted: int | None) -> Plan:
        chosen = plan(list(self.indexes.values()), flt, sort, wanted, len(self.docs))
        if chosen.index is None:
            self.stats.scans += 1
        return chosen

    def _walk(self, chosen: Plan) -> Iterator[dict[str, Any]]:
        """The documents of the plan's run, in its direction, that match what is left to check."""
        if chosen.index is None:
            everything: Iterator[dict[str, Any]] = iter(self.docs.values())
        else:
            entries = chosen.index.entries
            span = range(chosen.low, chosen.high)
            if chosen.direction < 0:
                span = span[::-1]
            everything = (self.docs[entries[at][-2:]] for at in span)
        for doc in everything:
            self.stats.fetched += 1
            if matches(doc, chosen.residual):
                yield doc

    def _duplicate(self, index: Index) -> DuplicateKeyError:
        message = f"E11000 duplicate key error collection: {self.name} index: {index.name}"
        return DuplicateKeyError(message, code=11000)


@dataclass
class Server:
    """The collections, and the CPU time and calls spent serving them."""

    collections: dict[str, Documents] = field(default_factory=dict)
    stats: Stats = field(default_factory=Stats)
    cpu_s: float = 0.0
    calls: int = 0

    def collection(self, name: str) -> Documents:
        """The collection called `name`, created empty (with its `_id_` index) on first use."""
        found = self.collections.get(name)
        if found is None:
            found = self.collections[name] = Documents(name, self.stats)
        return found
