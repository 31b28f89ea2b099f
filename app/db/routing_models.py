"""Tables routing keeps beside the ledger: where a conversation's prompt prefix is warm."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db.models import Base


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
