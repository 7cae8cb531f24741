"""Logging to a file only: the terminal belongs to the dashboard."""

import logging
from collections.abc import Sequence
from pathlib import Path

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def setup_logging(candidates: Sequence[Path], *, required: bool) -> Path | None:
    """Log to the first candidate that opens; None (and no log) when none does, unless required.

    Raises the last `OSError` when `required` and the file cannot be opened.
    """
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    for path in candidates:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handler = logging.FileHandler(path, encoding="utf-8")
        except OSError:
            if required:
                raise
            continue
        handler.setFormatter(logging.Formatter(FORMAT))
        root.handlers[:] = [handler]
        return path
    root.handlers[:] = [logging.NullHandler()]
    return None
