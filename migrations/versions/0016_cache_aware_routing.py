"""cache-aware routing and A/B experiments of routing policies

Cache-aware routing: written cache tokens in the ledger, warm prompt prefixes per model.

`model_calls.cache_write_tokens` holds the prompt tokens a provider wrote to its prompt
cache (billed at the catalog's `cache_write_input`); `prompt_prefixes` remembers, per
tenant and model, which prompt prefixes the provider holds and until when, so routing can
send a conversation where its prefix is warm.

Experiments: `experiments` holds each A/B test (arms, weights, split, winner once
stopped); `model_calls` and `runs` record the experiment and arm that served them.

Revision ID: 0016
Revises: 0011
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0016"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "model_calls",
        sa.Column("cache_write_tokens", sa.Integer(), nullable=False, server_default="0"),
    )
    op.create_table(
        "prompt_prefixes",
        sa.Column("tenant_id", sa.String(100), primary_key=True),
        sa.Column("model", sa.String(100), primary_key=True),
        sa.Column("digest", sa.String(64), primary_key=True),
        sa.Column("tokens", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_prompt_prefixes_expires", "prompt_prefixes", ["expires_at"])
    op.create_table(
        "experiments",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(100), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("target", sa.String(100), nullable=False),
        sa.Column("split", sa.String(16), nullable=False),
        sa.Column("arms", sa.JSON().with_variant(JSONB(), "postgresql"), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("winner", sa.String(64)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stopped_at", sa.DateTime(timezone=True)),
    )
    op.create_index(
        "ix_experiments_tenant_target", "experiments", ["tenant_id", "target", "status"]
    )
    for table in ("model_calls", "runs"):
        op.add_column(table, sa.Column("experiment_id", sa.String(36)))
        op.add_column(table, sa.Column("experiment_arm", sa.String(64)))
        op.create_index(f"ix_{table}_experiment", table, ["experiment_id"])


def downgrade() -> None:
    for table in ("model_calls", "runs"):
        op.drop_index(f"ix_{table}_experiment", table_name=table)
        with op.batch_alter_table(table) as batch:
            batch.drop_column("experiment_arm")
            batch.drop_column("experiment_id")
    op.drop_index("ix_experiments_tenant_target", table_name="experiments")
    op.drop_table("experiments")
    op.drop_index("ix_prompt_prefixes_expires", table_name="prompt_prefixes")
    op.drop_table("prompt_prefixes")
    with op.batch_alter_table("model_calls") as batch:
        batch.drop_column("cache_write_tokens")
