"""Runs the many-model benchmark over its streams and writes its table, curves and JSON."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console

from app.routing.classifier import TaskClassifier
from app.routing.clusters import TopicClusters
from devtools.bench.checked_cascade import CHECKED_NOTE, flag_rates, verifier_alone
from devtools.bench.many_models import Prepared, load_published_priors, prepare
from devtools.bench.many_models_output import (
    StreamResult,
    markdown,
    print_results,
    to_dict,
    write_plots,
)
from devtools.bench.many_models_run import (
    PUBLISHED_SWEEP,
    SELECTION_SEEDS,
    Figures,
    Sweep,
    baselines,
    figures,
    run_setting,
    select,
)
from devtools.bench.routerbench_data import (
    Stream,
    default_routerbench_dir,
    load_routellm,
    load_routerbench,
    mean_prices,
)

# (stream, quality) -> (metric, bound): the targets.
TARGETS: dict[tuple[str, float], tuple[str, float]] = {
    ("ARC+MBPP", 0.95): ("cost", 0.20),
    ("ARC+MBPP", 1.0): ("cost", 0.45),
    ("MMLU", 0.95): ("strong_share", 0.35),
    ("GSM8K", 0.95): ("cost", 0.50),
    ("GSM8K checked", 0.95): ("cost", 0.50),
}
# Streams whose cheap answers a rule verifier can read: also run as the checked cascade.
CHECKED_VERIFIERS: dict[str, str] = {"GSM8K": "arithmetic"}
STREAMS = ("ARC", "MBPP", "ARC+MBPP", "GSM8K", "MMLU")  # what `only` may name
METRIC_NAMES = {"cost": "of GPT-4's cost", "strong_share": "of requests calling GPT-4"}


def _curves(p: Prepared, traces: list[Any]) -> dict[str, list[float]]:
    """Trailing-window relative accuracy and cost share, mean over orderings."""
    n = len(p)
    width = min(max(25, n // 5), n)  # a stream shorter than 25 requests: one window
    s = p.stream.strong_index
    kernel = np.ones(width)
    rel, cost = [], []
    for t in traces:
        good4 = p.stream.correct[t.order, s]
        cost4 = p.stream.cost[t.order, s]
        rel.append(
            np.convolve(t.correct.astype(float), kernel, "valid")
            / np.maximum(np.convolve(good4, kernel, "valid"), 1.0)
        )
        cost.append(np.convolve(t.cost, kernel, "valid") / np.convolve(cost4, kernel, "valid"))
    x = np.arange(width, n + 1)
    return {
        "requests_seen": x.tolist(),
        "relative": np.mean(rel, axis=0).round(4).tolist(),
        "cost": np.mean(cost, axis=0).round(4).tolist(),
    }


def _verdict(name: str, q: float, f: Figures) -> dict[str, Any] | None:
    target = TARGETS.get((name, q))
    if target is None:
        return None
    metric, bound = target
    value = getattr(f, metric)
    met = f.relative >= q - 1e-9 and value <= bound + 1e-9
    return {
        "label": f"{q:.0%} of GPT-4's accuracy at <= {bound:.0%} {METRIC_NAMES[metric]}",
        "met": met,
        "detail": (
            f"{f.relative:.1%} (sd {f.relative_sd:.1%}) of GPT-4's accuracy at {value:.1%} "
            f"{METRIC_NAMES[metric]} (cost sd {f.cost_sd:.1%}); accuracy gap "
            f"{f.relative - q:+.1%}, {metric} gap {value - bound:+.1%}"
        ),
    }


def evaluate_stream(
    name: str,
    train: Prepared,
    test: Prepared,
    qualities: list[float],
    seeds: list[int],
    sweep: Sweep | None = None,
) -> StreamResult:
    selections = select(train, qualities, min(len(train), len(test)), sweep)
    result = StreamResult(name, len(test), seeds, selections, {}, {}, baselines(test))
    for q, chosen in selections.items():
        traces = run_setting(test, chosen.settings, seeds)
        result.test[q] = figures(test, traces)
        result.curves[q] = _curves(test, traces)
        verdict = _verdict(name, q, result.test[q])
        if verdict:
            result.targets.append(verdict)
    return result


def evaluate_checked(
    name: str, train: Prepared, test: Prepared, seeds: list[int], verifier: str
) -> StreamResult:
    """The stream through the checked cascade: its own train sweep, the same protocol."""
    result = evaluate_stream(f"{name} checked", train, test, [0.95], seeds, Sweep(checked=verifier))
    rates = {split: flag_rates(p) for split, p in (("test", test), ("train", train))}
    result.baselines[f"{verifier} check alone (no learning)"] = {
        **verifier_alone(test),
        "note": "; ".join(
            f"{split}: flags {r['flagged']:.1%} of cheap answers, {r['of_wrong']:.1%} of wrong "
            f"and {r['of_right']:.1%} of right ones"
            for split, r in rates.items()
        ),
    }
    return result


def _streams(
    data_dir: str | Path | None, console: Console
) -> tuple[list[tuple[str, Stream, Stream, bool]], list[str]]:
    notes = []
    found: list[tuple[str, Stream, Stream, bool]] = []
    folder = default_routerbench_dir()
    parts = {
        (task, split): load_routerbench(task, split, folder)
        for task in ("arc", "mbpp")
        for split in ("train", "test")
    }
    if any(s is None for s in parts.values()):
        note = f"RouterBench data not found in {folder}: its ARC/MBPP streams are skipped"
        console.print(f"[yellow]{note}[/yellow]")
        notes.append(note)
    else:
        arc_tr, arc_te = parts[("arc", "train")], parts[("arc", "test")]
        mbpp_tr, mbpp_te = parts[("mbpp", "train")], parts[("mbpp", "test")]
        assert arc_tr and arc_te and mbpp_tr and mbpp_te
        found += [
            ("ARC", arc_tr, arc_te, False),
            ("MBPP", mbpp_tr, mbpp_te, False),
            (
                "ARC+MBPP",
                arc_tr.concat(mbpp_tr, "ARC+MBPP train"),
                arc_te.concat(mbpp_te, "ARC+MBPP test"),
                False,
            ),
        ]
    for name in ("gsm8k", "mmlu"):
        train, test = load_routellm(name, "train", data_dir), load_routellm(name, "test", data_dir)
        found.append((name.upper(), train, test, True))
    return found, notes


def run_models_benchmark(
    data_dir: str | Path | None,
    out_dir: str | Path,
    console: Console | None = None,
    *,
    orderings: int = 10,
    only: list[str] | None = None,
    published_priors: bool = False,
) -> dict[str, Any]:
    """Every stream: select on train, report on test; write models_report.{json,md} + PNGs.

    `published_priors`: RouterBench's models start from their published scores per task
    class (prior knowledge, see routerbench_priors.yaml) and only RouterBench's streams run.
    """
    unknown = sorted(set(only or ()) - set(STREAMS))
    if unknown:
        raise ValueError(f"no stream named {', '.join(unknown)}: choose from {', '.join(STREAMS)}")
    console = console or Console()
    started = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    classifier, clusters = TaskClassifier.load(), TopicClusters.load()
    streams, notes = _streams(data_dir, console)
    seeds = list(range(orderings))
    published = load_published_priors() if published_priors else None
    sweep = PUBLISHED_SWEEP if published_priors else Sweep()
    results = []
    for name, train, test, knows in streams:
        if only and name not in only:
            continue
        if published is not None and knows:
            continue  # RouteLLM's streams: the classifier knows their models already
        tick = time.perf_counter()
        prices = mean_prices([train])
        if not knows:  # both RouterBench tasks share one price list (their train means)
            prices = mean_prices([s for n, s, _, k in streams if not k and n in ("ARC", "MBPP")])
        p_train, p_test = (
            prepare(
                s,
                prices,
                classifier,
                clusters,
                classifier_knows_models=knows,
                published=published,
                verifier=CHECKED_VERIFIERS.get(name),
            )
            for s in (train, test)
        )
        qualities = [0.95, 1.0] if name == "ARC+MBPP" else [0.95]
        results.append(evaluate_stream(name, p_train, p_test, qualities, seeds, sweep))
        if name in CHECKED_VERIFIERS:
            results.append(evaluate_checked(name, p_train, p_test, seeds, CHECKED_VERIFIERS[name]))
        console.print(f"  {name}: {time.perf_counter() - tick:.1f}s", style="dim")
    payload = {
        "published_priors": published_priors,
        "method": METHOD.format(
            selection=", ".join(map(str, SELECTION_SEEDS)),
            orderings=orderings,
            last=orderings - 1,
            bar=len(sweep.grid()) - len(sweep.weights) * len(sweep.shares),
            utility=len(sweep.weights) * len(sweep.shares),
        ),
        "notes": notes + list(PUBLISHED_NOTES if published_priors else [*NOTES, CHECKED_NOTE]),
        "streams": [to_dict(r) for r in results],
        "elapsed_s": round(time.perf_counter() - started, 1),
    }
    print_results(results, console)
    (out / "models_report.json").write_text(json.dumps(payload, indent=2) + "\n")
    (out / "models_report.md").write_text(markdown(results, payload))
    write_plots(results, out)
    console.print(f"wrote {out}/models_report.json, models_report.md in {payload['elapsed_s']}s")
    return payload


METHOD = (
    "Each stream is learned from scratch. A setting (the bar rule: relative threshold x verify "
    "mode x exploration share, {bar}; the utility rule: cost weight x exploration share, "
    "{utility}) is "
    "chosen on the train split, learning from scratch there over orderings seeded {selection}, "
    "each replaying as many train requests as the test stream has: the cheapest whose mean "
    "accuracy reaches the target share of GPT-4's. That setting is then replayed on the test "
    "split in {orderings} fresh orderings (seeds 0-{last}); figures are means with the "
    "standard deviation over orderings. Feedback is bandit feedback: only the served "
    "answer's recorded correctness arrives."
)
NOTES: tuple[str, ...] = (
    "RouterBench models start from the catalog's weak prior per tier (edge 0.6, mid 0.7, "
    "frontier 0.8; tiers by price share of GPT-4: >= 30% frontier, >= 4% mid): the shipped "
    "classifier was fitted on Mixtral/GPT-4 outcomes and says nothing about these models. "
    "RouteLLM streams use the shipped classifier (fitted on their train splits) as a trusted "
    "prior on familiar requests.",
    "Costs are the recorded per-row costs (RouterBench) or token estimates x catalog prices "
    "(RouteLLM); a model's expected cost for choosing is its mean cost on the train split.",
    "Verification compares canonical answers (option letter, final number); MBPP's code and "
    "MMLU (no recorded answers) cannot be verified, so there `auto` learns from exploration "
    "alone.",
    "Baselines use hindsight on the test rows (best single model, best model per task, per-row "
    "oracle); the random router is analytic.",
)


PUBLISHED_NOTES: tuple[str, ...] = (
    "Published priors (prior knowledge, not learned): RouterBench models start from their "
    "published HumanEval pass@1 on requests the classifier calls code "
    "(devtools/bench/routerbench_priors.yaml, each figure with its source; none from "
    "RouterBench's or RouteLLM's rows), worth 16 events, put on this traffic's scale by the "
    "other published models' rated answers (scale strength 10); classes do not pool their "
    "events. Models without a published figure, and other classes, start from the catalog's "
    "weak prior per tier. The utility rule's grid here: cost weight 0.05-0.3 (6) x "
    "exploration share 5/10/20/100%.",
    *NOTES[1:],
)
