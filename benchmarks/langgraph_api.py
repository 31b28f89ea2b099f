"""routegraph and Aegra side by side, driven by the real `langgraph-sdk` (the LangGraph
Server API), on fresh PostgreSQL databases on this machine, back to back.

Both servers load the same 3-node no-op graph (`benchmarks/lg_graphs/noop.py`) and a
one-call chat graph (routegraph: `RoutegraphChatModel` through its gateway; Aegra: the
same graph on `ChatOpenAI`), both answered by the provider simulator. Printed per server:

- c=1: p50 / p90 of `threads.create` + `runs.wait` (sequential), and the server's CPU ms
  per run over those runs (what of the c=1 latency is not the server computing);
- c=16: completed runs per second, 16 clients each doing `threads.create` + `runs.wait`;
- server CPU ms per run: user+system CPU of the server process over the c=16 phase;
- time to first token: `runs.stream(stream_mode="messages-tuple")` from the request to
  the first token chunk the client reads (the simulator's first-token latency is set to
  0); for routegraph also from the moment the worker got the chunk from the gateway (the
  chunk's run event time, same host clock) to the client reading it.

    python benchmarks/langgraph_api.py [--runs 100] [--duration 10] [--concurrency 16]
        [--aegra-python /tmp/aegra-venv/bin/python]

Aegra needs a Python 3.12 venv with aegra-api 0.11.0 and langchain-openai (its chat graph
imports `ChatOpenAI`); without langchain-openai Aegra exits at start-up:

    python3.12 -m venv /tmp/aegra-venv
    /tmp/aegra-venv/bin/pip install aegra-api==0.11.0 langchain-openai
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import httpx
import psycopg
from langgraph_sdk import get_client

REPO = Path(__file__).resolve().parents[1]
GRAPHS = REPO / "benchmarks" / "lg_graphs"
PG_ADMIN = os.environ.get("ROUTEGRAPH_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
CLK_TCK = os.sysconf("SC_CLK_TCK")
NOOP_INPUT = {"question": "what does the engine cost?"}
CHAT_INPUT = {"messages": [{"role": "user", "content": "Tell a short story about a lighthouse."}]}


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def fresh_database(name: str) -> str:
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return PG_ADMIN.rsplit("/", 1)[0] + "/" + name


def drop_database(name: str) -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Server:
    def __init__(self, name: str, argv: list[str], env: dict[str, str], cwd: Path) -> None:
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**env, "PORT": str(self.port)}
        argv = [part.replace("{port}", str(self.port)) for part in argv]
        self.log = Path(f"/tmp/bench-{name}.log").open("wb")  # noqa: SIM115 (closed in stop)
        self.process = subprocess.Popen(argv, env=env, cwd=cwd, stdout=self.log, stderr=self.log)

    def wait_healthy(self, path: str, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited; see /tmp/bench-{self.name}.log")
            try:
                if httpx.get(self.url + path, timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not become healthy")

    def cpu(self) -> float:
        return cpu_seconds(self.process.pid)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


async def one_run(client: object) -> float:
    started = time.perf_counter()
    thread = await client.threads.create()  # type: ignore[attr-defined]
    await client.runs.wait(thread["thread_id"], "noop", input=NOOP_INPUT)  # type: ignore[attr-defined]
    return time.perf_counter() - started


async def measure(server: Server, runs: int, duration: float, concurrency: int) -> dict[str, float]:
    client = get_client(url=server.url, timeout=120)
    for _ in range(5):  # warm-up
        await one_run(client)
    c1_cpu = server.cpu()
    latencies = [await one_run(client) for _ in range(runs)]
    c1_cpu = server.cpu() - c1_cpu
    done = 0
    stop_at = time.monotonic() + duration

    async def worker() -> None:
        nonlocal done
        own = get_client(url=server.url, timeout=120)
        while time.monotonic() < stop_at:
            await one_run(own)
            done += 1

    cpu_before, wall = server.cpu(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall = time.perf_counter() - wall
    cpu = server.cpu() - cpu_before
    ttft, after_gateway = await first_tokens(server, client, runs=max(10, runs // 5))
    latencies.sort()
    return {
        "c1_p50_ms": statistics.median(latencies) * 1000,
        "c1_p90_ms": latencies[int(len(latencies) * 0.9) - 1] * 1000,
        # c=1 wall time the server did not spend on its CPU: waits, wake-ups, the client
        "c1_cpu_ms_per_run": c1_cpu / max(runs, 1) * 1000,
        "c16_runs_per_s": done / wall,
        "cpu_ms_per_run": cpu / max(done, 1) * 1000,
        "ttft_p50_ms": statistics.median(ttft) * 1000,
        "after_gateway_p50_ms": statistics.median(after_gateway) * 1000 if after_gateway else -1,
    }


async def first_tokens(
    server: Server, client: object, runs: int
) -> tuple[list[float], list[float]]:
    ttft: list[float] = []
    after_gateway: list[float] = []
    for _ in range(runs):
        started = time.perf_counter()
        first_at: float | None = None
        run_id = ""
        async for part in client.runs.stream(  # type: ignore[attr-defined]
            None, "chat", input=CHAT_INPUT, stream_mode="messages-tuple"
        ):
            if part.event == "metadata":
                run_id = part.data["run_id"]
            if part.event == "messages" and part.data[0].get("content") and first_at is None:
                first_at = time.time()
                ttft.append(time.perf_counter() - started)
                event_id = part.id
        if server.name == "routegraph" and first_at is not None and event_id:
            at = await event_time(server, run_id, event_id)
            if at is not None:
                after_gateway.append(first_at - at)
    return ttft, after_gateway


async def event_time(server: Server, run_id: str, event_id: str) -> float | None:
    """When the worker took the chunk from the gateway (the time of the run event that
    holds it: the chunk's stream id, `<epoch>-<n>`, is in its payload; an older server's
    stream ids were the events' sequence numbers)."""
    async with (
        httpx.AsyncClient(base_url=server.url, timeout=30) as raw,
        raw.stream("GET", f"/v1/runs/{run_id}/events") as response,
    ):
        async for line in response.aiter_lines():
            if not line.startswith("data: "):
                continue
            event = json.loads(line[6:])
            held = (event.get("payload") or {}).get("id")
            if held == event_id or (held is None and str(event["seq"]) == event_id):
                return datetime.fromisoformat(event["at"]).timestamp()
    return None


def start_routegraph(
    database_url: str, simulator_url: str, tree: Path = REPO, name: str = "routegraph"
) -> Server:
    """`serve` of this checkout, or of another one (`tree`, with its own `.venv`)."""
    env = {
        **os.environ,
        "ROUTEGRAPH_DATABASE_URL": database_url,
        "ROUTEGRAPH_SIMULATOR_URL": simulator_url,
        "ROUTEGRAPH_CONFIG": str(GRAPHS / "langgraph.json"),
        "ROUTEGRAPH_LOG_LEVEL": "WARNING",
    }
    python = sys.executable if tree == REPO else str(tree / ".venv" / "bin" / "python")
    argv = [python, "-m", "app.cli", "serve", "--port", "{port}"]
    server = Server(name, argv, env, tree)
    server.wait_healthy("/healthz")
    return server


@contextmanager
def instrumented_routegraph(
    launcher: str, database_prefix: str, extra_env: dict[str, str]
) -> Iterator[tuple[Server, str]]:
    """`serve` of this checkout under an instrumenting wrapper (`benchmarks/<launcher>`,
    which runs `app.cli` itself), on a fresh database, for the no-op graph (it calls no
    model); yields the server and the database's name, and drops both afterwards."""
    database = f"{database_prefix}_{uuid.uuid4().hex[:8]}"
    url = fresh_database(database)
    env = {
        **os.environ,
        "ROUTEGRAPH_DATABASE_URL": url.replace("postgresql://", "postgresql+psycopg://"),
        "ROUTEGRAPH_SIMULATOR_URL": "http://127.0.0.1:9",  # the no-op graph calls no model
        "ROUTEGRAPH_CONFIG": str(GRAPHS / "langgraph.json"),
        "ROUTEGRAPH_LOG_LEVEL": "WARNING",
        **extra_env,
    }
    argv = [sys.executable, str(REPO / "benchmarks" / launcher), "serve", "--port", "{port}"]
    server = Server("routegraph", argv, env, REPO)
    try:
        server.wait_healthy("/healthz")
        yield server, database
    finally:
        server.stop()
        drop_database(database)


def start_aegra(python: str, database_url: str, simulator_url: str) -> Server:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "AEGRA_CONFIG": str(GRAPHS / "aegra.json"),
        "SIMULATOR_URL": simulator_url,
        "AUTH_TYPE": "noop",
        "LOG_LEVEL": "WARNING",
        "HOST": "127.0.0.1",
    }
    server = Server("aegra", [python, "-m", "aegra_api.main"], env, GRAPHS)
    server.wait_healthy("/health")
    return server


async def main(args: argparse.Namespace, have_aegra: bool) -> None:
    from devtools.simulator.config import SimulatorConfig
    from devtools.simulator.server import SimulatorServer

    results: dict[str, dict[str, float]] = {}
    with SimulatorServer(SimulatorConfig(latency_scale=0.0)) as simulator_url:
        for name in ("routegraph", "aegra"):
            if name == "aegra" and not have_aegra:
                print(f"skipping Aegra: {args.aegra_python} not found")
                continue
            database = f"bench_lg_{name}_{uuid.uuid4().hex[:8]}"
            url = fresh_database(database)
            server = (
                start_routegraph(
                    url.replace("postgresql://", "postgresql+psycopg://"), simulator_url
                )
                if name == "routegraph"
                else start_aegra(args.aegra_python, url, simulator_url)
            )
            try:
                results[name] = await measure(server, args.runs, args.duration, args.concurrency)
            finally:
                server.stop()
                drop_database(database)
    keys = list(next(iter(results.values())).keys()) if results else []
    print(f"{'':24}" + "".join(f"{name:>14}" for name in results))
    for key in keys:
        print(f"{key:24}" + "".join(f"{results[n][key]:>14.2f}" for n in results))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--aegra-python", default="/tmp/aegra-venv/bin/python")
    arguments = parser.parse_args()
    sys.path.insert(0, str(REPO))
    asyncio.run(main(arguments, os.path.exists(arguments.aegra_python)))
