"""API keys on the OpenAI-compatible endpoint: auth, tenants, budgets, rate limits, the
CLI, and de-duplication of identical concurrent requests."""

from __future__ import annotations

import asyncio
import re
import subprocess
from collections.abc import Iterator

import httpx
import openai
import pytest
from fastapi import Depends, FastAPI

from app.api.auth import Principal, get_principal
from app.api.problems import install_problem_handlers
from app.db.engine import create_engine, create_session_factory
from app.db.migrate import upgrade_database
from app.services import api_keys as keys_service
from app.services.auth import Authenticator
from devtools.simulator.config import SimulatorConfig
from devtools.simulator.server import SimulatorServer
from tests.conftest import SimulatorAdmin
from tests.support.chat_rig import ChatService, chat_service
from tests.support.live_server import LiveServer
from tests.support.processes import client_cli, run_cli
from tests.support.tenants import bearer, make_key

QUESTION = [{"role": "user", "content": "Which is heavier, a kilo of feathers or of lead?"}]


@pytest.fixture
def service(database_url: str, simulator: SimulatorAdmin) -> Iterator[ChatService]:
    with chat_service(database_url, simulator.base_url) as running:
        yield running


def client(service: ChatService, token: str | None) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        base_url=service.base_url,
        api_key=token or "no-key",
        max_retries=2,  # budget refusals must not be retried (x-should-retry: false)
        _strict_response_validation=True,
    )


async def test_with_a_key_in_the_database_every_request_needs_a_valid_one(
    service: ChatService, caplog: pytest.LogCaptureFixture
) -> None:
    token = await make_key(service.database_url, "acme")
    await asyncio.sleep(2.1)  # a running service notices the first key within 2 s
    async with client(service, None) as anonymous:
        with pytest.raises(openai.AuthenticationError) as refused:
            await anonymous.models.list()
    assert refused.value.code == "invalid_api_key"
    async with httpx.AsyncClient(base_url=service.base_url) as raw:
        missing = await raw.post("/chat/completions", json={"model": "edge", "messages": QUESTION})
    assert missing.status_code == 401 and missing.json()["error"]["code"] == "invalid_api_key"
    async with client(service, token) as acme:
        answer = await acme.chat.completions.create(model="edge", messages=QUESTION)
    assert answer.choices[0].message.content
    [row] = await service.rows()
    assert row.tenant_id == "acme" and row.api_key_id is not None
    # The key itself is never written anywhere: not the ledger, not the logs.
    assert token not in repr([row.request, row.response, row.error, row.routing_reason])
    assert token not in caplog.text


async def test_tenants_never_share_cache_entries_and_ledger_rows_carry_their_key(
    service: ChatService, simulator: SimulatorAdmin
) -> None:
    acme_token = await make_key(service.database_url, "acme")
    globex_token = await make_key(service.database_url, "globex")
    await asyncio.sleep(2.1)
    async with client(service, acme_token) as a, client(service, globex_token) as g:
        first = await a.chat.completions.with_raw_response.create(model="edge", messages=QUESTION)
        other = await g.chat.completions.with_raw_response.create(model="edge", messages=QUESTION)
        again = await a.chat.completions.with_raw_response.create(model="edge", messages=QUESTION)
    assert first.headers["x-routegraph-cache"] == "miss"
    assert other.headers["x-routegraph-cache"] == "miss"  # globex never reads acme's answer
    assert again.headers["x-routegraph-cache"] == "hit"
    assert len(await simulator.requests("edge-a")) == 2
    rows = await service.rows()
    assert [(row.tenant_id, row.status) for row in rows] == [
        ("acme", "ok"),
        ("globex", "ok"),
        ("acme", "cache_hit"),
    ]
    assert rows[0].api_key_id == rows[2].api_key_id != rows[1].api_key_id


async def test_a_key_at_its_budget_gets_429_and_no_provider_request(
    service: ChatService, simulator: SimulatorAdmin
) -> None:
    spent = await make_key(service.database_url, "spent", budget_usd=0.0, period="day")
    # An edge call is estimated at ~$0.0004 (prompt + 256 output tokens at edge prices), a
    # frontier call at ~$0.008: the first fits this budget, the second does not.
    frugal = await make_key(service.database_url, "frugal", budget_usd=0.001, period="month")
    await asyncio.sleep(2.1)
    refusals = []
    async with client(service, spent) as at_limit, client(service, frugal) as sdk:
        with pytest.raises(openai.RateLimitError) as refused:
            await at_limit.chat.completions.create(model="edge", messages=QUESTION)
        refusals.append(refused.value)
        await sdk.chat.completions.create(model="edge", messages=QUESTION)
        with pytest.raises(openai.RateLimitError) as refused:
            await sdk.chat.completions.create(model="frontier", messages=QUESTION)
        refusals.append(refused.value)
    for error in refusals:
        assert error.code == "budget_exceeded" and "budget exceeded" in error.message
        assert isinstance(error.body, dict) and error.body["type"] == "insufficient_quota"
    assert [r["model"] for r in await simulator.requests()] == ["edge-a"]  # no retries either
    [row] = await service.rows()  # the refused calls left no ledger row
    assert row.tenant_id == "frugal" and row.status == "ok"
    engine = create_engine(service.database_url)
    try:
        [listing] = await keys_service.list_keys(create_session_factory(engine), "frugal")
    finally:
        await engine.dispose()
    assert listing.spent_usd == pytest.approx(row.cost_usd)  # the estimate was settled


async def test_rate_limit_per_key_is_429_with_retry_after_and_openai_headers(
    service: ChatService,
) -> None:
    token = await make_key(service.database_url, "busy", rpm_limit=2)
    await asyncio.sleep(2.1)
    async with httpx.AsyncClient(base_url=service.base_url, headers=bearer(token)) as raw:
        body = {"model": "edge", "messages": QUESTION}
        answered = [await raw.post("/chat/completions", json=body) for _ in range(2)]
        limited = await raw.post("/chat/completions", json=body)
    assert [response.status_code for response in answered] == [200, 200]
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
    assert limited.json()["error"]["code"] == "rate_limit_exceeded"
    # As OpenAI sends them: the limit, what is left after this request, when it is full.
    remaining = [r.headers["x-ratelimit-remaining-requests"] for r in [*answered, limited]]
    assert remaining == ["1", "0", "0"]
    for response in [*answered, limited]:
        assert response.headers["x-ratelimit-limit-requests"] == "2"
        assert re.fullmatch(
            r"(\d+ms|\d+s|\d+m\d+s)", response.headers["x-ratelimit-reset-requests"]
        )
        assert response.headers["x-request-id"].startswith("req_")


async def test_ten_identical_concurrent_requests_make_one_provider_request(
    database_url: str,
) -> None:
    # Real latency, so the ten requests overlap the first one's provider call.
    with SimulatorServer(SimulatorConfig(latency_scale=1.0)) as simulator_url:
        admin = SimulatorAdmin(simulator_url)
        with chat_service(database_url, simulator_url) as service:
            async with client(service, None) as sdk:
                calls = [
                    sdk.chat.completions.with_raw_response.create(model="edge", messages=QUESTION)
                    for _ in range(10)
                ]
                answers = await asyncio.gather(*calls)
                streams = await asyncio.gather(*(read_stream(sdk) for _ in range(4)))
            rows = await service.rows()
        received = await admin.requests()
        await admin.close()
    # Streams follow the one call in flight from its first chunk.
    assert len(set(streams)) == 1 and streams[0].startswith("[edge-a]")
    assert [entry["stream"] for entry in received] == [False, True]
    received = received[:1]
    rows = [row for row in rows if row.request["messages"] == QUESTION]
    assert len(received) == 1
    contents = {answer.parse().choices[0].message.content for answer in answers}
    assert len(contents) == 1
    labels = sorted(answer.headers["x-routegraph-cache"] for answer in answers)
    assert labels.count("miss") == 1 and set(labels) <= {"miss", "shared", "hit"}
    assert "shared" in labels
    assert sorted(row.status for row in rows) == ["cache_hit"] * 9 + ["ok"]
    [paid] = [row for row in rows if row.status == "ok"]
    assert sum(row.cost_usd for row in rows) == pytest.approx(paid.cost_usd) and paid.cost_usd > 0


async def read_stream(sdk: openai.AsyncOpenAI) -> str:
    story = [{"role": "user", "content": "Tell a long story about feathers and lead"}]
    stream = await sdk.chat.completions.create(model="edge", messages=story, stream=True)
    return "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])


async def test_get_principal_answers_problem_json_on_rest_routes(database_url: str) -> None:
    """The dependency the REST routes use: 401 problem+json, the key's tenant otherwise."""
    await asyncio.to_thread(upgrade_database, database_url)
    token = await make_key(database_url, "acme")
    engine = create_engine(database_url)
    app = FastAPI()
    install_problem_handlers(app)
    auth = Authenticator(create_session_factory(engine), host="127.0.0.1", cache_seconds=0)
    await auth.start()
    app.state.services = type("Services", (), {"auth": auth})()

    @app.get("/v1/whoami")
    async def whoami(principal: Principal = Depends(get_principal)) -> dict[str, str | None]:
        return {"tenant": principal.tenant_id, "key": principal.key_id}

    try:
        with LiveServer(app) as base_url:
            async with httpx.AsyncClient(base_url=base_url) as raw:
                missing = await raw.get("/v1/whoami")
                wrong = await raw.get("/v1/whoami", headers=bearer("rg-not-a-key"))
                right = await raw.get("/v1/whoami", headers=bearer(token))
    finally:
        await engine.dispose()
    for refused in (missing, wrong):
        assert refused.status_code == 401
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.json()["title"] == "Unauthorized"
    assert right.json()["tenant"] == "acme" and right.json()["key"]


@pytest.mark.slow
async def test_keys_cli_creates_lists_and_revokes(service: ChatService) -> None:
    """`keys create` is an admin command on the database; `keys list|revoke` ask the
    service with a key of the tenant."""

    def admin(*args: str) -> subprocess.CompletedProcess[str]:
        return run_cli(service.database_url, "keys", "create", "--tenant", "acme", *args)

    created = await asyncio.to_thread(
        admin, "--budget-usd", "2", "--period", "day", "--manage-rules"
    )
    assert created.returncode == 0, created.stderr
    assert "manages provider rules" in created.stdout
    token = created.stdout.strip().splitlines()[-1]
    key_id = created.stdout.split()[1]
    assert token.startswith("rg-") and len(token) > 40
    owner = (await asyncio.to_thread(admin)).stdout.strip().splitlines()[-1]
    await asyncio.sleep(2.1)
    async with client(service, token) as sdk:
        await sdk.chat.completions.create(model="edge", messages=QUESTION)
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {token}"}) as rest:
        rules = await rest.put(f"{service.base_url}/rules", json={"allowed_regions": ["eu"]})
    assert rules.status_code == 200, rules.text  # --manage-rules: this key may set them
    root = service.base_url.removesuffix("/v1")

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return client_cli(root, "keys", *args, key=owner)

    listed = await asyncio.to_thread(cli, "list")
    assert key_id in listed.stdout and "$2/day" in listed.stdout and "active" in listed.stdout
    assert token not in listed.stdout and token[10:] not in listed.stdout
    revoked = await asyncio.to_thread(cli, "revoke", key_id)
    assert revoked.returncode == 0 and "revoked" in revoked.stdout
    async with client(service, token) as sdk:
        with pytest.raises(openai.AuthenticationError):
            await sdk.models.list()
    missing = await asyncio.to_thread(cli, "revoke", "nope")
    assert missing.returncode == 1 and "404" in missing.stderr
