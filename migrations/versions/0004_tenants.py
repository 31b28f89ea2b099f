"""tenants: every run, graph version and ledger row belongs to a tenant

Graphs whose code the service loads (built-ins, langgraph.json) belong to no tenant
(`tenant_id = ''`) and every tenant can run them; specs pushed over REST belong to the
tenant that pushed them. Rows written before this migration belong to `default`, the
tenant of the embedded service when no API key exists.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    def tenant() -> sa.Column[str]:
        return sa.Column("tenant_id", sa.String(100), nullable=False, server_default="default")

    with op.batch_alter_table("runs") as batch:
        batch.add_column(tenant())
        batch.create_index("ix_runs_tenant_created", ["tenant_id", "created_at", "id"])
    with op.batch_alter_table("model_calls") as batch:
        batch.add_column(tenant())
    _rebuild_graph_versions(with_tenant=True)


def downgrade() -> None:
    _rebuild_graph_versions(with_tenant=False)
    with op.batch_alter_table("model_calls") as batch:
        batch.drop_column("tenant_id")
    with op.batch_alter_table("runs") as batch:
        batch.drop_index("ix_runs_tenant_created")
        batch.drop_column("tenant_id")


def _rebuild_graph_versions(*, with_tenant: bool) -> None:
    """A new primary key: rebuild the table (the portable way, SQLite included)."""
    json_type = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
    key = ["tenant_id", "name", "version"] if with_tenant else ["name", "version"]
    columns = [
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("spec", json_type, nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    ]
    if with_tenant:
        columns.insert(0, sa.Column("tenant_id", sa.String(100), nullable=False, server_default=""))
    op.create_table("graph_versions_new", *columns, sa.PrimaryKeyConstraint(*key))
    copied = "name, version, spec, source, fingerprint, created_at"
    op.execute(f"INSERT INTO graph_versions_new ({copied}) SELECT {copied} FROM graph_versions")
    op.drop_table("graph_versions")
    op.rename_table("graph_versions_new", "graph_versions")
