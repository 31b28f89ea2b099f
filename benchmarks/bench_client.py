"""Load client for gateway_overhead.py: sequential latencies (c=1) and throughput (c=32).

    python benchmarks/bench_client.py MODE BASE_URL MODEL API_KEY SEQUENTIAL SECONDS [C]

MODE: `openai` (the SDK against BASE_URL) or `litellm` (litellm.acompletion against the
upstream at BASE_URL). Every request has its own prompt (no cache can answer it). Prints
one JSON line: latencies in ms and requests per second.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable

WARMUP = 50
CONCURRENCY = 32


def caller(mode: str, base_url: str, model: str, api_key: str) -> Callable[[int], Awaitable[None]]:
    if mode == "litellm":
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        import litellm

        litellm.telemetry = False
        litellm.suppress_debug_info = True

        async def call_litellm(index: int) -> None:
            await litellm.acompletion(
                model=f"openai/{model}",
                api_base=base_url,
                api_key=api_key,
                messages=[{"role": "user", "content": f"What is 2 + 2? (#{index})"}],
                num_retries=0,
                max_retries=0,
            )

        return call_litellm
    import openai

    client = openai.AsyncOpenAI(base_url=base_url, api_key=api_key, max_retries=0, timeout=30)

    async def call_openai(index: int) -> None:
        await client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": f"What is 2 + 2? (#{index})"}]
        )

    return call_openai


async def measure(mode: str, base_url: str, model: str, api_key: str, n: int, secs: float) -> None:
    call = caller(mode, base_url, model, api_key)
    counter = itertools.count()
    for _ in range(WARMUP):
        await call(next(counter))
    latencies = []
    for _ in range(n):
        started = time.perf_counter()
        await call(next(counter))
        latencies.append((time.perf_counter() - started) * 1000)
    done = 0
    deadline = time.perf_counter() + secs

    async def worker() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            await call(next(counter))
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    elapsed = time.perf_counter() - started
    print(json.dumps({"latencies_ms": latencies, "rps": done / elapsed, "requests": done}))


if __name__ == "__main__":
    mode, base_url, model, api_key, n, secs = sys.argv[1:7]
    if len(sys.argv) > 7:
        CONCURRENCY = int(sys.argv[7])
    asyncio.run(measure(mode, base_url, model, api_key, int(n), float(secs)))
