"""The mutable parts of one simulator instance, built by `create_app` and kept on app.state."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from app.routing.catalog import Catalog, ModelSpec, load_catalog
from devtools.simulator.cache import PrefixCache, SimClock
from devtools.simulator.config import SimulatorConfig
from devtools.simulator.faults import FaultInjector
from devtools.simulator.request_log import RequestLog
from devtools.simulator.responder import Responder, default_responder
from devtools.simulator.verdicts import VerdictScript


@dataclass
class SimulatorState:
    config: SimulatorConfig
    catalog: Catalog
    responder: Responder
    faults: FaultInjector
    verdicts: VerdictScript
    requests: RequestLog
    cache: PrefixCache | None
    clock: SimClock

    @classmethod
    def build(cls, config: SimulatorConfig, responder: Responder | None = None) -> SimulatorState:
        cache_min = config.prompt_cache_min_tokens
        clock = SimClock()
        return cls(
            config=config,
            catalog=load_catalog(config.catalog_path),
            responder=responder or _responder_for(config),
            faults=FaultInjector(list(config.faults), config.seed),
            verdicts=VerdictScript(list(config.verdicts)),
            requests=RequestLog(config.request_log_size),
            cache=PrefixCache(cache_min, clock=clock) if cache_min is not None else None,
            clock=clock,
        )

    def served_models(self) -> list[ModelSpec]:
        """Catalog models this simulator answers for (provider "simulator")."""
        return [spec for spec in self.catalog.models.values() if spec.provider == "simulator"]

    def served_model(self, name: str) -> ModelSpec | None:
        spec = self.catalog.models.get(name)
        return spec if spec is not None and spec.provider == "simulator" else None


def get_state(request: Request) -> SimulatorState:
    """FastAPI dependency: this app's simulator state."""
    state: SimulatorState = request.app.state.simulator
    return state


def _responder_for(config: SimulatorConfig) -> Responder:
    responder = default_responder()
    if config.recorded_answers:
        from devtools.simulator.recorded import RecordedAnswers

        responder.sources.insert(0, RecordedAnswers.from_data_dir(config.data_dir))
    return responder
