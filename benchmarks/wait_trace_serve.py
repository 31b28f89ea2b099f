"""`python benchmarks/wait_trace_serve.py serve ...`: `python -m app.cli serve ...` with its
event loop's waits timed, for `benchmarks/langgraph_wait_split.py`.

Every `select()` of the main thread's event loop that blocked is kept: when it started
and ended and which file descriptors ended it (a Postgres connection, a client's HTTP
connection, the loop's self-pipe for a thread's hand-off, or none: a timer). Each psycopg
statement is kept too (its connection's socket and first words), so a wait on Postgres
can be named. SIGUSR1 writes what was kept to `$WAIT_TRACE_OUT` (JSON) and starts the
waits afresh. Timing costs about a microsecond per loop turn; the service is unchanged.
"""

from __future__ import annotations

import json
import os
import runpy
import selectors
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

MIN_WAIT_S = 30e-6  # shorter selects are a busy loop's polls, not waits


class WaitLog:
    """The loop's waits and the statements sent, kept in memory until dumped."""

    def __init__(self) -> None:
        self.waits: list[tuple[float, float, list[int]]] = []
        self.statements: list[tuple[float, int, str]] = []
        self.main_thread = threading.get_ident()

    def dump(self, path: str) -> None:
        fds = {fd for _, _, ready in self.waits for fd in ready}
        peers = {str(fd): _ports(fd) for fd in fds}
        with open(path, "w") as out:
            json.dump({"waits": self.waits, "statements": self.statements, "fds": peers}, out)
        self.waits.clear()  # statements are kept: a wait is named after the one before it


def _ports(fd: int) -> tuple[int, int] | None:
    """(peer port, own port) of a TCP socket; None for anything else (the self-pipe)."""
    try:
        with socket.socket(fileno=os.dup(fd)) as sock:
            peer, own = sock.getpeername(), sock.getsockname()
    except OSError:
        return None
    return (peer[1], own[1]) if isinstance(peer, tuple) else None


def _time_selects(log: WaitLog) -> None:
    select = selectors.EpollSelector.select

    def timed(self: selectors.EpollSelector, timeout: float | None = None) -> Any:
        started = time.perf_counter()
        ready = select(self, timeout)
        ended = time.perf_counter()
        if ended - started > MIN_WAIT_S and threading.get_ident() == log.main_thread:
            log.waits.append((started, ended, [key.fd for key, _ in ready]))
        return ready

    selectors.EpollSelector.select = timed  # type: ignore[method-assign,assignment]


def _name_statements(log: WaitLog) -> None:
    import psycopg

    def named(method: Callable[..., Any], prefix: str) -> Callable[..., Any]:
        async def execute(self: psycopg.AsyncCursor[Any], query: Any, *args: Any, **kw: Any) -> Any:
            text = query if isinstance(query, str) else str(getattr(query, "as_string", query))
            words = " ".join(text.split())[:60]
            log.statements.append(
                (time.perf_counter(), self.connection.pgconn.socket, prefix + words)
            )
            return await method(self, query, *args, **kw)

        return execute

    psycopg.AsyncCursor.execute = named(psycopg.AsyncCursor.execute, "")  # type: ignore[method-assign]
    psycopg.AsyncCursor.executemany = named(  # type: ignore[method-assign]
        psycopg.AsyncCursor.executemany, "many: "
    )


def main() -> None:
    # uvloop has no selector to time: hide it so uvicorn's `loop: auto` takes asyncio's loop
    # (its waits are the same; its own per-turn work is somewhat dearer than uvloop's).
    sys.modules["uvloop"] = None  # type: ignore[assignment]
    log = WaitLog()
    _time_selects(log)
    _name_statements(log)
    out = os.environ.get("WAIT_TRACE_OUT", "/tmp/routegraph-wait-trace.json")
    signal.signal(signal.SIGUSR1, lambda *_: log.dump(out))
    sys.path.insert(0, os.getcwd())
    sys.argv = ["app.cli", *sys.argv[1:]]
    runpy.run_module("app.cli", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
