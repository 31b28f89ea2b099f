"""A real uvicorn server on a free loopback port, in a background thread."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from types import TracebackType

import uvicorn
from fastapi import FastAPI

from app.api.http_server import uvicorn_config
from app.settings import Settings
from devtools.service_process import free_port


class _PromptServer(uvicorn.Server):
    """uvicorn's server, told to stop at once: uvicorn looks at `should_exit` every 0.1 s,
    which every test that starts a server would wait out half of on average."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = asyncio.Event()

    async def main_loop(self) -> None:
        self._loop = asyncio.get_running_loop()
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + 1) % 864000
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), 0.1)

    def stop(self) -> None:
        self.should_exit = True
        if self._loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                self._loop.call_soon_threadsafe(self._stopping.set)


class LiveServer:
    """`with LiveServer(app) as base_url:`; the app's lifespan runs in the server's loop.

    With `settings`, the server is configured as `routegraph serve` configures it
    (header-read timeout, connection cap per client).
    """

    def __init__(
        self, app: FastAPI, startup_timeout_s: float = 60.0, *, settings: Settings | None = None
    ) -> None:
        self.port = free_port()
        if settings is None:
            config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        else:
            config = uvicorn_config(app, settings, host="127.0.0.1", port=self.port)
        self.server = _PromptServer(config)
        self._thread = threading.Thread(target=self.server.run, daemon=True)
        self._timeout = startup_timeout_s

    def __enter__(self) -> str:
        self._thread.start()
        deadline = time.monotonic() + self._timeout
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.05)
        return f"http://127.0.0.1:{self.port}"

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.server.stop()
        self._thread.join(timeout=30)
