"""`routegraph keys create|list|revoke`."""

from __future__ import annotations

import asyncio
from typing import Annotated
from urllib.parse import quote

import typer
from rich.table import Table

from app.cli.admin import admin_settings, existing_database
from app.cli.client import ServiceClient, fail
from app.cli.options import DEFAULT, UrlOption, console

keys_cli = typer.Typer(no_args_is_help=True, help="API keys: each belongs to one tenant.")


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
    """Admin, with the service up or down: create a key of any tenant (the first one too)
    straight in the database (ROUTEGRAPH_DATABASE_URL). It is printed once; only its hash
    is stored."""
    from app.db.engine import create_engine, create_session_factory
    from app.services.api_keys import create_key

    if period not in ("day", "month"):
        fail("--period is day or month")
    url = existing_database(admin_settings())

    async def create() -> tuple[str, str]:
        engine = create_engine(url)
        try:
            key, token = await create_key(
                create_session_factory(engine),
                tenant_id=tenant,
                budget_usd=budget_usd,
                period=period,  # type: ignore[arg-type]
                rpm_limit=rpm,
                name=name,
                manages_rules=manage_rules,
            )
        finally:
            await engine.dispose()
        return key.id, token

    try:
        key_id, token = asyncio.run(create())
    except ValueError as exc:
        fail(str(exc))
    budget = f"${budget_usd:g} per {period}" if budget_usd is not None else "no budget"
    limit = f"{rpm} requests/min" if rpm else "no rate limit"
    manages = ", manages provider rules" if manage_rules else ""
    console.print(f"key {key_id} for tenant [bold]{tenant}[/] ({budget}, {limit}{manages})")
    console.print("the key (shown only now, store it safely):")
    print(token)


@keys_cli.command("list")
def keys_list(url: UrlOption = DEFAULT) -> None:
    """Your tenant's keys with budget, this period's spend and state (never the key)."""
    with ServiceClient(url) as service:
        keys = service.get("/v1/keys")
    table = Table(title=f"API keys ({len(keys)})")
    for column in ("id", "tenant", "prefix", "name", "budget", "spent this period", "rpm", "state"):
        table.add_column(column)
    for key in keys:
        limited = key["budget_usd"] is not None
        budget = f"${key['budget_usd']:g}/{key['budget_period']}" if limited else "-"
        table.add_row(
            key["id"],
            key["tenant_id"],
            key["prefix"] + "…",
            key["name"] or "",
            budget,
            f"${key['spent_usd']:.6f}",
            str(key["rpm_limit"] or "-"),
            "revoked" if key["revoked_at"] else "active",
        )
    console.print(table)


@keys_cli.command("revoke")
def keys_revoke(key_id: str, url: UrlOption = DEFAULT) -> None:
    """Revoke one of your tenant's keys (its ledger rows stay); needs a key with no budget
    and no rate limit."""
    with ServiceClient(url) as service:
        key = service.request("DELETE", f"/v1/keys/{quote(key_id, safe='')}")
    console.print(f"key {key['id']} of tenant {key['tenant_id']} is revoked")
