"""LangGraph's store tables (created by the official store's own setup) and `crons`.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STORE_TABLES = ("store", "store_migrations")


def upgrade() -> None:
    from app.db.store import setup_store_tables

    op.create_table(
        "crons",
        sa.Column("cron_id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(100), nullable=False),
        sa.Column("assistant_id", sa.String(200), nullable=False),
        sa.Column("graph", sa.String(200), nullable=False),
        sa.Column("thread_id", sa.String(200), nullable=True),
        sa.Column("schedule", sa.String(200), nullable=False),
        sa.Column("timezone", sa.String(100), nullable=True),
        sa.Column("payload", sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql")),
        sa.Column("metadata", sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql")),
        sa.Column("user_id", sa.String(200), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("on_run_completed", sa.String(20), nullable=True),
        sa.Column("end_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_run_date", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_run_id", sa.String(64), nullable=True),
        sa.Column("fired", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_crons_tenant_created", "crons", ["tenant_id", "created_at"])
    op.create_index(
        "ix_crons_due",
        "crons",
        ["next_run_date"],
        postgresql_where=sa.text("enabled"),
        sqlite_where=sa.text("enabled"),
    )
    # The store opens its own connection, as the checkpointer's setup does (0002).
    setup_store_tables(context.config.attributes["sync_url"])


def downgrade() -> None:
    op.drop_index("ix_crons_due", table_name="crons")
    op.drop_index("ix_crons_tenant_created", table_name="crons")
    op.drop_table("crons")
    for table in STORE_TABLES:
        op.execute(f"DROP TABLE IF EXISTS {table}")
