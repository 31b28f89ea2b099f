"""The simulator over real HTTP on loopback, driven by the real `openai` SDK: injected
faults, scripted verdicts, its request log and its config file."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from app.routing.catalog import load_catalog
from devtools.simulator.config import FaultRule, SimulatorConfig
from devtools.simulator.server import SimulatorServer
from nodes.calculator import CALCULATOR_TOOL
from nodes.planner import Plan
from tests.integration.simulator.helpers import (
    EXECUTOR,
    HANG_SECONDS,
    USER,
    inject,
    raw_stream_lines,
)


async def test_rate_limit_and_server_error(
    client: openai.AsyncOpenAI, admin: httpx.AsyncClient
) -> None:
    await inject(admin, "mid-a", "rate_limit")
    await inject(admin, "mid-b", "server_error")
    with pytest.raises(openai.RateLimitError) as limited:
        await client.chat.completions.create(model="mid-a", messages=USER)
    assert limited.value.response.headers["retry-after"] == "1"
    assert limited.value.code == "rate_limit_exceeded"
    with pytest.raises(openai.InternalServerError):
        await client.chat.completions.create(model="mid-b", messages=USER)
    # times=1: both models answer normally afterwards
    for model in ("mid-a", "mid-b"):
        await client.chat.completions.create(model=model, messages=USER)


async def test_timeout_fires_the_client_timeout(
    client: openai.AsyncOpenAI, admin: httpx.AsyncClient
) -> None:
    await inject(admin, "edge-a", "timeout")
    started = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        await client.chat.completions.create(model="edge-a", messages=USER, timeout=0.5)
    assert time.monotonic() - started < HANG_SECONDS
    response = await client.chat.completions.create(model="edge-a", messages=USER, timeout=2)
    assert response.choices[0].message.content


async def test_timeout_answers_after_the_hang_for_a_patient_client() -> None:
    hang = 0.3
    config = SimulatorConfig(
        latency_scale=0.0, timeout_hang_seconds=hang, faults=[FaultRule(kind="timeout")]
    )
    with SimulatorServer(config) as url:
        patient = openai.AsyncOpenAI(base_url=url, api_key="sim", max_retries=0, timeout=5)
        started = time.monotonic()
        response = await patient.chat.completions.create(model="edge-b", messages=USER)
        assert time.monotonic() - started >= hang and response.choices[0].message.content
        await patient.close()


async def test_cut_stream(
    client: openai.AsyncOpenAI, admin: httpx.AsyncClient, server: SimulatorServer
) -> None:
    await inject(admin, "frontier-a", "cut_stream", times=3)
    with pytest.raises(openai.APIConnectionError):
        await client.chat.completions.create(model="frontier-a", messages=USER)
    received: list[str] = []
    with pytest.raises((openai.APIError, httpx.TransportError)):
        stream = await client.chat.completions.create(
            model="frontier-a", messages=USER, stream=True
        )
        async for chunk in stream:
            received.append(chunk.choices[0].delta.content or "")
    assert "".join(received)  # some chunks arrived before the cut
    lines = await raw_stream_lines(
        server, {"model": "frontier-a", "messages": USER, "stream": True}
    )
    assert lines[-1] == "<cut>" and "data: [DONE]" not in lines and len(lines) > 2


async def test_malformed_json(client: openai.AsyncOpenAI, admin: httpx.AsyncClient) -> None:
    await inject(admin, "frontier-a", "malformed_json", times=2)
    messages = [
        {"role": "system", "content": "ROLE: planner\nReply with JSON."},
        {"role": "user", "content": "What is 2 * 3?"},
    ]
    fmt: Any = {"type": "json_object"}
    broken = await client.chat.completions.create(
        model="frontier-a", messages=messages, response_format=fmt
    )
    assert broken.choices[0].finish_reason == "stop"
    with pytest.raises(json.JSONDecodeError):
        json.loads(broken.choices[0].message.content or "")
    stream = await client.chat.completions.create(
        model="frontier-a", messages=messages, response_format=fmt, stream=True
    )
    streamed = "".join([c.choices[0].delta.content or "" async for c in stream])
    with pytest.raises(json.JSONDecodeError):
        json.loads(streamed)
    fixed = await client.chat.completions.create(
        model="frontier-a", messages=messages, response_format=fmt
    )
    assert Plan.model_validate_json(fixed.choices[0].message.content or "").steps


async def test_fault_admin_api(client: openai.AsyncOpenAI, admin: httpx.AsyncClient) -> None:
    rules = [
        {"model": "mid-a", "kind": "server_error", "times": 2},
        {"model": "*", "kind": "rate_limit", "times": None, "probability": 0.0},
    ]
    created = await admin.post("/admin/faults", json=rules)
    assert created.status_code == 201 and len(created.json()["added"]) == 2
    for _ in range(2):
        with pytest.raises(openai.InternalServerError):
            await client.chat.completions.create(model="mid-a", messages=USER)
    await client.chat.completions.create(model="mid-a", messages=USER)
    listed = (await admin.get("/admin/faults")).json()["faults"]
    assert [(r["kind"], r["fired"], r["remaining"]) for r in listed] == [
        ("server_error", 2, 0),
        ("rate_limit", 0, None),
    ]
    assert (await admin.delete("/admin/faults")).json() == {"deleted": 2}
    assert (await admin.get("/admin/faults")).json() == {"faults": []}
    bad = await admin.post("/admin/faults", json={"model": "mid-a", "kind": "explode"})
    assert bad.status_code == 400 and "kind" in bad.json()["error"]["message"]


VERIFY = [
    {"role": "system", "content": "ROLE: verifier\nJudge the draft."},
    {"role": "user", "content": "## Question\nWrite a haiku about rain.\n\n## Draft answer\nRain."},
]


async def test_scripted_verdicts_answer_verifier_calls_in_order_then_the_own_rule(
    client: openai.AsyncOpenAI, admin: httpx.AsyncClient
) -> None:
    rules = [
        {"model": "mid-a", "verdict": "reject", "times": 1, "reason": "not a haiku"},
        {"model": "*", "verdict": "unparseable", "times": 1},
    ]
    assert (await admin.post("/admin/verdicts", json=rules)).status_code == 201

    async def verdict(model: str, messages: list[dict[str, str]] = VERIFY) -> str:
        answer = await client.chat.completions.create(
            model=model,
            messages=messages,  # type: ignore[arg-type]
        )
        return answer.choices[0].message.content or ""

    assert json.loads(await verdict("mid-a")) == {"verdict": "reject", "reason": "not a haiku"}
    assert "edge-a" in await verdict("edge-a", USER)  # not a verifier call: no rule fires
    assert "verdict" not in await verdict("mid-b")  # the second rule: no JSON at all
    assert json.loads(await verdict("mid-a"))["verdict"] == "accept"  # prose: own rule
    listed = (await admin.get("/admin/verdicts")).json()["verdicts"]
    assert [(r["verdict"], r["fired"], r["remaining"]) for r in listed] == [
        ("reject", 1, 0),
        ("unparseable", 1, 0),
    ]
    assert (await admin.delete("/admin/verdicts")).json() == {"deleted": 2}
    bad = await admin.post("/admin/verdicts", json={"verdict": "maybe"})
    assert bad.status_code == 400


async def test_probability_is_reproducible_from_the_seed(
    client: openai.AsyncOpenAI, admin: httpx.AsyncClient
) -> None:
    async def outcomes() -> list[bool]:
        (await admin.delete("/admin/faults")).raise_for_status()  # also reseeds the draws
        rule = {"model": "edge-a", "kind": "server_error", "probability": 0.5, "times": None}
        (await admin.post("/admin/faults", json=rule)).raise_for_status()
        failed = []
        for _ in range(12):
            try:
                await client.chat.completions.create(model="edge-a", messages=USER)
                failed.append(False)
            except openai.InternalServerError:
                failed.append(True)
        return failed

    first = await outcomes()
    assert first == await outcomes() and 0 < sum(first) < 12


async def test_request_log_shows_what_each_model_received(
    client: openai.AsyncOpenAI, admin: httpx.AsyncClient
) -> None:
    await inject(admin, "mid-a", "server_error")
    with pytest.raises(openai.InternalServerError):
        await client.chat.completions.create(model="mid-a", messages=EXECUTOR)
    await client.chat.completions.create(
        model="openai/mid-b", messages=EXECUTOR, tools=[CALCULATOR_TOOL], stream=True
    )
    (failed,) = (await admin.get("/admin/requests", params={"model": "mid-a"})).json()["requests"]
    assert failed["fault"] == "server_error" and failed["messages"] == EXECUTOR
    (served,) = (await admin.get("/admin/requests", params={"model": "mid-b"})).json()["requests"]
    assert served["messages"] == EXECUTOR and served["tools"] == [CALCULATOR_TOOL]
    assert served["stream"] is True and served["fault"] is None and served["at"]
    assert (await admin.get("/admin/requests")).json()["count"] == 2
    assert (await admin.delete("/admin/requests")).json() == {"deleted": 2}
    assert (await admin.get("/admin/requests")).json()["requests"] == []


def test_config_file_faults_log_size_latency_and_prompt_cache(tmp_path: Path) -> None:
    path = tmp_path / "simulator.json"
    config = SimulatorConfig(
        latency_scale=0.2,
        request_log_size=2,
        faults=[FaultRule(model="edge-a", kind="rate_limit", times=1)],
    )
    path.write_text(config.model_dump_json())
    system = {"role": "system", "content": "You follow the house rules. " * 300}
    with SimulatorServer(SimulatorConfig.from_json_file(path)) as url:
        sdk = openai.OpenAI(base_url=url, api_key="sim", max_retries=0, timeout=10)
        with pytest.raises(openai.RateLimitError):
            sdk.chat.completions.create(model="edge-a", messages=USER)
        started = time.monotonic()
        first = sdk.chat.completions.create(model="edge-a", messages=[system, *USER])
        elapsed = time.monotonic() - started
        assert first.usage is not None
        edge = load_catalog().model("edge-a").latency_ms
        expected = (edge.first_token + edge.per_output_token * first.usage.completion_tokens) * 0.2
        assert elapsed >= expected / 1000
        second = sdk.chat.completions.create(
            model="edge-a", messages=[system, {"role": "user", "content": "Another question"}]
        )
        details = second.usage and second.usage.prompt_tokens_details
        assert details and details.cached_tokens and details.cached_tokens % 128 == 0
        assert details.cached_tokens >= 1024
        log = httpx.get(f"{url.removesuffix('/v1')}/admin/requests").json()["requests"]
        assert len(log) == 2 and log[0]["fault"] is None  # the oldest entry dropped out
        assert httpx.get(f"{url.removesuffix('/v1')}/healthz").json()["status"] == "ok"
        sdk.close()
