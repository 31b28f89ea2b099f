"""Service settings: one object, every knob an env var `ROUTEGRAPH_*`."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./routegraph.db"


class Settings(BaseSettings):
    """Read once at start-up and passed down; never read at import time."""

    model_config = SettingsConfigDict(env_prefix="ROUTEGRAPH_", extra="ignore")

    database_url: str = Field(
        DEFAULT_DATABASE_URL,
        description="sqlite+aiosqlite:///path (embedded) or postgresql+psycopg://user@host/db",
    )
    config: Path | None = Field(
        None, description="a langgraph.json naming the user's own LangGraph graphs to serve"
    )
    catalog_path: Path | None = Field(None, description="model catalog YAML; shipped one if unset")
    router_model_path: Path | None = Field(
        None, description="task classifier artifact; the shipped one if unset"
    )
    simulator_url: str = Field(
        "http://127.0.0.1:8790/v1", description="base URL of the provider simulator"
    )
    host: str = "127.0.0.1"
    port: int = 8000
    auto_migrate: bool = Field(True, description="run Alembic migrations at serve/worker start")
    lease_seconds: float = Field(30.0, gt=0, description="how long a worker's claim on a run lasts")
    solo_after_recoveries: int = Field(
        2,
        ge=1,
        description="after its worker vanished this many times, a run is resumed only by a "
        "worker that runs nothing else, alone, so a further death can be blamed on it",
    )
    max_run_crashes: int = Field(
        3,
        ge=1,
        description="deaths in a row of a run's solo workers, each before it completed a "
        "graph step, before the run is failed as their cause (a poison pill); deaths of "
        "workers it shared are never counted",
    )
    poll_seconds: float = Field(
        2.0,
        gt=0,
        description="safety-net poll of an idle worker (wake-ups are pushed; this also sweeps "
        "runs whose lease expired)",
    )
    cron_poll_seconds: float = Field(
        1.0,
        gt=0,
        le=60,
        description="how often a worker looks for due crons (a firing is claimed in the "
        "database, so any number of workers start each firing once)",
    )
    push_safety_poll_seconds: float = Field(
        2.0,
        gt=0,
        description="SSE streams and ?wait=true re-read the database this often if no "
        "notification arrives (events are pushed; this is only a safety net)",
    )
    worker_concurrency: int = Field(
        32, ge=1, le=1000, description="runs one worker executes at once"
    )
    shutdown_grace_seconds: float = Field(
        20.0, ge=0, description="on shutdown, how long running runs get to reach a checkpoint"
    )
    event_flush_seconds: float = Field(
        0.2, gt=0, description="longest a node event waits to be written with the run's next write"
    )
    model_timeout_seconds: float = Field(60.0, gt=0, description="per model call")
    run_timeout_seconds: float = Field(900.0, gt=0, description="per run, checked between nodes")
    max_body_bytes: int = Field(1_000_000, gt=0, description="largest accepted request body")
    header_timeout_seconds: float = Field(
        10.0, gt=0, description="`serve` drops a connection whose request headers take longer"
    )
    max_connections_per_client: int = Field(
        64,
        ge=0,
        description="`serve`'s open connections per client address (0: no limit); behind a "
        "proxy every client has the proxy's address",
    )
    api_max_active_requests: int = Field(
        4,
        ge=0,
        description="requests worked on at once per API process; more wait their turn, so "
        "the embedded worker is never starved (0: no limit)",
    )
    default_max_output_tokens: int = Field(
        1024, gt=0, description="first larger limit when an answer with no max_tokens is cut"
    )
    prior_output_tokens: int = Field(
        256,
        gt=0,
        description="a call's expected output tokens before the ledger has history for its node",
    )
    routing_explore_share: float = Field(
        0.05,
        ge=0,
        le=1,
        description="share of a tenant's auto/cascade decisions (per process) that may try "
        "another model, or keep a cheap answer, to learn whether it suffices; 0 turns "
        "exploration off",
    )
    routing_explore_budget_usd: float | None = Field(
        None,
        ge=0,
        description="per tenant and process: at most this much extra spend (over what the "
        "exploited choice would have cost) on exploring; unset: only the share bounds it",
    )
    routing_prior_strength: float = Field(
        20.0,
        gt=0,
        description="how many feedback events the classifier's prediction is worth before "
        "feedback outweighs it",
    )
    routing_min_evidence: float = Field(
        10.0,
        ge=0,
        description="feedback events an out-of-distribution request's tier needs before auto "
        "may pick it over the safe tier",
    )
    routing_cost_weight: float | None = Field(
        None,
        ge=0,
        description="set: auto over models takes the highest expected utility, p(good) minus "
        "this weight x cost / the frontier default's cost, by Thompson sampling; unset: the "
        "cheapest model whose estimate clears the threshold",
    )
    routing_pool_classes: bool = Field(
        True,
        description="a model's feedback in other task classes informs its estimate in this "
        "one; false: each class learns from its own feedback and its prior (a catalog "
        "`task_priors` score is never outweighed by other classes either way)",
    )
    routing_agreement_votes: Literal[2, 3] = Field(
        2,
        description="3: where auto checks a cheap answer by agreement and the two comparable "
        "answers disagree, a third cheap model answers and the majority of three is served "
        "before escalating; 2: a disagreement escalates",
    )
    routing_judge_with: str | None = Field(
        None,
        description="who judges a cheap answer auto checks by a judge (a catalog model or "
        "tier); unset: the mid tier's first model other than the one that answered",
    )
    routing_per_tenant: bool = Field(
        False,
        description="learn one routing table per tenant instead of one shared by all tenants",
    )
    routing_cache_seconds: float = Field(
        1.0,
        ge=0,
        description="how long a process reuses learned cells it read (0: read every "
        "decision); its own feedback clears them at once",
    )
    direct_provider_client: bool = Field(
        True,
        description="call OpenAI-compatible models (provider: simulator) with the lean httpx "
        "client instead of LiteLLM",
    )
    cache_aware_routing: bool = Field(
        True,
        description="within a tier, send a conversation to the model whose provider still "
        "caches its prompt prefix when that is cheaper",
    )
    cache_hints: bool = Field(
        True,
        description="add cache_control markers to long prompts for providers that cache only "
        "marked prefixes (catalog prompt_cache.hints)",
    )
    cache_ttl_seconds: float = Field(
        3600.0, ge=0, description="how long /v1/chat/completions answers are cached; 0 = off"
    )
    redis_url: str | None = Field(
        None, description="redis://host:port/db: the response cache lives there instead"
    )
    key_cache_seconds: float = Field(
        5.0, ge=0, description="how long a process trusts an API key lookup (revocation delay)"
    )
    mcp_servers_path: Path | None = Field(
        None, description="YAML/JSON file of the MCP servers tools may call, and who may"
    )
    rules_cache_seconds: float = Field(
        2.0,
        ge=0,
        description="how long a process trusts a tenant's provider rules read (a change made "
        "through another process applies within this time)",
    )
    retain_payloads_days: float = Field(
        0,
        ge=0,
        description="`routegraph prune` removes checkpoints and request/response bodies of runs "
        "finished longer ago (ledger cost rows stay); 0 keeps them forever",
    )
    sqlite_busy_timeout_ms: int = 10_000
    db_pool_size: int = Field(
        4,
        ge=1,
        le=100,
        description="Postgres connections per pool (API, worker and checkpointer each have "
        "one; the first two may double it under load)",
    )
    tool_allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="comma-separated hosts (or host:port) spec tools may connect to; a "
        "spec's allow_hosts can only narrow it (empty: any host with public addresses)",
    )
    tool_allowed_networks: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="comma-separated networks (CIDR) that are not public but spec tools may "
        "reach anyway, e.g. 10.1.0.0/16; loopback, private, link-local and metadata "
        "addresses are refused otherwise",
    )
    metrics_enabled: bool = Field(
        True,
        description="record Prometheus metrics and serve /metrics; false: nothing is "
        "recorded (no middleware, no counters) and /metrics is a 404",
    )
    metrics_dir: Path | None = Field(
        None,
        description="a directory the processes of one host (serve, workers) share for their "
        "Prometheus metrics, so /metrics adds them all up (multiprocess mode; "
        "PROMETHEUS_MULTIPROC_DIR works too); unset: /metrics shows its own process",
    )
    metrics_token: SecretStr | None = Field(
        None,
        description="the bearer token Prometheus sends to scrape /metrics; unset: /metrics "
        "is open only while auth is off (bound to loopback, no API key exists)",
    )
    log_level: str = "INFO"

    @field_validator("tool_allowed_hosts", "tool_allowed_networks", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read from the environment on first use."""
    return Settings()
