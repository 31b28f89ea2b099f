"""Tables routing keeps beside the ledger: where a conversation's prompt prefix is warm,
and the A/B experiments that split a tenant's traffic between routing policies."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db.models import Base, JSONType, utcnow


class PromptPrefix(Base):
    """A prompt prefix a model's provider has cached for a tenant, until `expires_at` (its
    last use plus the provider's cache lifetime: using a prefix keeps it warm)."""

    __tablename__ = "prompt_prefixes"
    __table_args__ = (Index("ix_prompt_prefixes_expires", "expires_at"),)

    tenant_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    model: Mapped[str] = mapped_column(String(100), primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    tokens: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Experiment(Base):
    """An A/B test of a tenant's traffic: `target` "chat" (the OpenAI endpoint's `auto`
    requests, arms are policies) or a graph name (its runs, arms are spec versions)."""

    __tablename__ = "experiments"
    __table_args__ = (Index("ix_experiments_tenant_target", "tenant_id", "target", "status"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200))
    target: Mapped[str] = mapped_column(String(100))
    split: Mapped[str] = mapped_column(String(16))  # request | thread | user
    # [{"name", "weight", "policy" | "version"}], in the order given (the first is control).
    arms: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    status: Mapped[str] = mapped_column(String(16))  # running | stopped
    winner: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    stopped_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
