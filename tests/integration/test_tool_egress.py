"""Spec tools cannot reach inside: loopback, private, link-local and metadata addresses are
refused after DNS resolution and on every redirect unless the operator allows them, and a
spec that names such a host is refused when it is validated."""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse

from nodes.tools.egress import EgressPolicy, EgressRefused, address_kind
from nodes.tools.http import HttpConfig, HttpTool
from tests.support.live_server import LiveServer

PUBLIC_ONLY = HttpTool()  # the default: what `routegraph serve` runs with unless told


def inside_app() -> FastAPI:
    app = FastAPI()
    app.state.hits = 0

    @app.middleware("http")
    async def count(request: Request, call_next: Any) -> Any:
        app.state.hits += 1
        return await call_next(request)

    @app.get("/secret")
    async def secret(request: Request) -> dict[str, str]:
        return {"secret": "tenant A's prompt", "host": request.headers["host"]}

    @app.get("/to")
    async def to(target: str) -> RedirectResponse:
        return RedirectResponse(target, status_code=302)

    return app


@pytest.fixture(scope="module")
def inside() -> Iterator[tuple[int, FastAPI]]:
    app = inside_app()
    with LiveServer(app) as base_url:
        yield int(base_url.rsplit(":", 1)[1]), app


def config(*hosts: str) -> HttpConfig:
    return HttpConfig.model_validate({"allow_hosts": list(hosts), "timeout_s": 5})


@pytest.mark.parametrize(
    ("host", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("10.1.2.3", "private"),
        ("192.168.0.10", "private"),
        ("169.254.169.254", "cloud metadata"),
        ("100.100.100.200", "cloud metadata"),
        ("224.0.0.1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("localhost", "names this machine"),
        ("metadata.google.internal", "internal service"),
    ],
)
async def test_the_default_policy_refuses_addresses_inside(
    inside: tuple[int, FastAPI], host: str, reason: str
) -> None:
    port, app = inside
    before = app.state.hits
    with pytest.raises(EgressRefused, match=reason):
        await PUBLIC_ONLY.run({"url": f"http://{host}:{port}/secret"}, config(host))
    assert app.state.hits == before


async def test_names_are_checked_after_resolution(inside: tuple[int, FastAPI]) -> None:
    # "127.1" is no IP literal to a parser, but the resolver answers 127.0.0.1.
    port, app = inside
    before = app.state.hits
    with pytest.raises(EgressRefused, match=r"127\.1 resolves to 127\.0\.0\.1 is a loopback"):
        await PUBLIC_ONLY.run({"url": f"http://127.1:{port}/secret"}, config("127.1"))
    # The machine's own name resolves to one of its own (non-public) addresses.
    name = socket.gethostname().lower()
    addresses = {info[4][0] for info in socket.getaddrinfo(name, port)}
    if all(address_kind(ipaddress.ip_address(a)) for a in addresses):
        with pytest.raises(EgressRefused, match="resolves to"):
            await PUBLIC_ONLY.run({"url": f"http://{name}:{port}/secret"}, config(name))
    assert app.state.hits == before


async def test_every_redirect_hop_is_checked_again(inside: tuple[int, FastAPI]) -> None:
    port, app = inside
    only_this_server = HttpTool(EgressPolicy.from_lists([], ["127.0.0.1/32"]))
    reached = await only_this_server.run(
        {"url": f"http://127.0.0.1:{port}/secret"}, config("127.0.0.1")
    )
    assert reached["body"]["secret"] == "tenant A's prompt"
    for target, reason in [
        ("http://169.254.169.254/latest/meta-data/", "cloud metadata"),
        ("http://10.0.0.1/", "private"),
        (f"http://127.1:{port}/secret", None),  # resolves to the allowed 127.0.0.1
    ]:
        host = httpx.URL(target).host
        url = str(httpx.URL(f"http://127.0.0.1:{port}/to", params={"target": target}))
        hops = config("127.0.0.1", host)
        if reason is None:
            moved = await only_this_server.run({"url": url}, hops)
            assert moved["url"] == target and moved["body"]["host"] == f"127.1:{port}"
            continue
        before = app.state.hits
        with pytest.raises(EgressRefused, match=reason):
            await only_this_server.run({"url": url}, hops)
        assert app.state.hits == before + 1  # the first hop only


async def test_the_connection_goes_to_the_checked_address_with_the_names_host_header(
    inside: tuple[int, FastAPI],
) -> None:
    port, _ = inside
    loopback = HttpTool(EgressPolicy.from_lists([], ["127.0.0.0/8", "::1/128"]))
    answer = await loopback.run({"url": f"http://localhost:{port}/secret"}, config("localhost"))
    assert answer["body"]["host"] == f"localhost:{port}"
    assert answer["url"] == f"http://localhost:{port}/secret"


def test_a_spec_can_only_narrow_the_operators_hosts() -> None:
    tool = HttpTool(EgressPolicy.from_lists(["api.example.com", "data.example.org:8443"], []))
    problems = tool.check_config(
        config("api.example.com", "evil.example.com", "data.example.org:8443", "data.example.org")
    )
    assert [path for path, _ in problems] == [("allow_hosts", 1), ("allow_hosts", 3)]
    assert "not among the operator's hosts (ROUTEGRAPH_TOOL_ALLOWED_HOSTS)" in problems[0][1]


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback (inside"),
        ("64:ff9b::a9fe:a9fe", "cloud metadata (inside"),
        ("2002:a00:1::", "private (inside"),
        ("fe80::1", "link-local"),
        ("fd00:ec2::254", "cloud metadata"),
        ("ff02::1", "multicast"),
        ("198.18.0.1", "private"),
    ],
)
def test_ipv6_and_embedded_ipv4_addresses_are_classified(address: str, kind: str) -> None:
    found = address_kind(ipaddress.ip_address(address))
    assert found is not None and found.startswith(kind)


@pytest.mark.parametrize("address", ["8.8.8.8", "2606:4700:4700::1111", "151.101.1.69"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert EgressPolicy().address_problem(ipaddress.ip_address(address)) is None


def test_a_malformed_operator_network_is_named() -> None:
    with pytest.raises(ValueError, match=re.escape("'10.0.0.0/33' is not a network")):
        EgressPolicy.from_lists([], ["10.0.0.0/33"])
