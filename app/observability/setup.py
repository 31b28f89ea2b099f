"""Builds a process's telemetry from its settings and environment (at start-up)."""

from __future__ import annotations

from app.observability.metrics import Metrics
from app.observability.multiprocess import enable, multiprocess_dir
from app.observability.telemetry import Telemetry
from app.observability.tracing import Tracing, otlp_provider
from app.settings import Settings


def build_telemetry(settings: Settings) -> Telemetry:
    """Metrics unless ROUTEGRAPH_METRICS_ENABLED=false (multiprocess mode with
    ROUTEGRAPH_METRICS_DIR or PROMETHEUS_MULTIPROC_DIR); traces only when an OTLP endpoint
    is configured."""
    provider = otlp_provider()
    tracing = Tracing(provider) if provider is not None else None
    if not settings.metrics_enabled:
        return Telemetry(None, tracing)
    directory = settings.metrics_dir or multiprocess_dir()
    if directory is not None:
        enable(directory)
    return Telemetry(Metrics(), tracing)
