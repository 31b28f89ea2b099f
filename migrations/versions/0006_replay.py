"""replay and fork: each branched run's plan, a replay's verdict, pruned payloads

- `runs.branch`: what a replay or fork run needs from its source (the run it copies, the
  checkpoint it starts from in its own thread, the divergence policy, model overrides,
  the state patch); NULL for ordinary runs.
- `runs.replay`: a replay's verdict (reproduced, the first divergence), written when it ends.
- `runs.payloads_pruned_at`: when `routegraph prune` removed the run's checkpoints and
  request/response bodies (replay and fork of it then answer 409).
- Indexes to find a run's replays and forks, and the runs `prune` is due to visit.

Revision ID: 0006
Revises: 0004 (re-chained after 0005 at merge)
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    json_type = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("branch", json_type, nullable=True))
        batch.add_column(sa.Column("replay", json_type, nullable=True))
        batch.add_column(sa.Column("payloads_pruned_at", sa.DateTime(timezone=True)))
        batch.create_index("ix_runs_replay_of", ["replay_of"])
        batch.create_index("ix_runs_parent_run", ["parent_run_id"])
        batch.create_index("ix_runs_finished", ["finished_at"])


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_index("ix_runs_finished")
        batch.drop_index("ix_runs_parent_run")
        batch.drop_index("ix_runs_replay_of")
        batch.drop_column("payloads_pruned_at")
        batch.drop_column("replay")
        batch.drop_column("branch")
