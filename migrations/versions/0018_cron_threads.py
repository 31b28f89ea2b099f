"""Threads of stateless cron firings to delete when their run ends

`temporary_threads` lists the thread each firing of a stateless cron with
`on_run_completed: "delete"` (LangGraph's default) made, and the run on it; workers delete
the thread and its checkpoints once that run has ended, then the row.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "temporary_threads",
        sa.Column("tenant_id", sa.String(100), nullable=False),
        sa.Column("thread_id", sa.String(200), nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "thread_id"),
    )


def downgrade() -> None:
    op.drop_table("temporary_threads")
