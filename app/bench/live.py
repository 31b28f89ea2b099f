"""`routegraph bench routing --live`: held-out GSM8K prompts through the real service.

The simulator answers each dataset prompt with the recorded answer of the model tier the
gateway reached (edge: Mixtral-8x7B, mid/frontier: GPT-4), so a routed call is right
exactly when that recorded answer was. Runs go over REST (`POST /v1/runs`, graph `answer`)
to `routegraph serve` on SQLite; costs, tiers and reasons come back from the ledger.
"""

from __future__ import annotations

import json
import random
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from rich.console import Console
from rich.table import Table

from app.routing import datasets
from app.routing.classifier import TaskClassifier
from app.routing.datasets import Row
from app.service_process import ServiceProcess
from app.simulator.config import SimulatorConfig
from app.simulator.server import SimulatorServer

QUALITY_TARGET = 0.95
POLICIES = ("frontier", "edge", "auto", "cascade")
RUN_TIMEOUT_S = 600.0


def calibrate_threshold(classifier: TaskClassifier, rows: Sequence[Row]) -> float:
    """Lowest p(edge good) bar at which routing reaches 95% of GPT-4 on training rows."""
    p_edge = np.array([classifier.score_text(r.prompt)[0] for r in rows])
    weak = np.array([r.weak_good for r in rows], dtype=float)
    strong = np.array([r.strong_good for r in rows], dtype=float)
    target = QUALITY_TARGET * strong.mean()
    best = 1.0
    for threshold in sorted(set(np.round(p_edge, 4)), reverse=True):
        accuracy = np.where(p_edge >= threshold, weak, strong).mean()
        if accuracy < target:
            break
        best = float(threshold)
    return best


def run_live_benchmark(
    console: Console,
    *,
    data_dir: str | Path | None,
    out_dir: str | Path,
    sample: int,
    offline: dict[str, Any] | None = None,
) -> dict[str, Any]:
    root = datasets.resolve_data_dir(data_dir)
    rows = datasets.load_gsm8k(root)
    held_out = datasets.held_out_rows(rows)
    picked = random.Random(7).sample(held_out, min(sample, len(held_out)))
    classifier = TaskClassifier.load()
    contaminated = datasets.load_contaminated(root)
    threshold = calibrate_threshold(classifier, datasets.training_rows(rows, contaminated))
    console.print(
        f"\n[bold]Live routing benchmark[/]: {len(picked)} held-out GSM8K prompts per policy "
        f"through REST → worker → gateway → simulator (recorded answers); "
        f"auto threshold {threshold:.3f} calibrated on the training split"
    )
    config = SimulatorConfig(latency_scale=0.0, recorded_answers=True, data_dir=root)
    with tempfile.TemporaryDirectory(prefix="routegraph-bench-") as tmp:
        database_url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        with (
            SimulatorServer(config) as simulator_url,
            ServiceProcess(database_url, simulator_url, Path(tmp) / "service.log") as base,
            httpx.Client(base_url=base, timeout=30) as client,
        ):
            results = {
                policy: _run_policy(console, client, picked, policy, threshold)
                for policy in POLICIES
            }
    summary = _summarise(results, picked)
    _print(console, summary)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    payload = {"sample": len(picked), "auto_threshold": threshold, "policies": summary}
    (out / "routing_live.json").write_text(json.dumps(payload, indent=2))
    return payload


def _run_policy(
    console: Console, client: httpx.Client, rows: Sequence[Row], policy: str, threshold: float
) -> list[dict[str, Any]]:
    ids = []
    for row in rows:
        body: dict[str, Any] = {"question": row.prompt, "policy": policy}
        if policy == "auto":
            body["threshold"] = threshold
        response = client.post("/v1/runs", json={"graph": "answer", "input": body})
        response.raise_for_status()
        ids.append(response.json()["id"])
    deadline = time.monotonic() + RUN_TIMEOUT_S
    finished: list[dict[str, Any]] = []
    with console.status(f"policy {policy}: running {len(ids)} runs…"):
        for run_id in ids:
            while True:
                run = client.get(f"/v1/runs/{run_id}").json()
                if run["status"] not in ("queued", "running"):
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError(f"run {run_id} did not finish in time")
                time.sleep(0.05)
            run["calls"] = client.get(f"/v1/runs/{run_id}/calls").json()
            finished.append(run)
    return finished


def _summarise(
    results: dict[str, list[dict[str, Any]]], rows: Sequence[Row]
) -> dict[str, dict[str, Any]]:
    summary: dict[str, dict[str, Any]] = {}
    for policy, runs in results.items():
        correct = 0
        tiers: dict[str, int] = {}
        for run, row in zip(runs, rows, strict=True):
            tier = (run.get("output") or {}).get("tier") or "none"
            tiers[tier] = tiers.get(tier, 0) + 1
            if run["status"] == "succeeded":
                correct += row.weak_good if tier == "edge" else row.strong_good
        cost = sum(c["cost_usd"] for run in runs for c in run["calls"])
        strong_calls = sum(
            1 for run in runs for c in run["calls"] if c["status"] == "ok" and c["tier"] != "edge"
        )
        summary[policy] = {
            "accuracy": correct / len(runs),
            "cost_usd": cost,
            "strong_call_share": strong_calls / len(runs),
            "answer_tiers": tiers,
            "failed_runs": sum(run["status"] != "succeeded" for run in runs),
        }
    strong = summary["frontier"]
    for figures in summary.values():
        figures["quality_vs_frontier"] = figures["accuracy"] / strong["accuracy"]
        figures["cost_vs_frontier"] = figures["cost_usd"] / strong["cost_usd"]
    return summary


def _print(console: Console, summary: dict[str, dict[str, Any]]) -> None:
    table = Table(title="Live: GSM8K held-out through the service (ledger figures)")
    for column in (
        "policy",
        "accuracy",
        "vs frontier",
        "strong calls",
        "cost $",
        "cost vs frontier",
        "answered by",
    ):
        table.add_column(column)
    for policy, f in summary.items():
        table.add_row(
            policy,
            f"{f['accuracy']:.3f}",
            f"{f['quality_vs_frontier']:.1%}",
            f"{f['strong_call_share']:.1%}",
            f"{f['cost_usd']:.4f}",
            f"{f['cost_vs_frontier']:.1%}",
            ", ".join(f"{k} {v}" for k, v in sorted(f["answer_tiers"].items())),
        )
    console.print(table)
