"""Builds the process's long-lived objects at start-up and closes them at shutdown."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.store.base import BaseStore

from app.db.checkpoints import open_checkpointer
from app.db.engine import Database, Sessions, open_database
from app.db.journal import RunJournal
from app.db.migrate import upgrade_database
from app.db.routing_stats_repo import DbStatsStore
from app.db.schema_version import schema_is_current
from app.db.store import open_store
from app.gateway.cache import CacheStore, DatabaseCache, RedisCache
from app.gateway.gateway import Gateway
from app.gateway.litellm_client import start_loading_litellm
from app.gateway.providers import uses_litellm
from app.gateway.rules_guard import RulesSource
from app.observability.setup import build_telemetry
from app.observability.telemetry import Telemetry
from app.routing.catalog import Catalog, load_catalog
from app.routing.classifier import TaskClassifier
from app.routing.clusters import TopicClusters
from app.routing.judge import valid_judge
from app.routing.online import OnlineLearner
from app.routing.online_config import OnlineConfig
from app.services.auth import Authenticator
from app.services.chat import ChatService
from app.services.experiment_assign import ArmAssigner
from app.services.graph_registry import GraphRegistry
from app.services.graph_specs import spec_tools, tool_egress
from app.services.notifier import Notifier
from app.settings import Settings
from graphs.registry import GraphDefinition, builtin_graphs
from nodes.tools.mcp_servers import McpHub, load_mcp_servers


@dataclass
class Services:
    settings: Settings
    database: Database
    # The API and the worker use separate pools, so requests can never starve the worker
    # of connections (nor the other way round).
    sessions: Sessions
    worker_sessions: Sessions
    catalog: Catalog
    registry: GraphRegistry
    gateway: Gateway
    journal: RunJournal
    checkpointer: BaseCheckpointSaver[Any]
    store: BaseStore  # every tenant's items; a tenant's view is app.db.store.TenantStore
    notifier: Notifier
    auth: Authenticator
    chat: ChatService
    assigner: ArmAssigner
    mcp: McpHub
    telemetry: Telemetry


def load_graphs(settings: Settings) -> dict[str, GraphDefinition]:
    """Built-ins plus the graphs of `settings.config` (a langgraph.json); GraphLoadError or
    ValueError (a name clash) stop start-up with the file and the cause."""
    graphs = builtin_graphs()
    if settings.config is not None:
        from graphs.langgraph_json import load_config_graphs

        for name, definition in load_config_graphs(settings.config).items():
            if name in graphs:
                raise ValueError(f"{settings.config}: graph {name!r} clashes with a built-in graph")
            graphs[name] = definition
    return graphs


def online_config(settings: Settings) -> OnlineConfig:
    """The online estimates' knobs operators set (the rest keep the benchmarked defaults)."""
    return OnlineConfig(
        explore_share=settings.routing_explore_share,
        explore_budget_usd=settings.routing_explore_budget_usd,
        prior_strength=settings.routing_prior_strength,
        min_evidence=settings.routing_min_evidence,
        cost_weight=settings.routing_cost_weight,
        pool_classes=settings.routing_pool_classes,
        agreement_votes=settings.routing_agreement_votes,
        judge_with=settings.routing_judge_with,
    )


@asynccontextmanager
async def build_services(
    settings: Settings, *, telemetry: Telemetry | None = None
) -> AsyncIterator[Services]:
    """Everything a server or worker process needs, built once and passed down (tests may
    pass their own telemetry, e.g. traces to an in-memory exporter)."""
    catalog = load_catalog(settings.catalog_path)
    judge = settings.routing_judge_with
    if judge is not None and not valid_judge(catalog, judge):
        raise ValueError(
            f"ROUTEGRAPH_ROUTING_JUDGE_WITH={judge!r} is neither a model nor a tier of the catalog"
        )
    direct = settings.direct_provider_client
    if any(uses_litellm(model, direct_client=direct) for model in catalog.models.values()):
        # LiteLLM's import takes seconds: it runs in the background while the rest starts;
        # a model call that comes before it is done waits for it. A catalog served only by
        # the direct client never imports it (nor waits for that import at exit).
        start_loading_litellm()
    graphs = load_graphs(settings)
    if settings.auto_migrate and not schema_is_current(settings.database_url):
        await asyncio.to_thread(upgrade_database, settings.database_url)
    busy = settings.sqlite_busy_timeout_ms
    pool = settings.db_pool_size
    telemetry = telemetry or build_telemetry(settings)
    notifier = Notifier()
    database = open_database(
        settings.database_url,
        busy_timeout_ms=busy,
        pool_size=pool,
        publish=notifier.events_committed,
    )
    sessions, worker_sessions = database.api, database.worker
    listener = None
    live_sender = None
    gateway: Gateway | None = None
    chat: ChatService | None = None
    try:
        listener = database.start_listener(notifier)
        live_sender = database.start_live_sender(notifier.origin)
        notifier.remote = live_sender
        gateway = Gateway(
            catalog=catalog,
            classifier=TaskClassifier.load(settings.router_model_path),
            learner=OnlineLearner(
                TopicClusters.load(),
                DbStatsStore(
                    worker_sessions,
                    per_tenant=settings.routing_per_tenant,
                    cache_seconds=settings.routing_cache_seconds,
                ),
                online_config(settings),
            ),
            session_factory=worker_sessions,
            simulator_url=settings.simulator_url,
            timeout_s=settings.model_timeout_seconds,
            default_max_output_tokens=settings.default_max_output_tokens,
            prior_output_tokens=settings.prior_output_tokens,
            direct_client=settings.direct_provider_client,
            journal=database.journal,
            cache_aware=settings.cache_aware_routing,
            cache_hints=settings.cache_hints,
            rules=RulesSource(sessions, settings.rules_cache_seconds),
            telemetry=telemetry,
        )
        cache: CacheStore = (
            RedisCache(settings.redis_url)
            if settings.redis_url
            else DatabaseCache(sessions, database.cache_reader())
        )
        assigner = ArmAssigner(sessions)
        chat = ChatService(
            gateway,
            cache,
            ttl_s=settings.cache_ttl_seconds,
            ledger_sessions=worker_sessions,
            assigner=assigner,
        )
        auth = Authenticator(sessions, host=settings.host, cache_seconds=settings.key_cache_seconds)
        mcp = McpHub(load_mcp_servers(settings.mcp_servers_path), tool_egress(settings))
        async with (
            open_checkpointer(
                settings.database_url,
                busy_timeout_ms=busy,
                pool_size=min(settings.worker_concurrency, pool),
                sqlite_write_lock=database.write_lock,
            ) as checkpointer,
            open_store(
                settings.database_url,
                busy_timeout_ms=busy,
                pool_size=min(settings.worker_concurrency, pool),
                sqlite_write_lock=database.write_lock,
            ) as store,
        ):
            registry = GraphRegistry(
                graphs, sessions, checkpointer, catalog, spec_tools(settings, mcp), store
            )
            await registry.register_loaded()
            yield Services(
                settings=settings,
                database=database,
                sessions=sessions,
                worker_sessions=worker_sessions,
                catalog=catalog,
                registry=registry,
                gateway=gateway,
                journal=database.journal,
                checkpointer=checkpointer,
                store=store,
                notifier=notifier,
                auth=auth,
                chat=chat,
                assigner=assigner,
                mcp=mcp,
                telemetry=telemetry,
            )
    finally:
        if chat is not None:
            await chat.aclose()
        if gateway is not None:
            await gateway.aclose()
        if listener is not None:
            await listener.stop()
        if live_sender is not None:
            notifier.remote = None
            await live_sender.stop()
        await database.dispose()
        telemetry.close()
