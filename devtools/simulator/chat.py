"""The OpenAI-compatible endpoints: `GET /v1/models` and `POST /v1/chat/completions`."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import ValidationError

from app.api.openai_errors import OpenAIError
from app.routing.catalog import ModelSpec
from devtools.simulator.answers import Answer, conversation_role, summarize
from devtools.simulator.completions import Completion, Usage, corrupt, limit_output
from devtools.simulator.faults import FaultRule
from devtools.simulator.schemas import ChatCompletionRequest, normalize_model_name
from devtools.simulator.state import SimulatorState, get_state
from devtools.simulator.streaming import (
    Latency,
    cut_body,
    full_body,
    sse_events,
    wait_unless_disconnected,
)
from devtools.simulator.structured import cut_at_stop
from devtools.simulator.tokens import count_completion_tokens, count_prompt_tokens

router = APIRouter(prefix="/v1")
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def _model_json(spec: ModelSpec) -> dict[str, Any]:
    return {"id": spec.name, "object": "model", "created": 0, "owned_by": "routegraph-simulator"}


@router.get("/models")
async def list_models(state: SimulatorState = Depends(get_state)) -> dict[str, Any]:
    return {"object": "list", "data": [_model_json(spec) for spec in state.served_models()]}


@router.get("/models/{name:path}")
async def get_model(name: str, state: SimulatorState = Depends(get_state)) -> dict[str, Any]:
    return _model_json(_require_model(state, normalize_model_name(name)))


def _require_model(state: SimulatorState, name: str) -> ModelSpec:
    spec = state.served_model(name)
    if spec is None:
        raise OpenAIError(
            404,
            f"The model `{name}` does not exist or you do not have access to it.",
            code="model_not_found",
            param="model",
        )
    return spec


async def _parse(request: Request) -> tuple[dict[str, Any], ChatCompletionRequest]:
    """Body as sent (for the log) and validated; 400 in OpenAI's shape when invalid."""
    try:
        body = json.loads(await request.body())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise OpenAIError(
            400, f"We could not parse the JSON body of your request: {exc}", code="invalid_json"
        ) from exc
    if not isinstance(body, dict):
        raise OpenAIError(400, "The request body must be a JSON object.", code="invalid_json")
    try:
        return body, ChatCompletionRequest.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise OpenAIError(
            400, f"{where}: {first['msg']}", code="invalid_request", param=where or None
        ) from exc


def _raise_http_fault(rule: FaultRule, model: str) -> None:
    """`rate_limit` and `server_error` answer at once with OpenAI's status and body."""
    if rule.kind == "rate_limit":
        raise OpenAIError(
            429,
            f"Rate limit reached for {model} (simulated). Please try again later.",
            error_type="requests",
            code="rate_limit_exceeded",
            headers={"Retry-After": str(rule.retry_after_seconds)},
        )
    if rule.kind == "server_error":
        raise OpenAIError(
            500,
            "The server had an error while processing your request (simulated).",
            error_type="server_error",
            code="internal_error",
        )
    if rule.kind == "context_length":
        raise context_length_error(model, None)
    if rule.kind == "content_policy":
        raise OpenAIError(
            400,
            "Your request was rejected as a result of our safety system (simulated).",
            code="content_policy_violation",
            param="messages",
        )
    if rule.kind == "unsupported_parameter":
        raise unsupported_logprobs(model)


def unsupported_logprobs(model: str) -> OpenAIError:
    return OpenAIError(
        400,
        f"Unsupported parameter: 'logprobs' is not supported with {model} (simulated).",
        code="unsupported_parameter",
        param="logprobs",
    )


def context_length_error(model: str, tokens: int | None, window: int | None = None) -> OpenAIError:
    """OpenAI's 400 for a prompt longer than the model's context window."""
    size = f" of {window} tokens" if window else ""
    asked = f" However, your messages resulted in {tokens} tokens." if tokens else ""
    return OpenAIError(
        400,
        f"This model's maximum context length{size} was exceeded ({model}).{asked}",
        code="context_length_exceeded",
        param="messages",
    )


@router.post("/chat/completions", response_model=None)
async def chat_completions(
    request: Request, state: SimulatorState = Depends(get_state)
) -> Response:
    body, chat = await _parse(request)
    name = normalize_model_name(chat.model)
    entry = state.requests.record(name, body, chat.stream)
    spec = _require_model(state, name)
    rule = state.faults.draw(name)
    fault = entry["fault"] = rule.kind if rule else None
    if rule is not None:
        _raise_http_fault(rule, name)
    hang = state.config.timeout_hang_seconds
    if fault == "timeout" and not await wait_unless_disconnected(request, hang):
        return Response(status_code=408)  # the client gave up; nobody reads this
    prompt_tokens = count_prompt_tokens(chat.messages, chat.tools)
    if prompt_tokens > spec.context_window:
        raise context_length_error(name, prompt_tokens, spec.context_window)
    if chat.logprobs and "logprobs" not in spec.capabilities:
        # As a provider without them answers (Anthropic's models give none).
        raise unsupported_logprobs(name)
    completion = _complete(
        state, chat, spec, malformed=fault == "malformed_json", off_schema=fault == "off_schema"
    )
    latency = Latency.of(spec, state.config.latency_scale)
    cut = fault == "cut_stream"
    if chat.stream:
        events = sse_events(completion, chat.include_usage, latency, cut)
        return StreamingResponse(events, media_type="text/event-stream", headers=SSE_HEADERS)
    if cut:
        payload = full_body(completion)
        headers = {"Content-Length": str(len(payload))}
        return StreamingResponse(
            cut_body(payload, latency), media_type="application/json", headers=headers
        )
    await wait_unless_disconnected(request, latency.total(completion.usage.completion_tokens))
    return Response(full_body(completion), media_type="application/json")


def _complete(
    state: SimulatorState,
    chat: ChatCompletionRequest,
    spec: ModelSpec,
    *,
    malformed: bool,
    off_schema: bool = False,
) -> Completion:
    answer = state.responder.answer(chat, spec)
    if conversation_role(chat) == "verifier":
        scripted = state.verdicts.draw(spec.name)
        if scripted is not None:  # a test scripted this verdict (`/admin/verdicts`)
            answer = Answer(content=scripted.content(), source=f"scripted {scripted.verdict}")
    if off_schema and chat.json_schema() is not None:  # valid JSON, not the schema asked for
        answer = replace(
            answer, content=json.dumps({"unexpected": summarize(answer.content or "")})
        )
    if malformed:
        answer = corrupt(answer)
    stops = chat.stop_list()
    if answer.content and stops:
        content, stopped = cut_at_stop(answer.content, stops)
        if stopped:
            answer = replace(answer, content=content)
    answer, finish_reason = limit_output(answer, chat.output_limit)
    calls = [(call.name, call.arguments) for call in answer.tool_calls]
    cache = state.cache.usage_for(spec, chat.messages, chat.tools) if state.cache else None
    usage = Usage(
        prompt_tokens=count_prompt_tokens(chat.messages, chat.tools),
        completion_tokens=count_completion_tokens(answer.content, calls),
        cached_tokens=cache.cached_tokens if cache else 0,
        cache_write_tokens=(cache.written_tokens or 0) if cache else 0,
    )
    if chat.choice_count > 1:
        usage = replace(usage, completion_tokens=usage.completion_tokens * chat.choice_count)
    top = (chat.top_logprobs or 0) if chat.logprobs else None
    # Frontier models "think": a quarter of their completion tokens are reasoning tokens.
    reasoning = usage.completion_tokens // 4 if spec.tier == "frontier" else 0
    completion = Completion.new(spec.name, answer, finish_reason, usage)
    return replace(completion, n=chat.choice_count, top_logprobs=top, reasoning_tokens=reasoning)
