"""A real uvicorn server on a free loopback port, in a background thread."""

from __future__ import annotations

import threading
import time
from types import TracebackType

import uvicorn
from fastapi import FastAPI

from app.api.http_server import uvicorn_config
from app.settings import Settings
from devtools.service_process import free_port


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
        self.server = uvicorn.Server(config)
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
        self.server.should_exit = True
        self._thread.join(timeout=30)
