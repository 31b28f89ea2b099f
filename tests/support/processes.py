"""`routegraph serve` / `routegraph worker` as child processes of a test, and waiting helpers."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

from devtools.service_process import free_port

STARTUP_TIMEOUT_S = 90.0


class Child:
    """One routegraph process; its output goes to a log file the test can show on failure."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.args = args
        self.log = log
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "app.cli", *args], env=env, stdout=out, stderr=out
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:]

    def signal(self, sig: int) -> None:
        if self.alive():
            os.kill(self.pid, sig)

    def stop(self, timeout: float = 30.0) -> int | None:
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(timeout=10)


def service_env(database_url: str, simulator_url: str, **settings: Any) -> dict[str, str]:
    env = {
        **os.environ,
        "ROUTEGRAPH_DATABASE_URL": database_url,
        "ROUTEGRAPH_SIMULATOR_URL": simulator_url,
        "ROUTEGRAPH_LOG_LEVEL": "INFO",
    }
    for key, value in settings.items():
        env[f"ROUTEGRAPH_{key.upper()}"] = str(value)
    return env


def start_api(env: dict[str, str], log: Path, *, worker: bool = True) -> tuple[Child, str]:
    """`routegraph serve` on a free port; returns it and its base URL once /healthz answers."""
    port = free_port()
    child = Child(["serve", "--port", str(port), *([] if worker else ["--no-worker"])], env, log)
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    with httpx.Client(base_url=base_url, timeout=2) as client:
        while time.monotonic() < deadline:
            if not child.alive():
                raise RuntimeError("serve exited:\n" + child.tail())
            try:
                if client.get("/healthz").status_code == 200:
                    return child, base_url
            except httpx.TransportError:
                pass
            time.sleep(0.1)
    child.stop()
    raise RuntimeError("serve did not become healthy:\n" + child.tail())


async def wait_until(
    condition: Callable[[], Awaitable[bool]], seconds: float, what: str, poll: float = 0.1
) -> None:
    deadline = time.monotonic() + seconds
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds:.0f}s waiting for {what}")
        await asyncio.sleep(poll)


def run_cli(
    database_url: str, *args: str, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """An admin command `routegraph ARGS` against `database_url`, to the end; its output
    captured."""
    return _cli(args, {"ROUTEGRAPH_DATABASE_URL": database_url}, cwd)


def client_cli(
    url: str, *args: str, key: str | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """`routegraph ARGS` as a client of the service at `url` (ROUTEGRAPH_URL), with no
    ROUTEGRAPH_DATABASE_URL at all; `key` goes in ROUTEGRAPH_API_KEY."""
    env = {"ROUTEGRAPH_URL": url, **({"ROUTEGRAPH_API_KEY": key} if key else {})}
    return _cli(args, env, cwd)


def _cli(
    args: tuple[str, ...], settings: dict[str, str], cwd: Path | None
) -> subprocess.CompletedProcess[str]:
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("ROUTEGRAPH_")}
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        env={**inherited, **settings, "COLUMNS": "200"},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
