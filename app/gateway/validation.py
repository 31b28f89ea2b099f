"""Checks on a model's answer that hold for every call: complete, and tool calls usable.

An answer that fails them is an invalid output of that attempt (a ledger row with the
reason): the gateway retries with feedback or a larger token limit, then falls back.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import jsonschema

from app.gateway.types import ModelRequest, ModelResult

STRUCTURED_INSTRUCTION = "Reply again with only a JSON object that follows the required format."
TOOL_INSTRUCTION = "Call the tool again with complete, valid JSON arguments."


class InvalidOutput(ValueError):
    """The model answered, but not in a shape the node can use.

    `truncated`: the answer was cut at the token limit (retry with a larger limit, not the
    same call again). `instruction`: what the feedback turn asks the model to do.
    """

    def __init__(
        self, message: str, *, truncated: bool = False, instruction: str | None = None
    ) -> None:
        super().__init__(message)
        self.truncated = truncated
        self.instruction = instruction or STRUCTURED_INSTRUCTION


def check_answer(request: ModelRequest, result: ModelResult) -> None:
    """Raise InvalidOutput for an answer cut at the token limit or an unusable tool call."""
    if result.finish_reason == "length":
        raise InvalidOutput(
            f"answer cut at the token limit (max_tokens={request.max_tokens})", truncated=True
        )
    if result.tool_calls:
        tools = {
            tool.get("function", {}).get("name"): tool.get("function", {})
            for tool in request.tools or []
        }
        for call in result.tool_calls:
            check_tool_call(call, tools)
    elif not (result.content or "").strip():
        raise InvalidOutput("empty answer")


def check_tool_call(call: dict[str, Any], tools: dict[str, dict[str, Any]]) -> None:
    function = call.get("function") or {}
    name = function.get("name")
    if name not in tools:
        raise InvalidOutput(f"call of unknown tool {name!r}", instruction=TOOL_INSTRUCTION)
    raw = function.get("arguments") or ""
    try:
        arguments = json.loads(raw or "{}")
    except json.JSONDecodeError as exc:
        raise InvalidOutput(
            f"tool call {name!r}: arguments are malformed JSON ({exc.msg} at char {exc.pos})",
            instruction=TOOL_INSTRUCTION,
        ) from exc
    if not isinstance(arguments, dict):
        raise InvalidOutput(
            f"tool call {name!r}: arguments are not a JSON object", instruction=TOOL_INSTRUCTION
        )
    parameters = tools[name].get("parameters")
    if parameters:
        error = jsonschema.exceptions.best_match(
            _validator(json.dumps(parameters, sort_keys=True)).iter_errors(arguments)
        )
        if error is not None:
            where = "/".join(str(part) for part in error.absolute_path) or "arguments"
            raise InvalidOutput(
                f"tool call {name!r}: {where}: {error.message[:200]}",
                instruction=TOOL_INSTRUCTION,
            )


@lru_cache(maxsize=256)
def _validator(schema_json: str) -> jsonschema.protocols.Validator:
    schema = json.loads(schema_json)
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema)  # type: ignore[no-any-return]


def response_format_check(
    response_format: dict[str, Any] | None,
) -> Callable[[ModelResult], None] | None:
    """The check of an answer against the request's `response_format`: a JSON object
    (`json_object`), valid under the schema (`json_schema`, strict or not); None for text.

    An answer cut at the client's own `max_tokens` (finish_reason `length`) is returned
    as it is: the client asked for that limit. A tool call is not checked here."""
    kind = (response_format or {}).get("type")
    if kind not in ("json_object", "json_schema"):
        return None
    spec = (response_format or {}).get("json_schema") or {}
    schema = spec.get("schema") if kind == "json_schema" else None
    validator = _validator(json.dumps(schema, sort_keys=True)) if schema else None
    instruction = (
        f"Reply again with only a JSON document valid under the JSON Schema "
        f"{json.dumps(schema)[:2000]}."
        if schema
        else STRUCTURED_INSTRUCTION
    )

    def check(result: ModelResult) -> None:
        for choice in result.choices or ({"message": result.assistant_message()},):
            message = choice.get("message") or {}
            if choice.get("finish_reason", result.finish_reason) == "length":
                continue
            if message.get("tool_calls") and not message.get("content"):
                continue
            try:
                document = json.loads(message.get("content") or "")
            except json.JSONDecodeError as exc:
                raise InvalidOutput(
                    f"answer is malformed JSON ({exc.msg} at char {exc.pos})",
                    instruction=instruction,
                ) from exc
            if validator is None:
                if not isinstance(document, dict):
                    raise InvalidOutput("answer is not a JSON object", instruction=instruction)
                continue
            error = jsonschema.exceptions.best_match(validator.iter_errors(document))
            if error is not None:
                where = "/".join(str(part) for part in error.absolute_path) or "answer"
                raise InvalidOutput(
                    f"answer does not match the schema: {where}: {error.message[:200]}",
                    instruction=instruction,
                )

    return check
