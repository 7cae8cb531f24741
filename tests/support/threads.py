"""A worker thread held busy for a test: what it is given meanwhile waits in its queue."""

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor

from tests.support.process import eventually


@contextlib.asynccontextmanager
async def held(thread: ThreadPoolExecutor, what: str) -> AsyncIterator[None]:
    """`thread` (one worker) busy until the block ends, as with a long job running."""
    running, release = threading.Event(), threading.Event()

    def hold() -> None:
        running.set()
        release.wait()

    blocked = asyncio.get_running_loop().run_in_executor(thread, hold)

    async def started() -> bool:
        return running.is_set()

    try:
        await eventually(f"{what} held", started)
        yield
    finally:
        release.set()
        await blocked
