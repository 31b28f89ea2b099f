"""Rich tables of a run's model calls, shared by `demo` and `runs show`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.table import Table

from app.routing.catalog import Catalog


def frontier_equivalent_usd(calls: Sequence[dict[str, Any]], catalog: Catalog) -> float:
    """What the same tokens would have cost with every call on the frontier tier's first model."""
    frontier = catalog.chain("frontier")[0]
    return sum(
        frontier.cost_usd(c["prompt_tokens"], c["completion_tokens"], c["cached_tokens"])
        for c in calls
        if c["status"] != "error"
    )


def calls_table(calls: Sequence[dict[str, Any]], title: str = "Model calls") -> Table:
    table = Table(title=title, show_lines=False)
    for column, justify in (
        ("node", "left"),
        ("model", "left"),
        ("tier", "left"),
        ("status", "left"),
        ("in tok", "right"),
        ("out tok", "right"),
        ("cost $", "right"),
        ("latency ms", "right"),
        ("why", "left"),
    ):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for call in calls:
        status = call["status"]
        style = "green" if status == "ok" else "red"
        table.add_row(
            call.get("node") or "-",
            call["model"],
            call["tier"],
            f"[{style}]{status}[/]",
            str(call["prompt_tokens"]),
            str(call["completion_tokens"]),
            f"{call['cost_usd']:.6f}",
            f"{call['latency_ms']:.0f}",
            _why(call),
        )
    return table


def _why(call: dict[str, Any]) -> str:
    """The short reason a row exists: its error, its fallback, or its routing rule."""
    if call.get("error"):
        return str(call["error"]).split(":", 1)[0]
    reason = str(call["routing_reason"])
    if reason.startswith("fallback after"):
        return reason.split(":", 1)[0]
    return reason.split(";", 1)[0]
