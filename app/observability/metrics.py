"""The service's Prometheus metrics: one `Metrics` object per process, built at start-up.

Every metric is created on a registry the object owns (never the global one), so tests
and several apps in one process do not collide. In multiprocess mode
(`app.observability.multiprocess`) the values live in files shared by the processes of a
host and `/metrics` sums them; the gauges are then per-process live sums.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# Model calls: 1 ms (a cache or a local model) to 2 minutes (a long frontier answer).
CALL_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
FIRST_TOKEN_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
QUEUE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)

CALL_LABELS = ("model", "tier", "task_class", "policy")


class Metrics:
    """The metrics a process records; `registry` is what `/metrics` exposes (one process)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        self.http_requests = Counter(
            "routegraph_http_requests",
            "HTTP requests answered, by route template and status code",
            ["method", "route", "status"],
            registry=r,
        )
        self.http_errors = Counter(
            "routegraph_http_request_errors",
            "HTTP requests answered with a 4xx or 5xx status",
            ["method", "route", "status"],
            registry=r,
        )
        self.http_duration = Histogram(
            "routegraph_http_request_duration_seconds",
            "Time to the response's first byte (a stream's duration is not included)",
            ["method", "route"],
            buckets=HTTP_BUCKETS,
            registry=r,
        )
        self.model_calls = Counter(
            "routegraph_model_calls",
            "Model call attempts (each a ledger row), by outcome: ok, error, invalid_output, "
            "rejected",
            [*CALL_LABELS, "outcome"],
            registry=r,
        )
        self.model_tokens = Counter(
            "routegraph_model_tokens",
            "Tokens of model call attempts, by type: input, output, cached (input read from "
            "the provider's cache)",
            [*CALL_LABELS, "type"],
            registry=r,
        )
        self.model_spend = Counter(
            "routegraph_model_spend_usd",
            "What model call attempts cost, in US dollars (catalog prices)",
            CALL_LABELS,
            registry=r,
        )
        self.model_duration = Histogram(
            "routegraph_model_call_duration_seconds",
            "Duration of model call attempts, by outcome",
            [*CALL_LABELS, "outcome"],
            buckets=CALL_BUCKETS,
            registry=r,
        )
        self.time_to_first_token = Histogram(
            "routegraph_model_time_to_first_token_seconds",
            "Streamed calls: from the request to the first token of the answer",
            CALL_LABELS,
            buckets=FIRST_TOKEN_BUCKETS,
            registry=r,
        )
        self.fallbacks = Counter(
            "routegraph_model_fallbacks",
            "Attempts made on a next model after the previous one failed (the model and tier "
            "fallen back to)",
            ["model", "tier", "policy"],
            registry=r,
        )
        self.escalations = Counter(
            "routegraph_cascade_escalations",
            "Cascade stages whose answer was not kept: the call went on to the next tier",
            ["from_tier", "to_tier", "task_class"],
            registry=r,
        )
        self.cache_lookups = Counter(
            "routegraph_cache_lookups",
            "/v1/chat/completions answers looked up in the response cache, by result: hit, "
            "shared (joined an identical call in flight), miss",
            ["result"],
            registry=r,
        )
        self.runs_finished = Counter(
            "routegraph_runs_finished",
            "Runs a worker of this process brought to a terminal status",
            ["status"],
            registry=r,
        )
        self.queue_wait = Histogram(
            "routegraph_run_queue_wait_seconds",
            "From a run's submission to its first claim by a worker (queued -> started)",
            buckets=QUEUE_BUCKETS,
            registry=r,
        )
        self.leases_lost = Counter(
            "routegraph_worker_leases_lost",
            "Runs a worker gave up because its lease moved on to another worker",
            registry=r,
        )
        self.slots_in_use = Gauge(
            "routegraph_worker_slots_in_use",
            "Runs this process's worker executes now",
            multiprocess_mode="livesum",
            registry=r,
        )
        self.slots = Gauge(
            "routegraph_worker_slots",
            "Runs this process's worker may execute at once (ROUTEGRAPH_WORKER_CONCURRENCY)",
            multiprocess_mode="livesum",
            registry=r,
        )
