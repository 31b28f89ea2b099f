"""The `get_principal` dependency: the tenant (and API key) a request acts for.

The key comes as `Authorization: Bearer <key>` or as `x-api-key: <key>` (what
`langgraph_sdk`'s `api_key=` sends); both name the same keys and tenants. REST routes answer
401 problem+json for a missing or bad key (`{"detail"}` on the LangGraph API's paths); the
OpenAI-compatible routes use `get_openai_principal`, which answers in OpenAI's error shape.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Header, Request

from app.api.openai_errors import OpenAIError
from app.services.auth import Principal
from app.services.errors import Unauthenticated

__all__ = ["Principal", "get_openai_principal", "get_principal"]


async def get_principal(
    request: Request,
    authorization: Annotated[str | None, Header()] = None,
    x_api_key: Annotated[str | None, Header()] = None,
) -> Principal:
    """Authorization: Bearer <key> or x-api-key, unless auth is off (loopback, no key)."""
    auth = request.app.state.services.auth
    return await auth.authenticate(authorization, api_key=x_api_key)  # type: ignore[no-any-return]


async def get_openai_principal(
    request: Request,
    authorization: Annotated[str | None, Header()] = None,
    x_api_key: Annotated[str | None, Header()] = None,
) -> Principal:
    try:
        return await get_principal(request, authorization, x_api_key)
    except Unauthenticated as exc:
        raise OpenAIError(
            401,
            f"Incorrect or missing API key: {exc.detail}.",
            code="invalid_api_key",
            headers={"WWW-Authenticate": "Bearer"},
        ) from exc
