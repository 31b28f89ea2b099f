"""What metrics and traces cost: the orchestration and gateway benchmarks at c=16, two
sides interleaved round by round so a load spike on a shared machine hits both alike.

    python benchmarks/observability_overhead.py --toggle [--rounds 3]
    python benchmarks/observability_overhead.py --baseline-dir /work/main [--rounds 3]
        [--duration 10] [--seconds 10]

`--toggle`: this checkout three times: metrics and traces off
(`ROUTEGRAPH_METRICS_ENABLED=false`, no OTLP endpoint), metrics only, and both on (spans
exported over OTLP/HTTP to a sink this script runs on loopback, which answers 200 and
counts what it received). `--baseline-dir`: another checkout (e.g. main before
metrics) against this one, both as configured by the environment.

Prints, per round and as medians: the orchestration benchmark's c=16 runs/s and server CPU
ms per run (SQLite), and the gateway benchmark's routegraph row (requests/s at c=16, p50
at c=1). Both benchmarks' scripts are this checkout's; only the service code (or its
settings) differs.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROUTEGRAPH_ROW = "openai SDK -> routegraph -> upstream"


class OtlpSink:
    """An OTLP/HTTP endpoint on loopback that accepts every export (200, empty body)."""

    def __init__(self) -> None:
        self.exports = 0
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length") or 0))
                sink.exports += 1
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *_args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


def orchestration(service_dir: Path, duration: float, env: dict[str, str]) -> dict[str, float]:
    command = [
        sys.executable, str(HERE / "orchestration.py"), "--db", "sqlite", "--runs", "20",
        "--duration", str(duration), "--concurrency", "16", "--seed-runs", "0",
        "--poll-storm", "0", "--service-dir", str(service_dir),
    ]  # fmt: skip
    output = subprocess.run(
        command, capture_output=True, text=True, check=True, env={**os.environ, **env}
    ).stdout
    figures = {}
    for name in ("c16_runs_per_s", "server_cpu_ms_per_run"):
        match = re.search(rf"{name}\s+([\d.]+)", output)
        assert match, output
        figures[name] = float(match.group(1))
    return figures


def gateway(service_dir: Path, seconds: float, env: dict[str, str]) -> dict[str, float]:
    command = [
        sys.executable, str(HERE / "gateway_overhead.py"), "--skip-proxy", "--rounds", "1",
        "--requests", "200", "--seconds", str(seconds), "--concurrency", "16",
    ]  # fmt: skip
    # `-m app.cli` resolves `app` from the working directory: the checkout measured.
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        check=True,
        cwd=service_dir,
        env={**os.environ, **env, "PYTHONPATH": str(service_dir)},
    )
    row = next(line for line in done.stdout.splitlines() if line.startswith(ROUTEGRAPH_ROW))
    numbers = row[len(ROUTEGRAPH_ROW) :].split()
    return {"gateway_p50_ms_c1": float(numbers[0]), "gateway_rps_c16": float(numbers[4])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sides_given = parser.add_mutually_exclusive_group(required=True)
    sides_given.add_argument("--baseline-dir", type=Path)
    sides_given.add_argument("--toggle", action="store_true", help="off vs on, this checkout")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=10.0, help="orchestration c=16 s")
    parser.add_argument("--seconds", type=float, default=10.0, help="gateway c=16 s")
    args = parser.parse_args()
    sink = None
    off_env = {"ROUTEGRAPH_METRICS_ENABLED": "false", "OTEL_EXPORTER_OTLP_ENDPOINT": ""}
    off_env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] = ""
    sides: dict[str, tuple[Path, dict[str, str]]]
    if args.toggle:
        sink = OtlpSink()
        metrics_env = {**off_env, "ROUTEGRAPH_METRICS_ENABLED": "true"}
        on_env = {**metrics_env, "OTEL_EXPORTER_OTLP_ENDPOINT": sink.url}
        sides = {
            "off": (HERE.parent, off_env),
            "metrics": (HERE.parent, metrics_env),
            "on": (HERE.parent, on_env),
        }
    else:
        sides = {"baseline": (args.baseline_dir.resolve(), {}), "this": (HERE.parent, {})}
    results: dict[str, dict[str, list[float]]] = {side: {} for side in sides}
    for number in range(args.rounds):
        for side, (directory, env) in sides.items():
            figures = {
                **orchestration(directory, args.duration, env),
                **gateway(directory, args.seconds, env),
            }
            for name, value in figures.items():
                results[side].setdefault(name, []).append(value)
            print(f"round {number + 1} {side:8} {figures} load {os.getloadavg()[0]:.1f}")
            sys.stdout.flush()
    base, *others = list(sides)
    print(f"\nmedians of {args.rounds} rounds ({base}: {sides[base][0]}, {sides[base][1]})")
    for name in results[base]:
        before = statistics.median(results[base][name])
        line = f"  {name:24} {base} {before:9.2f}"
        for this in others:
            after = statistics.median(results[this][name])
            change = (after - before) / before * 100 if before else 0.0
            line += f"  {this} {after:9.2f} ({change:+.1f}%)"
        print(line)
    if sink is not None:
        print(f"OTLP exports received by the sink: {sink.exports}")
        sink.close()


if __name__ == "__main__":
    main()
