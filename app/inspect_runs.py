"""`routegraph runs list|show`: read runs straight from the database."""

from __future__ import annotations

import json

from rich.console import Console
from rich.table import Table

from app.db import ledger_repo, runs_repo
from app.db.engine import create_engine, create_session_factory
from app.reports import calls_table
from app.schemas.runs import ModelCallOut, RunOut
from app.settings import Settings


async def print_run_list(
    console: Console, settings: Settings, *, status: str | None, graph: str | None, limit: int
) -> None:
    engine = create_engine(settings.database_url)
    try:
        async with create_session_factory(engine)() as session:
            rows, _ = await runs_repo.list_runs(session, status=status, graph=graph, limit=limit)
    finally:
        await engine.dispose()
    table = Table(title=f"Runs ({len(rows)})")
    for column in ("id", "graph", "status", "cost $", "created", "error"):
        table.add_column(column)
    for run in rows:
        table.add_row(
            run.id,
            f"{run.graph} v{run.version}",
            run.status,
            f"{run.cost_usd:.6f}",
            run.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            (run.error or "")[:60],
        )
    console.print(table)


async def print_run(console: Console, settings: Settings, run_id: str, *, as_json: bool) -> bool:
    engine = create_engine(settings.database_url)
    try:
        async with create_session_factory(engine)() as session:
            run = await runs_repo.get_run(session, run_id)
            calls = await ledger_repo.calls_for_run(session, run_id) if run else []
    finally:
        await engine.dispose()
    if run is None:
        console.print(f"[red]no run with id {run_id}[/]")
        return False
    run_out = RunOut.model_validate(run).model_dump(mode="json")
    call_rows = [ModelCallOut.model_validate(c).model_dump(mode="json") for c in calls]
    if as_json:
        console.print_json(json.dumps({"run": run_out, "calls": call_rows}))
        return True
    console.print(f"[bold]{run.id}[/] {run.graph} v{run.version}: [bold]{run.status}[/]")
    console.print(f"cost ${run.cost_usd:.6f}  claims (epoch) {run.epoch}")
    if run.output and run.output.get("answer"):
        console.print(run.output["answer"])
    if run.error:
        console.print(f"[red]{run.error}[/]")
    console.print(calls_table(call_rows))
    return True
