"""`routegraph experiments list|show|stop`: an HTTP client of the service (httpx), at
`--url` / ROUTEGRAPH_URL with the key in ROUTEGRAPH_API_KEY."""

from __future__ import annotations

import json
import os
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

UrlOption = Annotated[
    str,
    typer.Option("--url", envvar="ROUTEGRAPH_URL", help="the service (ROUTEGRAPH_URL)"),
]
DEFAULT_URL = "http://127.0.0.1:8000"


def register(cli: typer.Typer, console: Console) -> None:
    """Add the `experiments` commands to the `routegraph` command."""
    experiments_cli = typer.Typer(no_args_is_help=True, help="A/B tests of routing policies.")
    cli.add_typer(experiments_cli, name="experiments")

    @experiments_cli.command("show")
    def show(
        experiment_id: str,
        url: UrlOption = DEFAULT_URL,
        as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    ) -> None:
        """The arms compared: cost per request, latency, error rate and feedback, with 95%
        intervals, and which differences from the first arm are significant."""
        body = _call(console, "GET", url, f"/v1/experiments/{experiment_id}")
        if as_json:
            console.print_json(json.dumps(body))
            return
        print_experiment(console, body)

    @experiments_cli.command("list")
    def list_(url: UrlOption = DEFAULT_URL) -> None:
        """The tenant's experiments, newest first."""
        table = Table("id", "name", "target", "split", "status", "arms", "winner")
        for row in _call(console, "GET", url, "/v1/experiments"):
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
        url: UrlOption = DEFAULT_URL,
    ) -> None:
        """Stop an experiment: every later request goes to ARM."""
        path = f"/v1/experiments/{experiment_id}/stop"
        print_experiment(console, _call(console, "POST", url, path, {"arm": arm}))


def _call(
    console: Console, method: str, url: str, path: str, body: dict[str, Any] | None = None
) -> Any:
    key = os.environ.get("ROUTEGRAPH_API_KEY")
    headers = {"authorization": f"Bearer {key}"} if key else {}
    try:
        with httpx.Client(base_url=url, headers=headers, timeout=30, trust_env=False) as client:
            response = client.request(method, path, json=body)
    except httpx.HTTPError as exc:
        console.print(f"[red]cannot reach {url}: {exc}[/red]")
        raise typer.Exit(2) from exc
    if response.status_code >= 400:
        try:
            detail = response.json().get("detail") or response.text
        except ValueError:
            detail = response.text
        console.print(f"[red]{response.status_code}: {detail}[/red]")
        raise typer.Exit(1)
    return response.json()


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
