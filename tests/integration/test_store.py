"""LangGraph's store on the service's database: a graph's nodes get it as their `store`,
each tenant sees only its own items, and the use cases answer in LangGraph's shapes."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from app.api.app import create_app
from app.services import store as store_service
from app.services.container import build_services
from app.services.errors import InvalidInput
from app.settings import Settings
from tests.support.live_server import LiveServer
from tests.support.memory_graph import write_config


async def test_graph_nodes_share_the_tenant_s_store_across_runs(
    database_url: str, tmp_path: Path
) -> None:
    settings = Settings(database_url=database_url, config=write_config(tmp_path))
    app = create_app(settings, embedded_worker=True)
    with LiveServer(app) as base_url:
        async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
            seen = []
            for note in ("likes tea", "hates meetings"):
                body = {"graph": "memory", "input": {"user": "ada", "note": note}}
                run = (await client.post("/v1/runs?wait=true", json=body)).json()
                assert run["status"] == "succeeded", run["error"]
                seen.append(run["output"]["seen"])
            assert seen == [0, 1]  # the second run found the first run's item

    # The service stopped; its store read and written from this test's own event loop (the
    # server's services live on the server's loop and its SQLite write lock with them).
    async with build_services(settings) as services:
        item = await store_service.get_item(services, "default", ["notes", "ada"], "note-0")
        assert item is not None
        assert (item["namespace"], item["key"], item["value"]) == (
            ["notes", "ada"],
            "note-0",
            {"text": "likes tea"},
        )
        assert set(item) == {"namespace", "key", "value", "created_at", "updated_at"}

        # another tenant: the same namespace is its own, empty, and its writes stay its own
        assert await store_service.get_item(services, "globex", ["notes", "ada"], "note-0") is None
        await store_service.put_item(services, "globex", ["notes", "ada"], "note-0", {"x": 1})
        found = await store_service.search_items(services, "default", ["notes"], limit=10)
        assert sorted((i["key"], i["value"]["text"]) for i in found["items"]) == [
            ("note-0", "likes tea"),
            ("note-1", "hates meetings"),
        ]
        filtered = await store_service.search_items(
            services, "default", ["notes"], filter={"text": "hates meetings"}
        )
        assert [i["key"] for i in filtered["items"]] == ["note-1"]
        assert await store_service.list_namespaces(services, "default") == {
            "namespaces": [["notes", "ada"]]
        }
        assert await store_service.list_namespaces(services, "globex", max_depth=1) == {
            "namespaces": [["notes"]]
        }
        assert await store_service.list_namespaces(services, "default", prefix=["other"]) == {
            "namespaces": []
        }

        await store_service.delete_item(services, "default", ["notes", "ada"], "note-0")
        assert await store_service.get_item(services, "default", ["notes", "ada"], "note-0") is None
        assert await store_service.get_item(services, "globex", ["notes", "ada"], "note-0")


async def test_a_bad_namespace_label_is_invalid_input(sqlite_url: str) -> None:
    async with build_services(Settings(database_url=sqlite_url)) as services:
        for namespace in (["a.b"], [""], ["ok", 3]):
            with pytest.raises(InvalidInput, match="namespace labels"):
                await store_service.put_item(services, "default", namespace, "k", {"v": 1})
