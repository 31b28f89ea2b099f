"""The `routegraph` command: the service's processes (`serve`, `worker`), admin commands on
the database (`migrate`, `prune`, `keys create`), and clients of a running service over
HTTP (`runs`, `graphs`, `keys list|revoke`, `routing`)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from app.cli.admin import admin_settings, existing_database
from app.cli.experiments import experiments_cli
from app.cli.graphs import graphs_cli
from app.cli.keys import keys_cli
from app.cli.options import console
from app.cli.routing import routing_cli
from app.cli.runs import runs_cli

if TYPE_CHECKING:
    from app.settings import Settings

cli = typer.Typer(no_args_is_help=True, help="Run LLM workflow graphs on the cheapest model.")
cli.add_typer(runs_cli, name="runs")
cli.add_typer(graphs_cli, name="graphs")
cli.add_typer(routing_cli, name="routing")
cli.add_typer(keys_cli, name="keys")
cli.add_typer(experiments_cli, name="experiments")

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

    settings = admin_settings(host=host, port=port, config=config)
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

    settings = admin_settings(config=config)
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
    """Admin, service up or down: create or upgrade the database schema (ours and the
    LangGraph checkpointer's) at ROUTEGRAPH_DATABASE_URL."""
    from app.db.migrate import upgrade_database

    settings = admin_settings()
    upgrade_database(settings.database_url)
    console.print(f"[green]database is up to date[/] ({settings.database_url})")


@cli.command()
def prune(
    days: Annotated[
        float | None,
        typer.Option(help="older than this many days (default: ROUTEGRAPH_RETAIN_PAYLOADS_DAYS)"),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="only count the runs")] = False,
) -> None:
    """Admin, service up or down: remove checkpoints and request/response bodies of old runs
    straight in the database (ROUTEGRAPH_DATABASE_URL); ledger cost rows stay."""
    from app.cli.prune import prune_database

    settings = admin_settings()
    retain = days if days is not None else settings.retain_payloads_days
    if retain <= 0:
        console.print("retention is 0 (keep forever): nothing to prune; pass --days N")
        return
    url = existing_database(settings)
    console.print(asyncio.run(prune_database(url, retain, dry_run=dry_run)))


_DEV_TOOLS = ("bench", "simulate", "demo")


def checkout_root(package_file: Path) -> Path | None:
    """The repository this `app` package was loaded from, if its development tools are
    there (a checkout's venv); None for an installed service."""
    root = package_file.resolve().parents[2]  # <root>/app/cli/__init__.py
    return root if (root / "devtools" / "cli.py").is_file() else None


def dev_tool_missing(name: str, args: list[str]) -> str:
    """What `routegraph bench|simulate|demo` says where there is no checkout to run it from."""
    command = " ".join([name, *args])
    return (
        f"error: `routegraph {name}` is a development tool that comes with a checkout, not "
        f"with the installed service: run `.venv/bin/python -m devtools {command}` from the "
        "repository"
    )


def _dev_tool(name: str) -> None:
    """`routegraph bench|simulate|demo`: in a checkout, the development tool itself
    (`python -m devtools ...`); in an installed service, where to find it."""

    @cli.command(
        name,
        hidden=True,
        add_help_option=False,
        context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    )
    def dev_tool(ctx: typer.Context) -> None:
        root = checkout_root(Path(__file__))
        if root is None:
            from app.cli.client import err

            err.print(dev_tool_missing(name, list(ctx.args)), soft_wrap=True)
            raise typer.Exit(1)
        sys.path.insert(0, str(root))
        from devtools.cli import dev

        dev(args=[name, *ctx.args], prog_name="routegraph")


for _name in _DEV_TOOLS:
    _dev_tool(_name)


def main() -> None:
    cli()
