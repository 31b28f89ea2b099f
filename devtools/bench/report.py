"""Render benchmark results: rich tables, matplotlib PNGs, JSON and markdown in out_dir."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from devtools.bench.curves import Point, downsample
from devtools.bench.scenarios import ScenarioResult

_METHOD_NOTES = {
    "always-weak": "Mixtral for every call",
    "always-strong": "GPT-4 for every call",
    "random": "random router, analytic expected value",
    "oracle": "escalates exactly the rows only GPT-4 gets right",
    "router": "learned router (prompt only), threshold at 95% quality",
    "cascade (rules)": "weak first; escalate when the answer check fails",
    "cascade+router": "weak first; failed checks, then router score, escalate",
}


def _interval(interval: dict[str, list[float]] | None) -> str:
    """Bootstrap range of the cost at the 95% point (sampling noise of the test set)."""
    if not interval:
        return ""
    low, high = interval["cost_vs_strong"]
    return f"{low:.0%}-{high:.0%}"


def _rows(result: ScenarioResult) -> list[dict[str, str]]:
    """Table rows shared by the console and markdown renderings."""
    strong = result.outcomes.strong_acc
    out = []
    for name, point in result.points.items():
        curve_apgr = result.apgr.get(name)
        if name == "random":
            curve_apgr = 0.5
        out.append(
            {
                "method": name,
                "strong calls": "-" if point is None else f"{point.share:.1%}",
                "accuracy": "-" if point is None else f"{point.accuracy:.3f}",
                "of GPT-4 acc": "-" if point is None else f"{point.accuracy / strong:.1%}",
                "cost vs GPT-4": "never reaches 95%" if point is None else f"{point.cost:.1%}",
                "cost 90% CI": _interval(result.intervals.get(name)),
                "APGR": "" if curve_apgr is None else f"{curve_apgr:.3f}",
                "note": _METHOD_NOTES.get(name, ""),
            }
        )
    if result.routellm_cost_cut is not None:
        out.append(
            {
                "method": "RouteLLM (published)",
                "strong calls": "n/a",
                "accuracy": "n/a",
                "of GPT-4 acc": "95%",
                "cost vs GPT-4": f"{1 - result.routellm_cost_cut:.0%}",
                "cost 90% CI": "",
                "APGR": "",
                "note": f"best published router: -{result.routellm_cost_cut:.0%} cost "
                "(trained on Arena data)",
            }
        )
    return out


def _header(result: ScenarioResult) -> str:
    o = result.outcomes
    return (
        f"{result.title}: {o.n} test rows ({result.contaminated_in_test} RouteLLM-contaminated), "
        f"router trained on {result.trained_on}. Mixtral {o.weak_acc:.3f}, GPT-4 "
        f"{o.strong_acc:.3f}, 95% target {o.target:.3f}; always-Mixtral costs "
        f"{o.weak_cost_ratio:.1%} of always-GPT-4."
    )


def print_results(
    results: Sequence[ScenarioResult], console: Console, extras: dict[str, Any]
) -> None:
    """Rich tables plus target verdicts."""
    for result in results:
        table = Table(title=_header(result), title_justify="left")
        rows = _rows(result)
        columns = [c for c in rows[0] if c != "note"]  # notes go to the markdown report
        for column in columns:
            if column == "method":
                table.add_column(column, no_wrap=True)
            else:
                table.add_column(column, justify="right")
        for row in rows:
            table.add_row(*(row[c] for c in columns))
        console.print(table)
        for target in result.targets:
            mark = "[green]met[/green]" if target.met else "[red]MISSED[/red]"
            console.print(f"  target {mark}: {target.label} - {target.detail}")
        console.print()
    task = extras.get("task_classes")
    if task:
        console.print(f"task-class agreement with dataset categories: {_agreement(task)}")


def _agreement(task: dict[str, Any]) -> str:
    per = ", ".join(f"{k} {v:.1%}" for k, v in task["agreement_by_dataset"].items())
    return f"{task['agreement']:.1%} of {task['rows']} rows ({per}; {task['mapping']})"


def _point_dict(point: Point | None) -> dict[str, float] | None:
    return None if point is None else point.as_dict()


def to_dict(results: Sequence[ScenarioResult], extras: dict[str, Any]) -> dict[str, Any]:
    """The JSON report."""
    scenarios = {}
    for r in results:
        o = r.outcomes
        scenarios[r.key] = {
            "title": r.title,
            "trained_on": r.trained_on,
            "test_rows": o.n,
            "contaminated_in_test": r.contaminated_in_test,
            "weak_accuracy": round(o.weak_acc, 4),
            "strong_accuracy": round(o.strong_acc, 4),
            "target_accuracy": round(o.target, 4),
            "always_weak_cost_vs_strong": round(o.weak_cost_ratio, 4),
            "at_95pct_quality": {name: _point_dict(p) for name, p in r.points.items()},
            "apgr": {name: round(v, 4) for name, v in r.apgr.items()},
            "bootstrap_90pct_interval_at_95pct_quality": r.intervals,
            "router_vs_random": None if r.vs_random is None else r.vs_random.as_dict(),
            "routellm_published_cost_cut": r.routellm_cost_cut,
            "targets": [{"label": t.label, "met": t.met, "detail": t.detail} for t in r.targets],
            "curves": {name: downsample(c) for name, c in r.curves.items()},
        }
    return {**extras, "scenarios": scenarios}


def write_json(report: dict[str, Any], out_dir: Path) -> Path:
    path = out_dir / "routing_report.json"
    path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return path


def write_markdown(
    results: Sequence[ScenarioResult], extras: dict[str, Any], out_dir: Path
) -> Path:
    """Markdown tables of the same figures, for the repo or a PR."""
    lines = ["# Routing benchmark (recorded real model outputs)", ""]
    lines.append(
        f"Prices: Mixtral as `{extras['pricing']['weak']['as']}`, GPT-4 as "
        f"`{extras['pricing']['strong']['as']}`; split seed {extras['split']['seed']}, "
        f"{extras['split']['train_fraction']:.0%} train by prompt hash."
    )
    lines.append("")
    for result in results:
        lines += [f"## {result.title}", "", _header(result), ""]
        rows = _rows(result)
        lines.append("| " + " | ".join(rows[0]) + " |")
        lines.append("|" + "---|" * len(rows[0]))
        lines += ["| " + " | ".join(row.values()) + " |" for row in rows]
        lines.append("")
        for target in result.targets:
            lines.append(
                f"- {'met' if target.met else '**MISSED**'}: {target.label} - {target.detail}"
            )
        lines += ["", f"![{result.key}](routing_{result.key}.png)", ""]
    task = extras.get("task_classes")
    if task:
        lines.append(f"Task-class agreement with dataset categories: {_agreement(task)}.")
    if extras.get("notes"):
        lines += ["", "## Method notes", ""]
        lines += [f"- {note}" for note in extras["notes"]]
    path = out_dir / "routing_report.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_plots(results: Sequence[ScenarioResult], out_dir: Path) -> list[Path]:
    """One PNG per scenario: accuracy against cost and against strong-call share."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    for result in results:
        o = result.outcomes
        fig, axes = plt.subplots(1, 2, figsize=(12, 4.8))
        for ax, axis in zip(axes, ("cost", "share"), strict=True):
            for name, curve in result.curves.items():
                ax.plot(getattr(curve, axis), curve.accuracy, label=name, linewidth=1.4)
            x_weak = o.weak_cost_ratio if axis == "cost" else 0.0
            ax.plot([x_weak, 1.0], [o.weak_acc, o.strong_acc], "--", color="grey", label="random")
            ax.axhline(o.target, color="red", linewidth=0.8, linestyle=":", label="95% of GPT-4")
            rules = result.points.get("cascade (rules)")
            if rules is not None:
                ax.plot(getattr(rules, axis), rules.accuracy, "o", label="cascade (rules)")
            if axis == "cost" and result.routellm_cost_cut is not None:
                ax.plot(
                    1 - result.routellm_cost_cut, o.target, "*", markersize=11,
                    label="RouteLLM (published)",
                )  # fmt: skip
            ax.set_xlabel(
                "cost relative to always-GPT-4" if axis == "cost" else "share of GPT-4 calls"
            )
            ax.set_ylabel("accuracy")
            ax.grid(alpha=0.3)
        axes[0].legend(fontsize=8, loc="lower right")
        fig.suptitle(f"{result.title} ({o.n} rows; router trained on {result.trained_on})")
        fig.tight_layout()
        path = out_dir / f"routing_{result.key}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)
    return paths
