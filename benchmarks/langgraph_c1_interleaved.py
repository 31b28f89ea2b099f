"""c=1 latency of routegraph against Aegra (and, if asked, another routegraph checkout),
with the servers up side by side and their runs interleaved one by one.

`benchmarks/langgraph_api.py` measures one server after the other; on a shared machine
whose speed drifts by tens of percent from minute to minute, the two halves of a round
can run at different speeds. Here every server gets one `threads.create` + `runs.wait`
of the 3-node no-op graph in turn (which server goes first rotates from turn to turn), so
a slow spell falls on all of them alike. Printed per
server: p50 and p90, and the median of the per-turn ratios to Aegra's run of the same turn.

    python benchmarks/langgraph_c1_interleaved.py [--runs 300] [--other-tree /path/to/checkout]
        [--aegra-python /tmp/aegra-venv/bin/python]

`--other-tree`: a checkout with its own `.venv` (`make install` there), run the same way,
for a before/after in the same turns.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import uuid
from pathlib import Path

from langgraph_sdk import get_client

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.langgraph_api import (  # noqa: E402 (the repository on the path first)
    Server,
    drop_database,
    fresh_database,
    one_run,
    start_aegra,
    start_routegraph,
)


def _pg(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://")


def _start(name: str, args: argparse.Namespace, url: str, simulator_url: str) -> Server:
    if name == "aegra":
        return start_aegra(args.aegra_python, url, simulator_url)
    if name == "other":
        return start_routegraph(_pg(url), simulator_url, Path(args.other_tree), name="other")
    return start_routegraph(_pg(url), simulator_url)


async def main(args: argparse.Namespace) -> None:
    from devtools.simulator.config import SimulatorConfig
    from devtools.simulator.server import SimulatorServer

    names = ["routegraph", *(["other"] if args.other_tree else []), "aegra"]
    databases = {name: f"bench_c1_{name}_{uuid.uuid4().hex[:8]}" for name in names}
    servers: dict[str, Server] = {}
    with SimulatorServer(SimulatorConfig(latency_scale=0.0)) as simulator_url:
        try:
            for name in names:
                url = fresh_database(databases[name])
                servers[name] = _start(name, args, url, simulator_url)
            clients = {name: get_client(url=servers[name].url, timeout=120) for name in names}
            for _ in range(args.warmup):
                for name in names:
                    await one_run(clients[name])
            latencies: dict[str, list[float]] = {name: [] for name in names}
            for turn in range(args.runs):
                # Each server goes first as often as the others: the one run right after
                # another server's can be slower or faster for being there.
                shift = turn % len(names)
                for name in names[shift:] + names[:shift]:
                    latencies[name].append(await one_run(clients[name]))
        finally:
            for server in servers.values():
                server.stop()
            for database in databases.values():
                drop_database(database)
    load = os.getloadavg()[0]
    print(f"{args.runs} turns, load {load:.2f} after")
    print(f"{'':12}{'p50 ms':>10}{'p90 ms':>10}{'/ aegra':>10}")
    for name in names:
        ordered = sorted(latencies[name])
        pairs = zip(latencies[name], latencies["aegra"], strict=True)
        ratios = [mine / theirs for mine, theirs in pairs]
        print(
            f"{name:12}{statistics.median(ordered) * 1000:>10.2f}"
            f"{ordered[int(len(ordered) * 0.9) - 1] * 1000:>10.2f}"
            f"{statistics.median(ratios):>10.2f}"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--other-tree", default=None)
    parser.add_argument("--aegra-python", default="/tmp/aegra-venv/bin/python")
    arguments = parser.parse_args()
    asyncio.run(main(arguments))
