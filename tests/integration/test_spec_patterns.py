"""Spec building blocks end to end: parallel debaters, map fan-out, router loops,
subgraphs, the cascade policy and resuming a failed pattern without paying again."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import pytest
from langgraph.errors import GraphRecursionError

from app.gateway.errors import AllModelsFailed, BudgetExceeded
from devtools.simulator.config import SimulatorConfig
from devtools.simulator.server import SimulatorServer
from graphs.spec import parse_spec_text
from tests.conftest import SimulatorAdmin
from tests.support.spec_rig import EXAMPLES, SpecRig, spec_rig

TRIP = "Flights cost 2 * 340, the hotel 5 * 120 and food 5 * 45. What is the total?"


@pytest.fixture
async def rig(database_url: str, simulator: SimulatorAdmin) -> AsyncIterator[SpecRig]:
    async with spec_rig(database_url, simulator.base_url) as built:
        yield built


@pytest.fixture(scope="module")
def slow_simulator_url() -> Iterator[str]:
    """A simulator with the catalog's latencies, so concurrency shows in timings."""
    with SimulatorServer(SimulatorConfig(latency_scale=1.0)) as url:
        yield url


async def test_debaters_of_a_round_run_in_parallel(
    database_url: str, slow_simulator_url: str
) -> None:
    async with spec_rig(database_url, slow_simulator_url) as rig:
        run = await rig.run(rig.example("debate_judge.yaml"), {"question": TRIP})
    assert run.output["verdict"]["winner"] == "mid_2"
    debaters = [c for c in run.calls if c.tier != "frontier"]
    for number in (1, 2):
        pair = [c for c in debaters if f"debate round {number}/2" in c.routing_reason]
        assert sorted(c.tier for c in pair) == ["edge", "mid"]
        spans = [(c.created_at - timedelta(milliseconds=c.latency_ms), c.created_at) for c in pair]
        # Both calls were in flight together: each started before the other finished.
        assert max(start for start, _ in spans) < min(end for _, end in spans)
        wall = max(end for _, end in spans) - min(start for start, _ in spans)
        assert wall < timedelta(milliseconds=sum(c.latency_ms for c in pair))
        assert all("2 debaters in parallel" in c.routing_reason for c in pair)
    judge = next(c for c in run.calls if c.tier == "frontier")
    assert judge.created_at > max(c.created_at for c in debaters)  # the judge waits for all


MAP_SPEC: dict[str, Any] = {
    "name": "map-sum",
    "state": {
        "expressions": {"type": "array", "items": "string"},
        "values": {"type": "array"},
        "explained": {"type": "array", "reducer": "append"},
        "summary": {"type": "string"},
    },
    "input": ["expressions"],
    "entry": "compute",
    "nodes": {
        "compute": {
            "kind": "map",
            "over": "state.expressions",
            "as": "expr",
            "node": {"kind": "tool", "tool": "calculator", "args": {"expression": "{{ expr }}"}},
            "output": "values",
        },
        "explain": {
            "kind": "map",
            "over": "state.values",
            "node": {"kind": "llm", "tier": "edge", "prompt": "Explain {{ item }} (#{{ index }})"},
            "output": "explained",
        },
        "summarise": {
            "kind": "llm",
            "tier": "mid",
            "prompt": "Values: {{ values | join(', ') }}",
            "output": "summary",
        },
    },
    "edges": [
        {"from": "compute", "to": "explain"},
        {"from": "explain", "to": "summarise"},
        {"from": "summarise", "to": "END"},
    ],
}


async def test_map_fans_out_in_parallel_and_joins_in_order(rig: SpecRig) -> None:
    spec = rig.compile(MAP_SPEC)
    run = await rig.run(spec, {"expressions": ["2 * 340", "5 * 120", "5 * 45"]})
    assert run.output["values"] == [680, 600, 225]
    explained = run.output["explained"]
    assert [text.split("Explain ")[1].split(" ")[0] for text in explained] == ["680", "600", "225"]
    assert run.output["summary"].endswith("Values: 680, 600, 225")
    assert [e["items"] for e in run.decisions("map_fan_out")] == [3, 3]
    items = run.calls_of("explain")
    assert len(items) == 3 and {c.tier for c in items} == {"edge"}
    assert sorted(c.routing_reason.rsplit("[", 1)[1] for c in items) == [
        "map item 1/3]",
        "map item 2/3]",
        "map item 3/3]",
    ]
    # One superstep ran the three items together: their updates arrive before the join's.
    names = [next(iter(update)) for update in run.updates]
    assert names.count("explain__item") == 3
    assert names.index("explain__join") > max(
        i for i, n in enumerate(names) if n == "explain__item"
    )


async def test_map_over_an_empty_list_goes_straight_to_its_join(rig: SpecRig) -> None:
    run = await rig.run(rig.compile(MAP_SPEC), {"expressions": []})
    assert run.output["values"] == [] and run.output["explained"] == []
    assert [c.node for c in run.calls] == ["summarise"]


LOOP_SPEC: dict[str, Any] = {
    "name": "count-up",
    "state": {"n": {"type": "number", "default": 0}, "limit": {"type": "integer"}},
    "input": ["limit"],
    "entry": "inc",
    "nodes": {
        "inc": {
            "kind": "tool",
            "tool": "calculator",
            "args": {"expression": "{{ n }} + 1"},
            "output": "n",
        },
        "check": {
            "kind": "router",
            "routes": [{"when": "state.n >= state.limit", "to": "END"}],
            "default": "inc",
        },
    },
    "edges": [{"from": "inc", "to": "check"}],
    "limits": {"max_steps": 12},
}


async def test_a_router_loop_exits_on_its_condition_and_its_step_limit(rig: SpecRig) -> None:
    spec = rig.compile(LOOP_SPEC)
    run = await rig.run(spec, {"limit": 3})
    assert run.output == {"n": 3, "limit": 3}
    assert [d["to"] for d in run.decisions("route")] == ["inc", "inc", "END"]
    with pytest.raises(GraphRecursionError):
        await rig.run(spec, {"limit": 100})  # 12 steps end the loop long before n = 100


async def test_a_subgraph_runs_pinned_by_version_with_its_decisions(rig: SpecRig) -> None:
    rig.stored[("cascade", 1)] = parse_spec_text((EXAMPLES / "cascade.yaml").read_text())
    parent = {
        "name": "outer",
        "state": {
            "question": {"type": "string"},
            "solved": {"type": "object"},
            "note": {"type": "string"},
        },
        "input": ["question"],
        "entry": "solve_it",
        "nodes": {
            "solve_it": {
                "kind": "subgraph",
                "graph": "cascade",
                "version": 1,
                "input": {"question": "state.question"},
                "output": "solved",
            },
            "note_it": {
                "kind": "llm",
                "tier": "edge",
                "prompt": "Answer came from the {{ solved.result.tier }} tier.",
                "output": "note",
            },
        },
        "edges": [{"from": "solve_it", "to": "note_it"}, {"from": "note_it", "to": "END"}],
    }
    run = await rig.run(rig.compile(parent), {"question": TRIP})
    assert run.output["solved"]["result"]["tier"] == "mid"
    assert "from the mid tier" in run.output["note"]
    assert [(c.node, c.tier) for c in run.calls] == [
        ("solve_it/solve", "edge"),
        ("solve_it/solve", "mid"),
        ("note_it", "edge"),
    ]
    (escalation,) = run.decisions("cascade_escalation")
    assert escalation["node"] == "solve_it/solve" and escalation["subgraph"] == "cascade v1"


def policy_spec(question_policy: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": "policy",
        "state": {"question": {"type": "string"}, "answer": {"type": "string"}},
        "input": ["question"],
        "entry": "ask",
        "nodes": {
            "ask": {
                "kind": "llm",
                "system": "ROLE: solver\nShow your work.",
                "prompt": "{{ question }}",
                "policy": question_policy,
                "output": "answer",
            }
        },
        "edges": [{"from": "ask", "to": "END"}],
    }


async def test_an_llm_node_on_the_cascade_policy_reports_its_escalation(rig: SpecRig) -> None:
    spec = rig.compile(policy_spec({"name": "cascade", "tiers": ["edge", "frontier"]}))
    run = await rig.run(spec, {"question": TRIP})
    assert run.output["answer"].endswith("#### 1505")
    assert [c.tier for c in run.calls] == ["edge", "frontier"]
    assert (
        "cascade stage 2/2 on frontier: arithmetic verifier rejected" in run.calls[1].routing_reason
    )
    (routed,) = run.decisions("cascade_policy")
    assert routed["escalated"] is True and routed["tier"] == "frontier"


async def test_the_spec_budget_stops_a_call_that_could_exceed_it(
    rig: SpecRig, simulator: SimulatorAdmin
) -> None:
    document = parse_spec_text((EXAMPLES / "debate_judge.yaml").read_text())
    document["limits"]["budget_usd"] = 0.00001
    spec = rig.compile(document)
    assert spec.budget_usd == 0.00001
    with pytest.raises(BudgetExceeded):
        await rig.run(spec, {"question": TRIP})
    assert await simulator.requests() == []


async def test_a_failed_debate_resumes_without_paying_its_debaters_again(
    rig: SpecRig, simulator: SimulatorAdmin
) -> None:
    await simulator.inject("frontier-a", "server_error", times=None)
    await simulator.inject("frontier-b", "server_error", times=None)
    spec = rig.example("debate_judge.yaml")
    run_id = await rig.new_run(spec.name)
    with pytest.raises(AllModelsFailed):
        await rig.run(spec, {"question": TRIP}, run_id=run_id)
    paid = len(await simulator.requests("edge-a")) + len(await simulator.requests("mid-a"))
    assert paid == 4
    await simulator.reset()  # the frontier tier is back
    resumed = await rig.run(spec, None, run_id=run_id)
    assert resumed.output["verdict"]["winner"] == "mid_2"
    assert await simulator.requests("edge-a") == [] and await simulator.requests("mid-a") == []
    ok = [c for c in resumed.calls if c.status == "ok"]
    assert sorted(c.tier for c in ok) == ["edge", "edge", "frontier", "mid", "mid"]
