"""A lean client for OpenAI-compatible providers: one pooled httpx client, no retries.

LiteLLM's `acompletion` costs ~4 ms of CPU per call before any byte is sent (logging
objects, cost lookups, response re-validation); for providers that already speak the
OpenAI API (the simulator, vLLM, any `/v1/chat/completions`) that is most of the gateway's
overhead, so they are called directly. The gateway still owns retries and fallbacks: this
client never retries and raises `ProviderError` for every failed answer.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx

# httpcore checks every idle connection of a pool (a poll and a getpeername each) before
# each request: at 32 concurrent calls that was ~3 ms per call. Several small pools keep
# that check short.
POOLS = 8
CONNECTIONS_PER_POOL = 64


class ProviderError(Exception):
    """A provider answered with an error status or broke its answer off."""

    status_code: int | None = None


class ProviderStatusError(ProviderError):
    """An error status, with what the OpenAI-shaped error body said (`code`, `param`)."""

    def __init__(
        self,
        status_code: int,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        error_type: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.param = param
        self.type = error_type

    @classmethod
    def of(cls, status_code: int, body: bytes) -> ProviderStatusError:
        error = _error_object(body)
        return cls(
            status_code,
            _error_message(body),
            code=_text(error.get("code")),
            param=_text(error.get("param")),
            error_type=_text(error.get("type")),
        )


class StreamCut(ProviderError):
    """The provider's stream ended before `[DONE]` (the connection was dropped)."""


class OpenAICompatibleClient:
    """Built by the gateway, closed at shutdown; the httpx client is made on first use."""

    def __init__(self) -> None:
        self._pools: list[httpx.AsyncClient] = []
        self._next = 0

    def _client(self) -> httpx.AsyncClient:
        if not self._pools:
            limits = httpx.Limits(
                max_connections=CONNECTIONS_PER_POOL,
                max_keepalive_connections=CONNECTIONS_PER_POOL,
            )
            self._pools = [httpx.AsyncClient(limits=limits, trust_env=False) for _ in range(POOLS)]
        self._next = (self._next + 1) % POOLS
        return self._pools[self._next]

    async def complete(
        self, base_url: str, api_key: str, body: dict[str, Any], timeout_s: float
    ) -> dict[str, Any]:
        """POST one chat completion and return its JSON body."""
        response = await self._client().post(
            f"{base_url.rstrip('/')}/chat/completions",
            content=json.dumps(body).encode(),
            headers=_headers(api_key),
            timeout=timeout_s,
        )
        if response.status_code >= 400:
            raise ProviderStatusError.of(response.status_code, response.content)
        try:
            payload = response.json()
        except ValueError as exc:
            raise ProviderError(f"the provider answered malformed JSON: {exc}") from exc
        if not isinstance(payload, dict) or not payload.get("choices"):
            raise ProviderError("the provider answered without choices")
        return payload

    async def stream(
        self, base_url: str, api_key: str, body: dict[str, Any], timeout_s: float
    ) -> AsyncIterator[dict[str, Any]]:
        """The chunks of one streamed completion; StreamCut if it ends before `[DONE]`."""
        client = self._client()
        request = client.build_request(
            "POST",
            f"{base_url.rstrip('/')}/chat/completions",
            content=json.dumps({**body, "stream": True}).encode(),
            headers=_headers(api_key),
            timeout=timeout_s,
        )
        response = await client.send(request, stream=True)
        try:
            if response.status_code >= 400:
                raise ProviderStatusError.of(response.status_code, await response.aread())
            async for line in response.aiter_lines():
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    return
                try:
                    yield json.loads(data)
                except ValueError as exc:
                    raise ProviderError(f"malformed stream chunk: {exc}") from exc
            raise StreamCut("the stream ended before [DONE] (connection closed mid-answer)")
        finally:
            await response.aclose()

    async def aclose(self) -> None:
        pools, self._pools = self._pools, []
        for pool in pools:
            await pool.aclose()


def _headers(api_key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {api_key}", "content-type": "application/json"}


def _error_object(body: bytes) -> dict[str, Any]:
    """The `error` object of an OpenAI-shaped error body ({} if there is none)."""
    try:
        error = json.loads(body).get("error")
    except (ValueError, AttributeError, RecursionError):
        return {}
    return error if isinstance(error, dict) else {}


def _text(value: Any) -> str | None:
    return value[:200] if isinstance(value, str) and value else None


def _error_message(body: bytes) -> str:
    message = _error_object(body).get("message")
    if message:
        return str(message)[:300]
    return body[:300].decode(errors="replace") or "(empty body)"
