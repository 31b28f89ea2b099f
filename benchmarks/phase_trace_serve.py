"""`python benchmarks/phase_trace_serve.py serve ...`: `python -m app.cli serve ...` with
the steps of a LangGraph-API run stamped, for `benchmarks/langgraph_phase_split.py`.

Each function named in `PHASES` is wrapped so that entering and leaving it appends
(`name>` or `name<`, `time.perf_counter()`) to a list; so is each part LangGraph streams to
the executor, the body of each response, and each read of a request's bytes. SIGUSR1 writes
the list to `$PHASE_TRACE_OUT` (JSON) and starts it afresh. A name that no longer exists
stops the server at start: the benchmark must not go on measuring nothing. A stamp costs
about a microsecond; uvloop stays (the server runs as it does in production).
"""

from __future__ import annotations

import functools
import importlib
import json
import os
import runpy
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

# (module, attribute path, stamp name): coroutine functions, stamped on entry and exit.
PHASES = [
    ("app.services.lg_threads", "create_thread", "create_thread"),
    ("app.api.langgraph.runs", "_create", "create_run"),
    ("app.services.lg_runs", "get_assistant", "get_assistant"),
    ("app.services.lg_threads", "queue_on_thread", "queue"),
    ("app.db.journal.postgres", "PostgresJournal.claim", "claim"),
    ("app.api.langgraph.runs", "wait_for_run_state", "wait"),
    ("app.worker.loop", "execute_run", "execute"),
    ("app.db.checkpoints", "FencedPostgresSaver.aget_tuple", "read_checkpoint"),
    ("app.db.checkpoints", "FencedPostgresSaver.flush", "flush_checkpoints"),
    ("app.worker.run_executor", "_finish", "finish"),
    ("app.db.journal.postgres", "PostgresJournal._finish", "finish_statement"),
    ("app.services.lg_runs", "run_result", "result"),
]
# (module, attribute path, stamp name): plain functions, stamped on entry.
MARKS = [
    ("app.services.claim_here", "ClaimHere.committed", "queued_and_claimed"),
    ("app.api.http_server", "GuardedH11Protocol.data_received", "request_bytes"),
]


class Stamps:
    def __init__(self) -> None:
        self.stamps: list[tuple[str, float]] = []

    def add(self, name: str) -> None:
        self.stamps.append((name, time.perf_counter()))

    def dump(self, path: str) -> None:
        with open(path, "w") as out:
            json.dump(self.stamps, out)
        self.stamps = []


def _owner(module: str, path: str) -> tuple[Any, str]:
    owner: Any = importlib.import_module(module)
    *parents, name = path.split(".")
    for parent in parents:
        owner = getattr(owner, parent)
    if not hasattr(owner, name):
        raise SystemExit(f"phase_trace_serve: {module}.{path} no longer exists")
    return owner, name


def _stamp_coroutine(stamps: Stamps, fn: Callable[..., Any], name: str) -> Callable[..., Any]:
    @functools.wraps(fn)
    async def stamped(*args: Any, **kwargs: Any) -> Any:
        stamps.add(f"{name}>")
        try:
            return await fn(*args, **kwargs)
        finally:
            stamps.add(f"{name}<")

    return stamped


def _stamp_call(stamps: Stamps, fn: Callable[..., Any], name: str) -> Callable[..., Any]:
    @functools.wraps(fn)
    def stamped(*args: Any, **kwargs: Any) -> Any:
        stamps.add(name)
        return fn(*args, **kwargs)

    return stamped


def _stamp_parts(stamps: Stamps) -> None:
    """Each part the graph streams to the executor (`part:<mode>`)."""
    import app.worker.run_executor as executor

    parts = executor.graph_parts

    async def stamped(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        stamps.add("graph>")
        async for part in parts(*args, **kwargs):
            stamps.add(f"part:{part[1] if len(part) == 3 else part[0]}")
            yield part
        stamps.add("graph<")

    executor.graph_parts = stamped  # type: ignore[assignment]


def _stamp_responses(stamps: Stamps) -> None:
    from starlette.responses import JSONResponse

    send = JSONResponse.__call__

    async def stamped(self: JSONResponse, scope: Any, receive: Any, sender: Any) -> None:
        stamps.add("respond>")
        await send(self, scope, receive, sender)
        stamps.add("respond<")

    JSONResponse.__call__ = stamped  # type: ignore[method-assign]


def _stamp_sessions(stamps: Stamps) -> None:
    """The Postgres sessions' one-statement writes: the session's own cost around them."""
    from app.db.engine import PostgresSessions

    one_statement = PostgresSessions.one_statement

    @asynccontextmanager
    async def stamped(self: PostgresSessions) -> AsyncIterator[Any]:
        stamps.add("session_open>")
        async with one_statement(self) as session:
            stamps.add("session_open<")
            yield session
            stamps.add("session_close>")
        stamps.add("session_close<")

    PostgresSessions.one_statement = stamped  # type: ignore[method-assign,assignment]


def install(stamps: Stamps) -> None:
    for module, path, name in PHASES:
        owner, attribute = _owner(module, path)
        setattr(owner, attribute, _stamp_coroutine(stamps, getattr(owner, attribute), name))
    for module, path, name in MARKS:
        owner, attribute = _owner(module, path)
        setattr(owner, attribute, _stamp_call(stamps, getattr(owner, attribute), name))
    _stamp_parts(stamps)
    _stamp_responses(stamps)
    _stamp_sessions(stamps)


def main() -> None:
    sys.path.insert(0, os.getcwd())
    stamps = Stamps()
    install(stamps)
    out = os.environ.get("PHASE_TRACE_OUT", "/tmp/routegraph-phase-trace.json")
    signal.signal(signal.SIGUSR1, lambda *_: stamps.dump(out))
    sys.argv = ["app.cli", *sys.argv[1:]]
    runpy.run_module("app.cli", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
