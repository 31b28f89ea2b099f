"""`routegraph graphs list|show|validate|push`: the graphs the running service serves.

Over HTTP, so a push meets the service's own name rules (its langgraph.json graphs, its
built-ins: a taken name is a 409, as over REST) and lands in the caller's tenant. Errors in
a spec file are printed against the file's own lines (`file:line: /pointer: …`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal, NoReturn
from urllib.parse import quote

import typer
from rich.markup import escape
from rich.table import Table

from app.cli.client import ServiceClient, describe_problem, fail
from app.cli.options import DEFAULT, JsonOption, UrlOption, console

graphs_cli = typer.Typer(no_args_is_help=True, help="Graphs and declarative graph specs.")
SpecFile = Annotated[Path, typer.Argument(help="a spec file (YAML or JSON)")]


def _read(path: Path) -> tuple[str, dict[str, Any]]:
    """The file's text and document; a file that does not parse ends the command."""
    from graphs.spec import SpecInvalid, parse_spec_text  # the compiler: imported when used

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror}")
    fmt: Literal["json"] | None = "json" if path.suffix.lower() == ".json" else None
    try:
        return text, parse_spec_text(text, fmt)
    except SpecInvalid as exc:
        _print_against(text, exc.errors, path)


def _print_against(text: str, errors: list[dict[str, Any]], path: Path) -> NoReturn:
    from graphs.spec import format_errors_against_source

    console.print(format_errors_against_source(text, errors, filename=str(path)), markup=False)
    raise typer.Exit(1)


def _send_spec(url: str, path: Path, route: str) -> tuple[int, dict[str, Any]]:
    """POST the file's document; a 422 is printed against the file's lines."""
    text, document = _read(path)
    with ServiceClient(url) as service:
        response = service.send("POST", route, json=document)
    if response.status_code == 422:
        body = response.json()
        errors = [
            {"pointer": e.get("pointer", ""), "message": e.get("msg") or e.get("message", "")}
            for e in body.get("errors") or []
        ]
        if errors:
            _print_against(text, errors, path)
    if not response.is_success:
        fail(describe_problem(response))
    return response.status_code, response.json()


@graphs_cli.command("validate")
def graphs_validate(file: SpecFile, url: UrlOption = DEFAULT) -> None:
    """Validate a spec file with the service's compiler (nothing is stored)."""
    _, body = _send_spec(url, file, "/v1/graphs/validate")
    console.print(f"[green]{file}: valid[/] (graph {body['name']!r})")


@graphs_cli.command("push")
def graphs_push(file: SpecFile, url: UrlOption = DEFAULT) -> None:
    """Store a spec file as the next version of its graph (unchanged spec: same version)."""
    status, body = _send_spec(url, file, "/v1/graphs")
    state = "stored as" if status == 201 else "unchanged: already"
    console.print(f"[green]{body['name']}[/] {state} version {body['version']}")


@graphs_cli.command("list")
def graphs_list(url: UrlOption = DEFAULT) -> None:
    """Graphs the service can run: its loaded code and your tenant's specs, latest versions."""
    with ServiceClient(url) as service:
        graphs = service.get("/v1/graphs")
    table = Table(title="Graphs")
    for column in ("name", "version", "source", "description"):
        table.add_column(column)
    for graph in graphs:
        table.add_row(graph["name"], str(graph["version"]), graph["source"], graph["description"])
    console.print(table)


@graphs_cli.command("show")
def graphs_show(
    ref: Annotated[str, typer.Argument(help="NAME or NAME@VERSION")],
    as_json: JsonOption = False,
    url: UrlOption = DEFAULT,
) -> None:
    """One graph version (the latest without @VERSION) and the list of its versions."""
    name, _, version_text = ref.partition("@")
    path = f"/v1/graphs/{quote(name, safe='')}"
    with ServiceClient(url) as service:
        graph = service.get(path)
        version = int(version_text) if version_text.isdigit() else graph["version"]
        stored = service.get(f"{path}/versions/{version}")
    if as_json:
        console.print_json(json.dumps(stored))
        return
    console.print(
        f"[bold]{escape(graph['name'])}[/] v{version} ({graph['source']}): {graph['description']}"
    )
    console.print(f"versions: {', '.join(str(v['version']) for v in graph['versions'])}")
    for node, what in graph["nodes"].items():
        console.print(f"  {escape(node)}: {escape(what)}")
