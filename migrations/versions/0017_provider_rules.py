"""Provider rules per tenant and per API key

`provider_rules` holds one rules document per tenant (scope `tenant`) and per key (scope
= the key's id): allowed providers, models and regions, a price cap per call, content
rules. `api_keys.manages_rules` marks the keys that may change them; `runs.api_key_id`
remembers the key a run was submitted with, so the key's own rules follow its runs.

Revision ID: 0017
Revises: 0011
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    json_type = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
    op.create_table(
        "provider_rules",
        sa.Column("tenant_id", sa.String(100), nullable=False),
        sa.Column("scope", sa.String(36), nullable=False),
        sa.Column("rules", json_type, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "scope"),
    )
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(
            sa.Column("manages_rules", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("api_key_id", sa.String(36), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("api_key_id")
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("manages_rules")
    op.drop_table("provider_rules")
