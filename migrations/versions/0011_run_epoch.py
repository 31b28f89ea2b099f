"""runs.attempt is the lease epoch: call it `epoch`

`runs.attempt` counted the claims of a run, i.e. the lease epoch that fences a worker's
writes; `model_calls` has both `attempt` (the attempt number within one logical call) and
`epoch` (the run's epoch that made it). One name per thing: the run's column is `epoch`.
The Postgres lease assertion used by checkpoint writes is recreated on the new name.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ASSERT_LEASE = """
CREATE OR REPLACE FUNCTION routegraph_assert_lease(p_run text, p_epoch integer)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  PERFORM 1 FROM runs
   WHERE id = p_run AND {column} = p_epoch AND status = 'running'
     AND lease_expires_at > statement_timestamp()
   FOR SHARE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'routegraph: the lease on run % (epoch %) has moved on', p_run, p_epoch
      USING ERRCODE = 'RG001';
  END IF;
END $$;
"""


def upgrade() -> None:
    op.execute("ALTER TABLE runs RENAME COLUMN attempt TO epoch")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(ASSERT_LEASE.format(column="epoch"))


def downgrade() -> None:
    op.execute("ALTER TABLE runs RENAME COLUMN epoch TO attempt")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(ASSERT_LEASE.format(column="attempt"))
