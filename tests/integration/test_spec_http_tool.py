"""The spec HTTP tool against a real loopback server: allow-list, schemes, redirects,
size and time limits, and a spec that fetches then summarises."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, RedirectResponse, StreamingResponse

from nodes.tools.base import ToolError
from nodes.tools.egress import EgressPolicy
from nodes.tools.http import HttpConfig, HttpTool
from tests.conftest import SimulatorAdmin
from tests.support.live_server import LiveServer
from tests.support.spec_rig import SpecRig, spec_rig


def upstream_app() -> FastAPI:
    app = FastAPI()
    app.state.hits = 0

    @app.middleware("http")
    async def count(request: Request, call_next: Any) -> Any:
        app.state.hits += 1
        return await call_next(request)

    @app.get("/weather/{city}")
    async def weather(city: str) -> dict[str, Any]:
        return {"city": city, "temp_c": 21}

    @app.post("/echo")
    async def echo(request: Request) -> PlainTextResponse:
        return PlainTextResponse((await request.body()).decode())

    @app.get("/hop")
    async def hop() -> RedirectResponse:
        return RedirectResponse("/weather/paris", status_code=302)

    @app.get("/away")
    async def away(request: Request) -> RedirectResponse:
        port = request.url.port
        return RedirectResponse(f"http://localhost:{port}/weather/paris", status_code=302)

    @app.get("/inside")
    async def inside(to: str) -> RedirectResponse:
        return RedirectResponse(to, status_code=302)

    @app.get("/big")
    async def big() -> PlainTextResponse:
        return PlainTextResponse("x" * 5000)

    @app.get("/stream")
    async def stream() -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(50):
                yield b"y" * 100

        return StreamingResponse(chunks(), media_type="text/plain")

    @app.get("/drip")
    async def drip() -> StreamingResponse:
        async def slowly() -> AsyncIterator[bytes]:
            for _ in range(40):
                yield b"."
                await asyncio.sleep(0.25)

        return StreamingResponse(slowly(), media_type="text/plain")

    return app


@pytest.fixture(scope="module")
def upstream() -> Iterator[tuple[str, FastAPI]]:
    app = upstream_app()
    with LiveServer(app) as base_url:
        yield base_url, app


# The operator lets tools reach this test's loopback servers; a spec cannot.
LOOPBACK = EgressPolicy.from_lists([], ["127.0.0.0/8", "::1/128"])
TOOL = HttpTool(LOOPBACK)


def config(**overrides: Any) -> HttpConfig:
    return HttpConfig.model_validate({"allow_hosts": ["127.0.0.1"], **overrides})


async def test_an_allowed_host_answers_with_status_and_json(upstream: tuple[str, FastAPI]) -> None:
    base_url, _ = upstream
    result = await TOOL.run({"url": f"{base_url}/weather/oslo"}, config())
    assert result["status"] == 200 and result["body"] == {"city": "oslo", "temp_c": 21}
    echoed = await TOOL.run({"url": f"{base_url}/echo", "method": "post", "body": "ping"}, config())
    assert echoed["body"] == "ping"


async def test_a_host_off_the_allow_list_gets_no_request(upstream: tuple[str, FastAPI]) -> None:
    base_url, app = upstream
    before = app.state.hits
    with pytest.raises(ToolError, match="not in allow_hosts"):
        await TOOL.run({"url": f"{base_url}/weather/oslo"}, config(allow_hosts=["example.com"]))
    port = base_url.rsplit(":", 1)[1]
    with pytest.raises(ToolError, match="not in allow_hosts"):  # the allowed port only
        await TOOL.run(
            {"url": f"{base_url}/weather/oslo"}, config(allow_hosts=[f"127.0.0.1:{int(port) + 1}"])
        )
    assert app.state.hits == before


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://127.0.0.1/x", "gopher://127.0.0.1/"])
async def test_only_http_and_https_are_allowed(url: str) -> None:
    with pytest.raises(ToolError, match="scheme"):
        await TOOL.run({"url": url}, config())


async def test_redirects_go_only_to_allowed_hosts(upstream: tuple[str, FastAPI]) -> None:
    base_url, _ = upstream
    followed = await TOOL.run({"url": f"{base_url}/hop"}, config())
    assert followed["body"]["city"] == "paris" and followed["url"].endswith("/weather/paris")
    with pytest.raises(ToolError, match="'localhost' is not in allow_hosts"):
        await TOOL.run({"url": f"{base_url}/away"}, config())
    moved = await TOOL.run(
        {"url": f"{base_url}/away"}, config(allow_hosts=["127.0.0.1", "localhost"])
    )
    assert moved["url"].startswith("http://localhost:") and moved["body"]["city"] == "paris"
    with pytest.raises(ToolError, match="more than 0 redirects"):
        await TOOL.run({"url": f"{base_url}/hop"}, config(max_redirects=0))


async def test_responses_over_the_size_limit_are_refused(upstream: tuple[str, FastAPI]) -> None:
    base_url, _ = upstream
    with pytest.raises(ToolError, match="over the 1000-byte limit"):
        await TOOL.run({"url": f"{base_url}/big"}, config(max_bytes=1000))
    with pytest.raises(ToolError, match="over the 1000-byte limit"):  # no Content-Length
        await TOOL.run({"url": f"{base_url}/stream"}, config(max_bytes=1000))


async def test_a_slow_server_cannot_hold_the_tool(upstream: tuple[str, FastAPI]) -> None:
    base_url, _ = upstream
    started = time.monotonic()
    with pytest.raises(ToolError, match="no complete answer within 1s"):
        await TOOL.run({"url": f"{base_url}/drip"}, config(timeout_s=1))
    assert time.monotonic() - started < 3


@pytest.fixture
async def rig(database_url: str, simulator: SimulatorAdmin) -> AsyncIterator[SpecRig]:
    async with spec_rig(database_url, simulator.base_url, egress=LOOPBACK) as built:
        yield built


async def test_a_spec_fetches_from_an_allowed_host_then_summarises(
    rig: SpecRig, upstream: tuple[str, FastAPI]
) -> None:
    base_url, _ = upstream
    spec = {
        "name": "weather",
        "state": {
            "city": {"type": "string", "max_length": 40},
            "weather": {"type": "object"},
            "summary": {"type": "string"},
        },
        "input": ["city"],
        "entry": "fetch",
        "nodes": {
            "fetch": {
                "kind": "tool",
                "tool": "http",
                "args": {"url": base_url + "/weather/{{ city }}"},
                "config": {"allow_hosts": ["127.0.0.1"], "timeout_s": 5},
                "output": "weather",
            },
            "summarise": {
                "kind": "llm",
                "tier": "edge",
                "prompt": "Summarise: {{ weather.body | json }}",
                "output": "summary",
            },
        },
        "edges": [{"from": "fetch", "to": "summarise"}, {"from": "summarise", "to": "END"}],
    }
    run = await rig.run(rig.compile(spec), {"city": "lima"})
    assert run.output["weather"]["body"] == {"city": "lima", "temp_c": 21}
    assert '"temp_c": 21' in run.output["summary"]
    assert [(c.node, c.tier) for c in run.calls] == [("summarise", "edge")]
