"""A Python graph's contract over /v1: its input schema is enforced at submit, the `env` of
its langgraph.json is loaded (or refused at start-up), and a node's exception names the node
in the run's error and in its timeline."""

from __future__ import annotations

import json
import os
import textwrap
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.api.app import create_app
from app.settings import Settings
from graphs.langgraph_json import GraphLoadError, load_config_graphs
from tests.support.live_server import LiveServer

GRAPH = '''
"""Answer a question from the environment; a second node reads a key no one set."""
import os
from typing import TypedDict

from langgraph.graph import END, START, StateGraph


class In(TypedDict):
    question: str


class State(TypedDict, total=False):
    question: str
    answer: str
    checked: bool


def answer(state: State) -> State:
    return {"answer": os.environ["RG_TEST_GREETING"] + ", " + state["question"]}


def check(state: State) -> State:
    if state["question"] == "explode":
        return {"checked": state["missing"]}  # a node bug: KeyError: 'missing'
    return {"checked": True}


builder = StateGraph(State, input_schema=In)
builder.add_node("answer", answer)
builder.add_node("check", check)
builder.add_edge(START, "answer")
builder.add_edge("answer", "check")
builder.add_edge("check", END)
graph = builder.compile()
'''

VARIABLES = ("RG_TEST_GREETING", "RG_TEST_OTHER")


@pytest.fixture
def clean_env() -> Iterator[None]:
    """The config's env is set in this process: take it out again after the test."""
    yield
    for name in VARIABLES:
        os.environ.pop(name, None)


def write_config(directory: Path, env: object) -> Path:
    (directory / "qa.py").write_text(textwrap.dedent(GRAPH))
    config = directory / "langgraph.json"
    config.write_text(json.dumps({"graphs": {"qa": "./qa.py:graph"}, "env": env}))
    return config


@pytest.mark.usefixtures("clean_env")
async def test_a_python_graph_s_input_env_and_failing_node_over_v1(
    database_url: str, tmp_path: Path
) -> None:
    (tmp_path / ".env").write_text("RG_TEST_GREETING=hello from .env\n# a comment\n")
    config = write_config(tmp_path, ".env")
    settings = Settings(database_url=database_url, config=config)
    app = create_app(settings, embedded_worker=True)
    with LiveServer(app) as base_url:
        async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
            schema = {g["name"]: g for g in (await client.get("/v1/graphs")).json()}["qa"]
            assert schema["input_schema"]["required"] == ["question"]
            assert schema["input_schema"]["additionalProperties"] is False

            missing = await client.post("/v1/runs", json={"graph": "qa", "input": {}})
            assert missing.status_code == 422, missing.text
            assert missing.headers["content-type"].startswith("application/problem+json")
            assert [(e["loc"], e["msg"]) for e in missing.json()["errors"]] == [
                (["question"], "required key 'question' is missing")
            ]
            unknown = await client.post(
                "/v1/runs", json={"graph": "qa", "input": {"question": "q", "questoin": "q"}}
            )
            assert unknown.status_code == 422, unknown.text
            assert [(e["loc"], e["msg"]) for e in unknown.json()["errors"]] == [
                (["questoin"], "unknown key 'questoin' (did you mean 'question'?)")
            ]
            # the LangGraph API enforces the same schema, naming the keys in its `detail`
            lg_missing = await client.post("/runs/wait", json={"assistant_id": "qa", "input": {}})
            assert lg_missing.status_code == 422, lg_missing.text
            assert "required key 'question' is missing" in lg_missing.json()["detail"]
            lg_unknown = await client.post(
                "/runs/wait", json={"assistant_id": "qa", "input": {"question": "q", "topc": 1}}
            )
            assert lg_unknown.status_code == 422, lg_unknown.text
            assert "unknown key 'topc'" in lg_unknown.json()["detail"]
            # the state's other keys are not the input: a run may not set them
            outside = await client.post(
                "/v1/runs", json={"graph": "qa", "input": {"question": "q", "answer": "a"}}
            )
            assert outside.status_code == 422 and outside.json()["errors"][0]["loc"] == ["answer"]

            ok = await client.post(
                "/v1/runs?wait=true", json={"graph": "qa", "input": {"question": "who?"}}
            )
            run = ok.json()
            assert run["status"] == "succeeded", run["error"]
            assert run["output"]["answer"] == "hello from .env, who?"

            failed = await client.post(
                "/v1/runs?wait=true", json={"graph": "qa", "input": {"question": "explode"}}
            )
            run = failed.json()
            assert run["status"] == "failed"
            assert run["error"] == "node 'check' failed: KeyError: 'missing'"
            timeline = (await client.get(f"/v1/runs/{run['id']}/timeline")).json()
            tasks = [
                task
                for step in timeline["steps"]
                for task in step.get("tasks", [])
                if not task["node"].startswith("__")  # LangGraph's own input step
            ]
            assert [(t["node"], t["status"]) for t in tasks] == [
                ("answer", "succeeded"),
                ("check", "failed"),
            ]
            assert tasks[1]["error"] == "KeyError: 'missing'"


@pytest.mark.usefixtures("clean_env")
def test_env_as_an_object_is_loaded_over_the_environment(tmp_path: Path) -> None:
    os.environ["RG_TEST_OTHER"] = "from the shell"
    config = write_config(tmp_path, {"RG_TEST_GREETING": "hi", "RG_TEST_OTHER": "from config"})
    assert "qa" in load_config_graphs(config)
    assert os.environ["RG_TEST_GREETING"] == "hi"
    assert os.environ["RG_TEST_OTHER"] == "from config"  # as LangGraph's server does


@pytest.mark.parametrize(
    ("env", "cause"),
    [
        ("missing.env", "missing.env: no such file"),
        ({"RG_TEST_GREETING": 3}, "'RG_TEST_GREETING' must be a string, got int"),
        (["RG_TEST_GREETING=x"], '"env" must be a path to a .env file or an object'),
        ({"ROUTEGRAPH_DATABASE_URL": "sqlite://"}, "is a routegraph setting"),
    ],
)
@pytest.mark.usefixtures("clean_env")
def test_an_env_that_cannot_be_loaded_stops_loading_with_the_cause(
    tmp_path: Path, env: object, cause: str
) -> None:
    config = write_config(tmp_path, env)
    with pytest.raises(GraphLoadError) as failure:
        load_config_graphs(config)
    assert str(config) in str(failure.value) and cause in str(failure.value)
    assert "RG_TEST_GREETING" not in os.environ
