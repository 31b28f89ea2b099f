"""The wake-up for a run that a finished run unblocks says so (payload `unblocked`)

Postgres: `routegraph_notify_runs()` (migration 0003) NOTIFYs `routegraph_runs` when a run
is queued or released, and when a run of a thread ends while another run of that thread
waits queued. A process ignores the NOTIFYs its own connections caused (it signalled
them in-process at commit), but nothing in-process knows that a finished run unblocked a
queued one, so a worker claimed again after every run of its own just in case. The third
case now carries the payload `unblocked` (and the tenant is matched too), which the
listener passes on even from its own process; the worker claims after a run ends only
when something may be waiting.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FUNCTION = """
CREATE OR REPLACE FUNCTION routegraph_notify_runs() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.status = 'queued' OR (NEW.status = 'running' AND NEW.lease_owner IS NULL) THEN
    PERFORM pg_notify('routegraph_runs', '');
  END IF;
  -- A finished run may unblock a queued run of the same thread.
  IF TG_OP = 'UPDATE' AND OLD.status = 'running' AND NEW.status <> 'running'
     AND EXISTS (SELECT 1 FROM runs WHERE thread_id = NEW.thread_id {tenant}
                 AND status = 'queued') THEN
    PERFORM pg_notify('routegraph_runs', '{payload}');
  END IF;
  IF TG_OP = 'UPDATE' AND NEW.cancel_requested AND NOT OLD.cancel_requested THEN
    PERFORM pg_notify('routegraph_cancel', NEW.id);
  END IF;
  RETURN NULL;
END $$;
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_FUNCTION.format(tenant="AND tenant_id = NEW.tenant_id", payload="unblocked"))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_FUNCTION.format(tenant="", payload=""))
