"""`routegraph runs list|show|timeline|replay|fork`: runs as the service sees them (HTTP)."""

from __future__ import annotations

import json
import time
from typing import Annotated, Any
from urllib.parse import quote

import typer
from rich.markup import escape
from rich.table import Table

from app.cli.client import ServiceClient, fail
from app.cli.options import DEFAULT, JsonOption, UrlOption, console
from app.run_status import RunStatus, is_terminal

runs_cli = typer.Typer(no_args_is_help=True, help="Runs of the service (over HTTP).")
Wait = Annotated[
    float,
    typer.Option("--wait", help="seconds to wait for a worker to finish it (0: just queue)"),
]
POLL_S = 0.2


def _run_path(run_id: str, *rest: str) -> str:
    return "/".join(["/v1/runs", quote(run_id, safe=""), *rest])


@runs_cli.command("list")
def runs_list(
    status: Annotated[RunStatus | None, typer.Option(help="filter by status")] = None,
    graph: Annotated[str | None, typer.Option(help="filter by graph")] = None,
    limit: Annotated[int, typer.Option(min=1, max=200)] = 20,
    url: UrlOption = DEFAULT,
) -> None:
    """Newest runs first."""
    params: dict[str, Any] = {"limit": limit}
    if status is not None:
        params["status"] = status.value
    if graph is not None:
        params["graph"] = graph
    with ServiceClient(url) as service:
        page = service.get("/v1/runs", params=params)
    table = Table(title=f"Runs ({len(page['items'])})")
    for column in ("id", "graph", "status", "cost $", "created", "error"):
        table.add_column(column)
    for run in page["items"]:
        table.add_row(
            run["id"],
            f"{run['graph']} v{run['version']}",
            run["status"],
            f"{run['cost_usd']:.6f}",
            run["created_at"][:19].replace("T", " "),
            (run["error"] or "")[:60],
        )
    console.print(table)


@runs_cli.command("show")
def runs_show(run_id: str, as_json: JsonOption = False, url: UrlOption = DEFAULT) -> None:
    """One run with its per-call cost table."""
    from app.reports import calls_table

    with ServiceClient(url) as service:
        run = service.get(_run_path(run_id))
        calls = service.get(_run_path(run_id, "calls"))
    if as_json:
        console.print_json(json.dumps({"run": run, "calls": calls}))
        return
    console.print(
        f"[bold]{run['id']}[/] {run['graph']} v{run['version']}: [bold]{run['status']}[/]"
    )
    console.print(f"cost ${run['cost_usd']:.6f}  claims (epoch) {run['epoch']}")
    answer = (run.get("output") or {}).get("answer")
    if answer:
        console.print(escape(str(answer)))
    if run["error"]:
        console.print(f"[red]{escape(run['error'])}[/]")
    console.print(calls_table(calls))


@runs_cli.command("timeline")
def runs_timeline(
    run_id: str,
    as_json: JsonOption = False,
    max_chars: Annotated[int, typer.Option(min=40, help="cut longer strings")] = 200,
    url: UrlOption = DEFAULT,
) -> None:
    """Every step of a run: nodes, state changes, durations, model calls and fallbacks."""
    from app.cli.timeline_view import timeline_tree
    from app.schemas.timeline import TimelineOut

    with ServiceClient(url) as service:
        body = service.get(_run_path(run_id, "timeline"), params={"max_chars": max_chars})
    if as_json:
        console.print_json(json.dumps(body))
        return
    console.print(timeline_tree(TimelineOut.model_validate(body)))


@runs_cli.command("replay")
def runs_replay(
    run_id: str,
    live: Annotated[
        bool, typer.Option("--live", help="at a divergence, go on with live (paid) calls")
    ] = False,
    graph_version: Annotated[int | None, typer.Option(help="replay another version")] = None,
    wait: Wait = 120.0,
    url: UrlOption = DEFAULT,
) -> None:
    """Re-execute a finished run from its recorded model calls ($0); exit 1 if it diverges."""
    body = {"on_divergence": "live" if live else "stop", "graph_version": graph_version}
    if not _branch("replay", run_id, body, wait, url):
        raise typer.Exit(1)


@runs_cli.command("fork")
def runs_fork(
    run_id: str,
    step: Annotated[int | None, typer.Option(help="fork at the checkpoint of this step")] = None,
    checkpoint: Annotated[str | None, typer.Option(help="or at this checkpoint id")] = None,
    patch: Annotated[str | None, typer.Option(help="state patch, a JSON object")] = None,
    override: Annotated[
        list[str] | None, typer.Option(help="NODE=TIER or NODE=MODEL (repeatable)")
    ] = None,
    graph_version: Annotated[int | None, typer.Option(help="run another version")] = None,
    wait: Wait = 120.0,
    url: UrlOption = DEFAULT,
) -> None:
    """Start a new run from one of a run's checkpoints; later steps call models live."""
    overrides = {}
    for item in override or []:
        node, _, target = item.partition("=")
        key = "tier" if target in ("edge", "mid", "frontier") else "model"
        overrides[node] = {key: target}
    try:
        state_patch = json.loads(patch) if patch else None
    except json.JSONDecodeError as exc:
        fail(f"--patch is not JSON: {exc}")
    body = {
        "step": step,
        "checkpoint_id": checkpoint,
        "state_patch": state_patch,
        "model_overrides": overrides,
        "graph_version": graph_version,
    }
    if not _branch("fork", run_id, body, wait, url):
        raise typer.Exit(1)


def _branch(kind: str, run_id: str, body: dict[str, Any], wait_s: float, url: str) -> bool:
    """Queue a replay or fork (a worker executes it); with `wait_s`, wait and report."""
    with ServiceClient(url) as service:
        run = service.post(_run_path(run_id, kind), json=body)
        console.print(f"queued {kind} [bold]{run['id']}[/] of {run_id}")
        if wait_s <= 0:
            return True
        deadline = time.monotonic() + wait_s
        while not is_terminal(run["status"]) and time.monotonic() < deadline:
            time.sleep(POLL_S)
            run = service.get(_run_path(run["id"]))
    if not is_terminal(run["status"]):
        console.print(f"[yellow]still {run['status']} after {wait_s:.0f}s[/]: is a worker running?")
        return False
    console.print(f"{kind} {run['id']}: [bold]{run['status']}[/]  ${run['cost_usd']:.6f}")
    verdict = run.get("replay") or {}
    if kind == "replay":
        if verdict.get("reproduced"):
            console.print("[green]reproduced the run[/]")
            return True
        found = verdict.get("divergence") or {}
        console.print(
            f"[red]diverged at step {found.get('step')} ({found.get('node')}): "
            f"{found.get('kind')}: {escape(str(found.get('detail')))}[/]"
        )
        return False
    if run["error"]:
        console.print(f"[red]{escape(run['error'])}[/]")
    return bool(run["status"] == RunStatus.SUCCEEDED)
