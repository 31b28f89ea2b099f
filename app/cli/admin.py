"""Admin commands that work with the service down: straight on the database
(ROUTEGRAPH_DATABASE_URL). Only `migrate` may create a database; the others refuse a
SQLite file that does not exist instead of leaving an empty one behind."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from app.cli.client import fail

if TYPE_CHECKING:
    from app.settings import Settings


def admin_settings(**overrides: object) -> Settings:
    """Settings from the environment (and the command's options), logging configured."""
    import logging

    from app.settings import Settings

    values = {k: v for k, v in overrides.items() if v is not None}
    settings = Settings(**values)  # type: ignore[arg-type]
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)  # one line per migration step
    return settings


def existing_database(settings: Settings) -> str:
    """The database URL, after checking a SQLite file is there (never creates it)."""
    from sqlalchemy.engine import make_url

    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite":
        database = url.database or ""
        if database in ("", ":memory:") or not Path(database).is_file():
            fail(
                f"no database at {database or '(memory)'}: set ROUTEGRAPH_DATABASE_URL to the "
                "service's database, or create one with `routegraph migrate`"
            )
    return settings.database_url
