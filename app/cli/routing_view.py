"""The learned routing table (`GET /v1/routing/stats` rows) as `routing stats` prints it."""

from __future__ import annotations

import json

from rich.console import Console
from rich.table import Table


def print_rows(
    console: Console, rows: list[dict[str, object]], *, as_json: bool, limit: int
) -> None:
    """The learned table as `routegraph routing stats` prints it."""
    if as_json:
        console.print_json(json.dumps(rows))
        return
    if not rows:
        console.print("no feedback yet: `auto` routes on the classifier's predictions alone")
        return
    console.print(model_table(rows))
    table = Table(title=f"Learned routing table ({len(rows)} cells with feedback)")
    for column in ("scope", "class", "cluster", "arm", "condition", "prior band"):
        table.add_column(column)
    for column in ("events", "by source", "success", "prior"):
        table.add_column(column, justify="right")
    for row in rows[:limit]:
        sources = row["events_by_source"]
        assert isinstance(sources, dict)
        table.add_row(
            *(str(row[key]) for key in ("scope", "task_class", "cluster", "arm")),
            str(row["condition"]) or "-",
            str(row["band"]),
            f"{row['events']:g}",
            ", ".join(f"{source} {count:g}" for source, count in sources.items()),
            f"{row['success']:.2f}",
            f"{row['prior']:.2f}",
        )
    console.print(table)
    if len(rows) > limit:
        console.print(f"{len(rows) - limit} more cells: --limit or --json")


def model_table(rows: list[dict[str, object]]) -> Table:
    """Per model and task class (every cluster): the arms `auto` chooses among."""
    table = Table(title="Models per task class (what auto chooses among)")
    for column in ("scope", "class", "model"):
        table.add_column(column)
    for column in ("events", "by source", "success"):
        table.add_column(column, justify="right")
    picked = [
        r
        for r in rows
        if str(r["arm"]).startswith("model:") and r["cluster"] == "*" and r["task_class"] != "*"
    ]
    picked.sort(key=lambda r: (str(r["scope"]), str(r["task_class"]), -float(r["success"])))  # type: ignore[arg-type]
    for row in picked:
        sources = row["events_by_source"]
        assert isinstance(sources, dict)
        table.add_row(
            str(row["scope"]),
            str(row["task_class"]),
            str(row["arm"]).removeprefix("model:"),
            f"{row['events']:g}",
            ", ".join(f"{source} {count:g}" for source, count in sources.items()),
            f"{row['success']:.2f}",
        )
    return table
