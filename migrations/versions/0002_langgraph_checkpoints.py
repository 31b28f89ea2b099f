"""LangGraph checkpointer tables, created by the official savers' own setup.

The savers own their schema (and, on Postgres, their own `checkpoint_migrations`
table); running their setup here keeps one migration command for the whole database
and lets a later LangGraph upgrade bring its tables forward by re-running it.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from collections.abc import Sequence

from alembic import context, op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SQLITE_TABLES = ("checkpoints", "writes")
POSTGRES_TABLES = ("checkpoint_writes", "checkpoint_blobs", "checkpoints", "checkpoint_migrations")


def upgrade() -> None:
    from app.db.checkpoints import setup_checkpoint_tables

    # The savers open their own connection: Postgres' setup uses CREATE INDEX
    # CONCURRENTLY, which cannot run inside Alembic's transaction.
    setup_checkpoint_tables(context.config.attributes["sync_url"])


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for table in SQLITE_TABLES if dialect == "sqlite" else POSTGRES_TABLES:
        op.execute(f"DROP TABLE IF EXISTS {table}")
