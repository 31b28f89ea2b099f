"""The `routegraph` command."""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from app.cli_debug import register as register_debug_commands
from app.experiments_cli import register as register_experiment_commands
from app.settings import Settings

cli = typer.Typer(no_args_is_help=True, help="Run LLM workflow graphs on the cheapest model.")
runs_cli = typer.Typer(no_args_is_help=True, help="Inspect runs stored in the database.")
cli.add_typer(runs_cli, name="runs")
graphs_cli = typer.Typer(no_args_is_help=True, help="Graphs and declarative graph specs.")
cli.add_typer(graphs_cli, name="graphs")
routing_cli = typer.Typer(no_args_is_help=True, help="Routing that learns from feedback.")
cli.add_typer(routing_cli, name="routing")
keys_cli = typer.Typer(no_args_is_help=True, help="API keys: each belongs to one tenant.")
cli.add_typer(keys_cli, name="keys")
# Piped output (CI logs, `make demo | tee`) gets a width that fits the ledger table.
console = Console(width=None if sys.stdout.isatty() else 140)


def _settings(**overrides: object) -> Settings:
    values = {k: v for k, v in overrides.items() if v is not None}
    settings = Settings(**values)  # type: ignore[arg-type]
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)  # one line per migration step
    return settings


ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config", help="langgraph.json naming your own LangGraph graphs (ROUTEGRAPH_CONFIG)"
    ),
]


@cli.command()
def serve(
    host: Annotated[str | None, typer.Option(help="bind address")] = None,
    port: Annotated[int | None, typer.Option(help="port")] = None,
    worker: Annotated[bool, typer.Option(help="also run a worker in this process")] = True,
    config: ConfigOption = None,
) -> None:
    """Run the REST API (and, by default, a worker) in this process."""
    import uvicorn

    from app.api.app import create_app
    from app.api.http_server import uvicorn_config

    settings = _settings(host=host, port=port, config=config)
    _check_graphs(settings)
    app = create_app(settings, embedded_worker=worker)
    server = uvicorn.Server(uvicorn_config(app, settings))
    server.run()
    if not server.started:
        raise typer.Exit(3)  # uvicorn's exit code for a server that could not start


@cli.command()
def worker(config: ConfigOption = None) -> None:
    """Run a worker alone: claims queued runs from the database and executes them."""
    from app.worker.main import run_worker

    settings = _settings(config=config)
    _check_graphs(settings)
    asyncio.run(run_worker(settings))


def _check_graphs(settings: Settings) -> None:
    """Load the configured graphs before anything else starts: a graph that fails to import
    or build stops start-up with its file and the cause."""
    from app.services.container import load_graphs
    from graphs.langgraph_json import GraphLoadError

    try:
        load_graphs(settings)
    except (GraphLoadError, ValueError) as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from exc


@cli.command()
def migrate() -> None:
    """Create or upgrade the database schema (ours and the LangGraph checkpointer's)."""
    from app.db.migrate import upgrade_database

    settings = _settings()
    upgrade_database(settings.database_url)
    console.print(f"[green]database is up to date[/] ({settings.database_url})")


@runs_cli.command("list")
def runs_list(
    status: Annotated[str | None, typer.Option(help="filter by status")] = None,
    graph: Annotated[str | None, typer.Option(help="filter by graph")] = None,
    limit: Annotated[int, typer.Option(min=1, max=200)] = 20,
) -> None:
    """Newest runs first."""
    from app.inspect_runs import print_run_list

    asyncio.run(print_run_list(console, _settings(), status=status, graph=graph, limit=limit))


@runs_cli.command("show")
def runs_show(
    run_id: str,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """One run with its per-call cost table."""
    from app.inspect_runs import print_run

    found = asyncio.run(print_run(console, _settings(), run_id, as_json=as_json))
    if not found:
        raise typer.Exit(1)


@keys_cli.command("create")
def keys_create(
    tenant: Annotated[str, typer.Option(help="the tenant the key acts for")],
    budget_usd: Annotated[
        float | None, typer.Option(min=0, help="spend allowed per period (none: no budget)")
    ] = None,
    period: Annotated[str, typer.Option(help="budget period: day | month")] = "month",
    rpm: Annotated[int | None, typer.Option(min=1, help="requests per minute")] = None,
    name: Annotated[str | None, typer.Option(help="a label for listings")] = None,
    manage_rules: Annotated[
        bool, typer.Option(help="may change the tenant's provider rules (/v1/rules)")
    ] = False,
) -> None:
    """Create a key; it is printed once (only its hash is stored)."""
    from app.keys_cli import create

    if period not in ("day", "month"):
        console.print("[red]error:[/] --period is day or month")
        raise typer.Exit(2)
    asyncio.run(
        create(
            console,
            _settings(),
            tenant=tenant,
            budget_usd=budget_usd,
            period=period,  # type: ignore[arg-type]
            rpm=rpm,
            name=name,
            manage_rules=manage_rules,
        )
    )


@keys_cli.command("list")
def keys_list(tenant: Annotated[str | None, typer.Option(help="only this tenant")] = None) -> None:
    """Keys with their budget, this period's spend and state (never the key itself)."""
    from app.keys_cli import print_keys

    asyncio.run(print_keys(console, _settings(), tenant=tenant))


@keys_cli.command("revoke")
def keys_revoke(key_id: str) -> None:
    """Revoke a key (its ledger rows stay)."""
    from app.keys_cli import revoke

    if not asyncio.run(revoke(console, _settings(), key_id)):
        raise typer.Exit(1)


TenantOption = Annotated[str, typer.Option(help="the tenant whose specs these are")]


@graphs_cli.command("list")
def graphs_list(tenant: TenantOption = "default") -> None:
    """Graphs the service can run: loaded code and the tenant's specs, latest versions."""
    from app.inspect_graphs import print_graphs

    asyncio.run(print_graphs(console, _settings(), tenant))


@graphs_cli.command("show")
def graphs_show(
    ref: Annotated[str, typer.Argument(help="NAME or NAME@VERSION")],
    tenant: TenantOption = "default",
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """One graph version (the latest without @VERSION) and the list of its versions."""
    from app.inspect_graphs import print_graph

    if not asyncio.run(print_graph(console, _settings(), ref, tenant, as_json=as_json)):
        raise typer.Exit(1)


@graphs_cli.command("validate")
def graphs_validate(file: Path, tenant: TenantOption = "default") -> None:
    """Validate a spec file (YAML or JSON); errors are printed against its lines."""
    from app.inspect_graphs import validate_file

    if not asyncio.run(validate_file(console, _settings(), file, tenant)):
        raise typer.Exit(1)


@graphs_cli.command("push")
def graphs_push(file: Path, tenant: TenantOption = "default") -> None:
    """Store a spec file as the next version of its graph (unchanged spec: same version)."""
    from app.inspect_graphs import push_file

    if not asyncio.run(push_file(console, _settings(), file, tenant)):
        raise typer.Exit(1)


register_debug_commands(cli, runs_cli, console, _settings)
register_experiment_commands(cli, console)


@routing_cli.command("stats")
def routing_stats(
    as_json: Annotated[bool, typer.Option("--json", help="print JSON (every cell)")] = False,
    limit: Annotated[int, typer.Option(min=1, help="cells in the table")] = 50,
) -> None:
    """The learned table: per tier and model, feedback events and success rate per cell."""
    from app.inspect_routing import print_routing_stats

    asyncio.run(print_routing_stats(console, _settings(), as_json=as_json, limit=limit))


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
