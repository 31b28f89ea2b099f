"""The LangGraph Server API: assistants (and their versions), threads, a run's options

`lg_assistants` holds the assistants clients create (every graph's default assistant is
derived, not stored); `lg_assistant_versions` every version of each. `lg_threads` holds the
threads clients create, with their metadata (a thread's status and state come from its
runs and checkpoints). `runs.lg` keeps what a run started through the LangGraph API asked
for beyond its input (command, stream modes, interrupt_before/after, checkpoint, ...);
`runs.not_before` holds a queued run back until then (LangGraph's `after_seconds`).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(JSONB(), "postgresql")


def _stamps() -> list[sa.Column[object]]:
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    ]


def upgrade() -> None:
    op.add_column("runs", sa.Column("lg", JSON, nullable=True))
    op.add_column("runs", sa.Column("not_before", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "lg_assistants",
        sa.Column("assistant_id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(100), nullable=False),
        sa.Column("graph_id", sa.String(100), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("config", JSON, nullable=False),
        sa.Column("context", JSON, nullable=False),
        sa.Column("metadata", JSON, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        *_stamps(),
    )
    op.create_index("ix_lg_assistants_tenant", "lg_assistants", ["tenant_id", "created_at"])
    op.create_table(
        "lg_assistant_versions",
        sa.Column("assistant_id", sa.String(36), primary_key=True),
        sa.Column("version", sa.Integer(), primary_key=True),
        sa.Column("graph_id", sa.String(100), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("config", JSON, nullable=False),
        sa.Column("context", JSON, nullable=False),
        sa.Column("metadata", JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "lg_threads",
        sa.Column("tenant_id", sa.String(100), primary_key=True),
        sa.Column("thread_id", sa.String(200), primary_key=True),
        sa.Column("metadata", JSON, nullable=False),
        *_stamps(),
    )
    op.create_index("ix_lg_threads_tenant_created", "lg_threads", ["tenant_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_lg_threads_tenant_created", "lg_threads")
    op.drop_table("lg_threads")
    op.drop_table("lg_assistant_versions")
    op.drop_index("ix_lg_assistants_tenant", "lg_assistants")
    op.drop_table("lg_assistants")
    op.drop_column("runs", "not_before")
    op.drop_column("runs", "lg")
