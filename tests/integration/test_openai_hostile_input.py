"""Malformed requests to the OpenAI-compatible endpoint are OpenAI-shaped 400s naming the
field (`param`), never a 5xx, on SQLite and Postgres alike; a handler that raises anyway
answers one well-formed 500 and the keep-alive connection stays usable."""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI

from app.api.app import create_app
from app.db.migrate import upgrade_database
from app.settings import Settings
from tests.conftest import SimulatorAdmin
from tests.support.live_server import LiveServer
from tests.support.raw_http import connect, read_response

USER = '[{"role": "user", "content": "hi"}]'
MAX_BODY = 200_000


def raw(messages: str = USER, extra: str = "", model: str = '"edge"') -> str:
    """A request body as text (escapes and all, as a client could send it)."""
    return f'{{"model": {model}, "messages": {messages}{extra}}}'


def one(message: str) -> str:
    return f"[{message}]"


# (raw body, the param the 400 must name).
MALFORMED: list[tuple[str, str | None]] = [
    (raw(one('{"role": {"x": 1}, "content": "hi"}')), "messages[0].role"),
    (raw(one('{"role": ["user"], "content": "hi"}')), "messages[0].role"),
    (raw(one('{"role": "user", "content": "a\\u0000b"}')), "messages[0].content"),
    (raw(one('{"role": "user", "content": "a\\ud800b"}')), "messages[0].content"),
    (raw(one('{"role": "user", "content": "\\udfff"}')), "messages[0].content"),
    (raw(extra=', "user": "u\\u0000"'), "user"),
    (raw(extra=', "user": "\\ud83d"'), "user"),
    (raw(extra=', "logit_bias": {"50256": NaN}'), "logit_bias.50256"),
    (raw(extra=', "logit_bias": {"1": Infinity}'), "logit_bias.1"),
    (raw(extra=', "temperature": -Infinity'), "temperature"),
    (raw(extra=', "seed": ' + "7" * 5000), None),
    (raw(extra=', "seed": ' + "7" * 40), "seed"),
    (raw(extra=', "metadata": ' + "[" * 10_000 + "]" * 10_000), None),
    (raw(extra=', "tools": ' + '{"a": ' * 100 + "1" + "}" * 100), "tools" + ".a" * 64),
    (raw(one('{"role": "user"}')), "messages[0].content"),
    (
        raw('[{"role": "user", "content": "q"}, {"role": "tool", "content": "4"}]'),
        "messages[1].tool_call_id",
    ),
    (
        raw(one('{"role": "user", "content": [{"type": "bogus", "text": "x"}]}')),
        "messages[0].content[0].type",
    ),
    (raw(extra=', "response_format": {"type": "yaml"}'), "response_format.type"),
    (raw(extra=', "stream": "yes"'), "stream"),
    (raw(extra=', "n": 1.5'), "n"),
    (raw(model='"e\\u0000dge"'), "model"),
    (raw(extra=', "k\\u0000": 1'), "k\x00"),
    (raw("[]"), "messages"),
    ('{"model": "edge"}', "messages"),
    ("[1, 2]", None),
    ('{"model": "edge", "messages": ', None),
    ("\xff\xfe{}", None),
]


@pytest.fixture
def api(database_url: str, simulator: SimulatorAdmin) -> Iterator[tuple[httpx.Client, FastAPI]]:
    upgrade_database(database_url)
    settings = Settings(
        database_url=database_url, simulator_url=simulator.base_url, max_body_bytes=MAX_BODY
    )
    app = create_app(settings)
    with (
        LiveServer(app, settings=settings) as base_url,
        httpx.Client(base_url=base_url, timeout=15) as client,
    ):
        yield client, app


def openai_error_of(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-request-id"]
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["message"]
    return dict(error)


def test_every_malformed_body_is_a_400_naming_the_field(
    api: tuple[httpx.Client, FastAPI],
) -> None:
    client, _ = api
    for text, param in MALFORMED:
        body = text.encode("latin-1") if text.startswith("\xff") else text.encode()
        response = client.post(
            "/v1/chat/completions", content=body, headers={"content-type": "application/json"}
        )
        error = openai_error_of(response, 400)
        assert error["type"] == "invalid_request_error", text[:80]
        assert error["param"] == param, (text[:80], error)
    # The same body that answers 200 (so nothing above was refused for another reason).
    fine = client.post("/v1/chat/completions", json={"model": "edge", "messages": json.loads(USER)})
    assert fine.status_code == 200, fine.text


def test_a_body_that_is_not_labelled_json_is_a_400(api: tuple[httpx.Client, FastAPI]) -> None:
    client, _ = api
    body = json.dumps({"model": "edge", "messages": json.loads(USER)}).encode()
    for content_type in ("text/plain", "application/x-www-form-urlencoded", None):
        headers = {"content-type": content_type} if content_type else {}
        response = client.post("/v1/chat/completions", content=body, headers=headers)
        assert openai_error_of(response, 400)["code"] == "invalid_content_type", content_type


def test_errors_on_openai_paths_are_openai_shaped_and_rest_routes_keep_problem_json(
    api: tuple[httpx.Client, FastAPI],
) -> None:
    client, _ = api
    for method, path, status in [
        ("POST", "/v1/embeddings", 404),
        ("POST", "/v1/completions", 404),
        ("GET", "/v1/responses/abc", 404),
        ("DELETE", "/v1/chat/completions", 405),
        ("PUT", "/v1/models", 405),
        ("GET", "/v1/models/nope", 404),
    ]:
        response = client.request(method, path)
        assert openai_error_of(response, status)["message"], (method, path)
    too_large = client.post(
        "/v1/chat/completions",
        content=b"x" * (MAX_BODY + 1),
        headers={"content-type": "application/json"},
    )
    assert openai_error_of(too_large, 413)["code"] == "request_too_large"
    for path in ("/v1/runs/nope", "/v1/graphs/nope", "/v1/threads/t/runs-nope"):
        problem = client.get(path)
        assert problem.status_code == 404, path
        assert problem.headers["content-type"] == "application/problem+json", path


def test_a_request_id_is_echoed_when_usable_and_made_up_otherwise(
    api: tuple[httpx.Client, FastAPI],
) -> None:
    client, _ = api
    mine = client.get("/v1/models", headers={"x-request-id": "my-trace-42"})
    assert mine.headers["x-request-id"] == "my-trace-42"
    for unusable in ("a b", "x" * 300, "é"):
        response = client.get("/v1/models", headers={"x-request-id": unusable.encode()})
        assert response.headers["x-request-id"].startswith("req_"), unusable
    assert client.get("/v1/runs").headers["x-request-id"].startswith("req_")


def test_a_handler_that_raises_answers_one_500_and_the_connection_stays_usable(
    api: tuple[httpx.Client, FastAPI],
) -> None:
    client, app = api

    async def broken() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/v1/chat/broken", broken, methods=["GET"], tags=["openai"])
    app.add_api_route("/v1/runs/broken/boom", broken, methods=["GET"])
    port = int(urlsplit(str(client.base_url)).port or 0)
    with connect(port) as sock:
        for path, shape in [
            ("/v1/chat/broken", "error"),
            ("/v1/runs/broken/boom", "title"),
            ("/v1/chat/broken", "error"),
        ]:
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
            response = read_response(sock)
            assert response.status == 500 and shape in response.json(), path
            assert response.headers.get("connection") != "close"
        sock.sendall(b"GET /v1/models HTTP/1.1\r\nHost: t\r\n\r\n")
        assert read_response(sock).status == 200  # the same connection, still usable
