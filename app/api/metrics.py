"""`GET /metrics`: Prometheus exposition of this process (all processes of the host in
multiprocess mode) plus the figures every process shares, read from the database.

The page names every API key with a budget and its tenant, so it is not public: with
`ROUTEGRAPH_METRICS_TOKEN` set a scrape must send `Authorization: Bearer <token>`; without
it the page is open only while auth is off (bound to loopback and no API key exists, the
local-dev case where every request acts as one tenant anyway).
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Depends, Header
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from app.api.deps import get_services
from app.observability.multiprocess import render
from app.services.container import Services
from app.services.errors import ServiceError, Unauthenticated
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


def require_scrape_token(
    services: Annotated[Services, Depends(get_services)],
    authorization: Annotated[str | None, Header()] = None,
) -> None:
    """The metrics token as a bearer token, or auth off and no token configured; else 401."""
    configured = services.settings.metrics_token
    if configured is None:
        if not services.auth.enabled:
            return
        raise Unauthenticated(
            "/metrics needs a scrape token while API keys are in use: set "
            "ROUTEGRAPH_METRICS_TOKEN and send it as `Authorization: Bearer <token>`"
        )
    scheme, _, sent = (authorization or "").partition(" ")
    sent = sent.strip()
    expected = configured.get_secret_value().encode()
    if scheme.lower() != "bearer" or not sent or not hmac.compare_digest(sent.encode(), expected):
        raise Unauthenticated("send the metrics token as `Authorization: Bearer <token>`")


@router.get(
    "/metrics",
    response_class=Response,
    include_in_schema=False,
    dependencies=[Depends(require_scrape_token)],
)
async def metrics(services: Services = Depends(get_services)) -> Response:
    """Prometheus text format, for a scraper that sends the metrics token."""
    if services.telemetry.metrics is None:  # ROUTEGRAPH_METRICS_ENABLED=false
        raise MetricsOff("metrics are switched off (ROUTEGRAPH_METRICS_ENABLED=false)")
    shared = CollectorRegistry(auto_describe=False)
    shared.register(_DatabaseGauges(await read_gauges(services.sessions)))
    body = render(services.telemetry.metrics.registry) + generate_latest(shared)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
