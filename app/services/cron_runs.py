"""The run a cron's firing starts: an ordinary routegraph run (graph resolved, input checked
by `runs.prepare_run`; budget, ledger and tenant apply) that the LangGraph API shows as a
run of the cron's assistant, with the cron's metadata, config and stream options."""

from __future__ import annotations

from typing import Any

from app.db.cron_table import Cron
from app.db.models import Run
from app.schemas.langgraph import DEFAULT_DURABILITY
from app.schemas.runs import SubmitRun
from app.services.container import Services
from app.services.errors import InvalidInput
from app.services.lg_assistants import Assistant, get_assistant
from app.services.runs import prepare_run


def _budget(payload: dict[str, Any], assistant: Assistant) -> float | None:
    """routegraph's budget, given in `context` or `config.configurable` (the cron's first)."""
    sources = [
        payload.get("context") or {},
        (payload.get("config") or {}).get("configurable") or {},
        assistant.context,
        assistant.config.get("configurable") or {},
    ]
    budget = next((s["budget_usd"] for s in sources if "budget_usd" in s), None)
    if budget is not None and (not isinstance(budget, int | float) or budget <= 0):
        raise InvalidInput("budget_usd must be a positive number")
    return float(budget) if budget is not None else None


def _lg_options(
    cron_id: str | None, payload: dict[str, Any], assistant: Assistant
) -> dict[str, Any]:
    """What `runs.lg` holds for a run of the LangGraph API (see app/services/lg_runs.py)."""
    config = {**assistant.config, **(payload.get("config") or {})}
    configurable = {
        **(assistant.config.get("configurable") or {}),
        **((payload.get("config") or {}).get("configurable") or {}),
    }
    configurable.pop("thread_id", None)
    modes = payload.get("stream_mode") or []
    metadata = dict(payload.get("metadata") or {})
    if cron_id is not None:
        metadata["cron_id"] = cron_id
    return {
        "assistant_id": assistant.assistant_id,
        "graph_id": assistant.graph_id,
        "metadata": metadata,
        "kwargs": {k: v for k, v in payload.items() if k not in ("assistant_id", "metadata")},
        "multitask_strategy": payload.get("multitask_strategy") or "enqueue",
        "command": None,
        "has_input": True,
        "stream_modes": [modes] if isinstance(modes, str) else list(modes),
        "stream_subgraphs": bool(payload.get("stream_subgraphs")),
        "interrupt_before": payload.get("interrupt_before"),
        "interrupt_after": payload.get("interrupt_after"),
        "checkpoint_id": None,
        "configurable": configurable,
        "recursion_limit": config.get("recursion_limit"),
        "durability": payload.get("durability") or DEFAULT_DURABILITY,
    }


async def cron_run(
    services: Services,
    tenant_id: str,
    payload: dict[str, Any],
    *,
    thread_id: str | None,
    cron_id: str | None = None,
) -> Run:
    """The run of one firing, not yet queued (InvalidInput: the graph or input is wrong)."""
    assistant = await get_assistant(services, payload["assistant_id"], tenant_id)
    body = SubmitRun(
        graph=assistant.graph_id,
        input=payload.get("input") or {},
        thread_id=thread_id,
        budget_usd=_budget(payload, assistant),
    )
    run = await prepare_run(services, body, tenant_id=tenant_id)
    run.lg = _lg_options(cron_id, payload, assistant)
    return run


def firing_payload(cron: Cron) -> dict[str, Any]:
    """The cron's create body, with the assistant it resolved to."""
    return {**cron.payload, "assistant_id": cron.assistant_id}
