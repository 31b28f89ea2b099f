"""Render the online benchmark: learning curves (PNG), a rich table, JSON and markdown."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from devtools.bench.online_scenarios import QUALITY, WARMUP, Metrics, ScenarioRun

POLICY_NOTES = {
    "always-strong": "GPT-4 for every call",
    "random": "random router at 95% (analytic)",
    "oracle": "escalates exactly the requests only GPT-4 gets right",
    "subject oracle": "whole subjects by GPT-4's true advantage on these requests (hindsight)",
    "prior only": "same policy, offline classifier only (no learning)",
    "online": "same policy, learning from feedback as it arrives",
}


def windowed(run: ScenarioRun, policy: str) -> dict[str, np.ndarray]:
    """Trailing-window strong share, accuracy vs GPT-4 and cost vs GPT-4, mean over orderings."""
    traces = run.traces.get(policy) or []
    stream = run.scenario.stream
    if not traces:
        return {}
    n = len(traces[0].order)
    width = min(max(25, n // 5), n)
    kernel = np.ones(width)
    share, rel, cost = [], [], []
    for t in traces:
        strong_good = np.array([stream[i].row.strong_good for i in t.order], dtype=float)
        strong_cost = np.array([stream[i].strong_cost for i in t.order])

        def roll(x: np.ndarray) -> np.ndarray:
            return np.convolve(x.astype(float), kernel, mode="valid")

        share.append(roll(t.strong) / width)
        rel.append(roll(t.correct) / np.maximum(roll(strong_good), 1.0))
        cost.append(roll(t.cost) / roll(strong_cost))
    x = np.arange(width, n + 1)
    return {
        "requests_seen": x,
        "strong_share": np.mean(share, axis=0),
        "relative_accuracy": np.mean(rel, axis=0),
        "cost_vs_strong": np.mean(cost, axis=0),
        "window": np.array([width]),
    }


def learning_phases(run: ScenarioRun, policy: str) -> dict[str, dict[str, float]]:
    """Warm-up (first 20%) against the last 20% of the stream at the operating point."""
    traces = run.traces.get(policy) or []
    out: dict[str, dict[str, float]] = {}
    if not traces:
        return out
    n = len(traces[0].order)
    k = int(np.ceil(WARMUP * n))
    for label, part in (("first 20%", slice(0, k)), ("last 20%", slice(n - k, n))):
        shares, rels = [], []
        for t in traces:
            strong_good = np.array([run.scenario.stream[i].row.strong_good for i in t.order])
            shares.append(t.strong[part].mean())
            rels.append(t.correct[part].sum() / max(strong_good[part].sum(), 1))
        out[label] = {
            "strong_share": round(float(np.mean(shares)), 4),
            "relative_accuracy": round(float(np.mean(rels)), 4),
        }
    return out


def target_verdict(run: ScenarioRun) -> dict[str, Any] | None:
    """The issue's target for this scenario, met or not, with the gap."""
    target = run.scenario.target
    if target is None:
        return None
    metric, bound = target
    point = run.points.get("online")
    noun = "strong calls" if metric == "share" else "of GPT-4's cost"
    label = f"95% of GPT-4's accuracy with <= {bound:.0%} {noun}"
    if point is None:
        return {"label": label, "met": False, "detail": "online never reaches 95% on the grid"}
    value = getattr(point, metric)
    return {
        "label": label,
        "met": bool(value <= bound + 1e-9),
        "detail": f"online {value:.1%} {noun} at {point.relative:.1%} of GPT-4 "
        f"(gap {value - bound:+.1%}; prior only: {_fmt(run.points.get('prior only'), metric)})",
    }


def _fmt(point: Metrics | None, metric: str) -> str:
    return "never reaches 95%" if point is None else f"{getattr(point, metric):.1%}"


def summary_rows(run: ScenarioRun) -> list[dict[str, str]]:
    rows = []
    for name, base in run.baselines.items():
        rows.append(
            {
                "policy": name,
                "threshold": "",
                "strong calls": f"{base['share']:.1%}",
                "acc vs GPT-4": f"{base['relative']:.1%}",
                "cost vs GPT-4": f"{base['cost']:.1%}",
                "explored": "",
            }
        )
    for name in ("prior only", "online"):
        point = run.points.get(name)
        if point is None:
            rows.append(dict.fromkeys(rows[0], "-") | {"policy": name, "strong calls": "never"})
            continue
        rows.append(
            {
                "policy": name,
                "threshold": f"{point.threshold:.3f}",
                "strong calls": f"{point.share:.1%}",
                "acc vs GPT-4": f"{point.relative:.1%}",
                "cost vs GPT-4": f"{point.cost:.1%}",
                "explored": f"{point.explored:.1%}" if name == "online" else "",
            }
        )
    return rows


def header(run: ScenarioRun) -> str:
    s = run.scenario
    n = len(s.stream)
    ood = _ood_share(run)
    return (
        f"{s.title}: stream {s.stream_label} ({n} requests, {n - int(np.ceil(WARMUP * n))} "
        f"measured after the first 20%); prior trained on {s.prior.label}; clusters "
        f"{s.clusters_label}; {ood:.1%} of the stream flagged out of distribution; "
        f"{len(run.seeds)} orderings (seeds {', '.join(map(str, run.seeds))})"
    )


def print_runs(runs: Sequence[ScenarioRun], console: Console) -> None:
    for run in runs:
        rows = summary_rows(run)
        table = Table(title=header(run), title_justify="left")
        for column in rows[0]:
            table.add_column(column, justify="left" if column == "policy" else "right")
        for row in rows:
            table.add_row(*row.values())
        console.print(table)
        verdict = target_verdict(run)
        if verdict:
            mark = "[green]met[/green]" if verdict["met"] else "[red]MISSED[/red]"
            console.print(f"  target {mark}: {verdict['label']} - {verdict['detail']}")
        console.print()


def to_dict(runs: Sequence[ScenarioRun], extras: dict[str, Any]) -> dict[str, Any]:
    scenarios = {}
    for run in runs:
        s = run.scenario
        curves = {}
        for policy in ("prior only", "online"):
            w = windowed(run, policy)
            if w:
                idx = np.unique(np.linspace(0, len(w["requests_seen"]) - 1, 60).astype(int))
                curves[policy] = {
                    k: [round(float(v), 4) for v in w[k][idx]] for k in w if k != "window"
                }
        scenarios[s.key] = {
            "title": s.title,
            "mode": s.mode,
            "prior_trained_on": s.prior.label,
            "clusters": s.clusters_label,
            "stream": s.stream_label,
            "requests": len(s.stream),
            "ood_share_of_stream": round(_ood_share(run), 4),
            "seeds": run.seeds,
            "baselines_at_95pct": run.baselines,
            "at_95pct": {k: (None if p is None else p.as_dict()) for k, p in run.points.items()},
            "sweeps": {k: [m.as_dict() for m in v] for k, v in run.sweeps.items()},
            "target": target_verdict(run),
            "learning_phases_online": learning_phases(run, "online"),
            "windowed_curves": curves,
        }
    return {**extras, "scenarios": scenarios}


def _ood_share(run: ScenarioRun) -> float:
    return float(np.mean([not r.match.in_distribution for r in run.scenario.stream]))


def write_json(payload: dict[str, Any], out: Path) -> Path:
    path = out / "online_report.json"
    path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    return path


def write_markdown(runs: Sequence[ScenarioRun], extras: dict[str, Any], out: Path) -> Path:
    lines = ["# Routing that learns from feedback (online benchmark)", ""]
    lines += [extras["method"], ""]
    for run in runs:
        lines += [f"## {run.scenario.title}", "", header(run) + ".", ""]
        rows = summary_rows(run)
        lines.append("| " + " | ".join(rows[0]) + " | note |")
        lines.append("|" + "---|" * (len(rows[0]) + 1))
        lines += ["| " + " | ".join(r.values()) + f" | {POLICY_NOTES[r['policy']]} |" for r in rows]
        verdict = target_verdict(run)
        if verdict:
            mark = "met" if verdict["met"] else "**MISSED**"
            lines += ["", f"- {mark}: {verdict['label']} - {verdict['detail']}"]
        phases = learning_phases(run, "online")
        if phases:
            first, last = phases["first 20%"], phases["last 20%"]
            lines.append(
                f"- online at its operating point: first 20% of the stream "
                f"{first['strong_share']:.1%} strong, {first['relative_accuracy']:.1%} of GPT-4; "
                f"last 20% {last['strong_share']:.1%} strong, {last['relative_accuracy']:.1%}"
            )
        lines += ["", f"![{run.scenario.key}](online_{run.scenario.key}.png)", ""]
    lines += ["## Out-of-distribution guard", "", extras["ood_rule"], ""]
    lines += [
        "| prior | dataset (held-out rows) | trained on it | flagged OOD |",
        "|---|---|---|---|",
    ]
    for row in extras["ood_table"]:
        trained = "yes" if row["trained_on_it"] else "no"
        lines.append(
            f"| {row['prior']} | {row['dataset']} ({row['rows']}) | {trained} | "
            f"{row['flagged_ood']:.1%} |"
        )
    lat = extras["decision_latency_us"]
    latency = (
        f"classify + cluster/OOD match + load cells + auto decision, in-process with a warm "
        f"in-memory store, {lat['calls']:.0f} decisions: p50 {lat['p50']:.0f} us, p99 "
        f"{lat['p99']:.0f} us, mean {lat['mean']:.0f} us."
    )
    lines += ["", "## Decision latency", "", latency, "", "## Method notes", ""]
    lines += [f"- {note}" for note in extras["notes"]]
    path = out / "online_report.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_plots(runs: Sequence[ScenarioRun], out: Path) -> list[Path]:
    """One PNG per scenario: strong share, accuracy and cost against requests seen."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    for run in runs:
        fig, axes = plt.subplots(1, 3, figsize=(16, 5.0))
        panels = (
            ("strong_share", "share of GPT-4 calls", "share"),
            ("relative_accuracy", "accuracy / GPT-4's accuracy", "relative"),
            ("cost_vs_strong", "cost / always-GPT-4 cost", "cost"),
        )
        for ax, (key, ylabel, base_key) in zip(axes, panels, strict=True):
            for policy, style in (("online", "-"), ("prior only", "--")):
                w = windowed(run, policy)
                point = run.points.get(policy)
                if w and point is not None:
                    label = f"{policy} (threshold {point.threshold:.3f})"
                    ax.plot(w["requests_seen"], w[key], style, linewidth=1.6, label=label)
            for name, color in (
                ("always-strong", "black"),
                ("random", "grey"),
                ("oracle", "green"),
            ):
                level = run.baselines[name][base_key]
                label = name if name == "always-strong" else f"{name} (at 95%)"
                ax.axhline(level, color=color, linestyle=":", linewidth=1.1, label=label)
            if key == "relative_accuracy":
                ax.axhline(QUALITY, color="red", linewidth=0.9, label="95% of GPT-4")
            n = len(run.scenario.stream)
            ax.axvline(WARMUP * n, color="purple", linewidth=0.8, alpha=0.6, label="end of warm-up")
            ax.set_xlabel("requests seen")
            ax.set_ylabel(ylabel)
            ax.grid(alpha=0.3)
        handles, labels = axes[1].get_legend_handles_labels()
        fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=9, frameon=False)
        w = windowed(run, "online")
        window = int(w["window"][0]) if w else 0
        fig.suptitle(
            f"{run.scenario.title} - trailing {window}-request window, mean of "
            f"{len(run.seeds)} orderings; prior: {run.scenario.prior.label}",
            fontsize=11,
        )
        fig.tight_layout(rect=(0, 0.07, 1, 1))
        path = out / f"online_{run.scenario.key}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)
    return paths
