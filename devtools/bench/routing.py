"""`routegraph bench routing`: the offline routing benchmark on recorded real model outputs.

Trains the routers it evaluates (deterministically, seconds each) so that every scenario's
test rows are unseen: (a) GSM8K held-out split, (b) MMLU held-out split, (c) trained on
MMLU + MT-Bench only and tested on all of GSM8K. Writes PNG curves, routing_report.json and
routing_report.md into out_dir and prints rich tables.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console

from app.routing.classifier import TaskClassifier
from devtools.bench import report
from devtools.bench.costs import TierPricing
from devtools.bench.scenarios import (
    ScenarioResult,
    cost_target,
    evaluate,
    random_target,
    share_target,
)
from devtools.routing import datasets
from devtools.routing.datasets import DataMissingError, Row
from devtools.routing.training import default_artifact_path, shipped_training_rows, train_model

# Dataset category -> task classes counted as agreeing (MT-Bench's own categories; every
# GSM8K row is a math word problem).
CATEGORY_CLASSES: dict[str, tuple[str, ...]] = {
    "writing": ("creative",),
    "roleplay": ("creative", "chat"),
    "reasoning": ("reasoning", "math"),
    "math": ("math",),
    "coding": ("code",),
    "extraction": ("extraction",),
    "stem": ("reasoning", "chat", "math"),
    "humanities": ("reasoning", "chat"),
    "gsm8k": ("math",),
}


NOTES: tuple[str, ...] = (
    "Cost = estimated tokens x catalog price: prompt tokens from the recorded prompt, output "
    "tokens from each model's recorded GSM8K response, 2 assumed output tokens per MMLU call "
    "(an option letter). Few-shot templates, if any were used when recording, are not counted.",
    "RouteLLM's published cuts are from its paper, measured with its own routers and cost "
    "accounting (share of GPT-4 calls), not re-run here; compare its cost cut with our "
    "strong-call share as well as with our token-weighted cost.",
    "Router score = p_frontier * (1 - p_edge), the chance escalating helps if the heads were "
    "independent. Hyper-parameters (L2, no per-dataset weighting, this score) were compared on "
    "a validation split carved out of the training rows; held-out figures of a handful of "
    "early configurations were also seen during development, so treat differences of a few "
    "points as noise.",
    "Cascade rules (final number present and whole, arithmetic consistent, no hedging, every "
    "quantity in the question used) have no fitted parameters but were written after reading "
    "recorded Mixtral answers from all of GSM8K, so scenario (a)'s cascade rows are not "
    "strictly unseen by the rule author.",
    "The cost 90% CI is a bootstrap over test rows (200 resamples) of the cheapest point "
    "reaching 95%; on GSM8K's 392 held-out rows the 95% point moves a lot with sampling.",
)


def task_class_agreement(classifier: TaskClassifier, rows: Sequence[Row]) -> dict[str, Any]:
    """Share of rows whose task class fits the dataset's own category label."""
    hits: dict[str, list[int]] = {}
    confusion: dict[str, dict[str, int]] = {}
    for row in rows:
        got = classifier.classify([{"role": "user", "content": row.prompt}]).task_class
        hits.setdefault(row.dataset, []).append(got in CATEGORY_CLASSES[row.group])
        confusion.setdefault(row.group, {}).setdefault(got, 0)
        confusion[row.group][got] += 1
    total = [h for per_dataset in hits.values() for h in per_dataset]
    return {
        "rows": len(rows),
        "agreement": sum(total) / max(len(total), 1),
        "agreement_by_dataset": {k: round(sum(v) / len(v), 4) for k, v in hits.items()},
        "mapping": "MT-Bench categories as in CATEGORY_CLASSES, GSM8K=math",
        "by_category": confusion,
    }


def _shipped_digest() -> str | None:
    path = default_artifact_path()
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8")).get("training", {}).get("rows_digest")


def run_routing_benchmark(
    data_dir: str | Path | None, out_dir: str | Path, console: Console | None = None
) -> dict[str, Any]:
    """Run all scenarios; write PNG/JSON/markdown into out_dir; return the JSON report."""
    console = console or Console()
    started = time.perf_counter()
    root = datasets.resolve_data_dir(data_dir)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data = datasets.load_all(root)
    contaminated = datasets.load_contaminated(root)
    pricing = TierPricing.from_catalog()
    timings: dict[str, float] = {}

    tick = time.perf_counter()
    in_domain_rows = shipped_training_rows(root)
    in_domain = TaskClassifier(train_model(in_domain_rows))
    timings["train_in_domain_s"] = time.perf_counter() - tick
    tick = time.perf_counter()
    cross_rows = [
        r
        for name in ("mmlu", "mt_bench")
        for r in data[name]
        if not datasets.is_contaminated(r, contaminated)
    ]
    cross = TaskClassifier(train_model(cross_rows))
    timings["train_cross_s"] = time.perf_counter() - tick

    tick = time.perf_counter()
    split_desc = "train split of GSM8K+MMLU+MT-Bench"
    gsm = evaluate(
        key="gsm8k_heldout",
        title="(a) GSM8K held-out",
        trained_on=split_desc,
        classifier=in_domain,
        rows=datasets.held_out_rows(data["gsm8k"]),
        pricing=pricing,
        contaminated=contaminated,
        dataset="gsm8k",
        with_cascade=True,
    )
    gsm.targets = [
        cost_target(gsm, method, 0.5) for method in ("router", "cascade (rules)", "cascade+router")
    ]
    mmlu = evaluate(
        key="mmlu_heldout",
        title="(b) MMLU held-out",
        trained_on=split_desc,
        classifier=in_domain,
        rows=datasets.held_out_rows(data["mmlu"]),
        pricing=pricing,
        contaminated=contaminated,
        dataset="mmlu",
        with_cascade=False,
    )
    mmlu.targets = [share_target(mmlu, "router", 0.45)]
    cross_gsm = evaluate(
        key="gsm8k_cross",
        title="(c) cross-dataset: all GSM8K",
        trained_on="MMLU+MT-Bench only (all rows)",
        classifier=cross,
        rows=data["gsm8k"],
        pricing=pricing,
        contaminated=contaminated,
        dataset="gsm8k",
        with_cascade=True,
    )
    cross_gsm.targets = [random_target(cross_gsm)]
    results: list[ScenarioResult] = [gsm, mmlu, cross_gsm]
    task_rows = list(data["mt_bench"]) + datasets.held_out_rows(data["gsm8k"])
    timings["evaluate_s"] = time.perf_counter() - tick

    extras: dict[str, Any] = {
        "data_dir": str(root),
        "pricing": pricing.describe(),
        "split": {
            "seed": datasets.SPLIT_SEED,
            "train_fraction": datasets.TRAIN_FRACTION,
            "contaminated_prompts": len(contaminated),
            "contaminated_excluded_from_training": True,
        },
        "training": {
            "in_domain_rows": len(in_domain_rows),
            "in_domain_digest": in_domain.training.get("rows_digest"),
            "shipped_artifact_digest": _shipped_digest(),
            "cross_rows": len(cross_rows),
        },
        "task_classes": task_class_agreement(in_domain, task_rows),
        "notes": list(NOTES),
    }
    extras["training"]["shipped_artifact_same_rows"] = (
        extras["training"]["in_domain_digest"] == extras["training"]["shipped_artifact_digest"]
    )
    report.print_results(results, console, extras)
    report.write_plots(results, out)
    timings["total_s"] = time.perf_counter() - started
    extras["timings"] = {k: round(v, 2) for k, v in timings.items()}
    payload = report.to_dict(results, extras)
    report.write_json(payload, out)
    report.write_markdown(results, extras, out)
    console.print(
        f"wrote {out}/routing_report.json, routing_report.md and "
        f"{len(results)} PNGs in {timings['total_s']:.1f}s"
    )
    return payload


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry: python -m devtools.bench.routing [--data-dir DIR] [--out DIR]."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None, help=f"default: ${datasets.DATA_DIR_ENV}")
    parser.add_argument("--out", default="benchmarks/out/routing", help="output folder")
    args = parser.parse_args(argv)
    console = Console()
    try:
        run_routing_benchmark(args.data_dir, args.out, console)
    except DataMissingError as exc:
        console.print(f"[red]error:[/red] {exc}")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
