"""Scripted answers for the service's demo graph, recognised by the `ROLE: x` system line.

planner -> a JSON plan of calculator steps; executor -> a calculator tool call, then the
result; synthesizer -> one sentence per step and a `Final answer:` line.
"""

from __future__ import annotations

import json
import re
from typing import Any

from app.routing.catalog import ModelSpec
from devtools.simulator.answers import (
    Answer,
    ToolCall,
    conversation_role,
    first_user_text,
    last_index,
    last_user_text,
    summarize,
    tool_call_id,
)
from devtools.simulator.planning import build_plan, find_expressions
from devtools.simulator.schemas import ChatCompletionRequest
from devtools.simulator.tokens import content_text

CALCULATOR = "calculator"
_EXPRESSION_LINE = re.compile(r"^[ \t]*Expression:[ \t]*(.+?)[ \t]*$", re.MULTILINE)
_STEP_LINE = re.compile(r"^[ \t]*Step (\d+) \((.*)\):[ \t]*(.*?)[ \t]*$", re.MULTILINE)
_QUESTION_LINE = re.compile(r"^[ \t]*Question:[ \t]*(.*?)[ \t]*$", re.MULTILINE)
_INSTRUCTION_LINE = re.compile(r"^[ \t]*Step \d+:[ \t]*(.*?)[ \t]*$", re.MULTILINE)


class ScriptedRoles:
    """Answers planner, executor and synthesizer conversations; None for anything else."""

    def answer(self, request: ChatCompletionRequest, model: ModelSpec) -> Answer | None:
        role = conversation_role(request)
        if role == "planner":
            return plan_answer(request)
        if role == "executor":
            return executor_answer(request, model)
        if role == "synthesizer":
            return synthesizer_answer(request, model)
        return None


def plan_answer(request: ChatCompletionRequest) -> Answer:
    """Plan from the latest user message that holds arithmetic (a feedback turn may follow
    the question), else from the latest user message."""
    question = last_user_text(request)
    for message in reversed(request.messages):
        text = content_text(message.get("content"))
        if message.get("role") == "user" and find_expressions(text):
            question = text
            break
    return Answer(content=json.dumps(build_plan(question)), source="planner")


FEEDBACK_PREFIX = "Your previous answer could not be used"


def executor_answer(request: ChatCompletionRequest, model: ModelSpec) -> Answer:
    """Call the calculator once per `Expression:` line, then report the tool's result."""
    messages = request.messages
    if messages[-1].get("role") == "tool":
        return _result(content_text(messages[-1].get("content")))
    user_at = _task_index(messages)
    instruction = "" if user_at is None else content_text(messages[user_at].get("content"))
    tool_results = [
        content_text(message.get("content"))
        for message in messages[(user_at or 0) + 1 :]
        if message.get("role") == "tool"
    ]
    if tool_results:
        return _result(tool_results[-1])
    expressions = _EXPRESSION_LINE.findall(instruction)
    if not expressions:
        return _plain_step_answer(request, model, instruction)
    expression = expressions[-1]
    if CALCULATOR not in request.tool_names() or request.tool_choice == "none":
        return Answer(
            content=f"I cannot evaluate {expression} without the calculator tool.",
            source="executor",
        )
    call = ToolCall(
        id=tool_call_id(request, model, 0),
        name=CALCULATOR,
        arguments=json.dumps({"expression": expression}),
    )
    return Answer(tool_calls=(call,), source="executor")


def _task_index(messages: list[dict[str, Any]]) -> int | None:
    """The user turn that set the step: feedback on an unusable answer ("Your previous
    answer could not be used ...") asks for the same step again, as a model would read it."""
    index = last_index(messages, "user")
    while index is not None and index > 0:
        text = content_text(messages[index].get("content"))
        if not text.startswith(FEEDBACK_PREFIX):
            return index
        index = last_index(messages[:index], "user")
    return index


def _result(value: str) -> Answer:
    return Answer(content=f"Result: {value.strip()}", source="executor")


def _plain_step_answer(
    request: ChatCompletionRequest, model: ModelSpec, instruction: str
) -> Answer:
    match = _INSTRUCTION_LINE.search(instruction)
    task = match.group(1) if match else summarize(instruction, 12)
    question = first_user_text(request) or instruction
    content = f'{task}: {model.name} on "{summarize(question, 12)}".'
    return Answer(content=content, source="executor")


def synthesizer_answer(request: ChatCompletionRequest, model: ModelSpec) -> Answer | None:
    """Prose from `Step n (description): result` lines; None when there are none."""
    task_at = _task_index(request.messages)
    text = "" if task_at is None else content_text(request.messages[task_at].get("content"))
    steps = _STEP_LINE.findall(text)
    if not steps:
        return None
    lines = []
    question = _QUESTION_LINE.search(text)
    if model.tier == "frontier" and question:
        lines.append(f"Here is the answer to: {question.group(1)}")
    for _, description, result in steps:
        sentence = f"{description.strip()}: {result}"
        lines.append(sentence if sentence.endswith((".", "!", "?")) else sentence + ".")
    lines.append(f"Final answer: {steps[-1][2]}")
    return Answer(content="\n".join(lines), source="synthesizer")
