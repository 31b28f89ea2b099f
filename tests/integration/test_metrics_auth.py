"""Who may scrape `/metrics`: it names API keys, their tenants and budgets, so only a
scraper with ROUTEGRAPH_METRICS_TOKEN, or anyone while auth is off (loopback, no key)."""

from __future__ import annotations

import asyncio

import httpx

from app.api.app import create_app
from app.db.migrate import upgrade_database
from app.settings import Settings
from tests.support.live_server import LiveServer
from tests.support.prometheus import scrape
from tests.support.tenants import make_key

TOKEN = "s3cret-scrape-token"


def refused(response: httpx.Response) -> bool:
    return (
        response.status_code == 401
        and response.headers["content-type"] == "application/problem+json"
        and response.headers["www-authenticate"] == "Bearer"
        and response.json()["status"] == 401
        and "routegraph_" not in response.text
    )


def test_with_a_token_set_only_a_scrape_that_sends_it_is_answered(sqlite_url: str) -> None:
    upgrade_database(sqlite_url)
    api_key = asyncio.run(make_key(sqlite_url, "acme", budget_usd=5.0, period="month"))
    settings = Settings(database_url=sqlite_url, metrics_token=TOKEN)
    with LiveServer(create_app(settings)) as root, httpx.Client(base_url=root) as client:
        assert refused(client.get("/metrics"))
        assert refused(client.get("/metrics", headers={"Authorization": "Bearer wrong"}))
        assert refused(client.get("/metrics", headers={"Authorization": f"Basic {TOKEN}"}))
        assert refused(client.get("/metrics", headers={"Authorization": "Bearer"}))
        # A tenant's API key does not open the page that lists every tenant's keys.
        assert refused(client.get("/metrics", headers={"Authorization": f"Bearer {api_key}"}))
        assert refused(client.get("/metrics", headers={"x-api-key": api_key}))
        metrics = scrape(root, TOKEN)
    (budget,) = metrics.labelsets("routegraph_key_budget_usd")
    assert budget["tenant"] == "acme"


def test_with_a_token_set_it_is_needed_even_while_auth_is_off(sqlite_url: str) -> None:
    settings = Settings(database_url=sqlite_url, metrics_token=TOKEN)
    with LiveServer(create_app(settings)) as root:
        assert refused(httpx.get(f"{root}/metrics"))
        assert scrape(root, TOKEN).total("routegraph_run_queue_depth") == 0


def test_without_a_token_the_page_closes_once_api_keys_exist(sqlite_url: str) -> None:
    upgrade_database(sqlite_url)
    api_key = asyncio.run(make_key(sqlite_url, "acme", budget_usd=5.0))
    settings = Settings(database_url=sqlite_url)
    with LiveServer(create_app(settings)) as root, httpx.Client(base_url=root) as client:
        response = client.get("/metrics")
        assert refused(response)
        assert "ROUTEGRAPH_METRICS_TOKEN" in response.json()["detail"]
        assert refused(client.get("/metrics", headers={"Authorization": f"Bearer {api_key}"}))


def test_without_a_token_local_dev_with_auth_off_scrapes_freely(sqlite_url: str) -> None:
    """Bound to loopback with no API key: every request is tenant `default` anyway."""
    with LiveServer(create_app(Settings(database_url=sqlite_url))) as root:
        assert scrape(root).total("routegraph_run_queue_depth") == 0
