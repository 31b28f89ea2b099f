"""`/metrics` against the ledger: what Prometheus scrapes adds up to what the books say,
on SQLite and Postgres, with the openai SDK and REST runs on a live server."""

from __future__ import annotations

import asyncio
import time

import httpx
import openai
import pytest
from prometheus_client import generate_latest

from app.api.app import create_app
from app.db.engine import create_engine, create_session_factory
from app.db.migrate import upgrade_database
from app.gateway.types import CallContext, ModelRequest
from app.observability.metrics import Metrics
from app.observability.telemetry import Telemetry
from app.routing.agreement import compare_answers
from app.routing.policy import Cascade
from app.settings import Settings
from devtools.routing.datasets import Row
from tests.conftest import SimulatorAdmin
from tests.support.chat_rig import ChatService
from tests.support.learning import PEACHES, learning_gateway
from tests.support.live_server import LiveServer
from tests.support.prometheus import Scrape, scrape
from tests.support.tenants import make_key

QUESTION = [{"role": "user", "content": "Name three uses of a paperclip"}]
SCRAPE_TOKEN = "prometheus-scrape-token"
FAMILIAR = [{"role": "user", "content": PEACHES}]
STORY = [{"role": "user", "content": "Tell a short story about a lighthouse keeper and a cat"}]


async def test_model_call_metrics_add_up_to_the_ledger(
    database_url: str, simulator: SimulatorAdmin
) -> None:
    upgrade_database(database_url)
    token = await make_key(database_url, "acme", budget_usd=5.0, period="month")
    settings = Settings(
        database_url=database_url,
        simulator_url=simulator.base_url,
        key_cache_seconds=0,
        metrics_token=SCRAPE_TOKEN,
    )
    with LiveServer(create_app(settings)) as root:
        ledger = ChatService(f"{root}/v1", database_url)
        client = openai.AsyncOpenAI(base_url=f"{root}/v1", api_key=token, max_retries=0)
        async with client:
            await simulator.inject("edge-a", "server_error", times=1)
            await client.chat.completions.create(model="edge", messages=QUESTION)  # fallback
            await client.chat.completions.create(model="edge", messages=QUESTION)  # cache hit
            stream = await client.chat.completions.create(model="mid", messages=STORY, stream=True)
            _ = [chunk async for chunk in stream]
            # A familiar request: auto serves it with one call (unfamiliar prose would be
            # answered cheap and judged, two calls walked as a cascade).
            await client.chat.completions.create(model="auto", messages=FAMILIAR)
            with pytest.raises(openai.NotFoundError):
                await client.chat.completions.create(model="no-such-model", messages=QUESTION)
        rows = await ledger.rows()
        metrics = scrape(root, SCRAPE_TOKEN)

    paid = [row for row in rows if "cache hit" not in row.routing_reason]
    assert metrics.total("routegraph_model_calls_total") == len(paid) == 4
    assert metrics.total("routegraph_model_calls_total", model="edge-a", outcome="error") == 1
    assert metrics.total("routegraph_model_calls_total", model="edge-b", outcome="ok") == 1
    assert metrics.total("routegraph_model_fallbacks_total", model="edge-b", tier="edge") == 1
    assert metrics.total("routegraph_model_spend_usd_total") == pytest.approx(
        sum(row.cost_usd for row in rows)
    )
    for kind, column in (("input", "prompt_tokens"), ("output", "completion_tokens")):
        assert metrics.total("routegraph_model_tokens_total", type=kind) == sum(
            getattr(row, column) for row in paid
        )
    ok_calls = metrics.total("routegraph_model_call_duration_seconds_count", outcome="ok")
    assert ok_calls == 3
    assert metrics.total("routegraph_model_time_to_first_token_seconds_count", model="mid-a") == 1
    assert metrics.total("routegraph_model_calls_total", policy="auto") == 1
    assert metrics.total("routegraph_cache_lookups_total", result="hit") == 1
    assert metrics.total("routegraph_cache_lookups_total", result="miss") == 3

    chat = {"method": "POST", "route": "/v1/chat/completions"}
    assert metrics.total("routegraph_http_requests_total", status="200", **chat) == 4
    assert metrics.total("routegraph_http_request_errors_total", status="404", **chat) == 1
    spent = sum(row.cost_usd for row in rows)
    (budget,) = metrics.labelsets("routegraph_key_budget_remaining_usd")
    assert budget["tenant"] == "acme"
    assert metrics.total("routegraph_key_budget_remaining_usd") == pytest.approx(5.0 - spent)
    # Units in every name, Prometheus style.
    names = {name for name, _, _ in metrics.samples if name.startswith("routegraph_")}
    assert "routegraph_model_call_duration_seconds_bucket" in names


def test_run_metrics_count_runs_their_wait_and_the_worker_slots(
    database_url: str, simulator_url: str
) -> None:
    settings = Settings(database_url=database_url, simulator_url=simulator_url)
    with (
        LiveServer(create_app(settings, embedded_worker=True)) as root,
        httpx.Client(base_url=root, timeout=60) as client,
    ):
        body = {"graph": "plan_execute", "input": {"question": "What is 2 * 21?"}}
        ids = [client.post("/v1/runs", json=body).json()["id"] for _ in range(2)]
        deadline = time.monotonic() + 60
        while any(client.get(f"/v1/runs/{i}").json()["status"] != "succeeded" for i in ids):
            assert time.monotonic() < deadline, "runs did not finish"
            time.sleep(0.1)
        metrics = scrape(root)
        calls = [c for i in ids for c in client.get(f"/v1/runs/{i}/calls").json()]
    assert metrics.total("routegraph_runs_finished_total", status="succeeded") == 2
    assert metrics.total("routegraph_run_queue_wait_seconds_count") == 2
    assert 0 < metrics.total("routegraph_run_queue_wait_seconds_sum") < 60
    assert metrics.total("routegraph_run_queue_depth") == 0
    assert metrics.total("routegraph_runs", status="running") == 0
    assert metrics.total("routegraph_worker_slots") == settings.worker_concurrency
    assert metrics.total("routegraph_worker_slots_in_use") == 0
    assert metrics.total("routegraph_worker_leases_lost_total") == 0
    assert metrics.total("routegraph_model_calls_total") == len(calls)
    assert metrics.total("routegraph_model_spend_usd_total") == pytest.approx(
        sum(c["cost_usd"] for c in calls)
    )
    assert metrics.total("routegraph_http_requests_total", route="/v1/runs/{run_id}") >= 2


def test_metrics_switched_off_record_nothing_and_metrics_is_a_404(
    database_url: str, simulator_url: str
) -> None:
    settings = Settings(
        database_url=database_url, simulator_url=simulator_url, metrics_enabled=False
    )
    app = create_app(settings, embedded_worker=True)
    with LiveServer(app) as root, httpx.Client(base_url=root, timeout=60) as client:
        body = {"graph": "plan_execute", "input": {"question": "What is 2 * 21?"}}
        run = client.post("/v1/runs?wait=true&timeout=60", json=body).json()
        scraped = client.get("/metrics")
        telemetry = app.state.services.telemetry
    assert run["status"] == "succeeded"  # model calls, the worker and the API still work
    assert telemetry.metrics is None
    assert scraped.status_code == 404
    assert scraped.headers["content-type"].startswith("application/problem+json")


async def test_a_cascade_that_escalates_is_counted_with_its_tiers(
    database_url: str, recorded_simulator: str, gsm8k: list[Row]
) -> None:
    """The agreement verifier on real recorded answers: edge-a and mid-a disagree, so the
    cascade goes on to the frontier tier."""

    def asked(row: Row) -> ModelRequest:
        system = {"role": "system", "content": "Answer the user's question."}
        messages = [system, {"role": "user", "content": row.prompt}]
        return ModelRequest(messages=messages, max_tokens=600)

    def disagree(row: Row) -> bool:
        verdict = compare_answers(row.weak_response, row.strong_response, asked(row).messages)
        return verdict.comparable and not verdict.accepted

    request = asked(next(row for row in gsm8k if disagree(row)))
    await asyncio.to_thread(upgrade_database, database_url)
    engine = create_engine(database_url)
    telemetry = Telemetry(Metrics())
    try:
        gateway = learning_gateway(
            create_session_factory(engine), recorded_simulator, telemetry=telemetry
        )
        policy = Cascade(verifier="agreement", agree_with="mid-a")
        result = await gateway.complete(request, policy, CallContext(call_key="esc"))
    finally:
        await engine.dispose()
    assert result.tier == "frontier"
    scrape = Scrape(generate_latest(telemetry.metrics.registry).decode())
    (escalation,) = scrape.labelsets("routegraph_cascade_escalations_total")
    assert (escalation["from_tier"], escalation["to_tier"]) == ("edge", "frontier")
    assert scrape.total("routegraph_cascade_escalations_total") == 1
    assert scrape.total("routegraph_model_calls_total", policy="cascade") == 3
