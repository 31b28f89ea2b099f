"""SQLAlchemy 2 models: graph versions, runs, their event timeline, the model-call ledger,
feedback on calls and the learned routing table."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from app.db.tenant_scope import checkpoint_thread
from app.run_status import RunStatus

JSONType = JSON().with_variant(JSONB(), "postgresql")
# SQLite only auto-increments INTEGER PRIMARY KEY; Postgres gets a 64-bit identity.
EventId = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class GraphVersion(Base):
    """An immutable version of a graph; a run pins the version it started with."""

    __tablename__ = "graph_versions"

    # '' for graphs whose code the service loads (every tenant may run them).
    tenant_id: Mapped[str] = mapped_column(String(100), primary_key=True, default="")
    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    spec: Mapped[dict[str, Any]] = mapped_column(JSONType)
    source: Mapped[str] = mapped_column(String(16))  # builtin | spec
    fingerprint: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Run(Base):
    __tablename__ = "runs"
    __table_args__ = (
        Index("ix_runs_status_created", "status", "created_at"),
        Index("ix_runs_created", "created_at", "id"),
        Index("ix_runs_graph_created", "graph", "created_at"),
        Index("ix_runs_tenant_created", "tenant_id", "created_at", "id"),
        Index("ix_runs_replay_of", "replay_of"),
        Index("ix_runs_parent_run", "parent_run_id"),
        Index("ix_runs_finished", "finished_at"),
        # Claim indexes: partial, so they hold only live runs however big the store grows.
        Index(
            "ix_runs_queued",
            text("priority DESC"),
            "created_at",
            postgresql_where=text("status = 'queued'"),
            sqlite_where=text("status = 'queued'"),
        ),
        Index(
            "ix_runs_running_lease",
            "lease_expires_at",
            postgresql_where=text("status = 'running'"),
            sqlite_where=text("status = 'running'"),
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(100), default="default", server_default="default")
    thread_id: Mapped[str] = mapped_column(String(200), index=True)
    graph: Mapped[str] = mapped_column(String(100))
    version: Mapped[int] = mapped_column(Integer)
    input: Mapped[dict[str, Any]] = mapped_column(JSONType)
    status: Mapped[str] = mapped_column(String(24), default=RunStatus.QUEUED)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    # The client's Idempotency-Key behind its tenant (tenant_scope.scoped): unique per tenant.
    idempotency_key: Mapped[str | None] = mapped_column(String(320), unique=True)
    request_fingerprint: Mapped[str | None] = mapped_column(String(64))
    # Incremented by every claim: the lease epoch that fences a worker's writes.
    epoch: Mapped[int] = mapped_column(Integer, default=0)
    # Claims after its worker vanished; `solo`: this claim runs alone on its worker; crashes:
    # deaths of its solo workers in a row with no step done, the ones it is blamed for.
    recoveries: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    crashes: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    solo: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    # Graph steps completed, and how many there were when the current claim began: a claim
    # that ended in its worker's death without a step done made no progress.
    steps_done: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    steps_at_claim: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The last event sequence number handed out (events are numbered by updating this row).
    event_seq: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    budget_usd: Mapped[float | None] = mapped_column(Float)
    cost_usd: Mapped[float] = mapped_column(Float, default=0.0)
    output: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    error: Mapped[str | None] = mapped_column(Text)
    parent_run_id: Mapped[str | None] = mapped_column(String(36))
    fork_checkpoint_id: Mapped[str | None] = mapped_column(String(64))
    replay_of: Mapped[str | None] = mapped_column(String(36))
    # A replay's or fork's plan (app.services.branching.BranchPlan); NULL for other runs.
    branch: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    # A replay's verdict: reproduced or not, and the first divergence.
    replay: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    # What a run started through the LangGraph API asked for beyond its input (command,
    # stream modes, interrupt_before/after, checkpoint, assistant, ...); NULL otherwise.
    lg: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    # A queued run is not claimed before this time (LangGraph's `after_seconds`).
    not_before: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # When `routegraph prune` removed the run's checkpoints and request/response bodies.
    payloads_pruned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    @property
    def checkpoint_thread(self) -> str:
        """The thread id its checkpoints are kept under (its tenant's own)."""
        return checkpoint_thread(self.tenant_id, self.thread_id)


class RunEvent(Base):
    """Append-only timeline of a run, read by the SSE stream."""

    __tablename__ = "run_events"
    __table_args__ = (UniqueConstraint("run_id", "seq", name="uq_run_events_run_seq"),)

    id: Mapped[int] = mapped_column(EventId, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    kind: Mapped[str] = mapped_column(String(40))
    node: Mapped[str | None] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # The writer's id for the event: a retried write skips events already written.
    uid: Mapped[str | None] = mapped_column(String(32))


class ModelCall(Base):
    """One attempt at a model call: the cost ledger and the replay tape."""

    __tablename__ = "model_calls"
    __table_args__ = (
        UniqueConstraint("call_key", "attempt", name="uq_model_calls_key_attempt"),
        Index("ix_model_calls_run", "run_id", "created_at"),
        Index("ix_model_calls_tenant_created", "tenant_id", "created_at"),
        Index(
            "ix_model_calls_output_history",
            "graph",
            "node",
            "model",
            "created_at",
            postgresql_where=text("status = 'ok'"),
            sqlite_where=text("status = 'ok'"),
        ),
        Index(
            "ix_model_calls_in_flight",
            "created_at",
            postgresql_where=text("status = 'in_flight'"),
            sqlite_where=text("status = 'in_flight'"),
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(100), default="default", server_default="default")
    run_id: Mapped[str | None] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    node: Mapped[str | None] = mapped_column(String(100))
    call_key: Mapped[str] = mapped_column(String(300))
    attempt: Mapped[int] = mapped_column(Integer)
    task_class: Mapped[str | None] = mapped_column(String(40))
    routing_reason: Mapped[str] = mapped_column(Text)
    requested: Mapped[str] = mapped_column(String(100))  # tier or model asked for
    tier: Mapped[str] = mapped_column(String(24))
    model: Mapped[str] = mapped_column(String(100))
    provider: Mapped[str] = mapped_column(String(50))
    request: Mapped[dict[str, Any]] = mapped_column(JSONType)
    response: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cached_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cost_usd: Mapped[float] = mapped_column(Float, default=0.0)
    latency_ms: Mapped[float] = mapped_column(Float, default=0.0)
    # in_flight (written before the provider is called) | ok | error | invalid_output | lost
    # | rejected (the provider refused the request itself: not tried on other models)
    # | replayed (a replay's answer from its source run's ledger, at no cost)
    status: Mapped[str] = mapped_column(String(24))
    error: Mapped[str | None] = mapped_column(Text)
    finish_reason: Mapped[str | None] = mapped_column(String(24))
    fallback_of: Mapped[str | None] = mapped_column(String(36))
    # A call made again because this earlier attempt was in flight when its worker lost
    # the run (the provider may have been paid for both).
    retry_of: Mapped[str | None] = mapped_column(String(36))
    epoch: Mapped[int | None] = mapped_column(Integer)  # the run attempt that made the call
    graph: Mapped[str | None] = mapped_column(String(100))
    # With online routing: what feedback on this call needs (`RoutingContext.to_json()`).
    routing: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    # The API key of a call made through the OpenAI-compatible endpoint.
    api_key_id: Mapped[str | None] = mapped_column(String(36))
    # A cache hit (status `cache_hit`, cost 0): what the call it reused had cost.
    saved_usd: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Feedback(Base):
    """One feedback event on one call per source (a repeat replaces it), with the
    observation it added to `routing_cells` so that a replacement can subtract it."""

    __tablename__ = "feedback"
    __table_args__ = (
        UniqueConstraint("tenant_id", "call_id", "source", name="uq_feedback_call_source"),
        Index("ix_feedback_run", "run_id"),
    )

    id: Mapped[int] = mapped_column(EventId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(String(100))
    call_id: Mapped[str] = mapped_column(String(36))
    run_id: Mapped[str | None] = mapped_column(String(36))
    source: Mapped[str] = mapped_column(String(24))  # user | cascade_verifier | judge | ...
    score: Mapped[float] = mapped_column(Float)
    label: Mapped[str | None] = mapped_column(String(100))
    comment: Mapped[str | None] = mapped_column(Text)
    # The observation as it was added: the cells it went into and what it contributed.
    scope: Mapped[str] = mapped_column(String(100))
    task_class: Mapped[str] = mapped_column(String(40))
    cluster: Mapped[str] = mapped_column(String(120))
    tier: Mapped[str] = mapped_column(String(24))
    model: Mapped[str] = mapped_column(String(100))
    prior_p: Mapped[float] = mapped_column(Float)
    condition: Mapped[str] = mapped_column(String(120), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class RoutingCell(Base):
    """One cell of the learned table (`app.routing.observations.CellKey`) for one feedback
    source: weighted sums that feedback increments (and a replaced feedback decrements)."""

    __tablename__ = "routing_cells"

    scope: Mapped[str] = mapped_column(String(100), primary_key=True)
    task_class: Mapped[str] = mapped_column(String(40), primary_key=True)
    cluster: Mapped[str] = mapped_column(String(120), primary_key=True)
    arm: Mapped[str] = mapped_column(String(120), primary_key=True)
    condition: Mapped[str] = mapped_column(String(120), primary_key=True)
    band: Mapped[str] = mapped_column(String(16), primary_key=True)
    source: Mapped[str] = mapped_column(String(24), primary_key=True)
    events: Mapped[float] = mapped_column(Float, default=0.0)
    good: Mapped[float] = mapped_column(Float, default=0.0)
    prior: Mapped[float] = mapped_column(Float, default=0.0)


class ApiKey(Base):
    """A bearer key of one tenant; only the SHA-256 of the token is stored."""

    __tablename__ = "api_keys"
    __table_args__ = (Index("ix_api_keys_tenant", "tenant_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(100))
    name: Mapped[str | None] = mapped_column(String(200))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    budget_usd: Mapped[float | None] = mapped_column(Float)
    budget_period: Mapped[str | None] = mapped_column(String(8))  # day | month
    rpm_limit: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ApiKeySpend(Base):
    """What one key spent in one budget period (`2026-11-27` or `2026-11`)."""

    __tablename__ = "api_key_spend"

    key_id: Mapped[str] = mapped_column(
        ForeignKey("api_keys.id", ondelete="CASCADE"), primary_key=True
    )
    period: Mapped[str] = mapped_column(String(10), primary_key=True)
    spent_usd: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")


class CachedResponse(Base):
    """An answer of the OpenAI-compatible endpoint, by the hash of its normalised request."""

    __tablename__ = "response_cache"
    __table_args__ = (Index("ix_response_cache_expires", "expires_at"),)

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(100))
    model: Mapped[str] = mapped_column(String(100))
    response: Mapped[dict[str, Any]] = mapped_column(JSONType)
    cost_usd: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
