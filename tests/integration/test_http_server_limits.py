"""`serve`'s connection limits, with real sockets against the real server on loopback:
slow headers are cut off, one client's connections are capped, others keep being served."""

from __future__ import annotations

import select
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from app.api.app import create_app
from app.settings import Settings
from tests.support.live_server import LiveServer
from tests.support.raw_http import closed_by_server, connect, raw_request, read_response

HEADER_TIMEOUT = 1.0
# uvloop's timers have millisecond resolution (libuv rounds), so a deadline can fire a few
# hundred microseconds before a monotonic clock read elsewhere says it is due.
TIMER_SLACK = 0.005
CAP = 3
HEALTHZ = b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"
OTHER_CLIENT = "127.0.0.2"


def serve(tmp_path: Path, **limits: float) -> LiveServer:
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'rg.db'}", **limits)
    return LiveServer(create_app(settings), settings=settings)


@pytest.fixture
def slow_headers_port(tmp_path: Path) -> Iterator[int]:
    """A server that drops a request whose headers take over HEADER_TIMEOUT seconds."""
    with serve(tmp_path, header_timeout_seconds=HEADER_TIMEOUT) as base_url:
        yield int(urlsplit(base_url).port or 0)


@pytest.fixture
def capped_port(tmp_path: Path) -> Iterator[int]:
    """A server that allows CAP open connections per client address."""
    with serve(tmp_path, max_connections_per_client=CAP, header_timeout_seconds=30) as base_url:
        yield int(urlsplit(base_url).port or 0)


def healthz_from_other_client(port: int) -> int:
    return raw_request(port, HEALTHZ, source=OTHER_CLIENT).status


def test_headers_sent_byte_by_byte_are_cut_off_with_408_while_healthz_is_served(
    slow_headers_port: int,
) -> None:
    started = time.monotonic()  # before connecting: the server's deadline starts at accept
    slow = [connect(slow_headers_port) for _ in range(5)]
    for sock in slow:
        sock.sendall(b"GET /healthz HTTP/1.1\r\n")
    served_meanwhile = []
    # A byte every 0.1 s would keep any idle timeout alive forever; the header deadline holds.
    for byte in b"Host: slowloris.example\r\nX-Padding: " + b"a" * 30:
        if time.monotonic() - started > HEADER_TIMEOUT * 0.6 and not served_meanwhile:
            served_meanwhile.append(healthz_from_other_client(slow_headers_port))
        if select.select(slow, [], [], 0)[0]:
            break  # the server answered: stop before a write meets a closed socket
        for sock in slow:
            sock.sendall(bytes([byte]))
        time.sleep(0.1)
    responses = [read_response(sock) for sock in slow]
    elapsed = time.monotonic() - started
    assert served_meanwhile == [200]
    assert [r.status for r in responses] == [408] * len(slow)
    assert responses[0].headers["content-type"] == "application/problem+json"
    assert responses[0].json()["title"] == "Request timeout"
    assert all(closed_by_server(sock) for sock in slow)
    assert HEADER_TIMEOUT - TIMER_SLACK <= elapsed < HEADER_TIMEOUT + 1.5
    for sock in slow:
        sock.close()


def test_a_connection_that_sends_nothing_is_closed_silently(slow_headers_port: int) -> None:
    started = time.monotonic()  # before connecting: the server's deadline starts at accept
    with connect(slow_headers_port) as sock:
        sock.settimeout(HEADER_TIMEOUT + 3)
        assert sock.recv(1024) == b""  # closed, no response
        assert HEADER_TIMEOUT - TIMER_SLACK <= time.monotonic() - started < HEADER_TIMEOUT + 1.5


def test_keep_alive_requests_and_long_responses_are_not_cut_off(
    slow_headers_port: int,
) -> None:
    base_url = f"http://127.0.0.1:{slow_headers_port}"
    with httpx.Client(base_url=base_url, timeout=15) as client:
        run_id = client.post(
            "/v1/runs", json={"graph": "plan_execute", "input": {"question": "q"}}
        ).json()["id"]
        time.sleep(HEADER_TIMEOUT / 2)
        # The same connection, idle for a while, then a request well within the deadline.
        assert client.get("/healthz").status_code == 200
        # No worker runs here: the run stays queued and its stream open, silent, for longer
        # than the header deadline; the server does not cut it.
        started = time.monotonic()
        silent_for = httpx.Timeout(15, read=HEADER_TIMEOUT * 3)
        with client.stream("GET", f"/v1/runs/{run_id}/events", timeout=silent_for) as stream:
            assert stream.status_code == 200
            lines = stream.iter_lines()
            assert next(lines).startswith("id: 1")
            with pytest.raises(httpx.ReadTimeout):
                for _ in lines:
                    pass
        assert time.monotonic() - started > HEADER_TIMEOUT * 2
        client.post(f"/v1/runs/{run_id}/cancel")


def test_a_client_over_the_connection_cap_gets_429_and_others_are_served(
    capped_port: int,
) -> None:
    with ExitStack() as stack:
        held = [stack.enter_context(connect(capped_port)) for _ in range(CAP)]
        for sock in held:
            sock.sendall(b"GET /healthz HTTP/1.1\r\n")  # headers never finished
        time.sleep(0.2)
        refused = raw_request(capped_port, HEALTHZ)
        assert refused.status == 429
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.headers["retry-after"] == "1"
        assert refused.json()["title"] == "Too many connections"
        assert healthz_from_other_client(capped_port) == 200
        held[0].close()
        deadline = time.monotonic() + 5
        while (status := raw_request(capped_port, HEALTHZ).status) == 429:
            assert time.monotonic() < deadline, "a closed connection was never released"
            time.sleep(0.05)
        assert status == 200


def test_a_refused_connection_is_closed_by_the_server(capped_port: int) -> None:
    with ExitStack() as stack:
        for _ in range(CAP):
            stack.enter_context(connect(capped_port)).sendall(b"GET / HTTP/1.1\r\n")
        time.sleep(0.2)
        with connect(capped_port, timeout=5) as sock:
            sock.sendall(HEALTHZ)
            assert read_response(sock).status == 429
            assert closed_by_server(sock)


def test_malformed_http_gets_a_problem_400(slow_headers_port: int) -> None:
    response = raw_request(slow_headers_port, b"GET /healthz HTTP/1.1\r\nBad Header\r\n\r\n")
    assert response.status == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["title"] == "Malformed HTTP request"
