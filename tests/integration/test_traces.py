"""OpenTelemetry traces with the GenAI conventions: a span per run, node and model call,
linked to the run and the ledger's call ids; off when no OTLP endpoint is set."""

from __future__ import annotations

import asyncio
import time

import openai
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from app.api.app import create_app
from app.db import ledger_repo
from app.db.migrate import upgrade_database
from app.observability.metrics import Metrics
from app.observability.setup import build_telemetry
from app.observability.telemetry import Telemetry
from app.observability.tracing import Tracing
from app.schemas.runs import SubmitRun
from app.services import runs as run_service
from app.services.container import build_services
from app.settings import Settings
from app.worker.loop import Worker
from tests.conftest import SimulatorAdmin
from tests.support.chat_rig import ChatService
from tests.support.live_server import LiveServer
from tests.support.otlp_receiver import OtlpReceiver

STORY = [{"role": "user", "content": "Tell a short story about a lighthouse keeper and a cat"}]


async def test_a_run_is_a_trace_of_its_nodes_and_model_calls(
    database_url: str, simulator: SimulatorAdmin
) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    telemetry = Telemetry(Metrics(), Tracing(provider))
    settings = Settings(database_url=database_url, simulator_url=simulator.base_url)
    await simulator.inject("edge-a", "server_error", times=1)  # one failed attempt
    async with build_services(settings, telemetry=telemetry) as services:
        body = SubmitRun(graph="plan_execute", input={"question": "What is 6 * 7 + 1?"})
        run, _ = await run_service.submit_run(services, body)
        assert await Worker(services).run_once() == "succeeded"
        async with services.sessions() as session:
            calls = await ledger_repo.calls_for_run(session, run.id)

    spans = exporter.get_finished_spans()
    (root,) = [s for s in spans if s.name == "invoke_workflow plan_execute"]
    assert root.parent is None and root.attributes is not None
    assert root.attributes["gen_ai.operation.name"] == "invoke_workflow"
    assert root.attributes["routegraph.run.id"] == run.id
    assert root.attributes["routegraph.run.status"] == "succeeded"
    nodes = {s.context.span_id: s for s in spans if s.name.startswith("node ")}
    assert {s.name for s in nodes.values()} >= {"node plan", "node execute"}
    assert all(
        s.parent is not None and s.parent.span_id == root.context.span_id for s in nodes.values()
    )
    assert all(s.context.trace_id == root.context.trace_id for s in spans)

    model_spans = {
        s.attributes["routegraph.call.id"]: s for s in spans if s.name.startswith("chat ")
    }  # type: ignore[index]
    assert set(model_spans) == {call.id for call in calls}
    for call in calls:
        span = model_spans[call.id]
        attributes = span.attributes or {}
        assert span.parent is not None and span.parent.span_id in nodes
        assert nodes[span.parent.span_id].name == f"node {call.node}"
        assert attributes["gen_ai.operation.name"] == "chat"
        assert attributes["gen_ai.provider.name"] == "simulator"
        assert attributes["gen_ai.response.model"] == call.model
        assert attributes["gen_ai.usage.input_tokens"] == call.prompt_tokens
        assert attributes["gen_ai.usage.output_tokens"] == call.completion_tokens
        assert attributes["gen_ai.usage.cache_read.input_tokens"] == call.cached_tokens
        assert attributes["routegraph.run.id"] == run.id
        assert attributes["routegraph.cost_usd"] == pytest.approx(call.cost_usd)
        duration_ms = (span.end_time - span.start_time) / 1e6  # type: ignore[operator]
        assert duration_ms == pytest.approx(call.latency_ms, abs=0.01)
        if call.status == "ok":
            assert attributes["gen_ai.response.finish_reasons"] == (call.finish_reason,)
        else:
            assert attributes["error.type"] == "error" and not span.status.is_ok
    failed = [c for c in calls if c.status == "error"]
    assert [c.model for c in failed] == ["edge-a"]
    fallback = model_spans[next(c.id for c in calls if c.fallback_of == failed[0].id)]
    assert fallback.attributes["routegraph.fallback"] is True  # type: ignore[index]


def test_no_endpoint_no_tracer(monkeypatch: pytest.MonkeyPatch, sqlite_url: str) -> None:
    for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    assert build_telemetry(Settings(database_url=sqlite_url)).tracing is None


async def test_spans_reach_a_real_otlp_http_receiver(
    monkeypatch: pytest.MonkeyPatch, sqlite_url: str, simulator: SimulatorAdmin
) -> None:
    """The service as configured by the standard OTEL_* variables exports over OTLP/HTTP."""
    upgrade_database(sqlite_url)
    receiver = OtlpReceiver()
    with receiver as endpoint:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
        monkeypatch.setenv("OTEL_SERVICE_NAME", "routegraph-test")
        monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "50")
        settings = Settings(database_url=sqlite_url, simulator_url=simulator.base_url)
        with LiveServer(create_app(settings)) as root:
            client = openai.AsyncOpenAI(base_url=f"{root}/v1", api_key="unused", max_retries=0)
            async with client:
                stream = await client.chat.completions.create(
                    model="mid", messages=STORY, stream=True
                )
                _ = [chunk async for chunk in stream]
            deadline = time.monotonic() + 20
            while not receiver.spans:
                assert time.monotonic() < deadline, "no span reached the receiver"
                await asyncio.sleep(0.05)
            (row,) = await ChatService(f"{root}/v1", sqlite_url).rows()
    (span,) = receiver.spans
    attributes = span["attributes"]
    assert receiver.resources[0]["service.name"] == "routegraph-test"
    assert span["name"] == "chat mid-a" and span["parent_span_id"] == ""
    assert attributes["routegraph.call.id"] == row.id
    assert attributes["gen_ai.request.model"] == "mid"
    assert attributes["gen_ai.response.model"] == "mid-a"
    assert attributes["gen_ai.request.stream"] is True
    assert attributes["gen_ai.usage.output_tokens"] == row.completion_tokens
    assert attributes["gen_ai.response.finish_reasons"] == ["stop"]
    assert 0 < attributes["gen_ai.response.time_to_first_chunk"] <= row.latency_ms / 1000
