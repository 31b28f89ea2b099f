"""in-flight calls: a partial index on the ledger's `in_flight` rows

Workers look for chat calls (no run) left `in_flight` by an API process that died before
their answer was recorded; the index holds only rows in flight, so the look-up stays
cheap however large the ledger grows.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_model_calls_in_flight",
        "model_calls",
        ["created_at"],
        postgresql_where=sa.text("status = 'in_flight'"),
        sqlite_where=sa.text("status = 'in_flight'"),
    )


def downgrade() -> None:
    op.drop_index("ix_model_calls_in_flight", table_name="model_calls")
