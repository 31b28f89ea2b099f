"""Which client reaches a catalog model, and the provider answer in one shape for both.

Models served over the OpenAI API shape (`provider: simulator`) go through the lean
`OpenAICompatibleClient` unless `direct_client` is off; every other provider goes
through LiteLLM. Both are called for one attempt, with no retries of their own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from dataclasses import replace
from typing import Any

import httpx

from app.gateway.cache_hints import needs_hints, with_cache_hints
from app.gateway.litellm_client import (
    ProviderTarget,
    call_provider,
    ensure_litellm,
    stream_provider,
)
from app.gateway.provider_answer import ProviderAnswer, answer_from_json
from app.gateway.provider_http import OpenAICompatibleClient, ProviderError
from app.gateway.types import ModelRequest
from app.routing.catalog import ModelSpec

DIRECT_PROVIDERS = frozenset({"simulator"})
SIMULATOR_KEY = "simulator"


def provider_errors() -> tuple[type[BaseException], ...]:
    """What a failed provider call raises (LiteLLM wraps the OpenAI SDK's errors; a
    connection cut mid-body can surface as a bare httpx error). Evaluated only once a call
    failed: the OpenAI SDK takes most of a second to import."""
    import openai

    return (openai.OpenAIError, httpx.HTTPError, ProviderError)


def uses_litellm(model: ModelSpec, *, direct_client: bool) -> bool:
    """Whether `model` is called through LiteLLM (else through the direct client)."""
    return not (direct_client and model.provider in DIRECT_PROVIDERS)


class Providers:
    """Dispatches one attempt to the direct client or LiteLLM."""

    def __init__(
        self, simulator_url: str, *, direct_client: bool = True, cache_hints: bool = True
    ) -> None:
        self._simulator_url = simulator_url
        self._direct_client = direct_client
        self._cache_hints = cache_hints
        self._direct = OpenAICompatibleClient()

    def is_direct(self, model: ModelSpec) -> bool:
        return not uses_litellm(model, direct_client=self._direct_client)

    def needs_litellm(self, models: Iterable[ModelSpec]) -> bool:
        """Whether any of these models is called through LiteLLM."""
        return any(not self.is_direct(model) for model in models)

    async def ready(self, model: ModelSpec) -> None:
        """Wait for the client `model` is called with (LiteLLM's background import)."""
        if not self.is_direct(model):
            await ensure_litellm()

    def _target(self, model: ModelSpec) -> ProviderTarget:
        if model.provider == "simulator":
            return ProviderTarget(api_base=self._simulator_url, api_key=SIMULATOR_KEY)
        return ProviderTarget()

    async def complete(
        self, model: ModelSpec, request: ModelRequest, timeout_s: float
    ) -> ProviderAnswer:
        """One attempt, no retries: the gateway owns retries and fallbacks."""
        request = self._hinted(model, request)
        if self.is_direct(model):
            body = {"model": _wire_name(model), **request.to_json()}
            raw = await self._direct.complete(self._simulator_url, SIMULATOR_KEY, body, timeout_s)
            return answer_from_json(raw)
        await ensure_litellm()  # at start-up it loads in the background: not call latency
        return await call_provider(model, request, self._target(model), timeout_s)

    def stream(
        self, model: ModelSpec, request: ModelRequest, timeout_s: float
    ) -> AsyncIterator[dict[str, Any]]:
        """The answer's chunks as OpenAI chunk JSON; usage is always asked for."""
        request = self._hinted(model, request)
        body = {**request.to_json(), "stream_options": {"include_usage": True}}
        if self.is_direct(model):
            body["model"] = _wire_name(model)
            return self._direct.stream(self._simulator_url, SIMULATOR_KEY, body, timeout_s)
        return stream_provider(model, body, self._target(model), timeout_s)

    def _hinted(self, model: ModelSpec, request: ModelRequest) -> ModelRequest:
        """The request as sent: with cache-control markers where the provider needs them
        (the ledger keeps the request as the node made it)."""
        if not self._cache_hints or not needs_hints(model, request.messages, request.tools):
            return request
        return replace(request, messages=with_cache_hints(model, request.messages))

    async def aclose(self) -> None:
        await self._direct.aclose()


def _wire_name(model: ModelSpec) -> str:
    """The model name the provider knows (LiteLLM's `openai/` routing prefix removed)."""
    return model.litellm_model.removeprefix("openai/")
