"""Alembic environment: synchronous drivers, URL from the caller or the settings."""

from __future__ import annotations

import time

from alembic import context
from sqlalchemy import Connection, create_engine, text

from app.db.engine import sync_url
from app.db.models import Base
from app.settings import get_settings

# Serialises concurrent `migrate` calls (several workers starting at once) on Postgres.
MIGRATION_LOCK_ID = 7_311_000_001


def _url() -> str:
    configured = context.config.attributes.get("database_url")
    return sync_url(configured or get_settings().database_url)


def _take_migration_lock(connection: Connection) -> None:
    """Wait for the migration lock without sitting in a statement. The checkpointer's and
    the store's setup (0002, 0013) build indexes CONCURRENTLY, which waits for every
    statement that holds a snapshot: a process blocked in `pg_advisory_lock` would be waited
    for while it waits for the lock, and several processes starting on a fresh database
    would hang. Between tries this session is idle and holds no snapshot."""
    while True:
        taken = connection.execute(
            text("SELECT pg_try_advisory_lock(:id)"), {"id": MIGRATION_LOCK_ID}
        ).scalar()
        connection.commit()
        if taken:
            return
        time.sleep(0.2)


def run_migrations_online() -> None:
    url = _url()
    engine = create_engine(url)
    with engine.connect() as connection:
        is_postgres = connection.dialect.name == "postgresql"
        if is_postgres:
            _take_migration_lock(connection)
        try:
            context.configure(
                connection=connection,
                target_metadata=Base.metadata,
                render_as_batch=connection.dialect.name == "sqlite",
                attributes={"database_url": url},
            )
            context.config.attributes["sync_url"] = url
            with context.begin_transaction():
                context.run_migrations()
        finally:
            if is_postgres:
                connection.execute(
                    text("SELECT pg_advisory_unlock(:id)"), {"id": MIGRATION_LOCK_ID}
                )
                connection.commit()
    engine.dispose()


run_migrations_online()
