"""OpenTelemetry traces with the GenAI semantic conventions: a span per run, per node and
per model call attempt, linked by run and call ids.

Off unless `OTEL_EXPORTER_OTLP_ENDPOINT` (or `..._TRACES_ENDPOINT`) is set: then spans
go over OTLP/HTTP through a batch processor (the exporter reads the standard `OTEL_*`
variables). Off means no tracer at all, so the hooks cost one `is None` test.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from app.observability.calls import CallObservation

SCOPE = "routegraph"
FAILED_OUTCOMES = ("failed", "budget_exceeded", "lease_lost")
OTLP_ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")


def otlp_provider(environ: Mapping[str, str] | None = None) -> TracerProvider | None:
    """A provider exporting over OTLP/HTTP when an endpoint is configured, else None."""
    env = os.environ if environ is None else environ
    if not any(env.get(name) for name in OTLP_ENDPOINT_VARIABLES):
        return None
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    resource = Resource.create({"service.name": env.get("OTEL_SERVICE_NAME") or "routegraph"})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return provider


class Tracing:
    """Spans of runs, nodes and model calls on one provider (owned: shut down with it)."""

    def __init__(self, provider: TracerProvider) -> None:
        self.provider = provider
        self._tracer = provider.get_tracer(SCOPE)
        self._runs: dict[str, Span] = {}
        # Open node spans per run and node name: a model call's parent.
        self._nodes: dict[str, dict[str, list[tuple[str, Span]]]] = {}

    def shutdown(self) -> None:
        """Export what is still queued, then stop."""
        self.provider.shutdown()

    @contextmanager
    def run_span(self, run_id: str, graph: str, tenant_id: str, epoch: int) -> Iterator[Span]:
        """The span of one claim of a run; current while its graph executes, so the node
        tasks LangGraph starts inherit it."""
        span = self._tracer.start_span(
            f"invoke_workflow {graph}",
            kind=SpanKind.INTERNAL,
            attributes={
                "gen_ai.operation.name": "invoke_workflow",
                "gen_ai.workflow.name": graph,
                "routegraph.run.id": run_id,
                "routegraph.tenant": tenant_id,
                "routegraph.run.epoch": epoch,
            },
        )
        self._runs[run_id] = span
        token = otel_context.attach(trace.set_span_in_context(span))
        try:
            yield span
        finally:
            otel_context.detach(token)
            self._runs.pop(run_id, None)
            for spans in self._nodes.pop(run_id, {}).values():
                for _, node_span in spans:  # a node cut short (lease lost, shutdown)
                    node_span.end()
            span.end()

    def run_outcome(self, span: Span, outcome: str) -> None:
        """How the claim ended: a terminal status, `lease_lost` or `released`."""
        span.set_attribute("routegraph.run.status", outcome)
        if outcome in FAILED_OUTCOMES:
            span.set_status(Status(StatusCode.ERROR, f"run {outcome}"))

    def node_started(self, run_id: str, node: str, task_id: str) -> None:
        parent = self._runs.get(run_id)
        if parent is None:
            return
        span = self._tracer.start_span(
            f"node {node}",
            context=trace.set_span_in_context(parent),
            attributes={
                "routegraph.run.id": run_id,
                "routegraph.node": node,
                "langgraph.task.id": task_id,
            },
        )
        self._nodes.setdefault(run_id, {}).setdefault(node, []).append((task_id, span))

    def node_finished(self, run_id: str, node: str, task_id: str, error: str | None) -> None:
        spans = self._nodes.get(run_id, {}).get(node, [])
        for index, (task, span) in enumerate(spans):
            if task == task_id:
                del spans[index]
                if error:
                    span.set_status(Status(StatusCode.ERROR, error[:500]))
                span.end()
                return

    def model_call(self, call: CallObservation) -> None:
        """The span of one attempt, written when its ledger row is (its start is back-dated
        by the measured latency)."""
        end = time.time_ns()
        start = end - int(call.latency_ms * 1_000_000)
        span = self._tracer.start_span(
            f"chat {call.model}",
            context=self._parent(call),
            kind=SpanKind.CLIENT,
            start_time=start,
            attributes=call_attributes(call),
        )
        if call.outcome != "ok":
            span.set_attribute("error.type", call.outcome)
            span.set_status(Status(StatusCode.ERROR, (call.error or call.outcome)[:500]))
        span.end(end_time=end)

    def _parent(self, call: CallObservation) -> otel_context.Context | None:
        if call.run_id is None:
            return None  # the current context (a chat request has no run)
        open_nodes = self._nodes.get(call.run_id, {}).get(call.node or "", [])
        if open_nodes:
            return trace.set_span_in_context(open_nodes[-1][1])
        run = self._runs.get(call.run_id)
        return trace.set_span_in_context(run) if run is not None else None


def call_attributes(call: CallObservation) -> dict[str, Any]:
    """GenAI semantic-convention attributes of a model call, plus routegraph's ids."""
    attributes: dict[str, Any] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": call.provider,
        "gen_ai.request.model": call.requested,
        "gen_ai.response.model": call.model,
        "gen_ai.usage.input_tokens": call.prompt_tokens,
        "gen_ai.usage.output_tokens": call.completion_tokens,
        "gen_ai.usage.cache_read.input_tokens": call.cached_tokens,
        "gen_ai.request.stream": call.stream,
        "routegraph.call.id": call.call_id,
        "routegraph.tier": call.tier,
        "routegraph.policy": call.policy,
        "routegraph.cost_usd": call.cost_usd,
        "routegraph.fallback": call.fallback,
    }
    if call.finish_reason:
        attributes["gen_ai.response.finish_reasons"] = [call.finish_reason]
    if call.first_token_ms is not None:
        attributes["gen_ai.response.time_to_first_chunk"] = call.first_token_ms / 1000
    if call.task_class:
        attributes["routegraph.task_class"] = call.task_class
    if call.run_id:
        attributes["routegraph.run.id"] = call.run_id
    if call.node:
        attributes["routegraph.node"] = call.node
    return attributes
