"""The learned routing table as the service routes with it (what `routing stats` shows)."""

from __future__ import annotations

from app.db.routing_stats_repo import all_cells
from app.routing.observations import stats_rows
from app.services.container import Services, online_config


async def learned_cells(services: Services, tenant_id: str) -> list[dict[str, object]]:
    """Every cell with feedback the tenant may see (shared ones and its own), most
    evidence first."""
    async with services.sessions() as session:
        cells = await all_cells(session)
    rows = stats_rows(cells, online_config(services.settings).source_weights)
    return [row for row in rows if row["scope"] in ("*", tenant_id)]
