"""Run Alembic migrations programmatically (CLI `migrate`, serve/worker start, tests)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from app.db.schema_version import schema_is_current

REPO_ROOT = Path(__file__).resolve().parents[2]


def alembic_config(database_url: str) -> Config:
    config = Config(str(REPO_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(REPO_ROOT / "migrations"))
    config.attributes["database_url"] = database_url
    return config


def upgrade_database(database_url: str, revision: str = "head") -> None:
    """Bring the schema (ours and LangGraph's checkpointer tables) up to `revision`. A
    database already at head is left alone without loading the migrations (one query)."""
    if revision == "head" and schema_is_current(database_url):
        return
    command.upgrade(alembic_config(database_url), revision)
