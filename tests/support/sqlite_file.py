"""What a daemon's SQLite file holds, read apart from the daemon (read-only), as after a crash."""

import contextlib
import sqlite3
from pathlib import Path
from typing import NamedTuple


class StoredSession(NamedTuple):
    """One row of the file's `sessions` table, the fields crash tests compare."""

    charger_id: str
    status: str
    meter_wh: int
    energy_consumed: float


def stored_sessions(path: Path) -> dict[str, StoredSession]:
    """sessionId → what the file holds for it."""
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        rows = conn.execute(
            "SELECT session_id, charger_id, status, meter_wh, energy_consumed FROM sessions"
        )
        return {sid: StoredSession(*fields) for sid, *fields in rows}
