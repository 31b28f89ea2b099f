"""What metrics cost: the orchestration and gateway benchmarks at c=16, this checkout
against another one (e.g. main before metrics), interleaved round by round so a load spike
on a shared machine hits both sides alike.

    python benchmarks/observability_overhead.py --baseline-dir /work/main [--rounds 3]
        [--duration 10] [--seconds 10]

Prints, per round and as medians: the orchestration benchmark's c=16 runs/s and server CPU
ms per run (SQLite), and the gateway benchmark's routegraph row (requests/s at c=16, p50
at c=1). Both benchmarks' scripts are this checkout's; only the service code differs.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROUTEGRAPH_ROW = "openai SDK -> routegraph -> upstream"


def orchestration(service_dir: Path, duration: float) -> dict[str, float]:
    command = [
        sys.executable, str(HERE / "orchestration.py"), "--db", "sqlite", "--runs", "20",
        "--duration", str(duration), "--concurrency", "16", "--seed-runs", "0",
        "--poll-storm", "0", "--service-dir", str(service_dir),
    ]  # fmt: skip
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    figures = {}
    for name in ("c16_runs_per_s", "server_cpu_ms_per_run"):
        match = re.search(rf"{name}\s+([\d.]+)", output)
        assert match, output
        figures[name] = float(match.group(1))
    return figures


def gateway(service_dir: Path, seconds: float) -> dict[str, float]:
    command = [
        sys.executable, str(HERE / "gateway_overhead.py"), "--skip-proxy", "--rounds", "1",
        "--requests", "200", "--seconds", str(seconds), "--concurrency", "16",
    ]  # fmt: skip
    # `-m app.cli` resolves `app` from the working directory: the checkout measured.
    env = {**os.environ, "PYTHONPATH": str(service_dir)}
    done = subprocess.run(
        command, capture_output=True, text=True, check=True, cwd=service_dir, env=env
    )
    row = next(line for line in done.stdout.splitlines() if line.startswith(ROUTEGRAPH_ROW))
    numbers = row[len(ROUTEGRAPH_ROW) :].split()
    return {"gateway_p50_ms_c1": float(numbers[0]), "gateway_rps_c16": float(numbers[4])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline-dir", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=10.0, help="orchestration c=16 s")
    parser.add_argument("--seconds", type=float, default=10.0, help="gateway c=16 s")
    args = parser.parse_args()
    sides = {"baseline": args.baseline_dir.resolve(), "this": HERE.parent}
    results: dict[str, dict[str, list[float]]] = {side: {} for side in sides}
    for number in range(args.rounds):
        for side, directory in sides.items():
            figures = {
                **orchestration(directory, args.duration),
                **gateway(directory, args.seconds),
            }
            for name, value in figures.items():
                results[side].setdefault(name, []).append(value)
            print(f"round {number + 1} {side:8} {figures} load {os.getloadavg()[0]:.1f}")
            sys.stdout.flush()
    print(f"\nmedians of {args.rounds} rounds (baseline: {sides['baseline']})")
    for name in results["this"]:
        base = statistics.median(results["baseline"][name])
        this = statistics.median(results["this"][name])
        change = (this - base) / base * 100 if base else 0.0
        print(f"  {name:24} baseline {base:9.2f}  this {this:9.2f}  ({change:+.1f}%)")


if __name__ == "__main__":
    main()
