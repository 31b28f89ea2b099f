"""`routegraph demo --spec FILE`: push a declarative spec over REST and run it on loopback.

Shows one of the multi-model patterns (debate + judge, cascade, speculative draft/verify,
structured extraction) end to end against the simulator: its decisions as they stream in,
the per-node cost table and every ledger row with the reason it was routed that way.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import httpx
import yaml
from rich.console import Console
from rich.table import Table

from app.reports import calls_table, frontier_equivalent_usd
from app.routing.catalog import load_catalog
from devtools.demo import RUN_TIMEOUT_S, iter_sse
from devtools.service_process import ServiceProcess
from devtools.simulator.config import SimulatorConfig
from devtools.simulator.server import SimulatorServer

TRIP = "Flights cost 2 * 340, the hotel 5 * 120 and food 5 * 45. What is the total?"
INVOICE = "Invoice from vendor: Acme GmbH; invoice number: INV-2041; total: 1,250.50; currency EUR."
# What each shipped example is run with when no --input is given.
EXAMPLE_INPUTS = {"document": INVOICE, "question": TRIP}


def default_input(spec: dict[str, Any]) -> dict[str, Any]:
    return {name: EXAMPLE_INPUTS.get(name, "hello") for name in spec.get("input") or []}


def run_spec_demo(console: Console, spec_path: Path, payload: dict[str, Any] | None = None) -> int:
    """Returns the exit code: 0 when the run succeeded."""
    spec = yaml.safe_load(spec_path.read_text(encoding="utf-8"))
    payload = payload or default_input(spec)
    workdir = Path(tempfile.mkdtemp(prefix="routegraph-demo-"))
    try:
        with SimulatorServer(SimulatorConfig(latency_scale=0.25)) as simulator_url:
            service = ServiceProcess(
                f"sqlite+aiosqlite:///{workdir / 'demo.db'}",
                simulator_url,
                workdir / "service.log",
            )
            try:
                with console.status("starting the service (SQLite, API + worker)…"):
                    base_url = service.start()
                return _run(console, base_url, spec, payload)
            except (RuntimeError, httpx.HTTPError) as exc:
                console.print(f"[red]demo failed: {exc}[/]\n{service.log_tail()}")
                return 1
            finally:
                service.stop()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _run(console: Console, base_url: str, spec: dict[str, Any], payload: dict[str, Any]) -> int:
    with httpx.Client(base_url=base_url, timeout=30) as client:
        pushed = client.post("/v1/graphs", json=spec)
        if pushed.status_code >= 400:
            console.print(f"[red]the spec was refused:[/] {pushed.text}")
            return 1
        graph = pushed.json()
        console.print(f"[bold]{graph['name']}[/] v{graph['version']}: {graph['description']}")
        for node, what in graph["nodes"].items():
            console.print(f"  [cyan]{node}[/]: {what}")
        console.print(f"[bold]Input:[/] {json.dumps(payload)}")
        run = client.post("/v1/runs", json={"graph": graph["name"], "input": payload}).json()
        with client.stream("GET", f"/v1/runs/{run['id']}/events", timeout=RUN_TIMEOUT_S) as events:
            for event in iter_sse(events):
                line = _describe(event)
                if line:
                    console.print(line)
        run = client.get(f"/v1/runs/{run['id']}").json()
        calls = client.get(f"/v1/runs/{run['id']}/calls").json()
    console.print(f"\n[bold]Status:[/] {run['status']}")
    console.print_json(json.dumps(run["output"] or {}))
    if run.get("error"):
        console.print(f"[red]{run['error']}[/]")
    console.print(node_costs(calls))
    console.print(calls_table(calls, title="Per-call ledger"))
    total = sum(c["cost_usd"] for c in calls)
    frontier = frontier_equivalent_usd(calls, load_catalog())
    saved = (1 - total / frontier) * 100 if frontier else 0.0
    console.print(
        f"[bold]Total:[/] ${total:.6f}; all on the frontier tier: ${frontier:.6f} "
        f"({saved:.0f}% saved)"
    )
    return 0 if run["status"] == "succeeded" else 1


def _describe(event: dict[str, Any]) -> str | None:
    kind, node, payload = event["kind"], event.get("node"), event.get("payload") or {}
    if kind == "decision":
        details = {k: v for k, v in payload.items() if k not in ("kind", "node", "decision")}
        text = json.dumps(details)[:160]
        return f"[yellow]⚖ {node}: {payload.get('decision')}[/] {text}"
    if kind == "model_call":
        mark = "[green]ok[/]" if payload["status"] == "ok" else f"[red]{payload['status']}[/]"
        return (
            f"    {node}: {payload['model']} ({payload['tier']}) {mark} ${payload['cost_usd']:.6f}"
        )
    if kind in ("node_started", "node_finished", "queued", "started", "succeeded", "failed"):
        return f"[dim]{kind}{' ' + node if node else ''}[/]"
    return f"[dim]{kind} {node or ''}[/]"


def node_costs(calls: list[dict[str, Any]]) -> Table:
    """Cost per node: how many calls, on which tiers, what they cost together."""
    table = Table(title="Per-node cost")
    for column, justify in (
        ("node", "left"),
        ("calls", "right"),
        ("tiers", "left"),
        ("cost $", "right"),
        ("latency ms", "right"),
    ):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    by_node: dict[str, list[dict[str, Any]]] = {}
    for call in calls:
        by_node.setdefault(call["node"] or "-", []).append(call)
    for node, rows in by_node.items():
        tiers = sorted({r["tier"] for r in rows})
        table.add_row(
            node,
            str(len(rows)),
            ", ".join(tiers),
            f"{sum(r['cost_usd'] for r in rows):.6f}",
            f"{sum(r['latency_ms'] for r in rows):.0f}",
        )
    return table
