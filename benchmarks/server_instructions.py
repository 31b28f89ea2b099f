"""Instructions the routegraph server executes per `threads.create` + `runs.wait` of the
3-node no-op graph (the request pair of `benchmarks/langgraph_api.py`), counted by
callgrind: wall-clock and CPU time on this shared 2-core machine move by tens of percent
between rounds, an instruction count of the same tree by about 1 %.

The server (`python -m app.cli serve`, worker embedded, fresh PostgreSQL database) starts
under `valgrind --tool=callgrind` with instrumentation off; after the warm-up runs it is
switched on for exactly the counted runs. Periodic work (sweeps, cron polls, lease
heartbeats, timed event flushes) is pushed out of the window, as in
`tests/integration/test_langgraph_api_statements.py`, because under callgrind a run takes
~50x longer and timers would fire where they never do at full speed.

    python benchmarks/server_instructions.py [--runs 100] [--concurrency 1] [--repeat 1]
    python benchmarks/server_instructions.py --cpu   # no valgrind: CPU ms per run instead
    python benchmarks/server_instructions.py --profile /tmp/runs.folded   # sampled stacks
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from langgraph_api import GRAPHS, REPO, Server, drop_database, fresh_database, one_run
from langgraph_sdk import get_client

QUIET_PERIODIC_WORK = {
    "ROUTEGRAPH_POLL_SECONDS": "600",
    "ROUTEGRAPH_CRON_POLL_SECONDS": "60",
    "ROUTEGRAPH_PUSH_SAFETY_POLL_SECONDS": "600",
    "ROUTEGRAPH_LEASE_SECONDS": "600",
    "ROUTEGRAPH_EVENT_FLUSH_SECONDS": "60",
}


def start_server(database_url: str, out_file: Path | None, profile: str | None) -> Server:
    env = {
        **os.environ,
        **QUIET_PERIODIC_WORK,
        "ROUTEGRAPH_DATABASE_URL": database_url.replace("postgresql://", "postgresql+psycopg://"),
        "ROUTEGRAPH_CONFIG": str(GRAPHS / "langgraph.json"),
        "ROUTEGRAPH_LOG_LEVEL": "WARNING",
    }
    argv = [sys.executable, "-m", "app.cli", "serve", "--port", "{port}"]
    if profile is not None:
        env["ROUTEGRAPH_PROFILE_OUT"] = profile
        argv[1:3] = [str(REPO / "benchmarks" / "profiled_serve.py")]
    if out_file is not None:
        argv = [
            "valgrind",
            "--tool=callgrind",
            "--instr-atstart=no",
            f"--callgrind-out-file={out_file}",
            *argv,
        ]
    server = Server("routegraph-instr", argv, env, REPO)
    server.wait_healthy("/healthz", timeout=600)
    return server


def callgrind_control(pid: int, *options: str) -> None:
    subprocess.run(["callgrind_control", *options, str(pid)], check=True, capture_output=True)


def total_instructions(dump: Path) -> int:
    """The `summary:` (or `totals:`) line of a callgrind dump: Ir over the dumped part."""
    for line in dump.read_text().splitlines():
        if line.startswith(("summary:", "totals:")):
            return int(line.split()[1])
    raise RuntimeError(f"no totals in {dump}")


async def runs_against(url: str, runs: int, concurrency: int) -> None:
    """`runs` times threads.create + runs.wait, spread over `concurrency` clients."""
    clients = [get_client(url=url, timeout=600) for _ in range(concurrency)]
    share = [runs // concurrency + (i < runs % concurrency) for i in range(concurrency)]

    async def client_loop(index: int) -> None:
        for _ in range(share[index]):
            await one_run(clients[index])

    await asyncio.gather(*(client_loop(i) for i in range(concurrency)))


def one_round(args: argparse.Namespace) -> float:
    """Instructions per run (callgrind), or CPU ms per run with --cpu or --profile."""
    database = f"bench_instr_{uuid.uuid4().hex[:8]}"
    url = fresh_database(database)
    counting = not (args.cpu or args.profile)
    with tempfile.TemporaryDirectory() as scratch:
        out_file = Path(scratch) / "callgrind.out" if counting else None
        server = start_server(url, out_file, args.profile)
        pid = server.process.pid
        try:
            asyncio.run(runs_against(server.url, args.warmup, 1))
            if counting:
                callgrind_control(pid, "--instr=on")
                callgrind_control(pid, "--zero")
            elif args.profile:
                os.kill(pid, signal.SIGUSR1)
            cpu = server.cpu()
            asyncio.run(runs_against(server.url, args.runs, args.concurrency))
            cpu = server.cpu() - cpu
            time.sleep(2.0)  # the worker's claim after the last run belongs to the count
            if not counting:
                if args.profile:
                    os.kill(pid, signal.SIGUSR2)
                    time.sleep(1.0)
                return cpu / args.runs * 1000
            callgrind_control(pid, "--dump=counted")
            callgrind_control(pid, "--instr=off")
            dump = sorted(Path(scratch).glob("callgrind.out.*"))[-1]
            if args.keep:
                Path(args.keep).write_bytes(dump.read_bytes())
            return total_instructions(dump) / args.runs
        finally:
            server.stop()
            drop_database(database)


def main(args: argparse.Namespace) -> None:
    unit = "CPU ms/run" if args.cpu or args.profile else "instructions/run"
    for _ in range(args.repeat):
        value = one_round(args)
        print(f"c={args.concurrency} runs={args.runs}: {value:,.2f} {unit}", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--cpu", action="store_true", help="no valgrind: CPU ms per run")
    parser.add_argument("--profile", help="no valgrind: sample the counted runs to this file")
    parser.add_argument("--keep", help="copy the counted callgrind dump to this path")
    sys.path.insert(0, str(REPO))
    main(parser.parse_args())
