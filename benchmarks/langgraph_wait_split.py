"""Where the wall time of a sequential `threads.create` + `runs.wait` goes (the benchmark's
3-node no-op graph, Postgres): the server computing, or waiting, and on whom.

The server runs under `benchmarks/wait_trace_serve.py`, which times its event loop's
waits. Each run's wall time (as the client sees it) splits into: the server busy (on a
CPU, or runnable but preempted), waiting on Postgres (by statement), waiting on the client
(the SDK building a request, reading a response, loopback), waiting on a timer (polls,
sleeps) and on a thread hand-off. Also printed: CPU ms per run of the server, of this
client and of the database's backends. Waits are robust to a loaded machine where
wall-clock figures are not.

    python benchmarks/langgraph_wait_split.py [--runs 300] [--rounds 2] [--show-run]
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import json
import os
import signal
import statistics
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.langgraph_api import (  # noqa: E402 (the repository on the path first)
    NOOP_INPUT,
    Server,
    cpu_seconds,
    instrumented_routegraph,
)

TRACE = Path("/tmp/routegraph-wait-trace.json")
KINDS = ("busy", "postgres", "client", "timer", "hand-off", "several")


def backend_pids(database: str) -> list[int]:
    """The database's backends (the service's connections) on this host."""
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            command = (proc / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if command.startswith("postgres:") and f" {database} " in command:
            pids.append(int(proc.name))
    return pids


def cpu_of(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            total += cpu_seconds(pid)
        except OSError:  # a backend that ended
            continue
    return total


class Trace:
    """One dump of the server's waits, with each wait's kind and statement."""

    def __init__(self, data: dict[str, Any], http_port: int) -> None:
        self.waits = data["waits"]
        self.kind: dict[int, str] = {}
        for fd, ports in data["fds"].items():
            if ports is None:
                self.kind[int(fd)] = "hand-off"
            else:
                self.kind[int(fd)] = "postgres" if ports[1] != http_port else "client"
        self.sent: dict[int, list[tuple[float, str]]] = defaultdict(list)
        for at, fd, words in data["statements"]:
            self.sent[fd].append((at, words))

    def wait_kind(self, fds: list[int]) -> str:
        kinds = {self.kind.get(fd, "?") for fd in fds}
        return "timer" if not kinds else kinds.pop() if len(kinds) == 1 else "several"

    def statement(self, fd: int, at: float) -> str:
        """The last statement sent on `fd` before `at` (BEGIN/COMMIT are not cursor
        statements: their waits are named after the statement before them)."""
        sent = self.sent.get(fd, [])
        index = bisect.bisect_right([t for t, _ in sent], at) - 1
        return sent[index][1] if index >= 0 else "(no statement recorded)"


def split(trace: Trace, runs: list[tuple[float, float]], show: bool) -> None:
    rows: list[dict[str, float]] = []
    by_statement: Counter[str] = Counter()
    count: Counter[str] = Counter()
    for started, ended in runs:
        row = dict.fromkeys(KINDS, 0.0)
        for begin, end, fds in trace.waits:
            begin, end = max(begin, started), min(end, ended)
            if end <= begin:
                continue
            kind = trace.wait_kind(fds)
            row[kind] += end - begin
            if kind == "postgres":
                words = trace.statement(fds[0], begin)
                by_statement[words] += end - begin
                count[words] += 1
        row["wall"] = ended - started
        row["busy"] = row["wall"] - sum(row[k] for k in KINDS if k != "busy")
        rows.append(row)
    n = len(runs)
    for key in ("wall", *KINDS):
        values = [row[key] * 1000 for row in rows]
        median, mean = statistics.median(values), statistics.mean(values)
        print(f"  {key:9} median {median:7.2f}  mean {mean:7.2f} ms")
    print("  waits on Postgres, by the statement last sent on the connection:")
    for words, seconds in by_statement.most_common(14):
        print(f"    {seconds / n * 1000:6.2f} ms/run {count[words] / n:5.2f}/run  {words}")
    if show:
        middle = sorted(range(n), key=lambda i: rows[i]["wall"])[n // 2]
        started, ended = runs[middle]
        print(f"  the median run ({rows[middle]['wall'] * 1000:.2f} ms), busy | waiting:")
        last = started
        for begin, end, fds in trace.waits:
            if end < started or begin > ended:
                continue
            begin, end = max(begin, started), min(end, ended)
            kind = trace.wait_kind(fds)
            words = trace.statement(fds[0], begin) if kind == "postgres" else ""
            print(f"    {(begin - last) * 1000:6.2f} | {(end - begin) * 1000:6.2f} {kind} {words}")
            last = end


async def measure(server: Server, database: str, runs: int, rounds: int, show: bool) -> None:
    from langgraph_sdk import get_client

    client = get_client(url=server.url, timeout=120)
    for _ in range(30):  # warm-up: connections, caches, prepared statements
        thread = await client.threads.create()
        await client.runs.wait(thread["thread_id"], "noop", input=NOOP_INPUT)
    backends = backend_pids(database)
    for round_ in range(rounds):
        os.kill(server.process.pid, signal.SIGUSR1)  # start afresh
        await asyncio.sleep(0.3)
        cpu = (server.cpu(), time.process_time(), cpu_of(backends))
        timed = []
        for _ in range(runs):
            started = time.perf_counter()
            thread = await client.threads.create()
            await client.runs.wait(thread["thread_id"], "noop", input=NOOP_INPUT)
            timed.append((started, time.perf_counter()))
        used = [
            (b - a) / runs * 1000
            for a, b in zip(cpu, (server.cpu(), time.process_time(), cpu_of(backends)), strict=True)
        ]
        os.kill(server.process.pid, signal.SIGUSR1)
        await asyncio.sleep(0.5)
        print(
            f"round {round_ + 1}: {runs} runs, load {os.getloadavg()[0]:.2f}; CPU ms per run: "
            f"server {used[0]:.2f}, client {used[1]:.2f}, Postgres backends {used[2]:.2f}"
        )
        dumped = json.loads(await asyncio.to_thread(TRACE.read_text))
        split(Trace(dumped, server.port), timed, show)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--show-run", action="store_true", help="print the median run's waits")
    args = parser.parse_args()
    with instrumented_routegraph(
        "wait_trace_serve.py", "bench_wait", {"WAIT_TRACE_OUT": str(TRACE)}
    ) as (server, database):
        asyncio.run(measure(server, database, args.runs, args.rounds, args.show_run))


if __name__ == "__main__":
    main()
