"""The `crons` table: a tenant's schedules of runs (LangGraph's crons), claimed by workers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, DateTime, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from app.db.models import Base, JSONType, utcnow


class Cron(Base):
    """A schedule: every time `next_run_date` passes, one worker claims it (moving
    `next_run_date` on) and queues a run in the same transaction."""

    __tablename__ = "crons"
    __table_args__ = (
        Index("ix_crons_tenant_created", "tenant_id", "created_at"),
        Index(
            "ix_crons_due",
            "next_run_date",
            postgresql_where=text("enabled"),
            sqlite_where=text("enabled"),
        ),
    )

    cron_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(100))
    assistant_id: Mapped[str] = mapped_column(String(200))
    graph: Mapped[str] = mapped_column(String(200))
    thread_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    schedule: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str | None] = mapped_column(String(100), nullable=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    cron_metadata: Mapped[dict[str, Any]] = mapped_column("metadata", JSONType)
    user_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    on_run_completed: Mapped[str | None] = mapped_column(String(20), nullable=True)
    end_time: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    next_run_date: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_run_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # How many times it fired: the claim's compare-and-set (`WHERE fired = <as read>`).
    fired: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class TemporaryThread(Base):
    """A stateless cron firing's thread, deleted (with its checkpoints) once `run_id`
    ends: the cron's `on_run_completed: "delete"`, LangGraph's default."""

    __tablename__ = "temporary_threads"

    tenant_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    thread_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    run_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
