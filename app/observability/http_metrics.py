"""Counts every HTTP response by method, route template and status (pure ASGI middleware).

The route is the matched path template (`/v1/runs/{run_id}`), never the raw path, so the
label set stays bounded; a request answered before routing (or by no route) is `none`.
"""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.observability.metrics import Metrics


class HttpMetrics:
    """Outermost; the metrics are the app's services' (built in its lifespan)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        answered = False

        async def counted_send(message: Message) -> None:
            nonlocal answered
            if message["type"] == "http.response.start" and not answered:
                answered = True
                self._record(scope, int(message["status"]), time.perf_counter() - started)
            await send(message)

        try:
            await self.app(scope, receive, counted_send)
        finally:
            if not answered:  # the connection went away before any response
                self._record(scope, 499, time.perf_counter() - started)

    def _record(self, scope: Scope, status: int, seconds: float) -> None:
        services = getattr(scope["app"].state, "services", None)
        if services is None:  # before start-up completed
            return
        metrics: Metrics | None = services.telemetry.metrics
        if metrics is None:  # switched off (the middleware is then not installed)
            return
        route = scope.get("route")
        template = getattr(route, "path", None) or "none"
        method = scope.get("method", "")
        code = str(status)
        metrics.http_requests.labels(method, template, code).inc()
        if status >= 400:
            metrics.http_errors.labels(method, template, code).inc()
        metrics.http_duration.labels(method, template).observe(seconds)
