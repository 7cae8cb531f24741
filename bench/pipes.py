"""The benchmarks' processes talk through `multiprocessing` pipes: read one without blocking."""

import asyncio
from multiprocessing.connection import Connection


async def next_message(conn: Connection) -> object:
    """The next object sent through `conn`, waited for without blocking the event loop; raises
    EOFError once the other end is closed."""
    loop = asyncio.get_running_loop()
    readable = asyncio.Event()
    loop.add_reader(conn.fileno(), readable.set)
    try:
        while not conn.poll():
            readable.clear()
            await readable.wait()
        return conn.recv()
    finally:
        loop.remove_reader(conn.fileno())
