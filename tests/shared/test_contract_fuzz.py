"""Property tests of the contract: every MQTT payload survives a JSON round trip, and any bytes
either decode or fail with a validation error, never anything else."""

from typing import Any

import pytest
from evcsm_schema.export import MQTT_PAYLOADS
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from tests.support.strategies import FUZZ, PAYLOAD_MODELS, PAYLOADS

JSON_MODELS = {name: model for name, model in MQTT_PAYLOADS.items() if name != "Availability"}


def test_every_json_payload_model_has_a_strategy() -> None:
    assert set(PAYLOAD_MODELS) == set(JSON_MODELS)


@pytest.mark.parametrize("name", sorted(PAYLOAD_MODELS))
@FUZZ
@given(data=st.data())
def test_a_payload_survives_the_json_round_trip(name: str, data: st.DataObject) -> None:
    model: type[BaseModel] = JSON_MODELS[name]
    value = data.draw(PAYLOAD_MODELS[name])
    wire = value.model_dump_json(by_alias=True, exclude_none=True)
    assert model.model_validate_json(wire) == value


@pytest.mark.parametrize("name", sorted(JSON_MODELS))
@FUZZ
@given(payload=PAYLOADS)
def test_any_bytes_decode_or_fail_validation(name: str, payload: bytes) -> None:
    model: Any = JSON_MODELS[name]
    try:
        decoded = model.model_validate_json(payload)
    except ValidationError:
        return
    assert isinstance(decoded, model)
