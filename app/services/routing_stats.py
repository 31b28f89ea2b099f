"""The learned routing table as `routegraph routing stats` and `GET /v1/routing/stats` show it."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db.routing_stats_repo import all_cells
from app.routing.observations import ANY, stats_rows
from app.services.container import online_config
from app.settings import Settings


async def learned_rows(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> list[dict[str, object]]:
    """Every cell with feedback, most evidence first (`stats_rows` with the source weights
    the service routes with)."""
    async with sessions() as session:
        cells = await all_cells(session)
    return stats_rows(cells, online_config(settings).source_weights)


def visible_to(rows: list[dict[str, object]], tenant_id: str) -> list[dict[str, object]]:
    """The cells a tenant's decisions read: the shared table's (scope `*`), or its own
    (`ROUTEGRAPH_ROUTING_PER_TENANT`); never another tenant's."""
    return [row for row in rows if row["scope"] in (ANY, tenant_id)]
