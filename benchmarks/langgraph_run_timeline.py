"""Where one LangGraph-API run's time goes, by the run's own events: each turn's events
(`/v1/runs/{id}/events`: queued, started, node_started/finished, the ledger's attempt rows,
stream chunks, the terminal event) placed against the client's clock (same host), with the
moments the client saw: the thread created, the `metadata` event, the first token, the end.
Printed: the median time of each mark from the turn's start, in the order they come.

`--mode wait`: `threads.create` + `runs.wait` of the 3-node no-op graph (the c=1 turn of
`benchmarks/langgraph_api.py`). `--mode stream`: a stateless `runs.stream` of the one-call
chat graph in `messages-tuple` mode (its time to first token). The simulator answers at
once (latency 0) unless `--latency-scale` says otherwise. The client reads each turn's
events after the turn, so turns are slower than in `langgraph_api.py`; the gaps between
marks are what to compare.

    python benchmarks/langgraph_run_timeline.py [--mode wait|stream] [--turns 100]
        [--latency-scale 0]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
import uuid
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from langgraph_sdk import get_client

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.langgraph_api import (  # noqa: E402 (the repository on the path first)
    CHAT_INPUT,
    NOOP_INPUT,
    drop_database,
    fresh_database,
    start_routegraph,
)

WARMUP = 10


async def run_marks(url: str, run_id: str, started_wall: float) -> dict[str, float]:
    """The first time of each kind of the run's events and ledger attempts, in ms after
    `started_wall`."""
    marks: dict[str, float] = {}

    def mark(name: str, at: str) -> None:
        marks.setdefault(name, (datetime.fromisoformat(at).timestamp() - started_wall) * 1000)

    async with httpx.AsyncClient(base_url=url, timeout=30) as raw:
        async with raw.stream("GET", f"/v1/runs/{run_id}/events") as response:
            async for line in response.aiter_lines():
                if line.startswith("data: "):
                    event = json.loads(line[6:])
                    node = f":{event['node']}" if event.get("node") else ""
                    mark(f"{event['kind']}{node}", event["at"])
        timeline = (await raw.get(f"/v1/runs/{run_id}/timeline")).json()
    for step in timeline["steps"]:
        for task in step["tasks"]:
            for call in task["calls"]:
                for attempt in call["attempts"]:
                    mark("call row written (in_flight)", attempt["created_at"])
                    if attempt.get("completed_at"):
                        mark("call completed", attempt["completed_at"])
    return marks


async def wait_turn(client: Any, url: str) -> dict[str, float]:
    started_wall, started = time.time(), time.perf_counter()
    thread = await client.threads.create()
    seen = {"~client: thread created": (time.perf_counter() - started) * 1000}
    await client.runs.wait(thread["thread_id"], "noop", input=NOOP_INPUT)
    seen["~client: answer read"] = (time.perf_counter() - started) * 1000
    (run,) = await client.runs.list(thread["thread_id"])
    return {**await run_marks(url, run["run_id"], started_wall), **seen}


async def stream_turn(client: Any, url: str) -> dict[str, float]:
    started_wall, started = time.time(), time.perf_counter()
    seen: dict[str, float] = {}
    run_id = ""
    async for part in client.runs.stream(
        None, "chat", input=CHAT_INPUT, stream_mode="messages-tuple"
    ):
        at = (time.perf_counter() - started) * 1000
        if part.event == "metadata" and not run_id:
            run_id = part.data["run_id"]
            seen["~client: metadata event"] = at
        if part.event == "messages" and part.data[0].get("content"):
            seen.setdefault("~client: first token", at)
    seen["~client: stream ended"] = (time.perf_counter() - started) * 1000
    return {**await run_marks(url, run_id, started_wall), **seen}


async def measure(url: str, mode: str, turns: int) -> dict[str, list[float]]:
    client = get_client(url=url, timeout=60)
    turn = wait_turn if mode == "wait" else stream_turn
    marks: dict[str, list[float]] = defaultdict(list)
    for index in range(WARMUP + turns):
        got = await turn(client, url)
        if index >= WARMUP:
            for name, at in got.items():
                marks[name].append(at)
    return marks


def main(args: argparse.Namespace) -> None:
    from devtools.simulator.config import SimulatorConfig
    from devtools.simulator.server import SimulatorServer

    database = f"bench_timeline_{uuid.uuid4().hex[:8]}"
    url = fresh_database(database)
    try:
        config = SimulatorConfig(latency_scale=args.latency_scale)
        with SimulatorServer(config) as simulator_url:
            server = start_routegraph(url, simulator_url)
            try:
                marks = asyncio.run(measure(server.url, args.mode, args.turns))
            finally:
                server.stop()
    finally:
        drop_database(database)
    print(f"{args.mode}: {args.turns} turns, median ms from the turn's start")
    ordered = sorted(marks.items(), key=lambda item: statistics.median(item[1]))
    previous = 0.0
    for name, times in ordered:
        at = statistics.median(times)
        print(f"  {at:8.2f}  (+{at - previous:5.2f})  {name}  [{len(times)}]")
        previous = at


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=["wait", "stream"], default="wait")
    parser.add_argument("--turns", type=int, default=100)
    parser.add_argument(
        "--latency-scale", type=float, default=0.0, help="the simulator's (1: its model latencies)"
    )
    main(parser.parse_args())
