"""The dashboard's rollups of the ledger (migration 0014): kept by triggers on
`model_calls`, appended as signed deltas and folded per hour by `rollup_repo.compact`."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Column, DateTime, Float, Integer, String, Table
from sqlalchemy.orm import Mapped, mapped_column

from app.db.models import Base

# The summed columns of `ledger_rollup` (and its daily table); the others are its keys.
ROLLUP_SUMS = (
    "calls",
    "first_attempts",
    "fallbacks",
    "prompt_tokens",
    "completion_tokens",
    "cached_tokens",
    "cost_usd",
    "saved_usd",
    "latency_ms_sum",
)

RowId = BigInteger().with_variant(Integer(), "sqlite")
Count = BigInteger().with_variant(Integer(), "sqlite")


class LatencyBin(Base):
    """Bin `bin` holds latencies from `lo` up to the next bin's `lo` (1.1x wider each)."""

    __tablename__ = "latency_bins"

    bin: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    lo: Mapped[float] = mapped_column(Float)


class LedgerRollup(Base):
    """Sums of finished ledger rows per tenant, hour of the call's start and key columns."""

    __tablename__ = "ledger_rollup"

    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    compacted: Mapped[bool] = mapped_column(Boolean, default=False)
    tenant_id: Mapped[str] = mapped_column(String(100))
    hour: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    model: Mapped[str] = mapped_column(String(100))
    tier: Mapped[str] = mapped_column(String(24))
    task_class: Mapped[str] = mapped_column(String(40))  # '' when the call had none
    status: Mapped[str] = mapped_column(String(24))
    api_key_id: Mapped[str] = mapped_column(String(36))  # '' for calls made by runs
    source: Mapped[str] = mapped_column(String(8))  # run | chat
    calls: Mapped[int] = mapped_column(Count, default=0)
    first_attempts: Mapped[int] = mapped_column(Count, default=0)
    fallbacks: Mapped[int] = mapped_column(Count, default=0)
    prompt_tokens: Mapped[int] = mapped_column(Count, default=0)
    completion_tokens: Mapped[int] = mapped_column(Count, default=0)
    cached_tokens: Mapped[int] = mapped_column(Count, default=0)
    cost_usd: Mapped[float] = mapped_column(Float, default=0.0)
    saved_usd: Mapped[float] = mapped_column(Float, default=0.0)
    latency_ms_sum: Mapped[float] = mapped_column(Float, default=0.0)


class LatencyHistogram(Base):
    """Answered attempts per model, hour and latency (or TTFT) bin."""

    __tablename__ = "ledger_latency_hist"

    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    compacted: Mapped[bool] = mapped_column(Boolean, default=False)
    tenant_id: Mapped[str] = mapped_column(String(100))
    hour: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    model: Mapped[str] = mapped_column(String(100))
    tier: Mapped[str] = mapped_column(String(24))
    metric: Mapped[str] = mapped_column(String(8))  # latency | ttft
    bin: Mapped[int] = mapped_column(Integer)
    calls: Mapped[int] = mapped_column(Integer)


def _daily(table: Table) -> Table:
    """The same sums per UTC day (`hour` holds the day's start); no delta rows."""
    columns = [
        Column(c.name, c.type, nullable=False)
        for c in table.columns
        if c.name not in ("id", "compacted")
    ]
    return Table(f"{table.name}_daily", Base.metadata, *columns)


ROLLUP_DAILY = _daily(LedgerRollup.__table__)  # type: ignore[arg-type]
HIST_DAILY = _daily(LatencyHistogram.__table__)  # type: ignore[arg-type]
