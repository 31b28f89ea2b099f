"""engine: event sequence on runs, fenced leases, in-flight ledger rows, wake-up triggers

- `runs.event_seq`: the last event sequence number handed out for the run. Events get
  their numbers from an UPDATE of the run row, so the status change, its event and the
  fencing check are one statement and two writers never race for a number.
- Claim indexes that stay small however many finished runs the store holds.
- `model_calls`: `epoch` (the run attempt that made the call), `retry_of` (a call made
  again because an earlier attempt was in flight when its worker lost the run),
  `finish_reason`, `graph`, `completed_at`; an index for output-token history.
- Postgres: `routegraph_assert_lease()` lets a checkpoint write refuse itself inside its
  own transaction when the lease has moved on; triggers NOTIFY idle workers and SSE
  streams in other processes when a run becomes claimable or gets an event.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ASSERT_LEASE = """
CREATE OR REPLACE FUNCTION routegraph_assert_lease(p_run text, p_epoch integer)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  PERFORM 1 FROM runs
   WHERE id = p_run AND attempt = p_epoch AND status = 'running'
     AND lease_expires_at > statement_timestamp()
   FOR SHARE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'routegraph: the lease on run % (epoch %) has moved on', p_run, p_epoch
      USING ERRCODE = 'RG001';
  END IF;
END $$;
"""

NOTIFY_RUNS = """
CREATE OR REPLACE FUNCTION routegraph_notify_runs() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.status = 'queued' OR (NEW.status = 'running' AND NEW.lease_owner IS NULL) THEN
    PERFORM pg_notify('routegraph_runs', '');
  END IF;
  -- A finished run may unblock a queued run of the same thread.
  IF TG_OP = 'UPDATE' AND OLD.status = 'running' AND NEW.status <> 'running'
     AND EXISTS (SELECT 1 FROM runs WHERE thread_id = NEW.thread_id AND status = 'queued') THEN
    PERFORM pg_notify('routegraph_runs', '');
  END IF;
  IF TG_OP = 'UPDATE' AND NEW.cancel_requested AND NOT OLD.cancel_requested THEN
    PERFORM pg_notify('routegraph_cancel', NEW.id);
  END IF;
  RETURN NULL;
END $$;
"""

NOTIFY_EVENTS = """
CREATE OR REPLACE FUNCTION routegraph_notify_events() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('routegraph_events', NEW.run_id);
  RETURN NULL;
END $$;
"""


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("event_seq", sa.Integer(), nullable=False, server_default="0"))
        batch.drop_index("ix_runs_claim")
        batch.create_index("ix_runs_status_created", ["status", "created_at"])
        batch.create_index("ix_runs_created", ["created_at", "id"])
    op.create_index(
        "ix_runs_queued",
        "runs",
        [sa.text("priority DESC"), "created_at"],
        postgresql_where=sa.text("status = 'queued'"),
        sqlite_where=sa.text("status = 'queued'"),
    )
    op.create_index(
        "ix_runs_running_lease",
        "runs",
        ["lease_expires_at"],
        postgresql_where=sa.text("status = 'running'"),
        sqlite_where=sa.text("status = 'running'"),
    )
    op.execute(
        "UPDATE runs SET event_seq = (SELECT coalesce(max(seq), 0) FROM run_events "
        "WHERE run_events.run_id = runs.id)"
    )
    with op.batch_alter_table("model_calls") as batch:
        batch.add_column(sa.Column("epoch", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("retry_of", sa.String(36), nullable=True))
        batch.add_column(sa.Column("finish_reason", sa.String(24), nullable=True))
        batch.add_column(sa.Column("graph", sa.String(100), nullable=True))
        batch.add_column(sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "ix_model_calls_output_history",
        "model_calls",
        ["graph", "node", "model", "created_at"],
        postgresql_where=sa.text("status = 'ok'"),
        sqlite_where=sa.text("status = 'ok'"),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(ASSERT_LEASE)
        op.execute(NOTIFY_RUNS)
        op.execute(NOTIFY_EVENTS)
        op.execute(
            "CREATE TRIGGER runs_notify AFTER INSERT OR UPDATE OF status, lease_owner, "
            "cancel_requested ON runs FOR EACH ROW EXECUTE FUNCTION routegraph_notify_runs()"
        )
        op.execute(
            "CREATE TRIGGER run_events_notify AFTER INSERT ON run_events "
            "FOR EACH ROW EXECUTE FUNCTION routegraph_notify_events()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS run_events_notify ON run_events")
        op.execute("DROP TRIGGER IF EXISTS runs_notify ON runs")
        op.execute("DROP FUNCTION IF EXISTS routegraph_notify_events()")
        op.execute("DROP FUNCTION IF EXISTS routegraph_notify_runs()")
        op.execute("DROP FUNCTION IF EXISTS routegraph_assert_lease(text, integer)")
    op.drop_index("ix_model_calls_output_history", table_name="model_calls")
    with op.batch_alter_table("model_calls") as batch:
        for column in ("completed_at", "graph", "finish_reason", "retry_of", "epoch"):
            batch.drop_column(column)
    op.drop_index("ix_runs_running_lease", table_name="runs")
    op.drop_index("ix_runs_queued", table_name="runs")
    with op.batch_alter_table("runs") as batch:
        batch.drop_index("ix_runs_created")
        batch.drop_index("ix_runs_status_created")
        batch.create_index("ix_runs_claim", ["status", "priority", "created_at"])
        batch.drop_column("event_seq")
