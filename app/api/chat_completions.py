"""`POST /v1/chat/completions`: the OpenAI API shape over routegraph's routing and ledger.

Its contract is OpenAI's published API (the `openai` SDK is the test client), so the
route is left out of routegraph's own OpenAPI document.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import ValidationError
from starlette.datastructures import Headers

from app.api.admission import release_slot
from app.api.auth import Principal, get_openai_principal
from app.api.json_route import is_json_media_type
from app.api.openai_errors import OpenAIError, openai_error
from app.gateway.errors import GatewayError
from app.gateway.streaming import StreamEnd
from app.gateway.types import ModelResult
from app.schemas.openai import ChatCompletionRequest, RoutegraphOptions
from app.schemas.openai_request import InvalidRequest, check_request, decode_body, param_of
from app.services.chat import ChatCall
from app.services.errors import ServiceError
from app.services.openai_format import completion_json, sse_stream

router = APIRouter(prefix="/v1", tags=["openai"])
log = logging.getLogger(__name__)
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
HEADER_CHARS = 1000


def parse_chat(body: bytes, headers: Headers) -> tuple[ChatCompletionRequest, RoutegraphOptions]:
    """The validated request and its routegraph options (body field, else headers).

    A JSON object the database can store, valid under OpenAI's request schema, then
    routegraph's own limits; anything else is a 400 naming the field (`param`)."""
    content_type = headers.get("content-type")
    if not is_json_media_type(content_type):
        raise OpenAIError(
            400,
            f"The body must be JSON (Content-Type: application/json), not "
            f"{header_value(content_type or 'unlabelled')}.",
            code="invalid_content_type",
        )
    try:
        data = decode_body(body)
        check_request(data)
    except InvalidRequest as exc:
        raise OpenAIError(400, str(exc), param=exc.param, code=exc.code) from exc
    try:
        chat = ChatCompletionRequest.model_validate(data)
        options = chat.routegraph or RoutegraphOptions()
        from_headers = _header_options(headers)
        if from_headers:
            merged = {**from_headers, **options.model_dump(exclude_unset=True)}
            options = RoutegraphOptions.model_validate(merged)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = param_of([part for part in first["loc"] if part != "function-after"])
        raise OpenAIError(
            400, f"Invalid value for '{where}': {first['msg']}", param=where, code="invalid_value"
        ) from exc
    return chat, options


def _header_options(headers: Headers) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for header, field in (
        ("x-routegraph-policy", "policy"),
        ("x-routegraph-threshold", "threshold"),
        ("x-routegraph-max-latency-ms", "max_latency_ms"),
    ):
        if header in headers:
            options[field] = headers[header]
    cache = headers.get("x-routegraph-cache", "").lower()
    if cache in ("off", "no", "false", "bypass", "no-store"):
        options["cache"] = False
    return options


@router.post("/chat/completions", response_model=None, include_in_schema=False)
async def chat_completions(
    request: Request, principal: Annotated[Principal, Depends(get_openai_principal)]
) -> Response:
    """Routed, cached, budgeted chat completion; `stream: true` answers Server-Sent Events."""
    chat, options = parse_chat(await request.body(), request.headers)
    service = request.app.state.services.chat
    limits: dict[str, str] = {}
    try:
        limits = service.check_rate(principal)
        call: ChatCall = await service.start(chat, options, principal)
        release_slot(request)  # the provider answers next: waiting, not work
        first = await anext(call.events)
    except (GatewayError, ServiceError) as exc:
        raise _with_headers(openai_error(exc), limits) from exc
    completion_id = f"chatcmpl-{uuid.uuid4().hex}"
    created = int(time.time())
    headers = {**_route_headers(call), **limits}
    if not chat.stream:
        try:
            result = await _final(first, call.events)
        except (GatewayError, ServiceError) as exc:
            raise _with_headers(openai_error(exc), limits) from exc
        headers.update(_result_headers(result))
        body = json.dumps(completion_json(result, completion_id, created), separators=(",", ":"))
        return Response(body, media_type="application/json", headers=headers)
    model = answering_model(first)
    headers["x-routegraph-model"] = model
    stream = sse_stream(
        _chain(first, call.events),
        completion_id=completion_id,
        created=created,
        model=model,
        include_usage=chat.include_usage,
        extension=lambda result: {**_extension(result), "cache": call.cache},
        on_error=_stream_error,
    )
    return StreamingResponse(
        stream, media_type="text/event-stream", headers={**SSE_HEADERS, **headers}
    )


def _with_headers(error: OpenAIError, headers: dict[str, str]) -> OpenAIError:
    error.headers = {**headers, **error.headers}
    return error


def answering_model(first: Any) -> str:
    """The model that began the answer: its first event is text, tool calls or the end."""
    if isinstance(first, StreamEnd):
        return first.result.model
    return str(first.model)


async def _final(first: Any, rest: AsyncIterator[Any]) -> ModelResult:
    event = first
    while not isinstance(event, StreamEnd):
        event = await anext(rest)
    return event.result


async def _chain(first: Any, rest: AsyncIterator[Any]) -> AsyncIterator[Any]:
    yield first
    async for event in rest:
        yield event


def _stream_error(exc: BaseException) -> dict[str, Any]:
    log.warning("chat stream ended with an error after its first byte: %s", exc)
    return openai_error(exc).body()


def header_value(text: str) -> str:
    """`text` as a legal HTTP header value: one line of visible ASCII, at most
    HEADER_CHARS long, no whitespace at either end (h11 refuses a value that ends in a
    space, and the response would die after its status line)."""
    flat = " ".join(text.split()).encode("ascii", "replace").decode()
    return flat[:HEADER_CHARS].strip()


def _route_headers(call: ChatCall) -> dict[str, str]:
    headers = {
        "x-routegraph-cache": call.cache,
        "x-routegraph-policy": header_value(call.policy_name),
    }
    if call.experiment_arm is not None:
        headers["x-routegraph-experiment"] = header_value(call.experiment_arm)
    if call.route is not None:
        chain = " > ".join(model.name for model in call.route.candidates)
        headers["x-routegraph-route"] = header_value(f"{call.route.tier}: {chain}")
        headers["x-routegraph-reason"] = header_value(call.route.reason)
        headers["x-routegraph-model"] = call.route.candidates[0].name
    return headers


def _result_headers(result: ModelResult) -> dict[str, str]:
    return {
        "x-routegraph-model": result.model,
        "x-routegraph-tier": result.tier,
        "x-routegraph-cost-usd": f"{result.cost_usd:.8f}",
        "x-routegraph-attempts": str(result.attempts),
        "x-routegraph-call-id": result.call_id,
    }


def _extension(result: ModelResult) -> dict[str, Any]:
    return {
        "model": result.model,
        "tier": result.tier,
        "cost_usd": round(result.cost_usd, 8),
        "attempts": result.attempts,
        "call_id": result.call_id,
    }
