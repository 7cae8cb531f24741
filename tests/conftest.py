"""Fixtures shared by every test package."""

from collections.abc import Iterator

import pytest
from evcsm_daemon.store.connect import reset_memory

from tests.support.broker import Mosquitto


@pytest.fixture
def broker() -> Iterator[Mosquitto]:
    """A fresh, open Mosquitto on a free loopback port, stopped after the test."""
    with Mosquitto() as running:
        yield running


@pytest.fixture(autouse=True)
def _fresh_memory_store() -> Iterator[None]:
    """Every test starts with an empty in-process database."""
    reset_memory()
    yield
    reset_memory()


@pytest.fixture(scope="session", autouse=True)
def _state_home_in_tmp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Programs started by tests keep their state (the dashboard's log) in a temporary folder."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("state-home")))
        yield
