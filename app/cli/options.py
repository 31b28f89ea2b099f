"""Options shared by the CLI's client commands, and its console."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.console import Console

from app.cli.client import DEFAULT_URL

UrlOption = Annotated[
    str,
    typer.Option(
        "--url", envvar="ROUTEGRAPH_URL", help="the service (API key from ROUTEGRAPH_API_KEY)"
    ),
]
DEFAULT = DEFAULT_URL
JsonOption = Annotated[bool, typer.Option("--json", help="print JSON")]

# Piped output (CI logs, `make demo | tee`) gets a width that fits the ledger table.
console = Console(width=None if sys.stdout.isatty() else 140)
