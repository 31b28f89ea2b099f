"""Exploration in the running service is capped per tenant by a share of decisions and by
money (ROUTEGRAPH_ROUTING_EXPLORE_BUDGET_USD), and every routing reason on the ledger says
whether it explored and what the tenant's exploration has used."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest

from app.db.migrate import upgrade_database
from app.db.models import ModelCall
from tests.conftest import SimulatorAdmin
from tests.support.chat_rig import chat_service
from tests.support.learning import PEACHES
from tests.support.ledger_rig import ledger_call
from tests.support.tenants import bearer, make_key

BUDGET_USD = 0.015  # room for one exploration of the frontier default, not two
SPENT = re.compile(r"(\d+) of (\d+) decisions explored \([\d.]+%, cap 100%, \$([\d.]+) of \$0\.015")


@pytest.fixture
async def tenants(
    sqlite_url: str, simulator: SimulatorAdmin
) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    """A client per tenant (its own API key) of a service that may explore on every decision
    (`routing_explore_share` 1), so only the money cap bounds it."""
    upgrade_database(sqlite_url)
    tokens = {t: await make_key(sqlite_url, t) for t in ("acme", "globex")}
    with chat_service(
        sqlite_url,
        simulator.base_url,
        routing_explore_share=1.0,
        routing_explore_budget_usd=BUDGET_USD,
    ) as service:
        async with (
            httpx.AsyncClient(base_url=service.base_url, headers=bearer(tokens["acme"])) as acme,
            httpx.AsyncClient(
                base_url=service.base_url, headers=bearer(tokens["globex"])
            ) as globex,
        ):
            yield {"acme": acme, "globex": globex}


async def ask(api: httpx.AsyncClient, database_url: str) -> ModelCall:
    body = {"model": "auto", "messages": [{"role": "user", "content": PEACHES}]}
    headers = {"x-routegraph-cache": "off"}  # routed and answered, not a cache hit
    answer = await api.post("/chat/completions", json=body, headers=headers, timeout=30)
    assert answer.status_code == 200, answer.text
    return await ledger_call(database_url, answer.headers["x-routegraph-call-id"])


async def test_exploration_spends_at_most_the_tenants_money_cap_and_the_ledger_shows_it(
    tenants: dict[str, httpx.AsyncClient], sqlite_url: str
) -> None:
    first = await ask(tenants["acme"], sqlite_url)
    # The frontier default is unmeasured in the class: measured first, at its extra cost.
    assert first.model == "frontier-a" and first.routing["explored"] is True
    assert "exploring frontier-a instead of edge-a" in first.routing_reason
    explored, made, spent = SPENT.search(first.routing_reason).groups()  # type: ignore[union-attr]
    assert (explored, made) == ("1", "1") and 0.005 < float(spent) <= BUDGET_USD
    for n in range(2, 6):
        later = await ask(tenants["acme"], sqlite_url)
        # A second frontier exploration would pass the cap: never taken.
        assert later.model != "frontier-a", later.routing_reason
        match = SPENT.search(later.routing_reason)
        assert match is not None and match.group(2) == str(n), later.routing_reason
        assert float(match.group(3)) <= BUDGET_USD
    # Another tenant's exploration has its own cap.
    other = await ask(tenants["globex"], sqlite_url)
    assert other.model == "frontier-a" and other.routing["explored"] is True, other.routing_reason
    assert SPENT.search(other.routing_reason).groups()[:2] == ("1", "1")  # type: ignore[union-attr]
