"""Decides what a simulated model says: a chain of answer sources, tried in order.

The chain is the extension point: a `RecordedAnswers` source (dataset prompt -> recorded
model answer) can be put in front of the scripted ones without touching the HTTP layer.
Every source is a pure function of (request, model), so answers are deterministic.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from app.routing.catalog import ModelSpec
from devtools.simulator.answers import (
    Answer,
    AnswerSource,
    ToolCall,
    last_user_text,
    summarize,
    tool_call_id,
)
from devtools.simulator.pattern_roles import PatternRoles
from devtools.simulator.roles import ScriptedRoles
from devtools.simulator.schemas import ChatCompletionRequest
from devtools.simulator.structured import document_for

# How routegraph's gateway asks a fallback model to continue a stream cut mid-answer.
CONTINUE_MARKER = "Your previous answer was cut off mid-way."


class GenericAnswer:
    """The fallback: a visibly model-specific reply that echoes the last user message."""

    def answer(self, request: ChatCompletionRequest, model: ModelSpec) -> Answer:
        forced = _forced_tool(request)
        if forced is not None:
            arguments = _arguments_for(forced, summarize(last_user_text(request)))
            call = ToolCall(
                id=tool_call_id(request, model, 0), name=forced["name"], arguments=arguments
            )
            return Answer(tool_calls=(call,), source="generic")
        summary = summarize(last_user_text(request)) or "(no user message)"
        schema = request.json_schema()
        if schema is not None:
            content = json.dumps(document_for(schema, summary))
        elif request.wants_json:
            content = json.dumps({"model": model.name, "answer": summary})
        elif model.tier == "frontier":
            content = (
                f"[{model.name}] Considered answer to: {summary}\n"
                f"Having weighed the request in full, {model.name} replies in detail."
            )
        elif model.tier == "mid":
            content = f"[{model.name}] Answer to: {summary}"
        else:
            content = f"[{model.name}] {summary}"
        return Answer(content=content, source="generic")


class Responder:
    """Asks each source in turn; `GenericAnswer` answers when none of them does."""

    def __init__(self, sources: Sequence[AnswerSource]) -> None:
        self.sources: list[AnswerSource] = list(sources)
        self._fallback = GenericAnswer()

    def answer(self, request: ChatCompletionRequest, model: ModelSpec) -> Answer:
        partial = _cut_answer(request)
        if partial is not None:
            # Asked to continue an answer another model broke off: this model's own answer
            # to the conversation, from where the partial one stopped.
            original = request.model_copy(update={"messages": request.messages[:-2]})
            whole = self.answer(original, model)
            rest = (whole.content or "")[len(partial) :]
            return Answer(content=rest or ".", source=f"continuation of {whole.source}")
        for source in self.sources:
            answer = source.answer(request, model)
            if answer is not None:
                return answer
        return self._fallback.answer(request, model)


def default_responder() -> Responder:
    return Responder([ScriptedRoles(), PatternRoles(), GenericAnswer()])


def respond(request: ChatCompletionRequest, model: ModelSpec) -> Answer:
    """The default chain as one pure function (what the unit tests exercise)."""
    return default_responder().answer(request, model)


def _cut_answer(request: ChatCompletionRequest) -> str | None:
    """The partial answer of a "continue where you stopped" request, else None."""
    messages = request.messages
    if len(messages) < 3 or messages[-1].get("role") != "user":
        return None
    instruction = messages[-1].get("content")
    previous = messages[-2]
    if not (isinstance(instruction, str) and instruction.startswith(CONTINUE_MARKER)):
        return None
    if previous.get("role") != "assistant" or not isinstance(previous.get("content"), str):
        return None
    return str(previous["content"])


def _forced_tool(request: ChatCompletionRequest) -> dict[str, Any] | None:
    """The function the caller insists on (`tool_choice` "required" or a named function)."""
    functions = {tool["function"]["name"]: tool["function"] for tool in request.tools or []}
    choice = request.tool_choice
    if not functions:
        return None
    if choice == "required":
        return next(iter(functions.values()))
    if isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name")
        return functions.get(name) if isinstance(name, str) else None
    return None


def _arguments_for(function: dict[str, Any], text: str) -> str:
    """JSON arguments filling each required parameter with a placeholder of its type."""
    parameters = function.get("parameters") or {}
    properties = parameters.get("properties") or {}
    placeholders = {"string": text, "number": 0, "integer": 0, "boolean": False, "array": []}
    arguments = {
        name: placeholders.get((properties.get(name) or {}).get("type", "string"))
        for name in parameters.get("required") or []
    }
    return json.dumps(arguments)
