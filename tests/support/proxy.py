"""A TCP proxy on loopback that a test can cut and restore, to take a client off its broker.

`cut()` closes every connection through it and refuses new ones (accepted, then closed at once)
until `restore()`: the client sees its broker vanish while the broker and other clients carry on.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class Proxy:
    """Forwards 127.0.0.1:`port` to 127.0.0.1:`target`."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.port = 0
        self._open = True
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._pumps: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        """The proxy's address as an mqtt:// URL."""
        return f"mqtt://127.0.0.1:{self.port}"

    async def start(self) -> None:
        """Listen on a free port."""
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    def cut(self) -> None:
        """Close every connection and refuse new ones."""
        self._open = False
        for writer in list(self._writers):
            writer.close()

    def restore(self) -> None:
        """Accept connections again."""
        self._open = True

    async def close(self) -> None:
        """Stop listening and end every connection."""
        self.cut()
        if self._server is not None:
            self._server.close()
        for pump in list(self._pumps):
            pump.cancel()
        await asyncio.gather(*self._pumps, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self._open:
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}
        for source, sink, name in ((reader, up_writer, "up"), (up_reader, writer, "down")):
            pump = asyncio.create_task(self._pump(source, sink), name=f"proxy-{name}")
            self._pumps.add(pump)
            pump.add_done_callback(self._pumps.discard)

    async def _pump(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        try:
            while data := await source.read(65536):
                sink.write(data)
                await sink.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            self._writers.discard(sink)
            sink.close()
            with contextlib.suppress(ConnectionError, OSError):
                await sink.wait_closed()


@asynccontextmanager
async def proxy_to(port: int) -> AsyncIterator[Proxy]:
    """A running proxy to the loopback `port`, closed on exit."""
    proxy = Proxy(port)
    await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.close()
