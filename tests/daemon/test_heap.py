"""The garbage-collection policy: what is loaded at start-up is frozen; slow full collections
freeze their survivors; the daemon applies it once started."""

import gc
from collections.abc import Iterator

import pytest
from evcsm_daemon import heap

from tests.support.broker import Mosquitto
from tests.support.daemon import daemon_settings, running_daemon


class Node:
    """An object the cyclic collector tracks."""

    def __init__(self) -> None:
        self.peer: Node | None = None


@pytest.fixture(autouse=True)
def _default_gc() -> Iterator[None]:
    """Each test starts and ends with CPython's defaults: nothing frozen, no callback."""
    threshold = gc.get_threshold()

    def reset() -> None:
        gc.unfreeze()
        gc.set_threshold(*threshold)
        while heap._on_collection in gc.callbacks:
            gc.callbacks.remove(heap._on_collection)

    reset()
    yield
    reset()


def test_settle_freezes_what_is_loaded_and_widens_the_young_generation() -> None:
    loaded = [Node() for _ in range(1000)]
    heap.settle()
    assert gc.get_freeze_count() >= len(loaded)
    assert gc.get_threshold()[0] == heap.YOUNG_THRESHOLD
    heap.settle()
    assert gc.callbacks.count(heap._on_collection) == 1


def test_a_slow_full_collection_freezes_its_survivors(monkeypatch: pytest.MonkeyPatch) -> None:
    heap.settle()
    frozen = gc.get_freeze_count()
    history = [Node() for _ in range(1000)]
    gc.collect()  # fast enough: nothing more is frozen
    assert gc.get_freeze_count() == frozen
    monkeypatch.setattr(heap, "REFREEZE_AFTER_S", 0.0)  # every full collection is "slow" now
    gc.collect()
    assert gc.get_freeze_count() >= frozen + len(history)


def test_a_young_collection_freezes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    heap.settle()
    frozen = gc.get_freeze_count()
    monkeypatch.setattr(heap, "REFREEZE_AFTER_S", 0.0)
    _young = [Node() for _ in range(1000)]
    gc.collect(0)
    gc.collect(1)
    assert gc.get_freeze_count() == frozen


def test_cycles_made_after_settling_are_collected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(heap, "REFREEZE_AFTER_S", 1e9)
    heap.settle()
    later = Node()
    later.peer = later
    del later
    assert gc.collect() >= 1


async def test_the_daemon_settles_the_heap_once_started(broker: Mosquitto) -> None:
    assert gc.get_freeze_count() == 0
    async with running_daemon(daemon_settings(broker.url)):
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold()[0] == heap.YOUNG_THRESHOLD
        assert heap._on_collection in gc.callbacks
