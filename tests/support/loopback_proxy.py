"""A TCP proxy on loopback in front of a server (PostgreSQL in our tests), run on its own
event loop in a thread. Subclasses see each piece of data a client sends before it is
forwarded, and may cut the connection right after the server got it."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from types import TracebackType
from typing import Any

from devtools.service_process import free_port


class LoopbackProxy:
    """`with Proxy(5432) as port:` points clients at `port`; the proxy forwards both ways."""

    def __init__(self, upstream_port: int, upstream_host: str = "127.0.0.1") -> None:
        self.port = free_port()
        self._upstream = (upstream_host, upstream_port)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None

    def _connection_state(self) -> Any:
        """What the subclass keeps per client connection (passed to `_from_client`)."""
        return None

    def _from_client(self, state: Any, data: bytes) -> bool:
        """Sees `data` before it is forwarded; True: the server gets it, but nothing it
        answers from then on reaches the client, whose connection is then cut."""
        return False

    async def _handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            server_r, server_w = await asyncio.open_connection(*self._upstream)
        except OSError:
            client_w.close()
            return
        state = self._connection_state()
        cut = asyncio.Event()

        async def to_server() -> None:
            while data := await client_r.read(65536):
                last = self._from_client(state, data)
                if last:
                    cut.set()  # from here on, nothing the server says reaches the client
                server_w.write(data)
                await server_w.drain()
                if last:
                    await asyncio.sleep(0.05)  # the server acts on it; its answer is lost
                    return

        async def to_client() -> None:
            while data := await server_r.read(65536):
                if cut.is_set():
                    return
                client_w.write(data)
                await client_w.drain()

        tasks = [asyncio.ensure_future(to_server()), asyncio.ensure_future(to_client())]
        with contextlib.suppress(ConnectionError, OSError):
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in tasks:
            task.cancel()
        for writer in (client_w, server_w):
            with contextlib.suppress(Exception):
                writer.transport.abort()

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)

    def __enter__(self) -> int:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self.port

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        async def stop() -> None:
            if self._server is not None:
                self._server.close()

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
