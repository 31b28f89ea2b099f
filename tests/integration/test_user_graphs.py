"""The user's own LangGraph graphs, named in a langgraph.json the test writes, served over REST."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from app.api.app import create_app
from app.db.models import ModelCall
from app.db.tenant_scope import checkpoint_thread
from app.services.container import Services
from app.settings import Settings
from graphs.langgraph_json import GraphLoadError, load_config_graphs
from tests.support.live_server import LiveServer
from tests.support.simulator_admin import SimulatorAdmin
from tests.support.user_graphs import GRAPH, write_config


async def test_a_langgraph_json_graph_runs_over_rest_with_its_checkpoints(
    database_url: str, simulator: SimulatorAdmin, tmp_path: Path
) -> None:
    config = write_config(tmp_path)
    settings = Settings(database_url=database_url, simulator_url=simulator.base_url, config=config)
    app = create_app(settings, embedded_worker=True)
    with LiveServer(app) as base_url:
        async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
            graphs = {g["name"]: g for g in (await client.get("/v1/graphs")).json()}
            assert graphs["notes"]["source"] == "python"
            assert graphs["notes"]["description"] == "Summarise a note, then shout it."
            assert set(graphs["notes"]["input_schema"]["properties"]) == {"note", "summary", "log"}
            assert set(graphs["notes"]["nodes"]) == {"summarise", "shout"}

            bad = await client.post("/v1/runs", json={"graph": "notes", "input": {"note": 3}})
            assert bad.status_code == 422 and bad.json()["errors"][0]["loc"] == ["note"]

            body = {"graph": "notes", "input": {"note": "the offsite costs 3460 USD"}}
            response = await client.post("/v1/runs?wait=true", json=body)
            assert response.status_code == 200, response.text
            run = response.json()
            assert run["status"] == "succeeded", run["error"]
            assert run["output"]["summary"] and run["output"]["summary"].isupper()
            assert run["output"]["log"] == ["summarise", "shout"]
            calls = (await client.get(f"/v1/runs/{run['id']}/calls")).json()
            assert [(c["node"], c["tier"], c["status"]) for c in calls] == [
                ("summarise", "edge", "ok")
            ]
        services: Services = app.state.services
        checkpoints = [
            c
            async for c in services.checkpointer.alist(
                # A tenant's thread is checkpointed behind its tenant id.
                {"configurable": {"thread_id": checkpoint_thread("default", run["thread_id"])}}
            )
        ]
        # input, after summarise, after shout (LangGraph writes one per step)
        assert len(checkpoints) >= 3
        assert checkpoints[0].checkpoint["channel_values"]["summary"] == run["output"]["summary"]
        async with services.sessions() as session:
            rows = await session.scalar(
                select(func.count()).select_from(ModelCall).where(ModelCall.graph == "notes")
            )
        assert rows == 1


def test_every_kind_of_export_loads(tmp_path: Path) -> None:
    """A compiled graph, a StateGraph builder and a factory function all load."""
    source = GRAPH + "\nbuilder_export = make_graph().builder\ncompiled_export = make_graph()\n"
    for index, target in enumerate(("make_graph", "builder_export", "compiled_export")):
        directory = tmp_path / str(index)
        directory.mkdir()
        definition = load_config_graphs(write_config(directory, source, target))["notes"]
        compiled = definition.build(None)
        assert set(compiled.get_graph().nodes) >= {"summarise", "shout"}
        assert definition.validate_input({"note": "x"}) == {"note": "x"}


@pytest.mark.parametrize(
    ("source", "target", "cause"),
    [
        ("def broken(:\n", "graph", "import failed: SyntaxError"),
        ("import not_a_module_anywhere\n", "graph", "No module named 'not_a_module_anywhere'"),
        ("x = 1\n", "graph", "the module has no attribute 'graph'"),
        ("graph = 42\n", "graph", "expected a compiled graph, a StateGraph or a factory"),
        ("def graph():\n    raise ValueError('no API key')\n", "graph", "ValueError: no API key"),
    ],
)
def test_a_graph_that_cannot_load_names_the_file_and_the_cause(
    tmp_path: Path, source: str, target: str, cause: str
) -> None:
    config = write_config(tmp_path, source, target)
    with pytest.raises(GraphLoadError) as failure:
        load_config_graphs(config)
    message = str(failure.value)
    assert str(config) in message and "notes" in message and cause in message


def test_serve_stops_at_start_up_on_a_broken_graph(tmp_path: Path) -> None:
    config = write_config(tmp_path, "def broken(:\n")
    completed = subprocess.run(
        [sys.executable, "-m", "app.cli", "serve", "--config", str(config), "--port", "9"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 2
    output = completed.stdout + completed.stderr
    assert "notes.py" in output or "langgraph.json" in output
    assert "SyntaxError" in output


async def test_the_chat_model_refuses_to_call_outside_a_run() -> None:
    from nodes.chat_model import RoutegraphChatModel

    with pytest.raises(RuntimeError, match="only inside a graph run by routegraph"):
        await RoutegraphChatModel(tier="edge").ainvoke("hello")
    with pytest.raises(ValueError, match="exactly one of tier, model or policy"):
        RoutegraphChatModel(tier="edge", policy="auto")
