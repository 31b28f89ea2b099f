"""The learned routing table read straight from a database (`GET /v1/routing/stats` serves
it through `app.services.routing_stats`; tests compare the two)."""

from __future__ import annotations

from app.db.engine import create_engine, create_session_factory
from app.services import routing_stats
from app.settings import Settings


async def learned_rows(settings: Settings) -> list[dict[str, object]]:
    """The learned table (`routing_stats.learned_rows`), read from the settings' database."""
    engine = create_engine(settings.database_url)
    try:
        return await routing_stats.learned_rows(create_session_factory(engine), settings)
    finally:
        await engine.dispose()
