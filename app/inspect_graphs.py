"""`routegraph graphs list|show|push|validate`: graphs and specs, straight on the database.

Errors in a spec file are printed against the file's own lines (`file:line: /pointer: …`
and the offending line), however many there are.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Literal

from rich.console import Console
from rich.table import Table

from app.db import graphs_repo
from app.db.engine import create_engine, create_session_factory
from app.db.migrate import upgrade_database
from app.routing.catalog import load_catalog
from app.services.container import load_graphs
from app.services.errors import InvalidSpec
from app.services.graph_specs import SpecCompiler, spec_tools
from app.settings import Settings
from graphs.spec import SpecInvalid, format_errors_against_source, parse_spec_text


@asynccontextmanager
async def _compiler(settings: Settings) -> AsyncIterator[tuple[SpecCompiler, Any]]:
    upgrade_database(settings.database_url)
    engine = create_engine(settings.database_url)
    sessions = create_session_factory(engine)
    try:
        catalog = load_catalog(settings.catalog_path)
        yield SpecCompiler(catalog, sessions, spec_tools(settings)), sessions
    finally:
        await engine.dispose()


def _read(path: Path) -> tuple[str, dict[str, Any] | None, str]:
    """(text, document or None, errors printed against the file)."""
    text = path.read_text(encoding="utf-8")
    fmt: Literal["json"] | None = "json" if path.suffix.lower() == ".json" else None
    try:
        return text, parse_spec_text(text, fmt), ""
    except SpecInvalid as exc:
        return text, None, format_errors_against_source(text, exc.errors, filename=str(path))


async def _check(
    compiler: SpecCompiler, tenant: str, path: Path
) -> tuple[dict[str, Any] | None, str]:
    text, document, problems = _read(path)
    if document is None:
        return None, problems
    try:
        await compiler.compile(tenant, document)
    except InvalidSpec as exc:
        errors = [{"pointer": e["pointer"], "message": e["msg"]} for e in exc.extra["errors"]]
        return None, format_errors_against_source(text, errors, filename=str(path))
    return document, ""


async def validate_file(console: Console, settings: Settings, path: Path, tenant: str) -> bool:
    async with _compiler(settings) as (compiler, _):
        document, problems = await _check(compiler, tenant, path)
    if document is None:
        console.print(problems, markup=False, highlight=False)
        return False
    console.print(f"[green]{path}: valid[/] (graph {document.get('name')!r})")
    return True


async def push_file(console: Console, settings: Settings, path: Path, tenant: str) -> bool:
    async with _compiler(settings) as (compiler, _):
        document, problems = await _check(compiler, tenant, path)
        if document is None:
            console.print(problems, markup=False, highlight=False)
            return False
        pushed = await compiler.push(tenant, document, set(load_graphs(settings)))
    state = "stored as" if pushed.created else "unchanged: already"
    console.print(f"[green]{pushed.row.name}[/] {state} version {pushed.row.version}")
    return True


async def print_graphs(console: Console, settings: Settings, tenant: str) -> None:
    async with _compiler(settings) as (_, sessions), sessions() as session:
        loaded = await graphs_repo.list_latest_versions(session, "")
        specs = await graphs_repo.list_latest_versions(session, tenant)
    table = Table(title="Graphs")
    for column in ("name", "version", "source", "description"):
        table.add_column(column)
    for row in [*loaded, *specs]:
        table.add_row(row.name, str(row.version), row.source, str(row.spec.get("description", "")))
    console.print(table)


async def print_graph(
    console: Console, settings: Settings, ref: str, tenant: str, *, as_json: bool
) -> bool:
    name, _, version_text = ref.partition("@")
    version = int(version_text) if version_text.isascii() and version_text.isdigit() else None
    async with _compiler(settings) as (_, sessions), sessions() as session:
        row = await graphs_repo.get_version(session, name, version, tenant)
        if row is None:
            row = await graphs_repo.get_version(session, name, version, "")
        versions = await graphs_repo.list_versions(session, name, row.tenant_id) if row else []
    if row is None:
        console.print(f"[red]no graph {ref!r}[/]")
        return False
    if as_json:
        console.print_json(json.dumps({"name": row.name, "version": row.version, **row.spec}))
        return True
    console.print(
        f"[bold]{row.name}[/] v{row.version} ({row.source}): {row.spec.get('description', '')}"
    )
    console.print(f"versions: {', '.join(str(v.version) for v in versions)}")
    for node, what in (row.spec.get("nodes") or {}).items():
        console.print(f"  {node}: {what}")
    return True
