"""`routegraph keys create|list|revoke`: API keys straight in the database."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from app.db.engine import create_engine, create_session_factory
from app.services import api_keys
from app.settings import Settings


async def create(
    console: Console,
    settings: Settings,
    *,
    tenant: str,
    budget_usd: float | None,
    period: api_keys.Period,
    rpm: int | None,
    name: str | None,
    manage_rules: bool = False,
) -> None:
    engine = create_engine(settings.database_url)
    try:
        key, token = await api_keys.create_key(
            create_session_factory(engine),
            tenant_id=tenant,
            budget_usd=budget_usd,
            period=period,
            rpm_limit=rpm,
            name=name,
            manages_rules=manage_rules,
        )
    finally:
        await engine.dispose()
    budget = f"${budget_usd:g} per {period}" if budget_usd is not None else "no budget"
    limit = f"{rpm} requests/min" if rpm else "no rate limit"
    manages = ", manages provider rules" if manage_rules else ""
    console.print(f"key {key.id} for tenant [bold]{tenant}[/] ({budget}, {limit}{manages})")
    console.print("the key (shown only now, store it safely):")
    print(token)


async def print_keys(console: Console, settings: Settings, *, tenant: str | None) -> None:
    engine = create_engine(settings.database_url)
    try:
        listings = await api_keys.list_keys(create_session_factory(engine), tenant)
    finally:
        await engine.dispose()
    table = Table(title=f"API keys ({len(listings)})")
    for column in ("id", "tenant", "prefix", "name", "budget", "spent this period", "rpm", "state"):
        table.add_column(column)
    for listing in listings:
        key = listing.key
        budget = f"${key.budget_usd:g}/{key.budget_period}" if key.budget_usd is not None else "-"
        table.add_row(
            key.id,
            key.tenant_id,
            key.prefix + "…",
            key.name or "",
            budget,
            f"${listing.spent_usd:.6f}",
            str(key.rpm_limit or "-"),
            "revoked" if key.revoked_at else "active",
        )
    console.print(table)


async def revoke(console: Console, settings: Settings, key_id: str) -> bool:
    engine = create_engine(settings.database_url)
    try:
        key = await api_keys.revoke_key(create_session_factory(engine), key_id)
    finally:
        await engine.dispose()
    if key is None:
        console.print(f"[red]no key with id {key_id}[/]")
        return False
    console.print(f"key {key.id} of tenant {key.tenant_id} is revoked")
    return True
