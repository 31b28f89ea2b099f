"""The one object the gateway, the worker and the API record through: metrics unless
switched off (`metrics` None: each hook is one `is None` test), traces when a tracer
provider is configured."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from opentelemetry.trace import Span

from app.observability.calls import CallObservation
from app.observability.metrics import Metrics
from app.observability.multiprocess import process_exiting
from app.observability.tracing import Tracing


class Telemetry:
    def __init__(self, metrics: Metrics | None, tracing: Tracing | None = None) -> None:
        self.metrics = metrics
        self.tracing = tracing

    def close(self) -> None:
        """Shutdown: export the spans still queued; drop this process's live gauges."""
        if self.tracing is not None:
            self.tracing.shutdown()
        process_exiting()

    def model_call(self, call: CallObservation) -> None:
        """One attempt is on the books: count it, and trace it when tracing is on."""
        m = self.metrics
        if m is None:
            if self.tracing is not None:
                self.tracing.model_call(call)
            return
        labels = (call.model, call.tier, call.task_class or "none", call.policy)
        m.model_calls.labels(*labels, call.outcome).inc()
        m.model_duration.labels(*labels, call.outcome).observe(call.latency_ms / 1000)
        if call.prompt_tokens:
            m.model_tokens.labels(*labels, "input").inc(call.prompt_tokens)
        if call.completion_tokens:
            m.model_tokens.labels(*labels, "output").inc(call.completion_tokens)
        if call.cached_tokens:
            m.model_tokens.labels(*labels, "cached").inc(call.cached_tokens)
        if call.cost_usd:
            m.model_spend.labels(*labels).inc(call.cost_usd)
        if call.first_token_ms is not None:
            m.time_to_first_token.labels(*labels).observe(call.first_token_ms / 1000)
        if call.fallback:
            m.fallbacks.labels(call.model, call.tier, call.policy).inc()
        if self.tracing is not None:
            self.tracing.model_call(call)

    def cascade_escalated(self, from_tier: str, to_tier: str, task_class: str | None) -> None:
        if self.metrics is not None:
            self.metrics.escalations.labels(from_tier, to_tier, task_class or "none").inc()

    def cache_lookup(self, result: str) -> None:
        """hit | shared | miss (a request that opted out of the cache is not a lookup)."""
        if self.metrics is not None:
            self.metrics.cache_lookups.labels(result).inc()

    def run_claimed(self, epoch: int, created_at: datetime | None) -> None:
        """A first claim ends the run's wait in the queue."""
        if self.metrics is not None and epoch == 1 and created_at is not None:
            if created_at.tzinfo is None:
                created_at = created_at.replace(tzinfo=UTC)
            waited = (datetime.now(UTC) - created_at).total_seconds()
            self.metrics.queue_wait.observe(max(0.0, waited))

    def run_ended(self, outcome: str) -> None:
        """A worker is done with a run: a terminal status, `lease_lost`, or a hand-back."""
        if self.metrics is None:
            return
        if outcome == "lease_lost":
            self.metrics.leases_lost.inc()
        elif outcome not in ("released", "interrupted"):
            self.metrics.runs_finished.labels(outcome).inc()

    def worker_slots(self, in_use: int, total: int) -> None:
        if self.metrics is None:
            return
        self.metrics.slots_in_use.set(in_use)
        self.metrics.slots.set(total)

    @contextmanager
    def run_span(
        self, run_id: str, graph: str, tenant_id: str, epoch: int
    ) -> Iterator[Span | None]:
        if self.tracing is None:
            yield None
            return
        with self.tracing.run_span(run_id, graph, tenant_id, epoch) as span:
            yield span
