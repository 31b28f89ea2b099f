"""`routegraph experiments list|show|stop`: clients of the service's /v1/experiments."""

from __future__ import annotations

import json
from typing import Annotated, Any
from urllib.parse import quote

import typer
from rich.console import Console
from rich.table import Table

from app.cli.client import ServiceClient
from app.cli.options import DEFAULT, UrlOption, console

experiments_cli = typer.Typer(no_args_is_help=True, help="A/B tests of routing policies.")


@experiments_cli.command("show")
def show(
    experiment_id: str,
    url: UrlOption = DEFAULT,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """The arms compared: cost per request, latency, error rate and feedback, with 95%
    intervals, and which differences from the first arm are significant."""
    with ServiceClient(url) as service:
        body = service.get(f"/v1/experiments/{quote(experiment_id, safe='')}")
    if as_json:
        console.print_json(json.dumps(body))
        return
    print_experiment(console, body)


@experiments_cli.command("list")
def list_(url: UrlOption = DEFAULT) -> None:
    """The tenant's experiments, newest first."""
    table = Table("id", "name", "target", "split", "status", "arms", "winner")
    with ServiceClient(url) as service:
        rows = service.get("/v1/experiments")
    for row in rows:
        arms = ", ".join(
            f"{a['name']}={a.get('policy') or 'v' + str(a.get('version'))} x{a['weight']:g}"
            for a in row["arms"]
        )
        table.add_row(
            row["id"],
            row["name"],
            row["target"],
            row["split"],
            row["status"],
            arms,
            row["winner"] or "",
        )
    console.print(table)


@experiments_cli.command("stop")
def stop(
    experiment_id: str,
    arm: Annotated[str, typer.Option(help="the arm that gets all traffic from now on")],
    url: UrlOption = DEFAULT,
) -> None:
    """Stop an experiment: every later request goes to ARM."""
    path = f"/v1/experiments/{quote(experiment_id, safe='')}/stop"
    with ServiceClient(url) as service:
        body = service.post(path, json={"arm": arm})
    print_experiment(console, body)


def print_experiment(console: Console, body: dict[str, Any]) -> None:
    status = body["status"] + (f", all traffic to {body['winner']}" if body["winner"] else "")
    console.print(
        f"[bold]{body['name']}[/bold] ({body['id']}): {body['target']}, "
        f"split by {body['split']}, {status}"
    )
    table = Table("arm", "serves", "requests", "cost/request", "latency ms", "errors", "feedback")
    for arm in body["arms"]:
        serves = arm["policy"] or f"version {arm['version']}"
        table.add_row(
            arm["name"],
            f"{serves} x{arm['weight']:g}",
            str(arm["requests"]),
            _interval(arm["cost_usd"], "${:.6f}"),
            _interval(arm["latency_ms"], "{:.0f}"),
            _interval(arm["error_rate"], "{:.1%}"),
            _interval(arm["feedback"], "{:.2f}"),
        )
    console.print(table)
    diffs = Table("arm vs first", "metric", "difference (95% CI)", "p", "significant")
    for diff in body["comparisons"]:
        low, high = diff["low"], diff["high"]
        span = f" [{low:+.4g}, {high:+.4g}]" if low is not None and high is not None else ""
        value = "-" if diff["difference"] is None else f"{diff['difference']:+.4g}{span}"
        diffs.add_row(
            diff["arm"],
            diff["metric"],
            value,
            f"{diff['p_value']:.3g}" if diff["p_value"] is not None else "",
            "yes" if diff["significant"] else "no",
        )
    console.print(diffs)
    for line in body["summary"]:
        console.print(f"- {line}")


def _interval(value: dict[str, Any], fmt: str) -> str:
    if value["mean"] is None:
        return "-"
    text = fmt.format(value["mean"])
    if value["low"] is not None and value["high"] is not None:
        text += f" [{fmt.format(value['low'])}, {fmt.format(value['high'])}]"
    return f"{text} (n={value['n']})"
