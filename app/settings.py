"""Service settings: one object, every knob an env var `ROUTEGRAPH_*`."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./routegraph.db"


class Settings(BaseSettings):
    """Read once at start-up and passed down; never read at import time."""

    model_config = SettingsConfigDict(env_prefix="ROUTEGRAPH_", extra="ignore")

    database_url: str = Field(
        DEFAULT_DATABASE_URL,
        description="sqlite+aiosqlite:///path (embedded) or postgresql+psycopg://user@host/db",
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
    max_attempts: int = Field(
        5, ge=1, description="claims of one run before it is failed (a run that kills workers)"
    )
    poll_seconds: float = Field(0.5, gt=0, description="idle worker poll interval")
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
    default_max_output_tokens: int = Field(
        1024, gt=0, description="used to estimate a call's cost for the budget check"
    )
    sqlite_busy_timeout_ms: int = 10_000
    log_level: str = "INFO"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read from the environment on first use."""
    return Settings()
