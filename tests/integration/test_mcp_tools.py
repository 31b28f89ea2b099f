"""MCP tools against a real MCP server built with the official SDK (tests/support/
mcp_server.py), over stdio and over streamable HTTP on loopback: a pushed spec's `mcp`
tool nodes are validated against the servers' listings and the tenant's allow-list, run
by the live service's worker, recorded in the run's timeline and replayed from the
recording at $0 without calling the server again. SQLite and Postgres."""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from app.api.app import create_app
from app.db.migrate import upgrade_database
from app.settings import Settings
from tests.conftest import SimulatorAdmin
from tests.support.live_server import LiveServer
from tests.support.mcp_server import LOG_ENV, http_server
from tests.support.tenants import bearer, make_key

ROOT = Path(__file__).resolve().parents[2]


def servers_file(tmp: Path, url: str, log: Path) -> Path:
    """The operator's file: `local` over stdio, `remote` over HTTP, where acme may use
    some tools only; globex none."""
    local = {
        "transport": "stdio",
        "command": sys.executable,
        "args": ["-m", "tests.support.mcp_server"],
        "cwd": str(ROOT),
        "env": {LOG_ENV: str(log), "PATH": "/usr/bin:/bin"},
        "tenants": {"acme": "*"},
    }
    remote = {"transport": "http", "url": url, "tenants": {"acme": ["add", "shout"]}}
    path = tmp / "mcp.yaml"
    down = {"transport": "http", "url": "http://127.0.0.1:9/mcp", "tenants": {"acme": "*"}}
    servers = {"local": local, "remote": remote, "down": down}
    path.write_text(yaml.safe_dump({"servers": servers}))
    return path


def spec(nodes: dict[str, Any] | None = None) -> dict[str, Any]:
    """add over stdio, then shout over HTTP."""
    return {
        "name": "mcp-tools",
        "state": {
            "x": {"type": "number"},
            "word": {"type": "string"},
            "total": {"type": "number"},
            "loud": {"type": "string"},
        },
        "input": ["x", "word"],
        "output": ["total", "loud"],
        "entry": "add",
        "nodes": nodes
        or {
            "add": {
                "kind": "tool",
                "tool": "mcp",
                "config": {"server": "local", "tool": "add"},
                "args": {"a": "{{ x }}", "b": "2"},
                "output": "total",
            },
            "shout": {
                "kind": "tool",
                "tool": "mcp",
                "config": {"server": "remote", "tool": "shout"},
                "args": {"text": "{{ word }}", "times": "2"},
                "output": "loud",
            },
        },
        "edges": [{"from": "add", "to": "shout"}, {"from": "shout", "to": "END"}],
    }


@dataclass
class McpRig:
    root: str
    acme: str
    globex: str
    log: Path

    def client(self, token: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.root, headers=bearer(token), timeout=120)

    def server_calls(self) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]


@pytest.fixture(scope="module")
def mcp_url() -> Iterator[str]:
    with http_server() as url:
        yield url


@pytest.fixture
async def rig(
    database_url: str, simulator: SimulatorAdmin, mcp_url: str, tmp_path: Path
) -> AsyncIterator[McpRig]:
    upgrade_database(database_url)
    acme, globex = await make_key(database_url, "acme"), await make_key(database_url, "globex")
    log = tmp_path / "mcp-calls.jsonl"
    settings = Settings(
        database_url=database_url,
        simulator_url=simulator.base_url,
        key_cache_seconds=0,
        mcp_servers_path=servers_file(tmp_path, mcp_url, log),
        tool_allowed_networks=["127.0.0.0/8"],  # the HTTP test server is on loopback
    )
    with LiveServer(create_app(settings, embedded_worker=True)) as root:
        yield McpRig(root, acme, globex, log)


async def test_a_spec_calls_mcp_tools_over_stdio_and_http_and_replays_them_at_no_cost(
    rig: McpRig,
) -> None:
    async with rig.client(rig.acme) as client:
        assert (await client.post("/v1/graphs", json=spec())).status_code == 201
        body = {"graph": "mcp-tools", "input": {"x": 40, "word": "hey"}}
        run = (await client.post("/v1/runs?wait=true", json=body)).json()
        assert run["status"] == "succeeded", run["error"]
        assert run["output"] == {"total": 42, "loud": "HEY HEY"}
        assert [c["tool"] for c in rig.server_calls()] == ["add"]  # stdio writes the log

        timeline = (await client.get(f"/v1/runs/{run['id']}/timeline")).json()
        calls = [e["payload"] for e in timeline["lifecycle"] if e["kind"] == "mcp_call"]
        assert [(c["server"], c["tool"], c["result"]) for c in calls] == [
            ("local", "add", 42),
            ("remote", "shout", "HEY HEY"),
        ]
        assert calls[0]["arguments"] == {"a": 40, "b": 2} and calls[0]["node"] == "add"

        replayed = await client.post(f"/v1/runs/{run['id']}/replay?wait=true", json={})
        replay = replayed.json()
        assert replay["status"] == "succeeded", replay["error"]
        assert replay["output"] == run["output"] and replay["cost_usd"] == 0
        assert replay["replay"]["reproduced"] is True
    assert len(rig.server_calls()) == 1  # the replay did not call the server


async def test_pushing_a_spec_lists_the_tools_and_refuses_what_cannot_run(rig: McpRig) -> None:
    # Over HTTP (listing over stdio starts a process per push: the run test covers it).
    add = {**spec()["nodes"]["add"], "config": {"server": "remote", "tool": "add"}}
    cases = {
        "unknown MCP server 'nowhere'": {"config": {"server": "nowhere", "tool": "add"}},
        "cannot list the tools of MCP server 'down'": {"config": {"server": "down", "tool": "add"}},
        "has no tool 'divide'": {"config": {"server": "remote", "tool": "divide"}},
        "may not call tool 'secret'": {
            "config": {"server": "remote", "tool": "secret"},
            "args": {"name": "x"},
        },
        "takes no argument 'c'": {"args": {"a": "1", "b": "2", "c": "3"}},
        "missing argument 'b'": {"args": {"a": "{{ x }}"}},
        "should be number": {"args": {"a": "forty", "b": "2"}},
    }
    async with rig.client(rig.acme) as client:
        assert (await client.post("/v1/graphs", json=spec(_alone(add)))).status_code == 201
        for expected, change in cases.items():
            refused = await client.post("/v1/graphs", json=spec(_alone({**add, **change})))
            assert refused.status_code == 422, (expected, refused.text)
            errors = refused.json()["errors"]
            assert any(expected in e["msg"] for e in errors), (expected, errors)
            assert all(e["pointer"].startswith("/nodes/add/") for e in errors), errors
    async with rig.client(rig.globex) as client:
        refused = await client.post("/v1/graphs", json=spec())
    assert refused.status_code == 422
    assert "tenant 'globex' may not use MCP server 'local'" in refused.text
    assert rig.server_calls() == []  # listing never calls a tool


def _alone(add: dict[str, Any]) -> dict[str, Any]:
    """The spec's nodes with this `add` node and the HTTP `shout`."""
    return {"add": add, "shout": spec()["nodes"]["shout"]}
