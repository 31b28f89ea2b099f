"""cache-aware routing: written cache tokens in the ledger, warm prompt prefixes per model

`model_calls.cache_write_tokens` holds the prompt tokens a provider wrote to its prompt
cache (billed at the catalog's `cache_write_input`); `prompt_prefixes` remembers, per
tenant and model, which prompt prefixes the provider holds and until when, so routing can
send a conversation where its prefix is warm.

Revision ID: 0016
Revises: 0011
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0011"
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


def downgrade() -> None:
    op.drop_index("ix_prompt_prefixes_expires", table_name="prompt_prefixes")
    op.drop_table("prompt_prefixes")
    with op.batch_alter_table("model_calls") as batch:
        batch.drop_column("cache_write_tokens")
