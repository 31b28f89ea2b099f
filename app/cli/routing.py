"""`routegraph routing stats`: the learned table as the running service routes with it."""

from __future__ import annotations

from typing import Annotated

import typer

from app.cli.client import ServiceClient
from app.cli.options import DEFAULT, JsonOption, UrlOption, console
from app.cli.routing_view import print_rows

routing_cli = typer.Typer(no_args_is_help=True, help="Routing that learns from feedback.")


@routing_cli.command("stats")
def routing_stats(
    as_json: JsonOption = False,
    limit: Annotated[int, typer.Option(min=1, help="cells in the table")] = 50,
    url: UrlOption = DEFAULT,
) -> None:
    """The learned table: per tier and model, feedback events and success rate per cell
    (`GET /v1/routing/stats`)."""
    with ServiceClient(url) as service:
        rows = service.get("/v1/routing/stats")["cells"]
    print_rows(console, rows, as_json=as_json, limit=limit)
