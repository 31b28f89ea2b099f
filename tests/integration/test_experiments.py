"""A/B experiments over REST against the real service (embedded worker), the simulator and
a real database: traffic split by weight or sticky, every call and run records its arm,
the comparison has intervals and says what is significant, stopping sends everything to
the chosen arm, and `routegraph experiments show` prints it over HTTP."""

from __future__ import annotations

import asyncio
import copy
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import httpx
import pytest
import yaml
from fastapi import Header
from typer.testing import CliRunner

from app.api.app import create_app
from app.api.tenant import current_tenant
from app.cli import cli
from app.db.migrate import upgrade_database
from app.settings import Settings
from tests.support.live_server import LiveServer
from tests.support.tenants import bearer, make_key

SPECS = Path(__file__).resolve().parents[2] / "examples" / "specs"
TRIP = "Flights cost 2 * 340, the hotel 5 * 120 and food 5 * 45. What is the total?"


def tenant_from_header(x_test_tenant: Annotated[str, Header()] = "default") -> str:
    return x_test_tenant


@pytest.fixture
def api(database_url: str, simulator_url: str) -> Iterator[httpx.Client]:
    settings = Settings(database_url=database_url, simulator_url=simulator_url)
    app = create_app(settings, embedded_worker=True)
    app.dependency_overrides[current_tenant] = tenant_from_header
    with LiveServer(app) as base_url, httpx.Client(base_url=base_url, timeout=60) as client:
        yield client


def chat(api: httpx.Client, text: str, **extra: Any) -> httpx.Response:
    body = {
        "model": "auto",
        "messages": [{"role": "user", "content": text}],
        "routegraph": {"cache": False},
        **extra,
    }
    response = api.post("/v1/chat/completions", json=body)
    assert response.status_code == 200, response.text
    return response


def create(api: httpx.Client, **body: Any) -> dict[str, Any]:
    response = api.post("/v1/experiments", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


EDGE_VS_FRONTIER = [
    {"name": "control", "weight": 1, "policy": "edge"},
    {"name": "strong", "weight": 1, "policy": "frontier"},
]


def test_chat_traffic_is_split_recorded_and_compared_then_stopped_on_one_arm(
    api: httpx.Client,
) -> None:
    experiment = create(api, name="edge vs frontier", arms=EDGE_VS_FRONTIER)
    assert experiment["status"] == "running" and experiment["split"] == "request"
    seen: dict[str, list[str]] = {"control": [], "strong": []}
    for i in range(24):
        response = chat(api, f"Name a colour, please ({i}).")
        experiment_id, arm = response.headers["x-routegraph-experiment"].split("/")
        assert experiment_id == experiment["id"]
        seen[arm].append(response.headers["x-routegraph-model"])
        # Users like the strong arm's answers better.
        score = 1.0 if arm == "strong" else 0.0
        rate(api, response.headers["x-routegraph-call-id"], score)
    assert len(seen["control"]) >= 4 and len(seen["strong"]) >= 4
    assert all(m.startswith("edge-") for m in seen["control"])
    assert all(m.startswith("frontier-") for m in seen["strong"])
    # A request naming a tier is not part of the experiment.
    assert "x-routegraph-experiment" not in chat(api, "Hi", model="mid").headers

    shown = api.get(f"/v1/experiments/{experiment['id']}").json()
    arms = {arm["name"]: arm for arm in shown["arms"]}
    assert arms["control"]["requests"] == len(seen["control"])
    assert arms["strong"]["requests"] == len(seen["strong"])
    control_cost, strong_cost = arms["control"]["cost_usd"], arms["strong"]["cost_usd"]
    assert control_cost["low"] <= control_cost["mean"] <= control_cost["high"]
    assert strong_cost["mean"] > 5 * control_cost["mean"]
    assert arms["strong"]["error_rate"]["mean"] == 0 and arms["strong"]["error_rate"]["high"] > 0
    assert arms["strong"]["feedback"]["mean"] == 1.0
    diffs = {(d["arm"], d["metric"]): d for d in shown["comparisons"]}
    assert diffs[("strong", "cost_usd")]["significant"]
    assert diffs[("strong", "feedback")]["significant"]
    assert not diffs[("strong", "error_rate")]["significant"]
    assert any("significantly higher cost per request" in line for line in shown["summary"])

    # Another experiment on the same target waits for this one to stop.
    clash = api.post("/v1/experiments", json={"name": "again", "arms": EDGE_VS_FRONTIER})
    assert clash.status_code == 409
    # Another tenant sees none of it.
    other = api.get(f"/v1/experiments/{experiment['id']}", headers={"X-Test-Tenant": "acme"})
    assert other.status_code == 404
    assert api.get("/v1/experiments", headers={"X-Test-Tenant": "acme"}).json() == []

    assert stop(api, experiment["id"], "nope").status_code == 422
    stopped = stop(api, experiment["id"], "strong")
    assert stopped.status_code == 200 and stopped.json()["winner"] == "strong"
    assert stop(api, experiment["id"], "strong").status_code == 409
    for i in range(5):
        response = chat(api, f"Name a fruit ({i}).")
        assert response.headers["x-routegraph-experiment"].endswith("/strong")
        assert response.headers["x-routegraph-model"].startswith("frontier-")
    # The comparison keeps what was served while the experiment ran.
    after = api.get(f"/v1/experiments/{experiment['id']}").json()
    assert sum(arm["requests"] for arm in after["arms"]) == 24
    listed = api.get("/v1/experiments").json()
    assert [(e["id"], e["status"]) for e in listed] == [(experiment["id"], "stopped")]


def rate(api: httpx.Client, call_id: str, score: float) -> None:
    """Feedback on a call, once its ledger row (written just behind the answer) is complete."""
    for _ in range(100):
        response = api.post(f"/v1/calls/{call_id}/feedback", json={"score": score})
        if response.status_code != 409:
            break
        time.sleep(0.02)
    assert response.status_code == 201, response.text


def stop(api: httpx.Client, experiment_id: str, arm: str) -> httpx.Response:
    return api.post(f"/v1/experiments/{experiment_id}/stop", json={"arm": arm})


def test_sticky_splits_keep_a_user_or_a_thread_on_one_arm(api: httpx.Client) -> None:
    create(api, name="by user", split="user", arms=EDGE_VS_FRONTIER)
    arms_by_user: dict[str, set[str]] = {}
    for user in ("ann", "bob", "cy", "dee", "eve", "fay"):
        for i in range(3):
            header = chat(api, f"Say hi ({i})", user=user).headers["x-routegraph-experiment"]
            arms_by_user.setdefault(user, set()).add(header)
    assert all(len(arms) == 1 for arms in arms_by_user.values())


def test_runs_of_a_graph_are_split_between_spec_versions_by_thread(api: httpx.Client) -> None:
    v1 = yaml.safe_load((SPECS / "speculative.yaml").read_text())
    v2 = {
        **copy.deepcopy(v1),
        "state": {"question": v1["state"]["question"], "answer": {"type": "string"}},
        "output": ["answer"],
        "entry": "respond",
        "nodes": {
            "respond": {
                "kind": "llm",
                "prompt": "{{ question }}",
                "tier": "edge",
                "output": "answer",
            }
        },
        "edges": [{"from": "respond", "to": "END"}],
    }
    assert api.post("/v1/graphs", json=v1).json()["version"] == 1
    assert api.post("/v1/graphs", json=v2).json()["version"] == 2
    name = v1["name"]
    bad = api.post(
        "/v1/experiments",
        json={
            "name": "x",
            "target": name,
            "arms": [{"name": "a", "weight": 1, "policy": "gpt-9"}, EDGE_VS_FRONTIER[1]],
        },
    )
    assert bad.status_code == 422 and "gpt-9" in bad.json()["detail"]
    missing = api.post(
        "/v1/experiments",
        json={
            "name": "x",
            "target": name,
            "arms": [
                {"name": "a", "weight": 1, "version": 1},
                {"name": "b", "weight": 1, "version": 9},
            ],
        },
    )
    assert missing.status_code == 422
    experiment = create(
        api,
        name="v1 vs v2",
        target=name,
        split="thread",
        arms=[{"name": "v1", "weight": 1, "version": 1}, {"name": "v2", "weight": 3, "version": 2}],
    )
    runs = []
    for thread in ("t1", "t2", "t3", "t4", "t5", "t6"):
        for _ in range(2 if thread == "t1" else 1):
            body = {"graph": name, "input": {"question": TRIP}, "thread_id": thread}
            response = api.post("/v1/runs", params={"wait": "true"}, json=body)
            assert response.status_code == 200, response.text
            runs.append(response.json())
    for run in runs:
        assert run["status"] == "succeeded" and run["experiment_id"] == experiment["id"]
        assert run["version"] == {"v1": 1, "v2": 2}[run["experiment_arm"]]
        calls = api.get(f"/v1/runs/{run['id']}/calls").json()
        assert calls and all(c["experiment_arm"] == run["experiment_arm"] for c in calls)
    first, again = runs[0], runs[1]
    assert first["experiment_arm"] == again["experiment_arm"]  # sticky per thread
    pinned = api.post("/v1/runs", json={"graph": f"{name}@1", "input": {"question": TRIP}})
    assert pinned.json()["experiment_id"] is None  # a pinned version is not in the test
    shown = api.get(f"/v1/experiments/{experiment['id']}").json()
    served = {arm["name"]: arm["requests"] for arm in shown["arms"]}
    assert sum(served.values()) == len(runs)


def test_a_policy_arm_routes_every_call_of_its_runs(api: httpx.Client) -> None:
    spec = yaml.safe_load((SPECS / "speculative.yaml").read_text())
    spec = {
        **spec,
        "name": "one-call",
        "state": {"question": spec["state"]["question"], "answer": {"type": "string"}},
        "output": ["answer"],
        "entry": "respond",
        "nodes": {
            "respond": {
                "kind": "llm",
                "prompt": "{{ question }}",
                "tier": "mid",
                "output": "answer",
            }
        },
        "edges": [{"from": "respond", "to": "END"}],
    }
    assert api.post("/v1/graphs", json=spec).status_code == 201
    experiment = create(api, name="tiers", target="one-call", arms=EDGE_VS_FRONTIER)
    tiers: dict[str, set[str]] = {"control": set(), "strong": set()}
    for i in range(30):  # until both arms have served (split by request: a fair coin)
        body = {"graph": "one-call", "input": {"question": TRIP}}
        run = api.post("/v1/runs", params={"wait": "true"}, json=body).json()
        assert run["status"] == "succeeded" and run["experiment_id"] == experiment["id"]
        assert run["version"] == 1
        calls = api.get(f"/v1/runs/{run['id']}/calls").json()
        assert calls and all(c["experiment_arm"] == run["experiment_arm"] for c in calls)
        tiers[run["experiment_arm"]] |= {c["tier"] for c in calls}
        if i >= 3 and tiers["control"] and tiers["strong"]:
            break
    # The node asks for mid; each arm's policy decides instead.
    assert tiers == {"control": {"edge"}, "strong": {"frontier"}}


def test_bad_experiments_are_refused_with_the_field(api: httpx.Client) -> None:
    cases = [
        {"name": "x", "arms": [EDGE_VS_FRONTIER[0]]},
        {"name": "x", "arms": [EDGE_VS_FRONTIER[0], EDGE_VS_FRONTIER[0]]},
        {"name": "x", "arms": [{"name": "a", "weight": 0, "policy": "edge"}, EDGE_VS_FRONTIER[1]]},
        {"name": "x", "arms": [{"name": "a", "weight": 1}, EDGE_VS_FRONTIER[1]]},
        {"name": "x", "split": "day", "arms": EDGE_VS_FRONTIER},
    ]
    for body in cases:
        response = api.post("/v1/experiments", json=body)
        assert response.status_code == 422, (body, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    unknown = [{"name": "a", "weight": 1, "policy": "gpt-9"}, EDGE_VS_FRONTIER[1]]
    response = api.post("/v1/experiments", json={"name": "x", "arms": unknown})
    assert response.status_code == 422 and "gpt-9" in response.json()["detail"]
    assert api.get("/v1/experiments/nope").status_code == 404


def test_experiments_are_the_tenants_own_and_the_cli_shows_them_with_its_key(
    sqlite_url: str, simulator_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With API keys (auth on): a tenant's experiment splits only its own traffic, and the
    CLI (an HTTP client; the database behind the service does not matter to it) reads it
    with the key in ROUTEGRAPH_API_KEY."""
    upgrade_database(sqlite_url)
    acme, globex = (asyncio.run(make_key(sqlite_url, tenant)) for tenant in ("acme", "globex"))
    settings = Settings(database_url=sqlite_url, simulator_url=simulator_url, key_cache_seconds=0)
    with LiveServer(create_app(settings)) as base_url:
        api = httpx.Client(base_url=base_url, headers=bearer(acme), timeout=60)
        other = httpx.Client(base_url=base_url, headers=bearer(globex), timeout=60)
        experiment = create(api, name="cli", arms=EDGE_VS_FRONTIER)
        for i in range(6):
            assert "x-routegraph-experiment" in chat(api, f"Name a month ({i}).").headers
        assert "x-routegraph-experiment" not in chat(other, "Name a month.").headers
        assert other.get(f"/v1/experiments/{experiment['id']}").status_code == 404
        api.close()
        other.close()

        monkeypatch.setenv("ROUTEGRAPH_URL", base_url)
        monkeypatch.setenv("ROUTEGRAPH_API_KEY", acme)
        runner = CliRunner()
        shown = runner.invoke(cli, ["experiments", "show", experiment["id"]], terminal_width=200)
        assert shown.exit_code == 0, shown.output
        out = shown.output
        assert f"cli ({experiment['id']}): chat, split by request, running" in out, out
        assert "control" in out and "strong" in out and "edge x1" in out and "frontier x1" in out
        assert "cost/request" in out and "error_rate" in out and "significant" in out, out
        monkeypatch.setenv("ROUTEGRAPH_API_KEY", globex)
        hidden = runner.invoke(cli, ["experiments", "show", experiment["id"]])
        assert hidden.exit_code == 1 and "404" in hidden.output
        monkeypatch.delenv("ROUTEGRAPH_API_KEY")
        anonymous = runner.invoke(cli, ["experiments", "list"])
        assert anonymous.exit_code == 1 and "401" in anonymous.output
        down = runner.invoke(cli, ["experiments", "list", "--url", "http://127.0.0.1:9"])
        assert down.exit_code == 1 and "cannot reach" in down.output
