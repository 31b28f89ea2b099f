"""The dashboard's figures: each page's numbers from aggregations in the database
(`dashboard_repo`), combined here with the catalog's prices where a figure needs one.

Definitions (the README's Dashboard section repeats them):
- a *request* is a logical model call: its first attempt (fallbacks are further attempts);
- *attempts* are rows that reached (or tried to reach) a provider: ok, error,
  invalid_output, rejected, lost; errors by kind are the non-ok ones among them;
- *successful* requests ended `ok` or as a cache hit; replays ($0, debugging) are left out;
- *savings* = what the answered (`ok`) calls' tokens would have cost on the frontier tier's
  first model, minus everything spent.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from app.db import dashboard_repo as repo
from app.db.dashboard_repo import Window
from app.routing.catalog import Catalog
from app.services.api_keys import period_key
from app.services.container import Services
from app.services.dashboard_window import bucket_unit, describe, iso

ATTEMPT_STATUSES = ("ok", "error", "invalid_output", "rejected", "lost")
ERROR_KINDS = ("error", "invalid_output", "rejected", "lost")
SUCCESS_STATUSES = ("ok", "cache_hit")
QUANTILES = (0.5, 0.95)

# Calls whose policy names their tier or model (the `tier` policy: a node's fixed tier,
# `model="edge"` on the OpenAI endpoint; or a pinned model) are routed without the task
# classifier, so they carry no class; the mix shows them under this name.
FIXED_ROUTE_CLASS = "fixed route (not classified)"


def _ratio(part: float, whole: float) -> float | None:
    return part / whole if whole else None


def _frontier_usd(catalog: Catalog, rows: list[dict[str, Any]]) -> float:
    frontier = catalog.chain("frontier")[0]
    ok = [r for r in rows if r["status"] == "ok"]
    return frontier.cost_usd(
        sum(int(r["prompt_tokens"]) for r in ok),
        sum(int(r["completion_tokens"]) for r in ok),
        sum(int(r["cached_tokens"]) for r in ok),
    )


def _count(rows: list[dict[str, Any]], statuses: tuple[str, ...], column: str = "calls") -> int:
    return sum(int(r[column]) for r in rows if r["status"] in statuses)


async def overview(services: Services, window: Window) -> dict[str, Any]:
    """Requests, runs, spend, cost per success, savings, error/fallback/cache rates."""
    unit = bucket_unit(window)
    async with services.sessions() as session:
        rows = await repo.totals_by_status(session, window)
        runs = await repo.runs_by_status(session, window)
        series = await repo.series_by_status(session, window, unit)
    rows = [r for r in rows if r["status"] != "replayed"]
    requests = sum(int(r["first_attempts"]) for r in rows)
    attempts = _count(rows, ATTEMPT_STATUSES)
    successful = _count(rows, SUCCESS_STATUSES)
    spend = sum(float(r["cost_usd"]) for r in rows)
    frontier = _frontier_usd(services.catalog, rows)
    cache_hits = _count(rows, ("cache_hit",))
    buckets: dict[str, dict[str, Any]] = {}
    for row in series:
        if row["status"] == "replayed":
            continue
        at = iso(row["bucket"])
        point = buckets.setdefault(at, {"at": at, "calls": 0, "errors": 0, "spend_usd": 0.0})
        point["calls"] += int(row["calls"])
        point["spend_usd"] += float(row["cost_usd"])
        if row["status"] in ERROR_KINDS:
            point["errors"] += int(row["calls"])
    return {
        "range": describe(window),
        "requests": requests,
        "successful_requests": successful,
        "attempts": attempts,
        "runs": sum(runs.values()),
        "runs_by_status": runs,
        "spend_usd": spend,
        "cost_per_success_usd": _ratio(spend, successful),
        "frontier_equivalent_usd": frontier,
        "savings_usd": frontier - spend,
        "error_rate": _ratio(_count(rows, ERROR_KINDS), attempts),
        "fallback_rate": _ratio(sum(int(r["fallbacks"]) for r in rows), requests),
        "cache_hit_rate": _ratio(cache_hits, requests),
        "cache_hits": cache_hits,
        "cache_saved_usd": sum(float(r["saved_usd"]) for r in rows),
        "series": list(buckets.values()),
    }


def _figures(rows: list[dict[str, Any]]) -> dict[str, Any]:
    attempts = _count(rows, ATTEMPT_STATUSES)
    answered = _count(rows, ("ok", "invalid_output"))
    answered_latency = sum(
        float(r["latency_ms_sum"]) for r in rows if r["status"] in ("ok", "invalid_output")
    )
    return {
        "calls": sum(int(r["calls"]) for r in rows),
        "attempts": attempts,
        "ok": _count(rows, ("ok",)),
        "cache_hits": _count(rows, ("cache_hit",)),
        "errors_by_kind": {kind: _count(rows, (kind,)) for kind in ERROR_KINDS},
        "error_rate": _ratio(_count(rows, ERROR_KINDS), attempts),
        "spend_usd": sum(float(r["cost_usd"]) for r in rows),
        "prompt_tokens": sum(int(r["prompt_tokens"]) for r in rows),
        "completion_tokens": sum(int(r["completion_tokens"]) for r in rows),
        "mean_latency_ms": _ratio(answered_latency, answered),
    }


def _percentile_fields(
    picked: list[dict[str, Any]], keys: tuple[str, ...], bounds: list[float]
) -> dict[tuple[str, ...], dict[str, Any]]:
    """Per key: p50/p95 of latency and TTFT as the geometric middle of their bin, with the
    bin's bounds (the exact nearest-rank value lies in [lo, hi))."""
    out: dict[tuple[str, ...], dict[str, Any]] = defaultdict(dict)
    for row in picked:
        key = tuple(str(row[k]) for k in keys)
        metric = str(row["metric"])
        out[key][f"{metric}_samples"] = int(row["total"])
        for i, q in enumerate(QUANTILES):
            b = int(row[f"bin_{i}"])
            lo = bounds[b]
            hi = bounds[b + 1] if b + 1 < len(bounds) else float("inf")
            middle = (lo * hi) ** 0.5 if lo > 0 and hi != float("inf") else lo
            name = f"{metric}_p{round(q * 100)}"
            out[key][f"{name}_ms"] = middle
            out[key][f"{name}_bin_ms"] = [lo, hi if hi != float("inf") else None]
    return out


async def models(services: Services, window: Window) -> dict[str, Any]:
    """Per model and per tier: calls, errors by kind, spend, p50/p95 latency and TTFT."""
    async with services.sessions() as session:
        rows = await repo.totals_by_model(session, window)
        picked = await repo.percentiles(session, window, QUANTILES)
        bounds = await repo.bin_bounds(session)
    by_model = [p for p in picked if p["model"] is not None]
    by_tier = [p for p in picked if p["model"] is None]
    rows = [r for r in rows if r["status"] != "replayed"]
    model_pct = _percentile_fields(by_model, ("model", "tier"), bounds)
    tier_pct = _percentile_fields(by_tier, ("tier",), bounds)
    grouped: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    tiers: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        grouped[(str(row["model"]), str(row["tier"]))].append(row)
        tiers[str(row["tier"])].append(row)
    model_rows = [
        {"model": m, "tier": t, **_figures(group), **model_pct.get((m, t), {})}
        for (m, t), group in sorted(grouped.items(), key=lambda kv: (kv[0][1], kv[0][0]))
    ]
    tier_rows = [
        {"tier": t, **_figures(group), **tier_pct.get((t,), {})}
        for t, group in sorted(tiers.items())
    ]
    return {"range": describe(window), "models": model_rows, "tiers": tier_rows}


async def task_classes(services: Services, window: Window) -> dict[str, Any]:
    """Per task class: the routing mix (requests per tier) over time and feedback quality."""
    unit = bucket_unit(window)
    async with services.sessions() as session:
        mix = await repo.mix_series(session, window, unit)
        quality = await repo.feedback_quality(session, window)
    totals: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    series = []
    for row in mix:
        task_class = str(row["task_class"]) or FIXED_ROUTE_CLASS
        calls = int(row["calls"])
        if calls == 0:
            continue
        totals[task_class][str(row["tier"])] += calls
        series.append(
            {
                "at": iso(row["bucket"]),
                "task_class": task_class,
                "tier": row["tier"],
                "calls": calls,
            }
        )
    return {
        "range": describe(window),
        "classes": [
            {"task_class": name, "requests_by_tier": dict(tiers), "requests": sum(tiers.values())}
            for name, tiers in sorted(totals.items())
        ],
        "mix": series,
        "quality": [
            {
                "task_class": r["task_class"],
                "model": r["model"],
                "source": r["source"],
                "events": int(r["events"]),
                "mean_score": float(r["mean_score"]),
            }
            for r in quality
        ],
    }


async def budgets(
    services: Services, tenant_id: str, now: datetime | None = None
) -> dict[str, Any]:
    """Each key's spend in its period against its budget, burn rates over the last 24 h."""
    moment = now or datetime.now(UTC)
    hour = moment.replace(minute=0, second=0, microsecond=0)
    day = Window(tenant_id, hour - timedelta(hours=23), hour + timedelta(hours=1))
    month_start = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    month = Window(tenant_id, month_start, hour + timedelta(hours=1))
    periods = {p: period_key(p, moment) for p in ("day", "month")}
    async with services.sessions() as session:
        keys = await repo.keys_with_spend(session, tenant_id, periods)
        last_day = await repo.spend_by_key(session, day)
        this_month = await repo.spend_by_key(session, month)
    key_rows = []
    for key, spent in keys:
        burn = last_day.get(key.id, 0.0) / 24
        remaining = None if key.budget_usd is None else key.budget_usd - spent
        key_rows.append(
            {
                "id": key.id,
                "name": key.name,
                "prefix": key.prefix,
                "budget_usd": key.budget_usd,
                "period": key.budget_period,
                "spent_usd": spent,
                "remaining_usd": remaining,
                "used_share": _ratio(spent, key.budget_usd or 0.0),
                "burn_usd_per_hour": burn,
                "hours_left": _ratio(remaining, burn) if remaining is not None else None,
            }
        )
    days_in_month = ((month_start + timedelta(days=32)).replace(day=1) - month_start).days
    budget = sum(
        (k.budget_usd or 0.0) * (days_in_month if k.budget_period == "day" else 1)
        for k, _ in keys
        if k.budget_usd is not None
    )
    spent_month = sum(this_month.values())
    return {
        "tenant": {
            "tenant_id": tenant_id,
            "month": periods["month"],
            "spent_usd": spent_month,
            "budget_usd": budget if any(k.budget_usd is not None for k, _ in keys) else None,
            "burn_usd_per_hour": sum(last_day.values()) / 24,
            "spent_by_runs_usd": this_month.get("", 0.0),
        },
        "keys": key_rows,
    }
