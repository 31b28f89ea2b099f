"""`GET /metrics`: Prometheus exposition of this process (all processes of the host in
multiprocess mode) plus the figures every process shares, read from the database."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from app.api.deps import get_services
from app.observability.multiprocess import render
from app.services.container import Services
from app.services.errors import ServiceError
from app.services.service_gauges import ServiceGauges, read_gauges

router = APIRouter(tags=["metrics"])


class MetricsOff(ServiceError):
    status = 404
    title = "Metrics are switched off"


class _DatabaseGauges(Collector):
    def __init__(self, gauges: ServiceGauges) -> None:
        self.gauges = gauges

    def collect(self) -> Iterator[Metric]:
        g = self.gauges
        yield GaugeMetricFamily(
            "routegraph_run_queue_depth", "Runs queued and not yet claimed", value=g.runs_queued
        )
        runs = GaugeMetricFamily(
            "routegraph_runs", "Runs now queued or running (all processes)", labels=["status"]
        )
        runs.add_metric(["queued"], g.runs_queued)
        runs.add_metric(["running"], g.runs_running)
        yield runs
        remaining = GaugeMetricFamily(
            "routegraph_key_budget_remaining_usd",
            "What each API key with a budget may still spend this period, in US dollars",
            labels=["key_id", "tenant"],
        )
        budget = GaugeMetricFamily(
            "routegraph_key_budget_usd",
            "Each API key's budget per period, in US dollars",
            labels=["key_id", "tenant"],
        )
        for key in g.key_budgets:
            remaining.add_metric([key.key_id, key.tenant_id], key.remaining_usd)
            budget.add_metric([key.key_id, key.tenant_id], key.budget_usd)
        yield remaining
        yield budget


@router.get("/metrics", response_class=Response, include_in_schema=False)
async def metrics(services: Services = Depends(get_services)) -> Response:
    """Prometheus text format (scrape it; no API key needed, as for /healthz)."""
    if services.telemetry.metrics is None:  # ROUTEGRAPH_METRICS_ENABLED=false
        raise MetricsOff("metrics are switched off (ROUTEGRAPH_METRICS_ENABLED=false)")
    shared = CollectorRegistry(auto_describe=False)
    shared.register(_DatabaseGauges(await read_gauges(services.sessions)))
    body = render(services.telemetry.metrics.registry) + generate_latest(shared)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
