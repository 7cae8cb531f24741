"""Logging to stdout, as text for people or JSON for log collectors."""

import logging
import sys

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
DROPPED_EXTRAS = ("color_message",)
"""Extra record fields left out of JSON lines: uvicorn's copy of the message with ANSI colours."""


def setup(fmt: str, level: str) -> None:
    """Send every log line to stdout in `fmt` ("text" or "json")."""
    handler = logging.StreamHandler(sys.stdout)
    if fmt == "json":
        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
                reserved_attrs=[*RESERVED_ATTRS, *DROPPED_EXTRAS],
            )
        )
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    logging.raiseExceptions = False  # a closed stdout must not turn every line into a traceback
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("aiomqtt").setLevel(logging.WARNING)
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
