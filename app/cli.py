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
from app.settings import Settings

cli = typer.Typer(no_args_is_help=True, help="Run LLM workflow graphs on the cheapest model.")
runs_cli = typer.Typer(no_args_is_help=True, help="Inspect runs stored in the database.")
cli.add_typer(runs_cli, name="runs")
graphs_cli = typer.Typer(no_args_is_help=True, help="Graphs and declarative graph specs.")
cli.add_typer(graphs_cli, name="graphs")
bench_cli = typer.Typer(no_args_is_help=True, help="Benchmarks that print figures.")
cli.add_typer(bench_cli, name="bench")
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
def simulate(
    host: Annotated[str, typer.Option(help="bind address")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port")] = 8790,
    config: Annotated[Path | None, typer.Option(help="simulator config JSON")] = None,
    latency_scale: Annotated[float | None, typer.Option(help="1.0 = catalog latencies")] = None,
    recorded: Annotated[
        bool, typer.Option(help="answer GSM8K prompts with the recorded model answers")
    ] = False,
) -> None:
    """Run the OpenAI-compatible provider simulator."""
    from app.simulator.config import SimulatorConfig
    from app.simulator.server import run_simulator

    settings = SimulatorConfig.from_json_file(config) if config else SimulatorConfig()
    if latency_scale is not None:
        settings = settings.model_copy(update={"latency_scale": latency_scale})
    if recorded:
        settings = settings.model_copy(update={"recorded_answers": True})
    console.print(f"simulator on http://{host}:{port}/v1")
    run_simulator(host, port, settings)


@cli.command()
def migrate() -> None:
    """Create or upgrade the database schema (ours and the LangGraph checkpointer's)."""
    from app.db.migrate import upgrade_database

    settings = _settings()
    upgrade_database(settings.database_url)
    console.print(f"[green]database is up to date[/] ({settings.database_url})")


@cli.command()
def demo(
    question: Annotated[str | None, typer.Option(help="the question to answer")] = None,
    keep: Annotated[bool, typer.Option(help="keep the demo database")] = False,
) -> None:
    """Start the simulator and the service on loopback, run a multi-step job, show costs."""
    from app.demo import run_demo

    raise typer.Exit(run_demo(console, question=question, keep=keep))


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


@bench_cli.command("routing")
def bench_routing(
    data_dir: Annotated[
        Path | None, typer.Option(help="recorded data (default: $ROUTEGRAPH_DATA_DIR)")
    ] = None,
    out: Annotated[Path, typer.Option(help="where PNG/JSON/markdown go")] = Path(
        "benchmarks/out/routing"
    ),
    live: Annotated[
        bool, typer.Option(help="also send held-out GSM8K prompts through the REST service")
    ] = False,
    sample: Annotated[int, typer.Option(min=1, help="--live: prompts per policy")] = 120,
) -> None:
    """Routing quality vs cost on recorded real model outputs (RouteLLM GSM8K/MMLU/MT-Bench)."""
    from app.bench.routing import run_routing_benchmark
    from app.routing.datasets import DataMissingError

    try:
        report = run_routing_benchmark(data_dir, out, console)
        if live:
            from app.bench.live import run_live_benchmark

            run_live_benchmark(
                console, data_dir=data_dir, out_dir=out, sample=sample, offline=report
            )
    except DataMissingError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from exc


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
