"""JSON Schema of every MQTT payload, written to docs/schemas/ and checked for drift in tests.

Regenerate with: `uv run python -m evcsm_schema.export docs/schemas`
"""

import json
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel, TypeAdapter

from evcsm_schema.messages import (
    Availability,
    ChargerState,
    CommandReply,
    CommandRequest,
    FleetUpdate,
    SeedCommand,
    SessionQuery,
    SessionQueryReply,
    SessionUpdate,
    StatusEvent,
)

MQTT_PAYLOADS: dict[str, Any] = {
    "SeedCommand": SeedCommand,
    "StatusEvent": StatusEvent,
    "SessionUpdate": SessionUpdate,
    "FleetUpdate": FleetUpdate,
    "ChargerState": ChargerState,
    "Availability": Availability,
    "CommandRequest": CommandRequest,
    "CommandReply": CommandReply,
    "SessionQuery": SessionQuery,
    "SessionQueryReply": SessionQueryReply,
}
"""Every MQTT payload model by the name of its schema file."""

REGENERATE = "uv run python -m evcsm_schema.export docs/schemas"


def schema_of(name: str) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of one payload, as EVCSM sends or accepts it."""
    model = MQTT_PAYLOADS[name]
    if isinstance(model, type) and issubclass(model, BaseModel):
        schema = model.model_json_schema(by_alias=True, mode="serialization")
    else:
        schema = TypeAdapter(model).json_schema(mode="serialization")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"{name}.json",
        **schema,
    }


def render(name: str) -> str:
    """The schema file's exact text."""
    return json.dumps(schema_of(name), indent=2, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write every schema into the folder named on the command line."""
    args = sys.argv[1:] if argv is None else argv
    folder = Path(args[0] if args else "docs/schemas")
    folder.mkdir(parents=True, exist_ok=True)
    for name in MQTT_PAYLOADS:
        (folder / f"{name}.json").write_text(render(name), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
