"""Simulator settings: one validated object, built by the caller (never read at import)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from devtools.simulator.faults import FaultKind, FaultRule
from devtools.simulator.verdicts import VerdictRule

__all__ = ["FaultKind", "FaultRule", "SimulatorConfig", "VerdictRule"]


class SimulatorConfig(BaseModel):
    """Everything that changes how the simulator behaves; reproducible for a given seed."""

    model_config = ConfigDict(extra="forbid")

    catalog_path: Path | None = Field(
        default=None, description="catalog YAML; the shipped one if unset"
    )
    latency_scale: float = Field(
        default=1.0, ge=0.0, description="multiplies catalog latencies; 0 answers at once"
    )
    seed: int = Field(default=0, description="seeds the fault probability draws")
    faults: list[FaultRule] = Field(default_factory=list)
    verdicts: list[VerdictRule] = Field(
        default_factory=list, description="scripted verifier/judge verdicts (verdicts.py)"
    )
    timeout_hang_seconds: float = Field(
        default=30.0, ge=0.0, description="how long a `timeout` fault stalls before answering"
    )
    request_log_size: int = Field(
        default=500, ge=1, description="received requests kept for /admin"
    )
    recorded_answers: bool = Field(
        False, description="answer RouteLLM dataset prompts with the recorded model answers"
    )
    data_dir: Path | None = Field(
        None, description="recorded data; ROUTEGRAPH_DATA_DIR, else benchmarks/data"
    )
    prompt_cache_min_tokens: int | None = Field(
        default=1024,
        ge=0,
        description="prompts sharing a prefix this long get cached_tokens; null disables",
    )

    @classmethod
    def from_json_file(cls, path: str | Path) -> SimulatorConfig:
        """Load a config written as JSON (same field names)."""
        return cls.model_validate_json(Path(path).read_text(encoding="utf-8"))
