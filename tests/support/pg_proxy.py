"""A TCP proxy in front of PostgreSQL that can drop a connection right after a COMMIT.

The commit reaches the server and takes effect, but its answer never reaches the client,
which sees the connection die mid-commit: the ambiguous outcome a network or database
failover produces. Tests point a worker's database URL at the proxy and arm it.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from types import TracebackType

from devtools.service_process import free_port

COMMIT = b"COMMIT\x00"


class CommitDroppingProxy:
    """`with CommitDroppingProxy(5432) as port:`; `drop_after_commits(n)` arms it to cut
    the connection of each of the next `n` commits, after the server has run them. A
    statement sent in autocommit commits by itself: `marker` (a piece of its SQL text)
    names it instead of COMMIT."""

    def __init__(self, upstream_port: int, upstream_host: str = "127.0.0.1") -> None:
        self.port = free_port()
        self._upstream = (upstream_host, upstream_port)
        self._armed = 0
        self._marker = COMMIT
        self.dropped = 0
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None

    def drop_after_commits(self, count: int, marker: bytes = COMMIT) -> None:
        with self._lock:
            self._armed = count
            self._marker = marker

    def _take_arm(self) -> bool:
        with self._lock:
            if self._armed <= 0:
                return False
            self._armed -= 1
            self.dropped += 1
            return True

    async def _handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            server_r, server_w = await asyncio.open_connection(*self._upstream)
        except OSError:
            client_w.close()
            return
        cut = asyncio.Event()

        async def to_server() -> None:
            while data := await client_r.read(65536):
                dropping = self._marker in data and self._take_arm()
                if dropping:
                    cut.set()  # from here on, nothing the server says reaches the client
                server_w.write(data)
                await server_w.drain()
                if dropping:
                    await asyncio.sleep(0.05)  # the server commits; its answer is lost
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
