"""api keys: hashed bearer keys per tenant, their spend per budget period, a response cache

- `api_keys`: a key belongs to one tenant; only its SHA-256 is stored (keys are random
  256-bit tokens), with a short prefix to recognise it in listings. Optional budget per
  period (`day` | `month`) and a requests-per-minute limit.
- `api_key_spend`: what a key spent in one period (`2026-11-27` or `2026-11`); the budget
  check reserves a call's estimate here in the same transaction as its ledger row.
- `response_cache`: answers of the OpenAI-compatible endpoint by the hash of the
  normalised request (the tenant is part of the hash), with an expiry.
- `model_calls.api_key_id` (the key a chat call was made with) and `saved_usd` (what a
  cache hit would have cost), and an index to read a tenant's ledger.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    json_type = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(100), nullable=False),
        sa.Column("name", sa.String(200), nullable=True),
        sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("budget_usd", sa.Float(), nullable=True),
        sa.Column("budget_period", sa.String(8), nullable=True),
        sa.Column("rpm_limit", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_api_keys_tenant", "api_keys", ["tenant_id", "created_at"])
    op.create_table(
        "api_key_spend",
        sa.Column("key_id", sa.String(36), sa.ForeignKey("api_keys.id", ondelete="CASCADE")),
        sa.Column("period", sa.String(10), nullable=False),
        sa.Column("spent_usd", sa.Float(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("key_id", "period"),
    )
    op.create_table(
        "response_cache",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("tenant_id", sa.String(100), nullable=False),
        sa.Column("model", sa.String(100), nullable=False),
        sa.Column("response", json_type, nullable=False),
        sa.Column("cost_usd", sa.Float(), nullable=False, server_default="0"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_response_cache_expires", "response_cache", ["expires_at"])
    with op.batch_alter_table("model_calls") as batch:
        batch.add_column(sa.Column("api_key_id", sa.String(36), nullable=True))
        batch.add_column(sa.Column("saved_usd", sa.Float(), nullable=True))
        batch.create_index("ix_model_calls_tenant_created", ["tenant_id", "created_at"])


def downgrade() -> None:
    with op.batch_alter_table("model_calls") as batch:
        batch.drop_index("ix_model_calls_tenant_created")
        batch.drop_column("saved_usd")
        batch.drop_column("api_key_id")
    op.drop_index("ix_response_cache_expires", table_name="response_cache")
    op.drop_table("response_cache")
    op.drop_table("api_key_spend")
    op.drop_index("ix_api_keys_tenant", table_name="api_keys")
    op.drop_table("api_keys")
