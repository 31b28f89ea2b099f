"""No input makes the API answer 500: random bodies, headers and query strings."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.api.app import create_app
from app.settings import Settings
from tests.support.live_server import LiveServer

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
run_bodies = st.fixed_dictionaries(
    {},
    optional={
        "graph": st.sampled_from(["plan_execute", "answer", "nope", ""]) | st.text(max_size=5),
        "input": json_values,
        "thread_id": json_values,
        "budget_usd": json_values,
        "priority": json_values,
    },
)
header_text = st.text(
    alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=40
)


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    db = Path(tmp_path_factory.mktemp("fuzz")) / "fuzz.db"
    settings_ = Settings(database_url=f"sqlite+aiosqlite:///{db}")
    with LiveServer(create_app(settings_)) as base_url, httpx.Client(base_url=base_url) as client:
        yield client


def assert_no_server_error(response: httpx.Response) -> None:
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert response.headers["content-type"].startswith("application/problem+json")


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=run_bodies | json_values, key=st.none() | header_text)
def test_submit_never_500s(api: httpx.Client, body: object, key: str | None) -> None:
    headers = {"Idempotency-Key": key} if key else {}
    assert_no_server_error(api.post("/v1/runs", json=body, headers=headers))


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    run_id=st.text(
        alphabet=st.characters(min_codepoint=48, max_codepoint=122), min_size=1, max_size=40
    ),
    params=st.dictionaries(
        st.sampled_from(["status", "graph", "limit", "cursor"]), header_text, max_size=4
    ),
    last_event_id=st.none() | header_text,
)
def test_reads_never_500(
    api: httpx.Client, run_id: str, params: dict[str, str], last_event_id: str | None
) -> None:
    assert_no_server_error(api.get("/v1/runs", params=params))
    assert_no_server_error(api.get(f"/v1/runs/{run_id}"))
    assert_no_server_error(api.post(f"/v1/runs/{run_id}/cancel"))
    headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
    assert_no_server_error(api.get(f"/v1/runs/{run_id}/events", headers=headers))


def test_raw_garbage_bodies(api: httpx.Client) -> None:
    for raw, content_type in [
        (b"\xff\xfe\x00", "application/json"),
        (b"graph=plan_execute", "application/x-www-form-urlencoded"),
        (b'{"graph": "plan_execute", "input": {"question": "x"}}', "text/plain"),
        (b"", "application/json"),
        (b"1e999999", "application/json"),
    ]:
        response = api.post("/v1/runs", content=raw, headers={"content-type": content_type})
        assert_no_server_error(response)
        assert response.status_code in (400, 415, 422)
