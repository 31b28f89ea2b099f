"""The many-model benchmark's results: one stream's figures, and how they are printed,
written as JSON and markdown, and plotted."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from devtools.bench.many_models_run import Figures, Selection


@dataclass
class StreamResult:
    name: str
    requests: int
    seeds: list[int]
    selections: dict[float, Selection]
    test: dict[float, Figures]
    curves: dict[float, dict[str, list[float]]]
    baselines: dict[str, dict[str, Any]]
    targets: list[dict[str, Any]] = field(default_factory=list)


def to_dict(r: StreamResult) -> dict[str, Any]:
    return {
        "stream": r.name,
        "requests": r.requests,
        "seeds": r.seeds,
        "baselines": r.baselines,
        "operating_points": {
            f"{q:.0%}": {
                "setting (chosen on train)": r.selections[q].settings.label(),
                "train reached target": r.selections[q].reached,
                "train": r.selections[q].train.as_dict(),
                "test": r.test[q].as_dict(),
            }
            for q in r.test
        },
        "targets": r.targets,
        "train_sweep": next(iter(r.selections.values())).swept,
        "curves": {f"{q:.0%}": c for q, c in r.curves.items()},
    }


def _rows(r: StreamResult) -> list[list[str]]:
    rows = []
    for name, b in r.baselines.items():
        share = b["strong_share"]
        rows.append(
            [
                name,
                f"{b['relative']:.1%}",
                f"{b['cost']:.1%}",
                "-" if share != share else f"{share:.1%}",
                str(b.get("note", "")),
            ]
        )
    for q, f in r.test.items():
        sel = r.selections[q]
        rows.append(
            [
                f"{'checked cascade' if sel.settings.checked else 'auto over models'}, "
                f"set for {q:.0%}",
                f"{f.relative:.1%} ± {f.relative_sd:.1%}",
                f"{f.cost:.1%} ± {f.cost_sd:.1%}",
                f"{f.strong_share:.1%}",
                f"{sel.settings.label()}; explored {f.explored:.1%}, verified {f.verified:.1%}; "
                f"first fifth {f.first_fifth['relative']:.1%} at {f.first_fifth['cost']:.1%}, "
                f"last fifth {f.last_fifth['relative']:.1%} at {f.last_fifth['cost']:.1%}"
                + ("" if sel.reached else "; no setting reached it on train"),
            ]
        )
    return rows


HEADERS = ["policy", "acc vs GPT-4", "cost vs GPT-4", "GPT-4 calls", "note"]


def print_results(results: list[StreamResult], console: Console) -> None:
    for r in results:
        table = Table(
            title=f"{r.name} test stream ({r.requests} requests, {len(r.seeds)} orderings)"
        )
        for h in HEADERS:
            table.add_column(h, justify="left" if h in ("policy", "note") else "right")
        for row in _rows(r):
            table.add_row(*row)
        console.print(table)
        for t in r.targets:
            mark = "[green]met[/green]" if t["met"] else "[red]MISSED[/red]"
            console.print(f"  target {mark}: {t['label']} - {t['detail']}")


def markdown(results: list[StreamResult], payload: dict[str, Any]) -> str:
    lines = ["# auto over many models (routegraph bench routing --models)", ""]
    lines += [payload["method"], ""]
    for r in results:
        lines += [f"## {r.name} ({r.requests} test requests, {len(r.seeds)} orderings)", ""]
        lines.append("| " + " | ".join(HEADERS) + " |")
        lines.append("|" + "---|" * len(HEADERS))
        lines += ["| " + " | ".join(row) + " |" for row in _rows(r)]
        for t in r.targets:
            lines.append(f"\n- {'met' if t['met'] else '**MISSED**'}: {t['label']} - {t['detail']}")
        lines += ["", f"![{r.name}](models_{_slug(r.name)}.png)", ""]
    lines += ["## Notes", ""] + [f"- {n}" for n in payload["notes"]]
    return "\n".join(lines) + "\n"


def _slug(name: str) -> str:
    return name.lower().replace("+", "_").replace(" ", "_")


def write_plots(results: list[StreamResult], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    for r in results:
        fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
        for q, c in r.curves.items():
            axes[0].plot(c["requests_seen"], c["relative"], label=f"set for {q:.0%}")
            axes[1].plot(c["requests_seen"], c["cost"], label=f"set for {q:.0%}")
        axes[0].axhline(0.95, color="red", linewidth=0.8, label="95% of GPT-4")
        for name, color in (("per-row oracle", "green"), ("random (GPT-4 w.p. q)", "grey")):
            axes[1].axhline(r.baselines[name]["cost"], color=color, linestyle=":", label=name)
        axes[0].set_ylabel("accuracy / GPT-4's (trailing window)")
        axes[1].set_ylabel("cost / always-GPT-4 (trailing window)")
        for ax in axes:
            ax.set_xlabel("requests seen")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)
        fig.suptitle(f"{r.name}: learning from scratch, mean of {len(r.seeds)} orderings")
        fig.tight_layout()
        fig.savefig(out / f"models_{_slug(r.name)}.png", dpi=100)
        plt.close(fig)
