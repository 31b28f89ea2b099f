"""feedback: scores on model calls, the learned routing table, each call's routing context

`feedback` holds one row per (tenant, call, source) with the observation it contributed,
so a repeat can subtract it before adding its own; `routing_cells` holds the learned
table's weighted sums per cell and source; `model_calls.routing` what a call's feedback
needs later (cluster, the prior p, the condition it was kept under, explored, OOD).

Revision ID: 0007
Revises: 0004
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    json_type = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
    with op.batch_alter_table("model_calls") as batch:
        batch.add_column(sa.Column("routing", json_type, nullable=True))
    op.create_table(
        "feedback",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("tenant_id", sa.String(100), nullable=False),
        sa.Column("call_id", sa.String(36), nullable=False),
        sa.Column("run_id", sa.String(36), nullable=True),
        sa.Column("source", sa.String(24), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("label", sa.String(100), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("scope", sa.String(100), nullable=False),
        sa.Column("task_class", sa.String(40), nullable=False),
        sa.Column("cluster", sa.String(120), nullable=False),
        sa.Column("tier", sa.String(24), nullable=False),
        sa.Column("model", sa.String(100), nullable=False),
        sa.Column("prior_p", sa.Float(), nullable=False),
        sa.Column("condition", sa.String(120), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("tenant_id", "call_id", "source", name="uq_feedback_call_source"),
    )
    op.create_index("ix_feedback_run", "feedback", ["run_id"])
    key = ("scope", "task_class", "cluster", "arm", "condition", "band", "source")
    op.create_table(
        "routing_cells",
        sa.Column("scope", sa.String(100), nullable=False),
        sa.Column("task_class", sa.String(40), nullable=False),
        sa.Column("cluster", sa.String(120), nullable=False),
        sa.Column("arm", sa.String(120), nullable=False),
        sa.Column("condition", sa.String(120), nullable=False),
        sa.Column("band", sa.String(16), nullable=False),
        sa.Column("source", sa.String(24), nullable=False),
        sa.Column("events", sa.Float(), nullable=False),
        sa.Column("good", sa.Float(), nullable=False),
        sa.Column("prior", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint(*key),
    )


def downgrade() -> None:
    op.drop_table("routing_cells")
    op.drop_index("ix_feedback_run", table_name="feedback")
    op.drop_table("feedback")
    with op.batch_alter_table("model_calls") as batch:
        batch.drop_column("routing")
