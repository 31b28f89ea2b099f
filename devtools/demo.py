"""`routegraph demo`: simulator + service on loopback, one real multi-step run over REST."""

from __future__ import annotations

import json
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console

from app.reports import calls_table, frontier_equivalent_usd
from app.routing.catalog import load_catalog
from devtools.service_process import ServiceProcess
from devtools.simulator.config import FaultRule, SimulatorConfig
from devtools.simulator.server import SimulatorServer

DEFAULT_QUESTION = (
    "Budget a team offsite: flights cost 4 * 340 USD, the hotel is 5 * 2 * 120 USD and "
    "meals are 5 * 4 * 45 USD. What is the total, split between 4 people?"
)
RUN_TIMEOUT_S = 180.0


def iter_sse(response: httpx.Response) -> Iterator[dict[str, Any]]:
    """Parse a text/event-stream body into the JSON `data` of each event."""
    data: list[str] = []
    for line in response.iter_lines():
        if line.startswith("data:"):
            data.append(line[5:].strip())
        elif not line and data:
            yield json.loads("\n".join(data))
            data = []


def _describe(event: dict[str, Any]) -> str | None:
    kind, node, payload = event["kind"], event.get("node"), event.get("payload") or {}
    if kind == "node_started":
        return f"[cyan]▶ {node}[/]"
    if kind == "node_finished":
        return f"[cyan]✓ {node}[/]"
    if kind == "model_call":
        mark = "[green]ok[/]" if payload["status"] == "ok" else f"[red]{payload['status']}[/]"
        line = (
            f"    {payload['model']} ({payload['tier']}) {mark} "
            f"${payload['cost_usd']:.6f} {payload['latency_ms']:.0f} ms"
        )
        if payload["status"] != "ok":
            line += f" [dim]{(payload.get('error') or '')[:80]}[/]"
        return line
    return f"[bold]{kind}[/]"


def run_demo(console: Console, *, question: str | None = None, keep: bool = False) -> int:
    """Returns the process exit code: 0 when the run succeeded with a recorded fallback."""
    workdir = Path(tempfile.mkdtemp(prefix="routegraph-demo-"))
    database_url = f"sqlite+aiosqlite:///{workdir / 'demo.db'}"
    catalog = load_catalog()
    first_frontier = catalog.chain("frontier")[0].name
    simulator_config = SimulatorConfig(
        latency_scale=0.25,
        faults=[FaultRule(model=first_frontier, kind="server_error", times=1)],
    )
    log_path = workdir / "service.log"
    try:
        with SimulatorServer(simulator_config) as simulator_url:
            console.print(f"[dim]provider simulator on {simulator_url}[/]")
            console.print(f"[dim]fault injected: {first_frontier} answers HTTP 500 once[/]")
            service = ServiceProcess(database_url, simulator_url, log_path)
            try:
                with console.status("starting the service (SQLite, API + worker)…"):
                    base_url = service.start()
                return _run_job(console, base_url, question, catalog)
            except RuntimeError as exc:
                console.print(f"[red]demo failed: {exc}[/]")
                return 1
            except httpx.HTTPError as exc:
                console.print(f"[red]demo failed: {exc}[/]\n{service.log_tail()}")
                return 1
            finally:
                service.stop()
    finally:
        if keep:
            console.print(f"[dim]demo database kept: {database_url}[/]")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def _run_job(console: Console, base_url: str, question: str | None, catalog: Any) -> int:
    with httpx.Client(base_url=base_url, timeout=30) as client:
        console.print(f"[dim]service on {base_url} (OpenAPI at {base_url}/docs)[/]")
        body: dict[str, Any] = {
            "graph": "plan_execute",
            "input": {"question": question or DEFAULT_QUESTION},
            "budget_usd": 0.50,
        }
        response = client.post(
            "/v1/runs", json=body, headers={"Idempotency-Key": str(uuid.uuid4())}
        )
        response.raise_for_status()
        run_id = response.json()["id"]
        console.print(f"\n[bold]Question:[/] {body['input']['question']}")
        console.print(f"[bold]Run {run_id}[/] queued; following its events:")
        with client.stream("GET", f"/v1/runs/{run_id}/events", timeout=RUN_TIMEOUT_S) as stream:
            for event in iter_sse(stream):
                line = _describe(event)
                if line:
                    console.print(line)
        run = client.get(f"/v1/runs/{run_id}").json()
        calls = client.get(f"/v1/runs/{run_id}/calls").json()
    return _report(console, run, calls, catalog)


def _report(
    console: Console, run: dict[str, Any], calls: list[dict[str, Any]], catalog: Any
) -> int:
    console.print()
    console.print(f"[bold]Status:[/] {run['status']}")
    if run.get("output") and run["output"].get("answer"):
        console.print(f"[bold]Answer:[/]\n{run['output']['answer']}")
    if run.get("error"):
        console.print(f"[red]{run['error']}[/]")
    console.print(calls_table(calls, title="Per-call ledger"))
    total = sum(c["cost_usd"] for c in calls)
    frontier = frontier_equivalent_usd(calls, catalog)
    saving = (1 - total / frontier) * 100 if frontier else 0.0
    tiers = sorted({c["tier"] for c in calls if c["status"] == "ok"})
    fallbacks = [c for c in calls if c["fallback_of"]]
    console.print(f"[bold]Total cost:[/] ${total:.6f} across tiers {', '.join(tiers)}")
    console.print(
        f"[bold]All-frontier cost of the same calls:[/] ${frontier:.6f} ({saving:.0f}% saved)"
    )
    for call in fallbacks:
        console.print(
            f"[yellow]Fallback:[/] {call['node']} → {call['model']}: {call['routing_reason']}"
        )
    ok = run["status"] == "succeeded" and len(tiers) >= 2 and bool(fallbacks)
    if not ok:
        console.print("[red]demo expectation not met (succeeded, ≥2 tiers, one fallback)[/]")
    return 0 if ok else 1
