"""The dashboard in headless Chromium against the service (as `routegraph serve` runs it,
API and worker, on a loopback port) with real runs on the simulator.

Two tenants' keys, runs of `plan_execute` (one with a fallback the simulator provokes),
chat completions (one streamed, one a cache hit). The page must load every view with no
console error, show the figures the ledger holds, filter runs, open a run's timeline, and
replay it from the page at $0. Set ROUTEGRAPH_TEST_SCREENSHOTS=DIR to keep screenshots.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page, async_playwright
from sqlalchemy import func, select

from app.api.app import create_app
from app.db.engine import create_engine, create_session_factory
from app.db.migrate import upgrade_database
from app.db.models import ApiKeySpend, ModelCall, Run
from app.settings import Settings
from tests.conftest import SimulatorAdmin
from tests.support.live_server import LiveServer
from tests.support.tenants import bearer, make_key

CHROMIUM = "/usr/bin/chromium"
QUESTIONS = ["What is 4 * 340 + 5 * 120?", "What is 12 * 12 - 7?"]
VIEWS = ["overview", "models", "classes", "budgets", "runs", "routing"]


def usd(value: float) -> str:
    """As the page writes dollars (dom.js `usd`)."""
    return f"${value:.6f}" if value != 0 and abs(value) < 0.01 else f"${value:.4f}"


async def _ledger(database_url: str, tenant: str) -> dict[str, Any]:
    engine = create_engine(database_url)
    try:
        async with create_session_factory(engine)() as session:
            calls = list(
                (
                    await session.execute(
                        select(ModelCall).where(
                            ModelCall.tenant_id == tenant,
                            ModelCall.status.not_in(("in_flight", "replayed")),
                        )
                    )
                ).scalars()
            )
            runs = (
                await session.execute(select(func.count()).where(Run.tenant_id == tenant))
            ).scalar_one()
            key_spend = (await session.execute(select(func.sum(ApiKeySpend.spent_usd)))).scalar()
    finally:
        await engine.dispose()
    return {"calls": calls, "runs": runs, "key_spend": key_spend or 0.0}


async def _make_traffic(base: str, acme: str, globex: str, simulator: SimulatorAdmin) -> str:
    """Runs and chat calls of acme, one run of globex; returns globex's run id."""
    async with (
        httpx.AsyncClient(base_url=base, headers=bearer(acme), timeout=90) as a,
        httpx.AsyncClient(base_url=base, headers=bearer(globex), timeout=90) as g,
    ):
        await simulator.inject("frontier-a", "server_error", 1)
        for question in QUESTIONS:
            body = {"graph": "plan_execute", "input": {"question": question}}
            run = (await a.post("/v1/runs", params={"wait": "true"}, json=body)).json()
            assert run["status"] == "succeeded", run
        chat = {"model": "edge", "messages": [{"role": "user", "content": "Say hello."}]}
        for _ in range(2):  # the second is a cache hit
            assert (await a.post("/v1/chat/completions", json=chat)).status_code == 200
        stream = {**chat, "stream": True, "messages": [{"role": "user", "content": "Count."}]}
        assert (await a.post("/v1/chat/completions", json=stream)).status_code == 200
        body = {"graph": "plan_execute", "input": {"question": QUESTIONS[0]}}
        other = (await g.post("/v1/runs", params={"wait": "true"}, json=body)).json()
        assert other["status"] == "succeeded", other
        return str(other["id"])


@pytest.fixture
def chromium() -> str:
    if not os.path.exists(CHROMIUM):
        pytest.fail("the dashboard's tests need Debian's chromium: apt-get install -y chromium")
    return CHROMIUM


@pytest.fixture
async def browser(chromium: str) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=chromium)
        try:
            yield launched
        finally:
            await launched.close()


async def _open(page: Page, base: str, view: str) -> None:
    """A fresh load of the view (a hash change alone would leave the last view's marker)."""
    await page.goto("about:blank")
    await page.goto(f"{base}/dashboard/#/{view}")
    name = view.split("/")[0]
    await page.wait_for_selector(f"#view[data-loaded='{name}']", timeout=15_000)


async def _shoot(page: Page, name: str) -> None:
    where = os.environ.get("ROUTEGRAPH_TEST_SCREENSHOTS")
    if where:
        await page.screenshot(path=os.path.join(where, f"{name}.png"))


async def test_dashboard_pages_show_the_ledger_filter_runs_and_replay_a_run_at_no_cost(
    database_url: str, simulator: SimulatorAdmin, browser: Browser
) -> None:
    upgrade_database(database_url)
    acme = await make_key(database_url, "acme", budget_usd=2.0, period="day")
    globex = await make_key(database_url, "globex")
    settings = Settings(database_url=database_url, simulator_url=simulator.base_url)
    with LiveServer(create_app(settings, embedded_worker=True), settings=settings) as base:
        globex_run = await _make_traffic(base, acme, globex, simulator)
        ledger = await _ledger(database_url, "acme")
        await _without_a_key_the_page_asks_for_one(browser, base, acme)

        context = await browser.new_context(viewport={"width": 1200, "height": 900})
        keep_key = f"localStorage.setItem('routegraph.apiKey', '{acme}')"
        await context.add_init_script(f"if (location.protocol === 'http:') {keep_key}")
        page = await context.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))

        for view in VIEWS:
            await _open(page, base, view)
            await _shoot(page, view)
        await _overview_matches(page, base, ledger)
        await _models_match(page, base, ledger)
        await _budget_matches(page, base, ledger)
        await _runs_filter(page, base, globex_run)
        await _run_page_replays(page, base, acme)
        assert errors == []


async def _without_a_key_the_page_asks_for_one(browser: Browser, base: str, key: str) -> None:
    page = await browser.new_page()
    await page.goto(f"{base}/dashboard/#/overview")
    await page.wait_for_selector("#view[data-loaded='error']")
    assert "needs an API key" in await page.inner_text("#status")
    await page.fill("#api-key", key)
    await page.click("#key-form button")
    await page.wait_for_selector("#view[data-loaded='overview']")
    await page.close()


async def _figure(page: Page, name: str) -> str:
    return await page.inner_text(f"[data-figure='{name}']")


async def _overview_matches(page: Page, base: str, ledger: dict[str, Any]) -> None:
    calls: list[ModelCall] = ledger["calls"]
    await _open(page, base, "overview")
    assert await _figure(page, "runs") == str(ledger["runs"]) == "2"
    assert await _figure(page, "requests") == str(sum(1 for c in calls if c.fallback_of is None))
    assert await _figure(page, "spend_usd") == usd(sum(c.cost_usd for c in calls))
    successes = sum(1 for c in calls if c.status in ("ok", "cache_hit"))
    assert await _figure(page, "successful_requests") == str(successes)
    hits = sum(1 for c in calls if c.status == "cache_hit")
    assert hits == 1
    requests = sum(1 for c in calls if c.fallback_of is None)
    assert await _figure(page, "cache_hit_rate") == f"{hits / requests * 100:.1f}%"
    assert await _figure(page, "cache_saved_usd") == usd(sum(c.saved_usd or 0 for c in calls))
    attempts = [c for c in calls if c.status != "cache_hit"]
    failed = sum(1 for c in attempts if c.status != "ok")
    assert failed == 1  # the provoked server error
    assert await _figure(page, "error_rate") == f"{failed / len(attempts) * 100:.1f}%"
    assert await page.locator("figure[data-chart='spend'] circle").count() >= 1


async def _models_match(page: Page, base: str, ledger: dict[str, Any]) -> None:
    calls: list[ModelCall] = ledger["calls"]
    await _open(page, base, "models")
    for model in {c.model for c in calls}:
        row = page.locator("table").first.locator(f"tr[data-row='{model}']")
        count = sum(1 for c in calls if c.model == model)
        assert await row.locator("td[data-col='calls']").inner_text() == str(count)
        spend = sum(c.cost_usd for c in calls if c.model == model)
        assert await row.locator("td[data-col='spend_usd']").inner_text() == usd(spend)
    errors = page.locator("tr[data-row='frontier-a'] td[data-col='errors_error']").first
    assert await errors.inner_text() == "1"
    streamed = [c for c in calls if c.ttft_ms is not None]
    assert len(streamed) == 1
    ttft = page.locator(f"tr[data-row='{streamed[0].model}'] td[data-col='ttft_p50_ms']").first
    assert (await ttft.inner_text()).endswith(" ms")


async def _budget_matches(page: Page, base: str, ledger: dict[str, Any]) -> None:
    await _open(page, base, "budgets")
    cells = page.locator("table tbody tr td[data-col='spent_usd']")
    assert await cells.count() == 1  # acme's one key; globex's is not shown
    assert await cells.first.inner_text() == usd(ledger["key_spend"])
    assert await page.locator("table tbody td[data-col='budget_usd']").inner_text() == "$2.0000"


async def _run_rows(page: Page) -> list[str]:
    return [
        (await cell.inner_text()).strip()
        for cell in await page.locator("td[data-col='status']").all()
    ]


async def _runs_filter(page: Page, base: str, foreign_run: str) -> None:
    await _open(page, base, "runs")
    assert await _run_rows(page) == ["succeeded", "succeeded"]
    assert await page.locator(f"tr[data-row='{foreign_run}']").count() == 0
    await page.select_option("#filter-status", "failed")
    await page.click("#run-filters button")
    await page.wait_for_selector("#no-runs")
    await page.select_option("#filter-status", "succeeded")
    await page.fill("#filter-graph", "plan_execute")
    await page.click("#run-filters button")
    await page.wait_for_selector("td[data-col='status']")
    assert await _run_rows(page) == ["succeeded", "succeeded"]
    await page.fill("#filter-since", "2099-01-01T00:00")
    await page.click("#run-filters button")
    await page.wait_for_selector("#no-runs")


async def _run_page_replays(page: Page, base: str, key: str) -> None:
    await _open(page, base, "runs")
    first = page.locator("td[data-col='id'] a").first
    source = (await first.get_attribute("href") or "").removeprefix("#/run/")
    await first.click()
    await page.wait_for_selector("#view[data-loaded='run']")
    async with httpx.AsyncClient(base_url=base, headers=bearer(key), timeout=30) as client:
        timeline = (await client.get(f"/v1/runs/{source}/timeline")).json()
        assert await page.locator("#timeline .step").count() == len(timeline["steps"])
        models = {
            a["model"]
            for s in timeline["steps"]
            for t in s["tasks"]
            for c in t["calls"]
            for a in c["attempts"]
        }
        for model in models:
            assert await page.locator(f"#timeline td[data-col='model']:text-is('{model}')").count()
        await _shoot(page, "run")
        await page.click("#replay")
        link = await page.wait_for_selector("#replay-link")
        replay_id = await link.inner_text()
        for _ in range(300):
            replay = (await client.get(f"/v1/runs/{replay_id}")).json()
            if replay["status"] not in ("queued", "running"):
                break
            await asyncio.sleep(0.1)
        assert replay["status"] == "succeeded" and replay["replay_of"] == source, replay
        assert replay["cost_usd"] == 0.0
        rows = (await client.get(f"/v1/runs/{replay_id}/calls")).json()
        assert rows and all(r["status"] == "replayed" and r["cost_usd"] == 0 for r in rows)
    await link.click()
    await page.wait_for_selector(f"h2:text-is('Run {replay_id}')")
    assert await _figure(page, "cost_usd") == "$0.0000"
    assert "reproduced" in await page.inner_text("#view")
    await _fork_from_the_page(page, base, key, source)


async def _fork_from_the_page(page: Page, base: str, key: str, source: str) -> None:
    """Fork after the execute step with the synthesis moved to the frontier tier: a live run."""
    await _open(page, base, f"run/{source}")
    await page.select_option("#fork-step", "2")
    await page.fill("#fork-node", "synthesize")
    await page.select_option("#fork-tier", "frontier")
    await page.click("#fork")
    fork_id = await (await page.wait_for_selector("#fork-link")).inner_text()
    async with httpx.AsyncClient(base_url=base, headers=bearer(key), timeout=30) as client:
        for _ in range(300):
            fork = (await client.get(f"/v1/runs/{fork_id}")).json()
            if fork["status"] not in ("queued", "running"):
                break
            await asyncio.sleep(0.1)
        assert fork["status"] == "succeeded" and fork["parent_run_id"] == source, fork
        calls = (await client.get(f"/v1/runs/{fork_id}/calls")).json()
    assert [(c["node"], c["tier"]) for c in calls] == [("synthesize", "frontier")]
    assert fork["cost_usd"] > 0
