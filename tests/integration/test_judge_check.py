"""`auto` on an unfamiliar request whose answer cannot be compared: a cheap model answers,
a judge reads it, and the answer is kept or the request escalates to the best-rated model.

Through the live API with its embedded worker on the real simulator, SQLite and Postgres;
the simulator's judge accepts prose by its own rule, and rejects (or answers something
unreadable) when the test scripts it (`/admin/verdicts`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from app.api.app import create_app
from app.services.container import build_services
from app.settings import Settings
from tests.conftest import SimulatorAdmin
from tests.support.live_server import LiveServer

# A request the classifier's training prompts hold nothing like (out of distribution), and
# whose answer has no comparable form (free prose).
LIMERICK = "Compose a limerick about a cat who learned to play the bassoon."
VERIFY = "verify: edge-a answers, mid-a judges, else frontier-a"


@pytest.fixture
async def api(database_url: str, simulator: SimulatorAdmin) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(
        database_url=database_url, simulator_url=simulator.base_url, routing_explore_share=0.0
    )
    with LiveServer(create_app(settings, embedded_worker=True)) as base_url:
        async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
            yield client


async def ask(api: httpx.AsyncClient) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Run the `answer` graph with `auto` to the end; (the run, its ledger rows)."""
    body = {"graph": "answer", "input": {"question": LIMERICK, "policy": "auto"}}
    run = (await api.post("/v1/runs", params={"wait": "true"}, json=body)).json()
    assert run["status"] == "succeeded", run
    calls = (await api.get(f"/v1/runs/{run['id']}/calls")).json()
    return run, calls


async def feedback_of(api: httpx.AsyncClient, call_id: str) -> list[tuple[str, float]]:
    found = (await api.get(f"/v1/calls/{call_id}/feedback")).json()
    return [(f["source"], f["score"]) for f in found]


async def timeline_keys(api: httpx.AsyncClient, run_id: str) -> list[str]:
    timeline = (await api.get(f"/v1/runs/{run_id}/timeline")).json()
    return [
        call["key"]
        for step in timeline["steps"]
        for task in step["tasks"]
        for call in task["calls"]
    ]


async def test_unfamiliar_prose_is_answered_by_a_cheap_model_judged_and_kept(
    api: httpx.AsyncClient, simulator: SimulatorAdmin
) -> None:
    run, calls = await ask(api)
    assert run["output"]["model"] == "edge-a"
    answer, judge = calls
    assert (answer["model"], judge["model"]) == ("edge-a", "mid-a")
    assert answer["call_key"].endswith("/cascade-0")
    assert judge["call_key"] == answer["call_key"] + "/judge"
    assert answer["routing_reason"].startswith(
        f"auto for node 'answer' (online): frontier-a: {VERIFY}"
    )
    assert "OUT OF DISTRIBUTION" in answer["routing_reason"]
    assert answer["routing_reason"].endswith("; judge verifier accepted edge-a's answer"), answer[
        "routing_reason"
    ]
    assert judge["routing_reason"].startswith("judge check: mid-a judges edge-a's answer")
    assert judge["cost_usd"] > 0 and answer["cost_usd"] > 0  # both paid, both on the ledger
    # The judge read the request and the answer under its rubric.
    (received,) = await simulator.requests("mid-a")
    judged = received["messages"]
    assert judged[0]["content"].startswith("ROLE: verifier")
    assert f"## Question\n{LIMERICK}" in judged[1]["content"]
    assert f"## Draft answer\n{run['output']['answer']}" in judged[1]["content"]
    # The verdict is feedback on the judged answer; the judge's own call gets none.
    assert await feedback_of(api, answer["id"]) == [("cascade_verifier", 1.0)]
    assert await feedback_of(api, judge["id"]) == []
    # A user's score on the run lands on the kept answer, not on the judge's later call.
    rated = await api.post(f"/v1/runs/{run['id']}/feedback", json={"score": 1.0})
    assert rated.status_code == 201 and rated.json()["call_id"] == answer["id"]
    assert await timeline_keys(api, run["id"]) == [
        answer["call_key"].split(":", 1)[1],
        judge["call_key"].split(":", 1)[1],
    ]


async def test_a_judge_rejection_escalates_to_the_best_model_with_every_call_on_the_ledger(
    api: httpx.AsyncClient, simulator: SimulatorAdmin
) -> None:
    await simulator.script_verdict("reject", model="mid-a")
    run, calls = await ask(api)
    assert run["output"]["model"] == "frontier-a"
    answer, judge, strong = calls
    assert [c["model"] for c in calls] == ["edge-a", "mid-a", "frontier-a"]
    assert strong["call_key"] == answer["call_key"].replace("/cascade-0", "/cascade-1")
    assert strong["routing_reason"].startswith(
        "cascade stage 2/2 on frontier: judge verifier rejected edge-a's answer (judge rejects: "
        "'scripted reject (simulator verdict rule)' (mid-a judged))"
    ), strong["routing_reason"]
    assert all(c["status"] == "ok" and c["cost_usd"] > 0 for c in calls)
    run_cost = (await api.get(f"/v1/runs/{run['id']}")).json()["cost_usd"]
    assert run_cost == pytest.approx(sum(c["cost_usd"] for c in calls))
    assert await feedback_of(api, answer["id"]) == [("cascade_verifier", 0.0)]
    assert await feedback_of(api, judge["id"]) == []


async def test_an_unreadable_verdict_counts_as_a_rejection(
    api: httpx.AsyncClient, simulator: SimulatorAdmin
) -> None:
    await simulator.script_verdict("unparseable")
    run, calls = await ask(api)
    assert run["output"]["model"] == "frontier-a"
    assert (
        "judge verifier rejected edge-a's answer (unparseable verdict (counts as reject)"
        in (calls[2]["routing_reason"])
    )
    assert await feedback_of(api, calls[0]["id"]) == [("cascade_verifier", 0.0)]


async def test_the_services_judge_setting_picks_who_judges_and_an_unknown_one_stops_it(
    database_url: str, simulator: SimulatorAdmin
) -> None:
    settings = Settings(
        database_url=database_url,
        simulator_url=simulator.base_url,
        routing_explore_share=0.0,
        routing_judge_with="mid-b",
    )
    with LiveServer(create_app(settings, embedded_worker=True)) as base_url:
        async with httpx.AsyncClient(base_url=base_url, timeout=60) as api:
            _, calls = await ask(api)
    assert [c["model"] for c in calls] == ["edge-a", "mid-b"]
    assert "verify: edge-a answers, mid-b judges, else frontier-a" in calls[0]["routing_reason"]
    unknown = settings.model_copy(update={"routing_judge_with": "mid-z"})
    with pytest.raises(ValueError, match="ROUTEGRAPH_ROUTING_JUDGE_WITH='mid-z' is neither"):
        async with build_services(unknown):
            pass
