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

from app.routing.classifier import TaskClassifier
from app.routing.verifiers import verify_arithmetic
from devtools.routing import datasets
from devtools.routing.datasets import Row
from devtools.service_process import ServiceProcess
from devtools.simulator.config import SimulatorConfig
from devtools.simulator.server import SimulatorServer

QUALITY_TARGET = 0.95
RUN_TIMEOUT_S = 600.0


def calibrate_thresholds(classifier: TaskClassifier, rows: Sequence[Row]) -> tuple[float, float]:
    """On training rows, the bars at which routing reaches 95% of GPT-4's accuracy:
    auto's p(edge good) bar, and the cascade's bar for answers its verifier accepted."""
    p_edge = np.array([classifier.score_text(r.prompt)[0] for r in rows])
    weak = np.array([r.weak_good for r in rows], dtype=float)
    strong = np.array([r.strong_good for r in rows], dtype=float)
    accepted = np.array(
        [
            verify_arithmetic([{"role": "user", "content": r.prompt}], r.weak_response).accepted
            for r in rows
        ]
    )
    target = QUALITY_TARGET * strong.mean()
    candidates = sorted({float(p) for p in np.round(p_edge, 4)} | {0.0, 1.0})
    # Both keep more edge answers the lower the bar: take the lowest bar still on target.
    auto = next(
        (t for t in candidates if np.where(p_edge >= t, weak, strong).mean() >= target), 1.0
    )
    cascade = next(
        (
            t
            for t in candidates
            if np.where(accepted & (p_edge >= t), weak, strong).mean() >= target
        ),
        1.0,
    )
    return auto, cascade


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
    auto_bar, cascade_bar = calibrate_thresholds(
        classifier, datasets.training_rows(rows, contaminated)
    )
    policies: dict[str, tuple[str, float | None]] = {
        "frontier": ("frontier", None),
        "edge": ("edge", None),
        "auto": ("auto", auto_bar),
        "cascade": ("cascade", None),
        "cascade+router": ("cascade", cascade_bar),
    }
    console.print(
        f"\n[bold]Live routing benchmark[/]: {len(picked)} held-out GSM8K prompts per policy "
        f"through REST → worker → gateway → simulator (recorded answers); bars calibrated "
        f"on the training split: auto p(edge) ≥ {auto_bar:.3f}, cascade+router {cascade_bar:.3f}"
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
                label: _run_policy(console, client, picked, policy, bar)
                for label, (policy, bar) in policies.items()
            }
    summary = _summarise(results, picked)
    _print(console, summary)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    payload = {
        "sample": len(picked),
        "auto_threshold": auto_bar,
        "cascade_router_threshold": cascade_bar,
        "policies": summary,
    }
    (out / "routing_live.json").write_text(json.dumps(payload, indent=2))
    return payload


def _run_policy(
    console: Console,
    client: httpx.Client,
    rows: Sequence[Row],
    policy: str,
    threshold: float | None,
) -> list[dict[str, Any]]:
    ids = []
    for row in rows:
        body: dict[str, Any] = {"question": row.prompt, "policy": policy}
        if threshold is not None:
            body["threshold"] = threshold
        response = client.post("/v1/runs", json={"graph": "answer", "input": body})
        response.raise_for_status()
        ids.append(response.json()["id"])
    deadline = time.monotonic() + RUN_TIMEOUT_S
    finished: list[dict[str, Any]] = []
    with console.status(f"policy {policy} ({threshold}): running {len(ids)} runs…"):
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
