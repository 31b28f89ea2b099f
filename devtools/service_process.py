"""`routegraph serve` as a child process on a free loopback port (demo, live benchmark)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

import httpx

STARTUP_TIMEOUT_S = 90.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServiceProcess:
    """`with ServiceProcess(db_url, simulator_url, log) as base_url:` API + one worker."""

    def __init__(self, database_url: str, simulator_url: str, log_path: Path) -> None:
        self.database_url = database_url
        self.simulator_url = simulator_url
        self.log_path = log_path
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]

    def __enter__(self) -> str:
        return self.start()

    def start(self) -> str:
        """Spawn the service and return its base URL once /healthz answers."""
        env = {
            **os.environ,
            "ROUTEGRAPH_DATABASE_URL": self.database_url,
            "ROUTEGRAPH_SIMULATOR_URL": self.simulator_url,
            "ROUTEGRAPH_LOG_LEVEL": "WARNING",
        }
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "app.cli", "serve", "--port", str(self.port)],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            self._wait_healthy()
        except RuntimeError:
            self.stop()
            raise
        return self.base_url

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _wait_healthy(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        with httpx.Client(base_url=self.base_url, timeout=2) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(
                        f"the service exited with code {self.process.returncode}:\n"
                        + self.log_tail()
                    )
                try:
                    if client.get("/healthz").status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                time.sleep(0.25)
        raise RuntimeError("the service did not become healthy in time:\n" + self.log_tail())

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)
