"""Replay: a run re-executed from its ledger, on SQLite and Postgres, with the real worker,
graph, checkpointer and simulator (whose request log proves no provider was called)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select

from app.db.models import ModelCall, Run
from app.schemas.replay import ForkRequest, ReplayRequest
from app.schemas.runs import SubmitRun
from app.services import runs as run_service
from app.services.branching import CannotBranch
from app.services.container import Services, build_services
from app.services.forks import submit_fork
from app.services.replays import submit_replay
from app.settings import Settings
from app.worker.loop import Worker
from devtools.demo import DEFAULT_QUESTION
from nodes.planner import PLANNER_PROMPT
from nodes.synthesizer import SYNTHESIZER_PROMPT
from tests.support.simulator_admin import SimulatorAdmin

PLAN_EXECUTE = SubmitRun(graph="plan_execute", input={"question": DEFAULT_QUESTION})


@pytest.fixture
async def services(database_url: str, simulator: SimulatorAdmin) -> AsyncIterator[Services]:
    settings = Settings(database_url=database_url, simulator_url=simulator.base_url)
    async with build_services(settings) as built:
        yield built


async def run_to_end(services: Services, body: SubmitRun) -> Run:
    run, _ = await run_service.submit_run(services, body)
    await Worker(services).run_once()
    return await run_service.get_run(services, run.id)


async def execute(services: Services, run: Run) -> Run:
    await Worker(services).run_once()
    return await run_service.get_run(services, run.id)


async def ledger(services: Services, run_id: str) -> list[ModelCall]:
    async with services.sessions() as session:
        query = select(ModelCall).where(ModelCall.run_id == run_id).order_by(ModelCall.created_at)
        return list((await session.execute(query)).scalars())


async def test_replay_of_a_run_with_a_fallback_reproduces_it_at_no_cost(
    services: Services, simulator: SimulatorAdmin
) -> None:
    await simulator.inject("frontier-a", "server_error", times=1)
    source = await run_to_end(
        services, SubmitRun(graph="plan_execute", input={"question": DEFAULT_QUESTION})
    )
    assert source.status == "succeeded"
    source_calls = await ledger(services, source.id)
    assert [c.status for c in source_calls if c.node == "plan"] == ["error", "ok"]
    await simulator.reset()

    replay = await submit_replay(services, source.id, ReplayRequest(), "default")
    replay = await execute(services, replay)

    assert replay.status == "succeeded", replay.error
    assert replay.output == source.output
    assert replay.replay_of == source.id and replay.thread_id != source.thread_id
    assert replay.cost_usd == 0
    assert await simulator.requests() == []  # no provider was called
    calls = await ledger(services, replay.id)
    answered = [c for c in source_calls if c.status == "ok"]
    assert [c.status for c in calls] == ["replayed"] * len(answered)
    assert [(c.node, c.model) for c in calls] == [(c.node, c.model) for c in answered]
    assert all(c.cost_usd == 0 for c in calls)
    assert replay.replay is not None and replay.replay["reproduced"] is True
    assert replay.replay["calls_replayed"] == len(answered)


async def test_replay_after_a_prompt_change_names_the_step_and_stops_there(
    services: Services, simulator: SimulatorAdmin, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = await run_to_end(
        services, SubmitRun(graph="plan_execute", input={"question": DEFAULT_QUESTION})
    )
    await simulator.reset()
    monkeypatch.setattr("nodes.planner.PLANNER_PROMPT", PLANNER_PROMPT + "\nBe brief.")

    replay = await execute(
        services, await submit_replay(services, source.id, ReplayRequest(), "default")
    )

    assert replay.status == "failed"
    assert replay.replay is not None and replay.replay["reproduced"] is False
    divergence = replay.replay["divergence"]
    assert divergence["kind"] == "prompt_changed"
    assert (divergence["step"], divergence["node"], divergence["call_index"]) == (1, "plan", 0)
    assert divergence["diff"]["message"] == 0 and "Be brief." in divergence["diff"]["now"]
    assert "replay diverged at step 1 (plan, call 0): prompt_changed" in (replay.error or "")
    assert await ledger(services, replay.id) == [] and await simulator.requests() == []


async def test_replay_on_divergence_live_goes_on_with_live_calls(
    services: Services, simulator: SimulatorAdmin, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = await run_to_end(
        services, SubmitRun(graph="plan_execute", input={"question": DEFAULT_QUESTION})
    )
    await simulator.reset()
    monkeypatch.setattr("nodes.synthesizer.SYNTHESIZER_PROMPT", SYNTHESIZER_PROMPT + " Be brief.")

    body = ReplayRequest(on_divergence="live")
    replay = await execute(services, await submit_replay(services, source.id, body, "default"))

    assert replay.status == "succeeded", replay.error
    assert replay.replay is not None and replay.replay["reproduced"] is False
    assert replay.replay["divergence"]["node"] == "synthesize"
    assert replay.replay["calls_live"] == 1 and replay.replay["calls_replayed"] == 6
    statuses = [(c.node, c.status) for c in await ledger(services, replay.id)]
    assert statuses == [("plan", "replayed")] + [("execute", "replayed")] * 5 + [
        ("synthesize", "ok")
    ]
    assert [r["model"] for r in await simulator.requests()] == ["mid-a"]  # only the live call


TWO_STEP_SPEC: dict[str, Any] = {
    "name": "draft-total",
    "state": {
        "question": {"type": "string", "min_length": 1},
        "draft": {"type": "string", "default": ""},
        "total": {"type": "any"},
    },
    "input": ["question"],
    "output": ["draft", "total"],
    "entry": "write",
    "nodes": {
        "write": {
            "kind": "llm",
            "tier": "edge",
            "prompt": "Draft: {{ question }}",
            "output": "draft",
        },
        "add": {
            "kind": "tool",
            "tool": "calculator",
            "args": {"expression": "2 + 3"},
            "output": "total",
        },
    },
    "edges": [{"from": "write", "to": "add"}, {"from": "add", "to": "END"}],
}


def spec_version(**changes: dict[str, Any]) -> dict[str, Any]:
    """TWO_STEP_SPEC with some nodes' fields changed."""
    nodes = {
        name: {**node, **changes.get(name, {})} for name, node in TWO_STEP_SPEC["nodes"].items()
    }
    return {**TWO_STEP_SPEC, "nodes": nodes}


async def push(services: Services, document: dict[str, Any]) -> int:
    loaded = services.registry.loaded_names()
    return (await services.registry.specs.push("default", document, loaded)).row.version


async def replay_of(services: Services, source: Run, **body: Any) -> Run:
    replay = await submit_replay(services, source.id, ReplayRequest(**body), "default")
    return await execute(services, replay)


async def test_replay_of_a_spec_run_with_a_newer_version_reports_how_it_departs(
    services: Services, simulator: SimulatorAdmin
) -> None:
    assert await push(services, TWO_STEP_SPEC) == 1
    question = SubmitRun(graph="draft-total", input={"question": "2 + 3?"})
    source = await run_to_end(services, question)
    assert source.status == "succeeded" and source.output is not None
    assert await push(services, spec_version(write={"prompt": "Sketch: {{ question }}"})) == 2
    assert await push(services, spec_version(add={"args": {"expression": "2 * 3"}})) == 3
    await simulator.reset()

    same = await replay_of(services, source)
    assert same.version == 1 and same.replay is not None and same.replay["reproduced"] is True
    assert same.output == source.output

    prompt = await replay_of(services, source, graph_version=2)
    assert prompt.version == 2 and prompt.replay is not None and prompt.status == "failed"
    found = prompt.replay["divergence"]
    assert (found["kind"], found["step"], found["node"]) == ("prompt_changed", 1, "write")
    assert found["diff"]["recorded"].startswith("Draft:")
    assert found["diff"]["now"].startswith("Sketch:")

    code = await replay_of(services, source, graph_version=3)
    assert code.replay is not None and code.status == "failed"
    found = code.replay["divergence"]
    assert (found["kind"], found["step"], found["node"]) == ("output_changed", 2, "add")
    assert found["diff"] == {"total": {"source": source.output["total"], "replay": 6}}
    assert await simulator.requests() == []


async def test_fork_runs_only_the_later_steps_live_with_the_patch_and_the_override(
    services: Services, simulator: SimulatorAdmin
) -> None:
    source = await run_to_end(
        services, SubmitRun(graph="plan_execute", input={"question": DEFAULT_QUESTION})
    )
    source_calls = await ledger(services, source.id)
    (plan_call,) = [c for c in source_calls if c.node == "plan"]
    await simulator.reset()

    # Unchanged from the checkpoint after the plan (step 1): the same later calls, without
    # the plan's: the fork costs its parent's cost minus the plan.
    same = await execute(
        services, await submit_fork(services, source.id, ForkRequest(step=1), "default")
    )
    assert same.status == "succeeded" and same.output == source.output
    assert same.parent_run_id == source.id and same.fork_checkpoint_id is not None
    assert [c.node for c in await ledger(services, same.id)] == ["execute"] * 5 + ["synthesize"]
    assert same.cost_usd == pytest.approx(source.cost_usd - plan_call.cost_usd)

    patch = {
        "plan": [{"id": 1, "description": "multiply", "tool": "calculator", "expression": "6 * 7"}]
    }
    body = ForkRequest(
        step=1, state_patch=patch, model_overrides={"synthesize": {"tier": "frontier"}}
    )
    fork = await execute(services, await submit_fork(services, source.id, body, "default"))

    assert fork.status == "succeeded", fork.error
    assert fork.output is not None and fork.output["step_results"] == {"1": "42"}
    calls = await ledger(services, fork.id)
    assert [(c.node, c.tier) for c in calls] == [("execute", "edge"), ("synthesize", "frontier")]
    assert fork.cost_usd == pytest.approx(sum(c.cost_usd for c in calls)) and fork.cost_usd > 0
    # The provider saw the two forks' later calls and no plan call.
    systems = [r["messages"][0]["content"].split("\n")[0] for r in await simulator.requests()]
    assert "ROLE: planner" not in systems and len(systems) == 6 + 2


async def test_replays_of_runs_that_failed_or_ran_out_of_budget_end_the_same_way(
    services: Services, simulator: SimulatorAdmin
) -> None:
    broke = await run_to_end(services, PLAN_EXECUTE.model_copy(update={"budget_usd": 0.0001}))
    await simulator.inject("edge-a", "server_error", times=None)
    await simulator.inject("edge-b", "server_error", times=None)
    failed = await run_to_end(services, PLAN_EXECUTE)
    assert (broke.status, failed.status) == ("budget_exceeded", "failed")
    await simulator.reset()

    for source in (broke, failed):
        replay = await replay_of(services, source)
        assert (replay.status, replay.error) == (source.status, source.error)
        assert replay.output == source.output and replay.cost_usd == 0
        assert replay.replay is not None and replay.replay["reproduced"] is True
    assert await simulator.requests() == []


async def test_replay_of_a_fork_starts_where_the_fork_started_and_reproduces_it(
    services: Services, simulator: SimulatorAdmin
) -> None:
    source = await run_to_end(services, PLAN_EXECUTE)
    patch = {"plan": [{"id": 1, "description": "add", "tool": "calculator", "expression": "1 + 2"}]}
    body = ForkRequest(step=1, state_patch=patch, model_overrides={"execute": {"tier": "mid"}})
    fork = await execute(services, await submit_fork(services, source.id, body, "default"))
    assert fork.status == "succeeded" and fork.output is not None
    await simulator.reset()

    replay = await replay_of(services, fork)
    assert replay.replay is not None and replay.replay["reproduced"] is True, replay.replay
    assert replay.output == fork.output and await simulator.requests() == []
    assert [(c.node, c.tier) for c in await ledger(services, replay.id)] == [
        ("execute", "mid"),
        ("synthesize", "mid"),
    ]


async def test_fork_runs_a_newer_spec_version_from_an_old_checkpoint_when_it_fits(
    services: Services,
) -> None:
    await push(services, TWO_STEP_SPEC)
    source = await run_to_end(services, SubmitRun(graph="draft-total", input={"question": "2+3?"}))
    times = await push(services, spec_version(add={"args": {"expression": "2 * 3"}}))
    renamed = {
        **TWO_STEP_SPEC,
        "nodes": {"write": TWO_STEP_SPEC["nodes"]["write"], "sum": TWO_STEP_SPEC["nodes"]["add"]},
        "edges": [{"from": "write", "to": "sum"}, {"from": "sum", "to": "END"}],
    }
    other = await push(services, renamed)

    body = ForkRequest(step=1, graph_version=times)
    fork = await execute(services, await submit_fork(services, source.id, body, "default"))
    assert fork.version == times and fork.output is not None
    assert fork.output == {**(source.output or {}), "total": 6}  # the draft is not redone
    assert await ledger(services, fork.id) == []

    with pytest.raises(CannotBranch, match=r"nodes \['add'\] are not in the graph"):
        await submit_fork(services, source.id, ForkRequest(step=1, graph_version=other), "default")


@pytest.mark.parametrize("threshold", [0.99, 0.0])
async def test_replay_of_a_cascade_decided_on_learned_estimates_reproduces_it(
    services: Services, simulator: SimulatorAdmin, threshold: float
) -> None:
    """The cascade's keep-or-escalate came from the online estimates (out of distribution,
    no feedback yet: the verifier alone decides); the replay follows that decision instead
    of deciding again on the classifier's prediction, and reproduces the run."""
    body = {"question": "What is 17 * 3 + 4?", "policy": "cascade", "threshold": threshold}
    source = await run_to_end(services, SubmitRun(graph="answer", input=body))
    assert source.status == "succeeded", source.error
    source_calls = [c for c in await ledger(services, source.id) if c.status == "ok"]
    await simulator.reset()

    replay = await execute(
        services, await submit_replay(services, source.id, ReplayRequest(), "default")
    )

    assert replay.status == "succeeded", replay.error
    assert replay.replay is not None and replay.replay["reproduced"] is True, replay.replay
    calls = await ledger(services, replay.id)
    assert [(c.status, c.model) for c in calls] == [("replayed", c.model) for c in source_calls]
    assert replay.output == source.output
    assert await simulator.requests() == []
