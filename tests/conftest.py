"""Fixtures shared by every test package."""

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from evcsm_daemon.store import SessionStore
from evcsm_daemon.store.memory import reset_memory

from tests.support.broker import Mosquitto
from tests.support.mongo_process import DoubleProcess
from tests.support.stores import BACKENDS, Backend
from tests.support.stores import backend as make_backend


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


@pytest.fixture(scope="session")
def double_process() -> Iterator[DoubleProcess]:
    """The driver double's server process, one for the test session (a database per test)."""
    with DoubleProcess() as running:
        yield running


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    """Each store backend in turn (tests/support/stores.py)."""
    double = (
        request.getfixturevalue("double_process") if request.param == "mongodb-double" else None
    )
    return make_backend(request.param, tmp_path, double)


@pytest.fixture
async def stores(backend: Backend) -> AsyncIterator[Callable[[], Awaitable[SessionStore]]]:
    """Opens ready stores on the backend's database; closes them after the test."""
    opened: list[SessionStore] = []

    async def open_ready() -> SessionStore:
        store = backend.open()
        opened.append(store)
        await store.ensure_indexes()
        return store

    yield open_ready
    for store in opened:
        await store.close()


@pytest.fixture
async def store(stores: Callable[[], Awaitable[SessionStore]]) -> SessionStore:
    """A ready store on each backend in turn."""
    return await stores()
