"""Group commit: writes that arrive while a commit is in flight are committed together.

A durable commit costs one sync to disk (SQLite's `synchronous=FULL`: ~1.3 ms alone, tens of
milliseconds on a busy disk), and a store served by one thread makes each write wait for the
syncs of those queued before it: 10,000 starts took 47 s. `GroupCommit` queues each write with a
future, and one task, while writes are queued, takes all of them and runs them as one batch (the
store commits a batch as one transaction, each write isolated in a savepoint); each caller is
answered when its batch has committed, with its own result or error. Durability is unchanged:
nothing is answered before it is on disk. The task exits when the queue is empty and starts
again with the next write; `close()` cancels it.
"""

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class GroupCommit(Generic[Item, Result]):
    """Batches of `Item` run by `commit`, which returns one result or exception per item, in
    order, or raises for the whole batch."""

    def __init__(
        self,
        commit: Callable[[Sequence[Item]], Awaitable[Sequence[Result | Exception]]],
        name: str,
    ) -> None:
        self._commit = commit
        self._name = name
        self._queued: list[tuple[Item, asyncio.Future[Result]]] = []
        self._task: asyncio.Task[None] | None = None
        self.batches = 0
        """Batches committed (or attempted) since start."""

    async def submit(self, item: Item) -> Result:
        """Queue `item` and wait for its batch's commit: its result, or its error."""
        answer: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._queued.append((item, answer))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name=self._name)
        return await answer

    async def close(self) -> None:
        """Stop committing; writes still queued fail with CancelledError."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        for _, answer in self._queued:
            answer.cancel()
        self._queued.clear()

    async def _run(self) -> None:
        while self._queued:
            batch, self._queued = self._queued, []
            self.batches += 1
            try:
                outcomes = await self._commit([item for item, _ in batch])
            except asyncio.CancelledError:
                for _, answer in batch:
                    answer.cancel()
                raise
            except Exception as exc:  # noqa: BLE001 - handed to every caller of the batch
                for _, answer in batch:
                    if not answer.done():
                        answer.set_exception(exc)
                continue
            for (_, answer), outcome in zip(batch, outcomes, strict=True):
                if answer.done():  # its caller was cancelled; the write stands
                    continue
                if isinstance(outcome, Exception):
                    answer.set_exception(outcome)
                else:
                    answer.set_result(outcome)
