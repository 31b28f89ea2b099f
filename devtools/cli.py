"""`python -m devtools`: the development commands that are not part of the service: the
provider simulator, the demo, and the benchmarks that print figures. Run from a checkout
(`make demo` does); the installed `routegraph` command is the service alone."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

dev = typer.Typer(no_args_is_help=True, help="routegraph development tools (not shipped).")
bench_cli = typer.Typer(no_args_is_help=True, help="Benchmarks that print figures.")
dev.add_typer(bench_cli, name="bench")
# Piped output (`make demo | tee`, CI logs) gets a width that fits the ledger table.
console = Console(width=None if sys.stdout.isatty() else 140)


@dev.command()
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
    from devtools.simulator.config import SimulatorConfig
    from devtools.simulator.server import run_simulator

    settings = SimulatorConfig.from_json_file(config) if config else SimulatorConfig()
    if latency_scale is not None:
        settings = settings.model_copy(update={"latency_scale": latency_scale})
    if recorded:
        settings = settings.model_copy(update={"recorded_answers": True})
    console.print(f"simulator on http://{host}:{port}/v1")
    run_simulator(host, port, settings)


@dev.command()
def demo(
    question: Annotated[str | None, typer.Option(help="the question to answer")] = None,
    keep: Annotated[bool, typer.Option(help="keep the demo database")] = False,
    spec: Annotated[
        Path | None,
        typer.Option(help="run this graph spec instead (e.g. examples/specs/debate_judge.yaml)"),
    ] = None,
    input_json: Annotated[
        str | None, typer.Option("--input", help="with --spec: the run's input as JSON")
    ] = None,
) -> None:
    """Start the simulator and the service on loopback, run a multi-step job, show costs."""
    if spec is not None:
        import json

        from devtools.demo_patterns import run_spec_demo

        payload = json.loads(input_json) if input_json else None
        raise typer.Exit(run_spec_demo(console, spec, payload))
    from devtools.demo import run_demo

    raise typer.Exit(run_demo(console, question=question, keep=keep))


@bench_cli.command("routing")
def bench_routing(
    data_dir: Annotated[
        Path | None,
        typer.Option(help="recorded data (default: $ROUTEGRAPH_DATA_DIR, else benchmarks/data)"),
    ] = None,
    out: Annotated[Path, typer.Option(help="where PNG/JSON/markdown go")] = Path(
        "benchmarks/out/routing"
    ),
    live: Annotated[
        bool, typer.Option(help="also send held-out GSM8K prompts through the REST service")
    ] = False,
    sample: Annotated[int, typer.Option(min=1, help="--live: prompts per policy")] = 120,
    online: Annotated[
        bool,
        typer.Option(help="also replay held-out streams through routing that learns from feedback"),
    ] = False,
    orderings: Annotated[
        int | None,
        typer.Option(min=1, help="orderings per stream (--online: 5, --models: 10)"),
    ] = None,
    models: Annotated[
        bool,
        typer.Option(
            help="only auto over many models: RouterBench (../shared/data/routerbench, skipped "
            "when absent) and RouteLLM streams learned from scratch, 10 orderings"
        ),
    ] = False,
    published_priors: Annotated[
        bool,
        typer.Option(
            help="--models: RouterBench models start from their published scores "
            "(devtools/bench/routerbench_priors.yaml: prior knowledge, not learned); "
            "RouterBench streams only, written to models_published/"
        ),
    ] = False,
    stream: Annotated[
        list[str] | None,
        typer.Option(
            help="--models: only this stream (ARC, MBPP, ARC+MBPP, GSM8K, MMLU; repeatable), "
            "e.g. a quick check with --orderings 1"
        ),
    ] = None,
) -> None:
    """Routing quality vs cost on recorded real model outputs (RouteLLM GSM8K/MMLU/MT-Bench)."""
    from devtools.bench.routing import run_routing_benchmark
    from devtools.routing.datasets import DataMissingError

    try:
        if models:
            from devtools.bench.many_models_report import STREAMS, run_models_benchmark

            unknown = sorted(set(stream or ()) - set(STREAMS))
            if unknown:
                console.print(f"[red]error:[/] no stream {unknown}: choose from {list(STREAMS)}")
                raise typer.Exit(2)

            folder = out / ("models_published" if published_priors else "models")
            run_models_benchmark(
                data_dir,
                folder,
                console,
                orderings=orderings or 10,
                only=stream,
                published_priors=published_priors,
            )
            return
        report = run_routing_benchmark(data_dir, out, console)
        if online:
            from devtools.bench.online import run_online_benchmark

            run_online_benchmark(data_dir, out / "online", console, orderings=orderings or 5)
        if live:
            from devtools.bench.live import run_live_benchmark

            run_live_benchmark(
                console, data_dir=data_dir, out_dir=out, sample=sample, offline=report
            )
    except DataMissingError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from exc


def main() -> None:
    dev()
