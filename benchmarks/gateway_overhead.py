"""Gateway overhead side by side: what each way of reaching a model adds to a 0-latency
upstream on loopback, as p50/p99 latency at c=1 and requests/s at c=32.

    python benchmarks/gateway_overhead.py [--requests 600] [--seconds 12] [--rounds 3]
        [--database-url URL] [--skip-proxy] [--with-litellm-inside]

Rows: the upstream called directly with the `openai` SDK (the baseline), in-process
`litellm.acompletion`, routegraph's `/v1/chat/completions` (routing `auto`, ledger rows,
per-key budget and rate limit, response cache all on; every prompt distinct, so every
request is a cache miss and a provider call), and LiteLLM Proxy at our pinned LiteLLM
with one worker. LiteLLM Proxy is installed into its own virtualenv under
`benchmarks/out/litellm-proxy-venv` (kept for the next run; never the project's .venv).
Each server and the load client run in their own process.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from devtools.service_process import free_port

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
PROXY_VENV = OUT / "litellm-proxy-venv"
LITELLM_VERSION = "1.106.2"
QUIET_LITELLM = {"LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_LOG": "ERROR"}


def wait_for(url: str, process: subprocess.Popen[bytes], log: Path, timeout_s: float = 180) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: the server exited:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"{url} did not answer in time:\n{log.read_text()[-3000:]}")


@contextmanager
def server(
    command: list[str], health: str, log: Path, env: dict[str, str] | None = None
) -> Iterator[None]:
    with log.open("wb") as handle:
        process = subprocess.Popen(
            command, stdout=handle, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
        )
    try:
        wait_for(health, process, log)
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def run_client(
    mode: str, base_url: str, model: str, key: str, n: int, secs: float, concurrency: int = 32
) -> dict:
    script = str(HERE / "bench_client.py")
    command = [sys.executable, script, mode, base_url, model, key, str(n), str(secs)]
    command.append(str(concurrency))
    env = {**os.environ, **QUIET_LITELLM}
    output = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    if output.returncode != 0:
        raise RuntimeError(f"{mode} client against {base_url} failed:\n{output.stderr[-3000:]}")
    result: dict = json.loads(output.stdout.strip().splitlines()[-1])
    result["load"] = os.getloadavg()[0]
    return result


def routegraph_cli(database_url: str, *args: str) -> str:
    env = {**os.environ, "ROUTEGRAPH_DATABASE_URL": database_url, "ROUTEGRAPH_LOG_LEVEL": "ERROR"}
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", *args], env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr)
    return done.stdout


@contextmanager
def routegraph(upstream: str, database_url: str | None, direct: bool) -> Iterator[tuple[str, str]]:
    """routegraph serve (API only) with one API key (budget and rate limit on)."""
    with tempfile.TemporaryDirectory() as tmp:
        url = database_url or f"sqlite+aiosqlite:///{tmp}/bench.db"
        routegraph_cli(url, "migrate")
        created = routegraph_cli(
            url, "keys", "create", "--tenant", "bench", "--budget-usd", "1000", "--period",
            "day", "--rpm", "10000000",
        )  # fmt: skip
        token = created.strip().splitlines()[-1]
        port = free_port()
        env = {
            "ROUTEGRAPH_DATABASE_URL": url,
            "ROUTEGRAPH_SIMULATOR_URL": upstream,
            "ROUTEGRAPH_LOG_LEVEL": "WARNING",
            "ROUTEGRAPH_DIRECT_PROVIDER_CLIENT": "true" if direct else "false",
            **QUIET_LITELLM,
        }
        command = [sys.executable, "-m", "app.cli", "serve", "--port", str(port), "--no-worker"]
        log = Path(tmp) / "routegraph.log"
        with server(command, f"http://127.0.0.1:{port}/healthz", log, env):
            yield f"http://127.0.0.1:{port}/v1", token


def ensure_proxy_venv() -> Path:
    """`litellm[proxy]` at our pinned version in its own virtualenv (cached in out/)."""
    binary = PROXY_VENV / "bin" / "litellm"
    if binary.exists():
        return binary
    print(f"installing litellm[proxy]=={LITELLM_VERSION} into {PROXY_VENV} ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(PROXY_VENV)], check=True)
    pip = [str(PROXY_VENV / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, f"litellm[proxy]=={LITELLM_VERSION}"], check=True)
    return binary


@contextmanager
def litellm_proxy(upstream: str) -> Iterator[tuple[str, str]]:
    """LiteLLM Proxy with one worker and a master key (it refuses to start without)."""
    binary = ensure_proxy_venv()
    master_key = "sk-" + secrets.token_hex(32)
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "config.yaml"
        config.write_text(
            "model_list:\n"
            "  - model_name: bench\n"
            "    litellm_params:\n"
            "      model: openai/bench\n"
            f"      api_base: {upstream}\n"
            "      api_key: upstream-key\n"
            "litellm_settings:\n"
            "  num_retries: 0\n"
        )
        port = free_port()
        command = [str(binary), "--config", str(config), "--port", str(port), "--num_workers", "1"]
        log = Path(tmp) / "proxy.log"
        health = f"http://127.0.0.1:{port}/health/liveliness"
        with server(command, health, log, {**QUIET_LITELLM, "LITELLM_MASTER_KEY": master_key}):
            yield f"http://127.0.0.1:{port}/v1", master_key


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def print_table(results: dict[str, dict], concurrency: int = 32) -> None:
    base = results["openai SDK -> upstream (direct)"]["latencies_ms"]
    base50, base99 = statistics.median(base), percentile(base, 0.99)
    header = (
        f"{'client':<44} {'p50 ms':>7} {'p99 ms':>7} {'+p50 ms':>8} {'+p99 ms':>8} "
        f"{f'req/s c={concurrency}':>10} {'load1':>6}"
    )
    print("\n" + header + "\n" + "-" * len(header))
    for name, result in results.items():
        latencies = result["latencies_ms"]
        p50, p99 = statistics.median(latencies), percentile(latencies, 0.99)
        print(
            f"{name:<44} {p50:7.2f} {p99:7.2f} {p50 - base50:8.2f} {p99 - base99:8.2f} "
            f"{result['rps']:10.0f} {result['load']:6.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=600, help="sequential requests (c=1)")
    parser.add_argument("--seconds", type=float, default=12.0, help="duration at c=32")
    parser.add_argument("--concurrency", type=int, default=32, help="clients of the load phase")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per client")
    parser.add_argument("--database-url", help="routegraph's database (default: temp SQLite)")
    parser.add_argument("--skip-proxy", action="store_true", help="no LiteLLM Proxy row")
    parser.add_argument(
        "--with-litellm-inside", action="store_true", help="also routegraph calling via LiteLLM"
    )
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    port = free_port()
    upstream = f"http://127.0.0.1:{port}/v1"
    print(f"machine: {os.cpu_count()} cores, load {os.getloadavg()} before", flush=True)
    with contextlib.ExitStack() as stack:
        command = [sys.executable, str(HERE / "bench_upstream.py"), str(port)]
        stack.enter_context(server(command, f"{upstream}/models", OUT / "bench_upstream.log"))
        # Every server is up at once and the clients take turns, round after round, so a
        # load spike on this shared machine does not land on one row only.
        targets: dict[str, tuple[str, str, str, str]] = {
            "openai SDK -> upstream (direct)": ("openai", upstream, "bench", "k"),
            "litellm.acompletion -> upstream": ("litellm", upstream, "bench", "k"),
        }
        url, token = stack.enter_context(routegraph(upstream, args.database_url, direct=True))
        targets["openai SDK -> routegraph -> upstream"] = ("openai", url, "auto", token)
        if args.with_litellm_inside:
            url, token = stack.enter_context(routegraph(upstream, args.database_url, direct=False))
            targets["  (routegraph calling through LiteLLM)"] = ("openai", url, "auto", token)
        if not args.skip_proxy:
            url, key = stack.enter_context(litellm_proxy(upstream))
            name = f"openai SDK -> LiteLLM Proxy {LITELLM_VERSION} (1 worker)"
            targets[name] = ("openai", url, "bench", key)
        results: dict[str, dict] = {}
        n, secs = args.requests // args.rounds, args.seconds / args.rounds
        for round_number in range(args.rounds):
            print(f"round {round_number + 1}/{args.rounds}", flush=True)
            for name, (mode, base_url, model, key) in targets.items():
                result = run_client(mode, base_url, model, key, n, secs, args.concurrency)
                merged = results.setdefault(
                    name, {"latencies_ms": [], "requests": 0, "seconds": 0.0, "loads": []}
                )
                merged["latencies_ms"] += result["latencies_ms"]
                merged["requests"] += result["requests"]
                merged["seconds"] += result["requests"] / result["rps"]
                merged["loads"].append(result["load"])
    for merged in results.values():
        merged["rps"] = merged["requests"] / merged["seconds"]
        merged["load"] = statistics.mean(merged["loads"])
    print_table(results, args.concurrency)
    (OUT / "gateway_overhead.json").write_text(json.dumps(results))


if __name__ == "__main__":
    main()
