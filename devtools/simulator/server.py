"""Running the simulator: blocking (`routegraph simulate`) or in a background thread."""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType

import httpx
import uvicorn

from devtools.simulator.app import create_app
from devtools.simulator.config import SimulatorConfig

GRACEFUL_SHUTDOWN_SECONDS = 2  # hung `timeout` faults must not hold up a stop


def run_simulator(host: str, port: int, config: SimulatorConfig) -> None:
    """Serve until interrupted (Ctrl-C); uvicorn's access log stays off."""
    uvicorn.run(
        create_app(config),
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )


class SimulatorServer:
    """A real simulator on a loopback port, served from a daemon thread.

    `with SimulatorServer(config) as base_url:` gives "http://127.0.0.1:<port>/v1" once
    /healthz answers. Port 0 (the default) binds a free port; the socket is bound here, so
    there is no race between picking the port and listening on it.
    """

    def __init__(
        self,
        config: SimulatorConfig | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        startup_timeout_s: float = 15.0,
        access_log: bool = False,
    ) -> None:
        self.config = config or SimulatorConfig()
        self.host = host
        self.requested_port = port
        self.port: int | None = None
        self._startup_timeout_s = startup_timeout_s
        self._access_log = access_log
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    @property
    def root_url(self) -> str:
        if self.port is None:
            raise RuntimeError("the simulator is not running")
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """What an OpenAI client takes as base_url."""
        return f"{self.root_url}/v1"

    def start(self) -> str:
        """Start serving and return the base URL (ending in /v1) once it is healthy."""
        if self._thread is not None:
            raise RuntimeError("the simulator is already running")
        # IPPROTO_TCP explicitly: asyncio only sets TCP_NODELAY on accepted sockets whose
        # protocol says TCP, and without it every response waits ~40 ms on delayed ACKs.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.requested_port))
        self._socket = sock
        self.port = int(sock.getsockname()[1])
        config = uvicorn.Config(
            create_app(self.config),
            log_config=None,  # leave the host's logging alone
            log_level="warning",
            access_log=self._access_log,
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="simulator", daemon=True
        )
        self._thread.start()
        try:
            self._wait_until_healthy()
        except BaseException:
            self.stop()
            raise
        return self.base_url

    def _wait_until_healthy(self) -> None:
        deadline = time.monotonic() + self._startup_timeout_s
        with httpx.Client(timeout=1.0) as client:
            while True:
                if self._thread is None or not self._thread.is_alive():
                    raise RuntimeError("the simulator stopped during start-up")
                try:
                    if client.get(f"{self.root_url}/healthz").status_code == 200:
                        return
                except httpx.TransportError:
                    pass  # not listening yet
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the simulator did not become healthy at {self.root_url}")
                time.sleep(0.02)

    def stop(self) -> None:
        """Stop serving and wait for the thread; safe to call twice."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=GRACEFUL_SHUTDOWN_SECONDS + 10)
        if self._socket is not None:
            self._socket.close()
        self._server = self._thread = self._socket = None

    def __enter__(self) -> str:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
