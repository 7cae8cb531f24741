"""The driver double's server answering commands: a command document in, a reply document out.

Commands have MongoDB's own shapes (`find`, `count`, `distinct`, `insert`, `update`,
`findAndModify`, `createIndexes`, `dropIndexes`, `listIndexes`, `ping`), so what crosses the
double's wire is what a driver sends a server, less the message header. A refusal is a reply as
a server sends it: `{"ok": 0, "code": ..., "errmsg": ...}` for the whole command, or `ok: 1`
with `writeErrors` (`index`, `code`, `errmsg`) for the statements of an `insert` or `update`
that the server refused. The double's client (tests/support/mongo_double.py) raises from those
what PyMongo raises. What the double does not implement answers with code 238
(`NotImplemented`, as a server names it), raised on the client's side as `NotImplementedError`.

`doubleStatus` is the double's own: its server's counters (`Stats`, calls, the CPU time spent
serving) and the CPU time and RSS of the process it runs in, for the benchmarks.
"""

import re
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pymongo.errors import OperationFailure

from tests.support.mongo_query import part
from tests.support.mongo_server import Documents, Server

NOT_IMPLEMENTED = 238
"""MongoDB's code `NotImplemented`: what the double does not do."""
COMMAND_NOT_FOUND = 59
INTERNAL_ERROR = 1
_INDEX_OPTIONS = frozenset({"key", "name", "unique", "partialFilterExpression", "v"})

Reply = dict[str, Any]


def refused(code: int, message: str) -> Reply:
    """A command's refusal, as a server replies it."""
    return {"ok": 0, "code": code, "errmsg": message}


def execute(server: Server, command: Mapping[str, Any]) -> Reply:
    """Run one command (its first field names it) on `server`; the reply, refusals included."""
    started = time.process_time()
    try:
        name = next(iter(command), "")
        handler = _COMMANDS.get(name)
        if handler is None:
            return refused(COMMAND_NOT_FOUND, f"no such command: '{name}'")
        return handler(server, command)
    except OperationFailure as exc:
        return refused(exc.code or INTERNAL_ERROR, str(exc))
    except NotImplementedError as exc:
        return refused(NOT_IMPLEMENTED, f"the driver double does not implement {exc}")
    finally:
        server.cpu_s += time.process_time() - started
        server.calls += 1


def _collection(server: Server, command: Mapping[str, Any]) -> Documents:
    return server.collection(str(next(iter(command.values()))))


def _ping(_server: Server, _command: Mapping[str, Any]) -> Reply:
    return {"ok": 1}


def _status(server: Server, _command: Mapping[str, Any]) -> Reply:
    stats = server.stats
    return {
        "ok": 1,
        "fetched": stats.fetched,
        "sorted": stats.sorted,
        "scans": stats.scans,
        "calls": server.calls,
        "servingSeconds": server.cpu_s,
        "processSeconds": time.process_time(),
        "rssBytes": _rss_bytes(),
    }


def _rss_bytes() -> int:
    """This process's resident set size (0 where /proc has none)."""
    try:
        status = Path("/proc/self/status").read_text(encoding="ascii")
    except OSError:
        return 0
    found = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
    return int(found.group(1)) * 1024 if found else 0


def _find(server: Server, command: Mapping[str, Any]) -> Reply:
    sort = [(name, int(direction)) for name, direction in command.get("sort", {}).items()]
    if any(direction not in (1, -1) for _, direction in sort):
        raise NotImplementedError(f"sort {sort!r}")
    limit = int(command.get("limit", 0)) or None
    found = _collection(server, command).find(
        command.get("filter", {}), sort, int(command.get("skip", 0)), limit
    )
    return {"ok": 1, "cursor": {"id": 0, "firstBatch": list(found)}}


def _count(server: Server, command: Mapping[str, Any]) -> Reply:
    documents = _collection(server, command)
    return {"ok": 1, "n": documents.count(command.get("query", {}), command.get("hint"))}


def _distinct(server: Server, command: Mapping[str, Any]) -> Reply:
    key = command["key"]
    found = _collection(server, command).find(command.get("query", {}), ())
    values = {part(doc[key]): doc[key] for doc in found if key in doc}
    return {"ok": 1, "values": list(values.values())}


def _insert(server: Server, command: Mapping[str, Any]) -> Reply:
    documents = _collection(server, command)
    ordered = command.get("ordered", True)
    errors: list[dict[str, Any]] = []
    inserted = 0
    for number, doc in enumerate(command["documents"]):
        try:
            documents.insert(doc)
        except OperationFailure as exc:
            errors.append(_write_error(number, exc))
            if ordered:
                break
        else:
            inserted += 1
    return _written({"ok": 1, "n": inserted}, errors)


def _update(server: Server, command: Mapping[str, Any]) -> Reply:
    documents = _collection(server, command)
    ordered = command.get("ordered", True)
    errors: list[dict[str, Any]] = []
    matched = upserted = 0
    for number, statement in enumerate(command["updates"]):
        try:
            before, after = documents.update(
                statement["q"], statement["u"], upsert=bool(statement.get("upsert"))
            )
        except OperationFailure as exc:
            errors.append(_write_error(number, exc))
            if ordered:
                break
        else:
            matched += before is not None
            upserted += before is None and after is not None
    return _written({"ok": 1, "n": matched + upserted, "nModified": matched}, errors)


def _find_and_modify(server: Server, command: Mapping[str, Any]) -> Reply:
    documents = _collection(server, command)
    before, after = documents.update(
        command["query"], command["update"], upsert=bool(command.get("upsert"))
    )
    return {"ok": 1, "value": after if command.get("new") else before}


def _create_indexes(server: Server, command: Mapping[str, Any]) -> Reply:
    documents = _collection(server, command)
    for spec in command["indexes"]:
        if set(spec) - _INDEX_OPTIONS:
            raise NotImplementedError(f"index options {sorted(spec)!r}")
        documents.create_index(
            list(spec["key"].items()),
            spec["name"],
            unique=bool(spec.get("unique")),
            partial=spec.get("partialFilterExpression"),
        )
    return {"ok": 1}


def _drop_indexes(server: Server, command: Mapping[str, Any]) -> Reply:
    _collection(server, command).drop_index(command["index"])
    return {"ok": 1}


def _list_indexes(server: Server, command: Mapping[str, Any]) -> Reply:
    specs = [
        {**index.spec(), "key": dict(index.keys), "name": name}
        for name, index in _collection(server, command).indexes.items()
    ]
    return {"ok": 1, "cursor": {"id": 0, "firstBatch": specs}}


def _write_error(number: int, exc: OperationFailure) -> dict[str, Any]:
    return {"index": number, "code": exc.code, "errmsg": str(exc)}


def _written(reply: Reply, errors: list[dict[str, Any]]) -> Reply:
    if errors:
        reply["writeErrors"] = errors
    return reply


_COMMANDS: dict[str, Callable[[Server, Mapping[str, Any]], Reply]] = {
    "ping": _ping,
    "doubleStatus": _status,
    "find": _find,
    "count": _count,
    "distinct": _distinct,
    "insert": _insert,
    "update": _update,
    "findAndModify": _find_and_modify,
    "createIndexes": _create_indexes,
    "dropIndexes": _drop_indexes,
    "listIndexes": _list_indexes,
}
