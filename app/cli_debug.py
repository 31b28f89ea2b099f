"""`routegraph runs timeline|replay|fork` and `routegraph prune` (registered by `app.cli`)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Annotated

import typer
from rich.console import Console

from app.settings import Settings

RunTenant = Annotated[str, typer.Option("--tenant", help="the tenant whose runs these are")]
Wait = Annotated[
    float,
    typer.Option("--wait", help="seconds to wait for a worker to finish it (0: just queue)"),
]


def register(
    cli: typer.Typer, runs_cli: typer.Typer, console: Console, settings: Callable[[], Settings]
) -> None:
    """Add the debugging commands to the `routegraph` command."""

    @runs_cli.command("timeline")
    def runs_timeline(
        run_id: str,
        as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
        max_chars: Annotated[int, typer.Option(min=40, help="cut longer strings")] = 200,
        tenant: RunTenant = "default",
    ) -> None:
        """Every step of a run: nodes, state changes, durations, model calls and fallbacks."""
        from app.inspect_timeline import print_timeline

        shown = asyncio.run(
            print_timeline(
                console, settings(), run_id, tenant=tenant, as_json=as_json, max_chars=max_chars
            )
        )
        if not shown:
            raise typer.Exit(1)

    @runs_cli.command("replay")
    def runs_replay(
        run_id: str,
        live: Annotated[
            bool, typer.Option("--live", help="at a divergence, go on with live (paid) calls")
        ] = False,
        graph_version: Annotated[int | None, typer.Option(help="replay another version")] = None,
        wait: Wait = 120.0,
        tenant: RunTenant = "default",
    ) -> None:
        """Re-execute a finished run from its recorded model calls ($0); exit 1 if it diverges."""
        from app.inspect_timeline import queue_branch

        body = {"on_divergence": "live" if live else "stop", "graph_version": graph_version}
        if not asyncio.run(
            queue_branch(console, settings(), "replay", run_id, body, tenant=tenant, wait_s=wait)
        ):
            raise typer.Exit(1)

    @runs_cli.command("fork")
    def runs_fork(
        run_id: str,
        step: Annotated[
            int | None, typer.Option(help="fork at the checkpoint of this step")
        ] = None,
        checkpoint: Annotated[str | None, typer.Option(help="or at this checkpoint id")] = None,
        patch: Annotated[str | None, typer.Option(help="state patch, a JSON object")] = None,
        override: Annotated[
            list[str] | None, typer.Option(help="NODE=TIER or NODE=MODEL (repeatable)")
        ] = None,
        graph_version: Annotated[int | None, typer.Option(help="run another version")] = None,
        wait: Wait = 120.0,
        tenant: RunTenant = "default",
    ) -> None:
        """Start a new run from one of a run's checkpoints; later steps call models live."""
        from app.inspect_timeline import queue_branch

        overrides = {}
        for item in override or []:
            node, _, target = item.partition("=")
            key = "tier" if target in ("edge", "mid", "frontier") else "model"
            overrides[node] = {key: target}
        body = {
            "step": step,
            "checkpoint_id": checkpoint,
            "state_patch": json.loads(patch) if patch else None,
            "model_overrides": overrides,
            "graph_version": graph_version,
        }
        if not asyncio.run(
            queue_branch(console, settings(), "fork", run_id, body, tenant=tenant, wait_s=wait)
        ):
            raise typer.Exit(1)

    @cli.command()
    def prune(
        days: Annotated[
            float | None,
            typer.Option(
                help="older than this many days (default: ROUTEGRAPH_RETAIN_PAYLOADS_DAYS)"
            ),
        ] = None,
        dry_run: Annotated[bool, typer.Option("--dry-run", help="only count the runs")] = False,
    ) -> None:
        """Remove checkpoints and request/response bodies of old runs; ledger cost rows stay."""
        from app.db.engine import create_engine, create_session_factory
        from app.db.journal import journal_for
        from app.services.retention import prune_payloads

        current = settings()
        retain = days if days is not None else current.retain_payloads_days
        if retain <= 0:
            console.print("retention is 0 (keep forever): nothing to prune; pass --days N")
            return

        async def run() -> None:
            engine = create_engine(current.database_url)
            try:
                report = await prune_payloads(
                    create_session_factory(engine),
                    journal_for(current.database_url),
                    older_than_days=retain,
                    dry_run=dry_run,
                )
            finally:
                await engine.dispose()
            when = report.cutoff.strftime("%Y-%m-%d %H:%M UTC")
            if dry_run:
                console.print(f"{report.due} runs finished before {when} would be pruned")
            else:
                console.print(
                    f"pruned {len(report.runs)} runs finished before {when}: "
                    f"{report.checkpoints} checkpoints, bodies of {report.calls} ledger rows"
                )

        asyncio.run(run())
