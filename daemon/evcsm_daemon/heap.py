"""Garbage collection for a process that holds a large, long-lived heap.

CPython's cyclic collector scans every object it tracks on a full collection: with 100,000
stored sessions in the process (the memory store) that took 160 ms, and the objects each tick
makes triggered one every few seconds, so a command that landed on one waited for it. Almost
everything the daemon holds once it has started (modules, settings, the fleet, the resumed and
stored sessions) lives as long as the process, so:

- `settle()`, once the store is open, the sessions are resumed and the fleet is set up, collects
  once and freezes what survives (`gc.freeze()`): the collector never scans it again. Reference
  counting still frees frozen objects; only a reference cycle among them would outlive its use.
- The young generation is widened (`YOUNG_THRESHOLD` allocations instead of 700), so a tick's
  short-lived objects die before a collection instead of being promoted and scanned again.
- What accumulates afterwards (the memory store's history, sessions started since) is frozen in
  turn after any full collection that took longer than `REFREEZE_AFTER_S`, the budget of one
  command: a full collection then scans only what became long-lived since the last freeze.

The dashboard does the same after loading (evcsm_tui.app).
"""

import gc
import logging
import time

log = logging.getLogger(__name__)

YOUNG_THRESHOLD = 50_000
"""Allocations (less deallocations) between two collections of the youngest generation."""
REFREEZE_AFTER_S = 0.010
"""A full collection that took longer than this freezes its survivors."""

OLDEST = 2
"""The generation a full collection collects."""

_full_started: list[float] = []
"""When the full collection in progress started (perf_counter), while it runs."""


def settle() -> None:
    """Collect once, freeze the survivors, widen the young generation, and freeze again after
    every slow full collection from now on. Calling it again collects and freezes again."""
    began = time.perf_counter()
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, 10, 10)
    if _on_collection not in gc.callbacks:
        gc.callbacks.append(_on_collection)
    log.debug(
        "heap settled in %.0f ms: %d objects frozen",
        (time.perf_counter() - began) * 1000,
        gc.get_freeze_count(),
    )


def _on_collection(phase: str, info: dict[str, int]) -> None:
    """Time full collections; freeze the survivors of one that took longer than the budget."""
    if info["generation"] != OLDEST:
        return
    if phase == "start":
        _full_started[:] = [time.perf_counter()]
    elif _full_started and time.perf_counter() - _full_started.pop() > REFREEZE_AFTER_S:
        gc.freeze()
