"""Ledger rollups for the dashboard, kept by triggers as calls are written; TTFT per call

`model_calls.ttft_ms`: a streamed attempt's time to its first token.

`ledger_rollup` sums the ledger per tenant, hour (of the call's start), model, tier, task
class, status, API key and source (a run's call or a chat completion); `ledger_latency_hist`
counts answered attempts per latency (and TTFT) bin of `latency_bins` (bin i >= 1 holds
[1.1^(i-1), 1.1^i) ms), so percentiles over any range of hours are read from a few hundred
rows. Triggers on `model_calls` append a signed delta row for every change of a finished
call (insert, the columns that count changing, delete): writers never update a shared row,
so concurrent ledger writers neither wait on nor deadlock over a rollup row. Readers sum the
rows; `rollup_repo.compact` folds the deltas of an hour into one row per key.

Revision ID: 0014
Revises: 0011
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIN_BASE = 1.1
BIN_COUNT = 160  # bin 159 starts at ~3.4e6 ms: everything slower lands in it
COUNTED_COLUMNS = (
    "status, cost_usd, prompt_tokens, completion_tokens, cached_tokens, latency_ms, ttft_ms, "
    "saved_usd, created_at"
)
ANSWERED = "('ok', 'invalid_output')"  # attempts whose latency is a model's answer time

# One expression per rollup column, for a row alias (NEW / OLD) and a sign.
SUMS = {
    "calls": "{s}",
    "first_attempts": "{s} * (CASE WHEN {r}.fallback_of IS NULL THEN 1 ELSE 0 END)",
    "fallbacks": "{s} * (CASE WHEN {r}.fallback_of IS NULL THEN 0 ELSE 1 END)",
    "prompt_tokens": "{s} * {r}.prompt_tokens",
    "completion_tokens": "{s} * {r}.completion_tokens",
    "cached_tokens": "{s} * {r}.cached_tokens",
    "cost_usd": "{s} * {r}.cost_usd",
    "saved_usd": "{s} * COALESCE({r}.saved_usd, 0)",
    "latency_ms_sum": "{s} * {r}.latency_ms",
}
KEYS = {
    "tenant_id": "{r}.tenant_id",
    "hour": "{hour}",
    "model": "{r}.model",
    "tier": "{r}.tier",
    "task_class": "COALESCE({r}.task_class, '')",
    "status": "{r}.status",
    "api_key_id": "COALESCE({r}.api_key_id, '')",
    "source": "CASE WHEN {r}.run_id IS NULL THEN 'chat' ELSE 'run' END",
}
HOUR = {
    "postgresql": "date_trunc('hour', {r}.created_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'",
    "sqlite": "substr({r}.created_at, 1, 13) || ':00:00.000000'",
}
FALSE = {"postgresql": "false", "sqlite": "0"}
DAY = {
    "postgresql": "date_trunc('day', hour AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'",
    "sqlite": "substr(hour, 1, 10) || ' 00:00:00.000000'",
}


def _delta_statements(dialect: str, r: str, sign: str) -> list[str]:
    """The INSERTs that add row `r`'s contribution times `sign` to the rollups."""
    hour = HOUR[dialect].format(r=r)
    keys = {name: expr.format(r=r, hour=hour) for name, expr in KEYS.items()}
    sums = {name: expr.format(r=r, s=sign) for name, expr in SUMS.items()}
    columns = ", ".join(["compacted", *keys, *sums])
    values = ", ".join([FALSE[dialect], *keys.values(), *sums.values()])
    statements = [f"INSERT INTO ledger_rollup ({columns}) VALUES ({values})"]
    hist = "tenant_id, hour, model, tier, metric, bin, calls, compacted"
    for metric, column, condition in (
        ("latency", f"{r}.latency_ms", f"{r}.status IN {ANSWERED}"),
        ("ttft", f"{r}.ttft_ms", f"{r}.status IN {ANSWERED} AND {r}.ttft_ms IS NOT NULL"),
    ):
        bin_of = f"(SELECT COALESCE(MAX(bin), 0) FROM latency_bins WHERE lo <= {column})"
        statements.append(
            f"INSERT INTO ledger_latency_hist ({hist}) SELECT {keys['tenant_id']}, {hour}, "
            f"{r}.model, {r}.tier, '{metric}', {bin_of}, {sign}, {FALSE[dialect]} "
            f"WHERE {condition}"
        )
    return statements


def _postgres_triggers() -> list[str]:
    add_new = ";\n    ".join(_delta_statements("postgresql", "NEW", "1"))
    sub_old = ";\n    ".join(_delta_statements("postgresql", "OLD", "-1"))
    function = f"""
CREATE OR REPLACE FUNCTION routegraph_ledger_rollup() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.status <> 'in_flight' THEN
    {sub_old};
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.status <> 'in_flight' THEN
    {add_new};
  END IF;
  RETURN NULL;
END $$;
"""
    return [
        function,
        "CREATE TRIGGER ledger_rollup_insert AFTER INSERT ON model_calls FOR EACH ROW "
        "WHEN (NEW.status <> 'in_flight') EXECUTE FUNCTION routegraph_ledger_rollup()",
        f"CREATE TRIGGER ledger_rollup_update AFTER UPDATE OF {COUNTED_COLUMNS} ON model_calls "
        "FOR EACH ROW WHEN (OLD.status <> 'in_flight' OR NEW.status <> 'in_flight') "
        "EXECUTE FUNCTION routegraph_ledger_rollup()",
        "CREATE TRIGGER ledger_rollup_delete AFTER DELETE ON model_calls FOR EACH ROW "
        "WHEN (OLD.status <> 'in_flight') EXECUTE FUNCTION routegraph_ledger_rollup()",
    ]


def _sqlite_triggers() -> list[str]:
    def body(*parts: tuple[str, str, str]) -> str:
        statements = []
        for alias, sign, guard in parts:
            for statement in _delta_statements("sqlite", alias, sign):
                # A guard per statement: SQLite triggers have no IF.
                if " WHERE " in statement:
                    statements.append(f"{statement} AND {guard}")
                else:
                    values = statement.split(" VALUES (", 1)
                    statements.append(f"{values[0]} SELECT {values[1][:-1]} WHERE {guard}")
        return ";\n  ".join(statements) + ";"

    old = ("OLD", "-1", "OLD.status <> 'in_flight'")
    new = ("NEW", "1", "NEW.status <> 'in_flight'")
    return [
        f"CREATE TRIGGER ledger_rollup_insert AFTER INSERT ON model_calls FOR EACH ROW "
        f"WHEN NEW.status <> 'in_flight' BEGIN\n  {body(new)}\nEND",
        f"CREATE TRIGGER ledger_rollup_update AFTER UPDATE OF {COUNTED_COLUMNS} ON model_calls "
        f"FOR EACH ROW WHEN OLD.status <> 'in_flight' OR NEW.status <> 'in_flight' BEGIN\n"
        f"  {body(old, new)}\nEND",
        f"CREATE TRIGGER ledger_rollup_delete AFTER DELETE ON model_calls FOR EACH ROW "
        f"WHEN OLD.status <> 'in_flight' BEGIN\n  {body(old)}\nEND",
    ]


def _sum_columns() -> list[sa.Column]:  # type: ignore[type-arg]
    integer = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    columns: list[sa.Column] = []  # type: ignore[type-arg]
    for name in SUMS:
        kind = sa.Float() if name in ("cost_usd", "saved_usd", "latency_ms_sum") else integer
        columns.append(sa.Column(name, kind, nullable=False, server_default="0"))
    return columns


def _daily_columns(table: str) -> list[sa.Column]:  # type: ignore[type-arg]
    keys = [
        sa.Column("tenant_id", sa.String(100), nullable=False),
        sa.Column("hour", sa.DateTime(timezone=True), nullable=False),
        sa.Column("model", sa.String(100), nullable=False),
        sa.Column("tier", sa.String(24), nullable=False),
    ]
    if table == "ledger_rollup":
        return [
            *keys,
            sa.Column("task_class", sa.String(40), nullable=False),
            sa.Column("status", sa.String(24), nullable=False),
            sa.Column("api_key_id", sa.String(36), nullable=False),
            sa.Column("source", sa.String(8), nullable=False),
            *_sum_columns(),
        ]
    return [
        *keys,
        sa.Column("metric", sa.String(8), nullable=False),
        sa.Column("bin", sa.Integer(), nullable=False),
        sa.Column("calls", sa.Integer(), nullable=False),
    ]


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    row_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.add_column("model_calls", sa.Column("ttft_ms", sa.Float(), nullable=True))
    op.create_table(
        "latency_bins",
        sa.Column("bin", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("lo", sa.Float(), nullable=False),
    )
    op.create_index("ix_latency_bins_lo", "latency_bins", ["lo"], unique=True)
    bins = sa.table("latency_bins", sa.column("bin", sa.Integer), sa.column("lo", sa.Float))
    op.bulk_insert(
        bins,
        [{"bin": 0, "lo": 0.0}]
        + [{"bin": i, "lo": BIN_BASE ** (i - 1)} for i in range(1, BIN_COUNT)],
    )
    op.create_table(
        "ledger_rollup",
        sa.Column("id", row_id, primary_key=True, autoincrement=True),
        sa.Column("compacted", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("tenant_id", sa.String(100), nullable=False),
        sa.Column("hour", sa.DateTime(timezone=True), nullable=False),
        sa.Column("model", sa.String(100), nullable=False),
        sa.Column("tier", sa.String(24), nullable=False),
        sa.Column("task_class", sa.String(40), nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("api_key_id", sa.String(36), nullable=False),
        sa.Column("source", sa.String(8), nullable=False),
        *_sum_columns(),
    )
    op.create_index("ix_ledger_rollup_tenant_hour", "ledger_rollup", ["tenant_id", "hour"])
    op.create_table(
        "ledger_latency_hist",
        sa.Column("id", row_id, primary_key=True, autoincrement=True),
        sa.Column("compacted", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("tenant_id", sa.String(100), nullable=False),
        sa.Column("hour", sa.DateTime(timezone=True), nullable=False),
        sa.Column("model", sa.String(100), nullable=False),
        sa.Column("tier", sa.String(24), nullable=False),
        sa.Column("metric", sa.String(8), nullable=False),
        sa.Column("bin", sa.Integer(), nullable=False),
        sa.Column("calls", sa.Integer(), nullable=False),
    )
    op.create_index(
        "ix_ledger_latency_hist_tenant_hour", "ledger_latency_hist", ["tenant_id", "hour"]
    )
    for table in ("ledger_rollup", "ledger_latency_hist"):
        op.create_index(
            f"ix_{table}_deltas",
            table,
            ["hour"],
            postgresql_where=sa.text("NOT compacted"),
            sqlite_where=sa.text("NOT compacted"),
        )
    # The same sums per UTC day (its `hour` is the day's start), recomputed from the folded
    # hourly rows of each day a fold touched: ranges longer than three days read whole days
    # here and only their partial days' hours (and unfolded deltas) from the hourly tables.
    for table in ("ledger_rollup", "ledger_latency_hist"):
        op.create_table(f"{table}_daily", *_daily_columns(table))
        op.create_index(f"ix_{table}_daily_tenant_hour", f"{table}_daily", ["tenant_id", "hour"])
    # Covering indexes for the dashboard's reads of runs (per status) and feedback (quality
    # per class and model): index-only scans over a range, however many rows it holds.
    quality = ["task_class", "model", "source", "score"]
    op.create_index(
        "ix_feedback_tenant_created",
        "feedback",
        ["tenant_id", "created_at"] + ([] if dialect == "postgresql" else quality),
        postgresql_include=quality,
    )
    op.create_index(
        "ix_runs_tenant_created_status",
        "runs",
        ["tenant_id", "created_at"] + ([] if dialect == "postgresql" else ["status"]),
        postgresql_include=["status"],
    )
    for statement in _postgres_triggers() if dialect == "postgresql" else _sqlite_triggers():
        op.execute(statement)
    # Calls already on the books: their rows, compacted per key.
    op.execute(_backfill(dialect))
    op.execute(_backfill_hist(dialect, "latency", "latency_ms"))
    op.execute(_backfill_hist(dialect, "ttft", "ttft_ms"))
    day = DAY[dialect]
    for table, keys, sums in (
        ("ledger_rollup", ", ".join(KEYS), list(SUMS)),
        ("ledger_latency_hist", "tenant_id, hour, model, tier, metric, bin", ["calls"]),
    ):
        rest = keys.replace("hour, ", "")
        op.execute(
            f"INSERT INTO {table}_daily ({keys}, {', '.join(sums)}) "
            f"SELECT {rest.split(', ')[0]}, {day}, {', '.join(rest.split(', ')[1:])}, "
            f"{', '.join(f'SUM({n})' for n in sums)} FROM {table} "
            f"GROUP BY {rest}, {day}"
        )


def _backfill(dialect: str) -> str:
    hour = HOUR[dialect].format(r="c")
    keys = {name: expr.format(r="c", hour=hour) for name, expr in KEYS.items()}
    sums = {name: f"SUM({expr.format(r='c', s='1')})" for name, expr in SUMS.items()}
    true = "true" if dialect == "postgresql" else "1"
    return (
        f"INSERT INTO ledger_rollup (compacted, {', '.join(keys)}, {', '.join(sums)}) "
        f"SELECT {true}, {', '.join(keys.values())}, {', '.join(sums.values())} "
        f"FROM model_calls c WHERE c.status <> 'in_flight' "
        f"GROUP BY {', '.join(keys.values())}"
    )


def _backfill_hist(dialect: str, metric: str, column: str) -> str:
    hour = HOUR[dialect].format(r="c")
    true = "true" if dialect == "postgresql" else "1"
    bin_of = f"(SELECT COALESCE(MAX(bin), 0) FROM latency_bins WHERE lo <= c.{column})"
    return (
        "INSERT INTO ledger_latency_hist (compacted, tenant_id, hour, model, tier, metric, bin, "
        f"calls) SELECT {true}, tenant_id, hour, model, tier, '{metric}', bin, COUNT(*) FROM "
        f"(SELECT c.tenant_id, {hour} AS hour, c.model, c.tier, {bin_of} AS bin "
        f"FROM model_calls c WHERE c.status IN {ANSWERED} AND c.{column} IS NOT NULL) b "
        "GROUP BY tenant_id, hour, model, tier, bin"
    )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for trigger in ("ledger_rollup_insert", "ledger_rollup_update", "ledger_rollup_delete"):
        if dialect == "postgresql":
            op.execute(f"DROP TRIGGER IF EXISTS {trigger} ON model_calls")
        else:
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    if dialect == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS routegraph_ledger_rollup()")
    op.drop_index("ix_feedback_tenant_created", table_name="feedback")
    op.drop_index("ix_runs_tenant_created_status", table_name="runs")
    for table in ("ledger_latency_hist", "ledger_rollup"):
        op.drop_table(f"{table}_daily")
        op.drop_table(table)
    op.drop_table("latency_bins")
    with op.batch_alter_table("model_calls") as batch:
        batch.drop_column("ttft_ms")
