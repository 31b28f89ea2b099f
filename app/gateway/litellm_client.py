"""The only code that touches LiteLLM: imported lazily, once, with no network at import."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import os
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from app.gateway.provider_answer import ProviderAnswer, answer_from_json
from app.gateway.types import ModelRequest
from app.routing.catalog import ModelSpec

__all__ = ["ProviderAnswer", "ProviderTarget", "call_provider", "stream_provider"]

_lock = threading.Lock()
# Modules LiteLLM 1.106 imports lazily inside its first call (~1 s); importing them with
# LiteLLM keeps that cost at start-up instead of in the first model call's latency.
_FIRST_CALL_MODULES = (
    "openai.resources",
    "litellm.proxy._types",
    "litellm._service_logger",
    "litellm.integrations.prometheus_services",
    "litellm.llms.litellm_proxy",
)
_litellm: ModuleType | None = None
_loader: threading.Thread | None = None


def start_loading_litellm() -> None:
    """Import LiteLLM in a background thread, so a process is ready before the ~5 s import
    ends; the first model call waits for it only if it comes sooner."""
    global _loader
    with _lock:
        if _litellm is not None or _loader is not None:
            return
        _loader = threading.Thread(target=load_litellm, name="load-litellm", daemon=True)
        _loader.start()


def litellm_loaded() -> bool:
    return _litellm is not None


async def ensure_litellm() -> ModuleType:
    """LiteLLM, waiting for the background import without blocking the event loop."""
    if _litellm is not None:
        return _litellm
    return await asyncio.to_thread(load_litellm)


def load_litellm() -> ModuleType:
    """Import LiteLLM on first use (~5 s) without letting it fetch a price map."""
    global _litellm
    with _lock:
        if _litellm is None:
            os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
            os.environ.setdefault("LITELLM_LOG", "ERROR")
            import litellm

            litellm.telemetry = False
            litellm.suppress_debug_info = True
            # One INFO line per call ("LiteLLM completion() model=...") is noise next to
            # our own ledger; its warnings and errors still show.
            for name in ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy"):
                logging.getLogger(name).setLevel(logging.WARNING)
            for name in _FIRST_CALL_MODULES:
                with contextlib.suppress(ModuleNotFoundError):  # moved in another release
                    importlib.import_module(name)
            _litellm = litellm
    return _litellm


@dataclass(frozen=True)
class ProviderTarget:
    """Where a catalog model is reached: simulator models get our api_base."""

    api_base: str | None = None
    api_key: str | None = None


async def call_provider(
    model: ModelSpec, request: ModelRequest, target: ProviderTarget, timeout_s: float
) -> ProviderAnswer:
    """One attempt, no retries: the gateway owns retries and fallbacks."""
    litellm = await ensure_litellm()
    kwargs: dict[str, Any] = {
        "model": model.litellm_model,
        **request.to_json(),
        "num_retries": 0,
        "max_retries": 0,
        "timeout": timeout_s,
        # LiteLLM 1.106 routes any call with `tools` through its MCP bridge first, which
        # imports the optional `mcp` package. Our tools are plain functions executed by
        # the nodes, so skip the bridge (pinned version; the tool-call tests cover it).
        "_skip_mcp_handler": True,
    }
    if target.api_base:
        kwargs["api_base"] = target.api_base
    if target.api_key:
        kwargs["api_key"] = target.api_key
    response = await litellm.acompletion(**kwargs)
    return answer_from_json(response.model_dump(mode="json"))


async def stream_provider(
    model: ModelSpec, body: dict[str, Any], target: ProviderTarget, timeout_s: float
) -> AsyncIterator[dict[str, Any]]:
    """One streamed attempt through LiteLLM, its chunks as OpenAI chunk JSON."""
    litellm = await ensure_litellm()
    kwargs: dict[str, Any] = {
        "model": model.litellm_model,
        **body,
        "stream": True,
        "num_retries": 0,
        "max_retries": 0,
        "timeout": timeout_s,
        "_skip_mcp_handler": True,
    }
    if target.api_base:
        kwargs["api_base"] = target.api_base
    if target.api_key:
        kwargs["api_key"] = target.api_key
    stream = await litellm.acompletion(**kwargs)
    async for chunk in stream:
        yield chunk.model_dump(mode="json", exclude_none=True)
