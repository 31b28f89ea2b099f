"""Hostile input gets a 4xx problem+json naming what is wrong, never a 5xx, on SQLite and
Postgres, over the server `routegraph serve` runs (no worker)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
import pytest

from app.api.app import create_app
from app.settings import Settings
from tests.support.live_server import LiveServer
from tests.support.raw_http import raw_request

MAX_BODY = 20_000
PLAN = {"graph": "plan_execute", "input": {"question": "What is 2 * 21?"}}


@dataclass
class Api:
    client: httpx.Client
    port: int


@pytest.fixture
def api(database_url: str) -> Iterator[Api]:
    settings = Settings(database_url=database_url, max_body_bytes=MAX_BODY)
    with (
        LiveServer(create_app(settings), settings=settings) as base_url,
        httpx.Client(base_url=base_url, timeout=15) as client,
    ):
        yield Api(client, int(urlsplit(base_url).port or 0))


def problem_of(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, object] = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    return body


def error_locs(response: httpx.Response) -> list[list[object]]:
    body = problem_of(response, 422)
    errors = body["errors"]
    assert isinstance(errors, list)
    return [error["loc"] for error in errors]


def post_json(api: Api, raw: str) -> httpx.Response:
    return api.client.post("/v1/runs", content=raw, headers={"content-type": "application/json"})


def assert_nothing_stored(api: Api) -> None:
    assert api.client.get("/v1/runs").json()["items"] == []


def test_nul_in_the_run_id_path_is_422_naming_run_id(api: Api) -> None:
    for method, path in [
        ("GET", "/v1/runs/a%00b"),
        ("POST", "/v1/runs/a%00b/cancel"),
        ("GET", "/v1/runs/a%00b/calls"),
        ("GET", "/v1/runs/a%00b/events"),
    ]:
        assert error_locs(api.client.request(method, path)) == [["path", "run_id"]], path


def test_nul_in_query_parameters_is_422_naming_the_parameter(api: Api) -> None:
    for name in ("graph", "status", "cursor"):
        response = api.client.get("/v1/runs", params={name: "plan\x00execute"})
        assert error_locs(response) == [["query", name]], name


UNISSUED_CURSORS = [
    # the previous format: base64 of "<iso time>|<run id>", here with a NUL run id
    base64.urlsafe_b64encode(b"2026-01-01T00:00:00+00:00|\x00").decode().rstrip("="),
    base64.urlsafe_b64encode(b"not a time|x").decode().rstrip("="),
    "1" * 17 + ".abc",  # beyond year 2286
    "123.",
    "123.a b",
    "-1.abc",
    "1.abc.def",
]


def test_a_cursor_this_service_did_not_issue_is_422(api: Api) -> None:
    for cursor in UNISSUED_CURSORS:
        response = api.client.get("/v1/runs", params={"cursor": cursor})
        assert error_locs(response) == [["query", "cursor"]], cursor


def test_a_well_formed_cursor_past_every_run_is_an_empty_page(api: Api) -> None:
    api.client.post("/v1/runs", json=PLAN)
    page = api.client.get("/v1/runs", params={"cursor": "0.0"})
    assert page.status_code == 200 and page.json() == {"items": [], "next_cursor": None}


UNSTORABLE_BODIES = [
    ('{"graph": "plan_execute", "input": {"question": "a\\u0000b"}}', ["input", "question"]),
    ('{"graph": "plan_execute", "input": {"question": "a\\ud800b"}}', ["input", "question"]),
    (
        '{"graph": "plan_execute", "input": {"question": "q", "notes": [{"x": "\\u0000"}]}}',
        ["input", "notes", 0, "x"],
    ),
    ('{"graph": "plan_execute", "input": {"question": "q", "k\\u0000": 1}}', ["input", "k\0"]),
    # pydantic reports a key holding a lone surrogate with its UTF-8 bytes as U+FFFDs
    (
        '{"graph": "plan_execute", "input": {"question": "q", "\\udfff": 1}}',
        ["input", "\ufffd" * 3],
    ),
    ('{"graph": "plan_execute", "input": {"question": "q", "n": NaN}}', ["input", "n"]),
    ('{"graph": "plan_execute", "input": {"question": "q", "n": -Infinity}}', ["input", "n"]),
    ('{"graph": "plan_\\u0000execute", "input": {"question": "q"}}', ["graph"]),
    (
        '{"graph": "plan_execute", "input": {"question": "q"}, "thread_id": "t\\u0000"}',
        ["thread_id"],
    ),
    (
        '{"graph": "plan_execute", "input": {"question": "q"}, "thread_id": "\\udfff"}',
        ["thread_id"],
    ),
]


def test_unstorable_strings_and_numbers_in_the_body_are_422_naming_the_nested_field(
    api: Api,
) -> None:
    for raw, loc in UNSTORABLE_BODIES:
        assert error_locs(post_json(api, raw)) == [["body", *loc]], raw
    assert_nothing_stored(api)


def test_nul_in_idempotency_key_is_a_problem_400_from_the_http_layer(api: Api) -> None:
    """h11 refuses a NUL in any header before the app sees it: a malformed request."""
    body = b'{"graph": "plan_execute", "input": {"question": "q"}}'
    request = (
        b"POST /v1/runs HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        b"Idempotency-Key: a\x00b\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    )
    response = raw_request(api.port, request)
    assert response.status == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["title"] == "Malformed HTTP request"
    assert_nothing_stored(api)


def test_a_non_ascii_idempotency_key_is_stored_and_replayed(api: Api) -> None:
    headers = {"Idempotency-Key": "clé-ÿ".encode()}  # UTF-8 bytes; the server reads latin-1
    first = api.client.post("/v1/runs", json=PLAN, headers=headers)
    again = api.client.post("/v1/runs", json=PLAN, headers=headers)
    assert (first.status_code, again.status_code) == (202, 200)
    assert first.json()["id"] == again.json()["id"]


def test_last_event_id_is_1_to_9_ascii_digits_or_a_422(api: Api) -> None:
    run_id = api.client.post("/v1/runs", json=PLAN).json()["id"]
    for value in ["²", "٣", "1" * 26, "1" * 10, "-1", "+1", "1 2", "0x1", "1.0", "", "null"]:
        headers = {"Last-Event-ID": value.encode()}  # UTF-8 bytes, as a client sends them
        response = api.client.get(f"/v1/runs/{run_id}/events", headers=headers)
        assert error_locs(response) == [["header", "last-event-id"]], value


def test_the_largest_last_event_id_streams_nothing_instead_of_failing(api: Api) -> None:
    run_id = api.client.post("/v1/runs", json=PLAN).json()["id"]
    api.client.post(f"/v1/runs/{run_id}/cancel")
    headers = {"Last-Event-ID": "999999999"}
    response = api.client.get(f"/v1/runs/{run_id}/events", headers=headers)
    assert response.status_code == 200 and response.text == ""
    resumed = api.client.get(f"/v1/runs/{run_id}/events", headers={"Last-Event-ID": "1"})
    assert "event: cancelled" in resumed.text and "event: queued" not in resumed.text


def test_a_chunked_body_over_the_limit_is_413(api: Api) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"graph": "plan_execute", "input": {"question": "'
        for _ in range(MAX_BODY // 1000 + 1):
            yield b"x" * 1000
        yield b'"}}'

    response = api.client.post(
        "/v1/runs", content=chunks(), headers={"content-type": "application/json"}
    )
    assert "content-length" not in response.request.headers  # it was sent chunked
    assert problem_of(response, 413)["title"] == "Request body too large"
    assert_nothing_stored(api)


def test_a_body_that_is_not_json_is_415(api: Api) -> None:
    for content_type in [
        None,
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data",
        "json",
    ]:
        headers = {"content-type": content_type} if content_type else {}
        response = api.client.post("/v1/runs", content=b'{"graph": "x"}', headers=headers)
        assert problem_of(response, 415)["title"] == "Unsupported media type", content_type
    assert_nothing_stored(api)


def test_json_with_parameters_or_a_json_suffix_is_accepted(api: Api) -> None:
    for content_type in ("application/json; charset=utf-8", "application/vnd.routegraph+json"):
        response = api.client.post("/v1/runs", json=PLAN, headers={"content-type": content_type})
        assert response.status_code == 202, response.text


def test_405_lists_every_method_the_path_accepts_in_allow(api: Api) -> None:
    for method, path, allow in [
        ("PUT", "/v1/runs", "GET, POST"),
        ("DELETE", "/v1/runs/some-id", "GET"),
        ("GET", "/v1/runs/some-id/cancel", "POST"),
        ("TRACE", "/healthz", "GET"),
    ]:
        response = api.client.request(method, path)
        problem_of(response, 405)
        assert response.headers["allow"] == allow, (method, path)


def test_spec_keys_that_look_like_digits_but_are_not_ascii_are_422(api: Api) -> None:
    # "²".isdigit() is True, int("²") fails: JSON pointers into the spec must not 500.
    for key in ("²", "\u0663"):  # superscript two, Arabic-Indic three
        spec = {"name": "x", key: [1], "state": {"a": {"type": "string"}, key: {}}}
        response = api.client.post("/v1/graphs", json=spec)
        assert problem_of(response, 422)["errors"], response.text
    assert api.client.get("/v1/graphs").status_code == 200
