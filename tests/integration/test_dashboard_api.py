"""The dashboard's JSON routes: the learned routing table as the CLI prints it, keys and
tenants, and ranges: a time that is not RFC 3339 is a 422; any range of them is answered,
as the whole hours it covers."""

from __future__ import annotations

import httpx

from app.api.app import create_app
from app.db.migrate import upgrade_database
from app.inspect_routing import learned_rows
from app.schemas.feedback import FeedbackIn
from app.schemas.runs import SubmitRun
from app.services import feedback as feedback_service
from app.services import runs as run_service
from app.services.container import build_services
from app.settings import Settings
from app.worker.loop import Worker
from tests.conftest import SimulatorAdmin
from tests.support.learning import PEACHES
from tests.support.live_server import LiveServer
from tests.support.tenants import bearer, make_key


async def test_routing_stats_route_answers_the_rows_routing_stats_prints(
    database_url: str, simulator: SimulatorAdmin
) -> None:
    settings = Settings(database_url=database_url, simulator_url=simulator.base_url)
    upgrade_database(database_url)
    acme = await make_key(database_url, "acme")
    globex = await make_key(database_url, "globex")
    async with build_services(settings) as services:
        question = SubmitRun(graph="answer", input={"question": PEACHES, "policy": "auto"})
        run, _ = await run_service.submit_run(services, question, tenant_id="acme")
        assert await Worker(services).run_once() == "succeeded"
        await feedback_service.rate_run(services, run.id, "acme", FeedbackIn(score=0.0))
    rows = await learned_rows(settings)  # what `routegraph routing stats --json` prints
    assert rows and all(row["scope"] == "*" for row in rows)
    with LiveServer(create_app(settings)) as base:
        async with httpx.AsyncClient(base_url=base) as client:
            assert (await client.get("/v1/routing/stats")).status_code == 401
            for key in (acme, globex):  # one table shared by every tenant by default
                answer = await client.get("/v1/routing/stats", headers=bearer(key))
                assert answer.status_code == 200
                assert answer.json() == {"cells": rows}


async def test_dashboard_ranges_are_whole_hours_and_need_a_key(sqlite_url: str) -> None:
    settings = Settings(database_url=sqlite_url)
    upgrade_database(sqlite_url)
    key = await make_key(sqlite_url, "acme")
    with LiveServer(create_app(settings)) as base:
        async with httpx.AsyncClient(base_url=base, headers=bearer(key)) as client:
            for query in (
                {"since": "yesterday"},
                {"until": "0.5"},
                {"since": "2026-13-01T00:00:00Z"},
            ):
                for path in ("overview", "models", "task-classes"):
                    answer = await client.get(f"/v1/dashboard/{path}", params=query)
                    assert answer.status_code == 422, (path, query, answer.text)
                    assert answer.headers["content-type"] == "application/problem+json"
            assert (await client.get("/v1/runs", params={"since": "soon"})).status_code == 422
            assert (await client.get("/v1/runs", params={"until": "0.5"})).status_code == 422
            for query, expected in (
                (
                    {"since": "2026-12-01T10:10:00Z", "until": "2026-12-01T10:20:00Z"},
                    ("2026-12-01T10:00:00+00:00", "2026-12-01T11:00:00+00:00"),
                ),
                (  # reversed: empty
                    {"since": "2026-12-02T00:00:00Z", "until": "2026-12-01T00:00:00Z"},
                    ("2026-12-01T00:00:00+00:00", "2026-12-01T00:00:00+00:00"),
                ),
                (  # over 400 days: the last 400
                    {"since": "2020-01-01T00:00:00Z", "until": "2026-01-01T00:00:00+02:00"},
                    ("2024-11-26T22:00:00+00:00", "2025-12-31T22:00:00+00:00"),
                ),
                (
                    {"since": "0001-01-01T00:00:00+05:00", "until": "0001-01-02T00:00:00Z"},
                    ("0001-01-01T00:00:00+00:00", "0001-01-02T00:00:00+00:00"),
                ),
                (
                    {"until": "9999-12-31T23:59:59-05:00"},
                    ("9999-12-30T23:00:00+00:00", "9999-12-31T23:00:00+00:00"),
                ),
            ):
                answer = await client.get("/v1/dashboard/overview", params=query)
                assert answer.status_code == 200, (query, answer.text)
                shown = answer.json()["range"]
                assert (shown["since"], shown["until"]) == expected, query
                assert answer.json()["requests"] == 0
            assert (await client.get("/v1/dashboard/budgets")).json()["keys"][0]["spent_usd"] == 0
            page = await client.get("/dashboard/")
            assert page.status_code == 200 and "routegraph dashboard" in page.text
        async with httpx.AsyncClient(base_url=base) as anonymous:
            assert (await anonymous.get("/v1/dashboard/overview")).status_code == 401
            assert (await anonymous.get("/dashboard/app.js")).status_code == 200
