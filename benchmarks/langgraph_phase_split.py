"""Where a sequential `threads.create` + `runs.wait` of the 3-node no-op graph spends its
wall time, step by step, as the server's own code sees it (Postgres, one process).

The server runs under `benchmarks/phase_trace_serve.py`, which stamps the entry and exit
of the functions a turn goes through (thread insert, run creation and its claim, the
checkpoint read, each part LangGraph streams, the checkpoint flush, the finish, the answer)
and each read of a request's bytes. The client's own clock (same host, same monotonic
clock) brackets each turn. Printed: the median gap between consecutive stamps over the
turns that went the usual way (the most common sequence; its share is printed), so each
line is one step of the turn and the lines add up to about the median turn.

`benchmarks/langgraph_wait_split.py` says whom the server waited on; this says in which
of its steps the time went, waiting or computing.

    python benchmarks/langgraph_phase_split.py [--runs 300] [--rounds 1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.langgraph_api import (  # noqa: E402 (the repository on the path first)
    NOOP_INPUT,
    Server,
    instrumented_routegraph,
)

TRACE = Path("/tmp/routegraph-phase-trace.json")
Turn = tuple[float, float]


def report(stamps: list[tuple[str, float]], turns: list[Turn]) -> None:
    """Per turn, the gaps between its consecutive stamps; the usual sequence's medians."""
    gaps: dict[tuple[int, str], list[float]] = defaultdict(list)
    sequences: Counter[tuple[str, ...]] = Counter()
    ordered = sorted(stamps, key=lambda stamp: stamp[1])
    for started, ended in turns:
        inside = [stamp for stamp in ordered if started <= stamp[1] <= ended]
        steps, previous = [], ("client sends", started)
        for name, at in [*inside, ("client has the answer", ended)]:
            step = f"{previous[0]} -> {name}"
            gaps[(len(steps), step)].append((at - previous[1]) * 1000)
            steps.append(step)
            previous = (name, at)
        sequences[tuple(steps)] += 1
    usual, count = sequences.most_common(1)[0]
    walls = [(ended - started) * 1000 for started, ended in turns]
    print(
        f"  {len(turns)} turns, median {statistics.median(walls):.2f} ms; "
        f"{count / len(turns):.0%} went the usual way (the lines below):"
    )
    for index, step in enumerate(usual):
        print(f"    {statistics.median(gaps[(index, step)]):7.3f}  {step}")


async def measure(server: Server, runs: int, rounds: int) -> None:
    from langgraph_sdk import get_client

    client = get_client(url=server.url, timeout=120)

    async def turn() -> Turn:
        started = time.perf_counter()
        thread = await client.threads.create()
        await client.runs.wait(thread["thread_id"], "noop", input=NOOP_INPUT)
        return started, time.perf_counter()

    for _ in range(30):  # warm-up: connections, caches, prepared statements
        await turn()
    for round_ in range(rounds):
        os.kill(server.process.pid, signal.SIGUSR1)  # start afresh
        await asyncio.sleep(0.3)
        turns = [await turn() for _ in range(runs)]
        await asyncio.sleep(0.3)  # what the last turn set off, stamped too
        os.kill(server.process.pid, signal.SIGUSR1)
        await asyncio.sleep(0.5)
        print(f"round {round_ + 1}: load {os.getloadavg()[0]:.2f}")
        report(json.loads(await asyncio.to_thread(TRACE.read_text)), turns)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    with instrumented_routegraph(
        "phase_trace_serve.py", "bench_phase", {"PHASE_TRACE_OUT": str(TRACE)}
    ) as (server, _database):
        asyncio.run(measure(server, args.runs, args.rounds))


if __name__ == "__main__":
    main()
