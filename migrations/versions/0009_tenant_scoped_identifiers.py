"""tenant-scoped identifiers: idempotency keys and checkpoint threads behind the tenant id

A client chooses its `Idempotency-Key` and `thread_id`; two tenants choosing the same
value must get two things. From here on `runs.idempotency_key` holds `<tenant>/<key>` and
the LangGraph checkpointer keeps a run's thread under `<tenant>/<thread_id>`
(`app/db/tenant_scope.py`); `runs.thread_id` keeps the client's value.

Existing rows move without loss: each key gets its run's tenant; each checkpoint thread
goes to the tenant of the thread's first run (`default` for a thread no run names). A
thread that two tenants already shared (the leak this closes) stays with the first one;
the other tenant's later runs on it start from an empty thread of their own.

Thread ids are rewritten in two passes (first behind a \\x01 marker) so that no row's new
id can collide, mid-statement, with another row's old one.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SQLITE_TABLES = ("checkpoints", "writes")
POSTGRES_TABLES = ("checkpoints", "checkpoint_blobs", "checkpoint_writes")
MARK = "\x01"


def _tables() -> tuple[str, ...]:
    return SQLITE_TABLES if op.get_bind().dialect.name == "sqlite" else POSTGRES_TABLES


def _owner(column: str) -> str:
    """SQL for the tenant of the first run on the thread `column` names."""
    return (
        "COALESCE((SELECT r.tenant_id FROM runs r WHERE r.thread_id = "
        f"{column} ORDER BY r.created_at LIMIT 1), 'default')"
    )


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column("runs", "idempotency_key", type_=sa.String(320))
    op.execute(
        "UPDATE runs SET idempotency_key = tenant_id || '/' || idempotency_key "
        "WHERE idempotency_key IS NOT NULL"
    )
    for table in _tables():
        op.execute(f"UPDATE {table} SET thread_id = '{MARK}' || thread_id")
        original = f"substr({table}.thread_id, 2)"  # qualified: runs has a thread_id too
        op.execute(
            f"UPDATE {table} SET thread_id = {_owner(original)} || '/' || {original} "
            f"WHERE thread_id LIKE '{MARK}%'"
        )


def downgrade() -> None:
    # Strip the tenant part again (everything up to the first '/'). Fails on a unique key
    # where two tenants have since used the same thread id or idempotency key.
    for table in _tables():
        op.execute(
            f"UPDATE {table} SET thread_id = substr(thread_id, strpos(thread_id, '/') + 1)"
            if op.get_bind().dialect.name == "postgresql"
            else f"UPDATE {table} SET thread_id = substr(thread_id, instr(thread_id, '/') + 1)"
        )
    op.execute(
        "UPDATE runs SET idempotency_key = substr(idempotency_key, length(tenant_id) + 2) "
        "WHERE idempotency_key IS NOT NULL"
    )
