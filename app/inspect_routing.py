"""The learned routing table read straight from the database (`GET /v1/routing/stats`
serves it through `app.services.routing_table`)."""

from __future__ import annotations

from app.db.engine import create_engine, create_session_factory
from app.db.routing_stats_repo import all_cells
from app.routing.observations import stats_rows
from app.services.container import online_config
from app.settings import Settings


async def learned_rows(settings: Settings) -> list[dict[str, object]]:
    """Every cell with feedback, most evidence first (`stats_rows` with the source weights
    the service routes with)."""
    engine = create_engine(settings.database_url)
    try:
        async with create_session_factory(engine)() as session:
            cells = await all_cells(session)
    finally:
        await engine.dispose()
    return stats_rows(cells, online_config(settings).source_weights)
