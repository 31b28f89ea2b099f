"""CPU cost of recording metrics, per observation, next to what a request costs the server.

    python benchmarks/metrics_cost.py [--n 100000]

The interleaved benchmarks (`observability_overhead.py`) measure the same thing end to end,
but on a shared machine their noise is far larger than 2 %; CPU time per recording, times
the recordings a request makes, divided by the server CPU a request takes, bounds the
overhead without that noise. Prints microseconds of CPU per recording, in-process mode and
multiprocess mode (mmap files).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from app.observability.calls import CallObservation
from app.observability.metrics import Metrics
from app.observability.telemetry import Telemetry

CALL = CallObservation(
    call_id="c", model="edge-a", tier="edge", provider="simulator", policy="auto",
    requested="edge", task_class="math", outcome="ok", latency_ms=12.5, cost_usd=0.0001,
    prompt_tokens=40, completion_tokens=120, cached_tokens=0, fallback=False,
    finish_reason="stop",
)  # fmt: skip


def cpu_us(function: object, n: int) -> float:
    started = time.process_time()
    for _ in range(n):
        function()  # type: ignore[operator]
    return (time.process_time() - started) / n * 1e6


def measure(n: int) -> dict[str, float]:
    telemetry = Telemetry(Metrics())
    m = telemetry.metrics
    return {
        "model call (counters + histogram)": cpu_us(lambda: telemetry.model_call(CALL), n),
        "HTTP request (2 counters + histogram)": cpu_us(
            lambda: (
                m.http_requests.labels("POST", "/v1/chat/completions", "200").inc(),
                m.http_duration.labels("POST", "/v1/chat/completions").observe(0.01),
            ),
            n,
        ),
        "run claimed + ended + slots": cpu_us(
            lambda: (telemetry.run_ended("succeeded"), telemetry.worker_slots(3, 32)), n
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000)
    args = parser.parse_args()
    print("CPU microseconds per recording (median of 3)")
    for mode in ("in-process", "multiprocess"):
        if mode == "multiprocess":
            from app.observability.multiprocess import enable

            enable(Path(tempfile.mkdtemp(prefix="rg-metrics-")))
        runs = [measure(args.n) for _ in range(3)]
        for name in runs[0]:
            value = sorted(run[name] for run in runs)[1]
            print(f"  {mode:13} {name:40} {value:6.2f} us")
    print(f"(load average {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
