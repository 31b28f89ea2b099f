"""run durability: exactly-once events, and telling a poison pill from dead workers

- `run_events.uid`: the writer's id for each event, so a write retried after a commit
  whose answer was lost leaves out the events that did commit.
- `runs.recoveries`: claims of the run after its worker vanished (lease expired with an
  owner); `runs.solo`: its current claim runs alone on its worker (after enough
  recoveries); `runs.steps_done` / `runs.steps_at_claim`: graph steps completed, and
  how many when the current claim began; `runs.crashes`: deaths of its solo workers in a
  row during which it completed no step, the ones the run itself is blamed for. Rows
  before this migration start at 0 / false.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("run_events") as batch:
        batch.add_column(sa.Column("uid", sa.String(32), nullable=True))
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("recoveries", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("crashes", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(
            sa.Column("solo", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("steps_done", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(
            sa.Column("steps_at_claim", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("steps_at_claim")
        batch.drop_column("steps_done")
        batch.drop_column("solo")
        batch.drop_column("crashes")
        batch.drop_column("recoveries")
    with op.batch_alter_table("run_events") as batch:
        batch.drop_column("uid")
