"""The simulator's scripted answers: plans, the calculator tool protocol, synthesis."""

from __future__ import annotations

import ast
import json
import re
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from app.routing.catalog import ModelSpec, load_catalog
from devtools.simulator.answers import Answer
from devtools.simulator.planning import build_plan, find_expressions, split_count
from devtools.simulator.responder import GenericAnswer, Responder, respond
from devtools.simulator.roles import ScriptedRoles
from devtools.simulator.schemas import ChatCompletionRequest
from nodes.calculator import CALCULATOR_TOOL, evaluate
from nodes.planner import Plan

CATALOG = load_catalog()
FRONTIER, MID, EDGE = (CATALOG.model(name) for name in ("frontier-a", "mid-a", "edge-a"))
TRIP = (
    "A 5-day trip: flights cost 2 * 340 USD, hotel 5 * 120 USD, food 5 * 45 USD. "
    "What does it cost per person for 2 people?"
)


def chat(messages: list[dict[str, Any]], **extra: Any) -> ChatCompletionRequest:
    return ChatCompletionRequest.model_validate({"model": "m", "messages": messages, **extra})


def planner(*turns: dict[str, Any]) -> ChatCompletionRequest:
    system = {"role": "system", "content": "ROLE: planner\nReply with JSON."}
    return chat([system, *turns], response_format={"type": "json_object"})


def executor(*turns: dict[str, Any], tools: list[Any] | None = None) -> ChatCompletionRequest:
    system = {"role": "system", "content": "ROLE: executor\nCarry out one step."}
    return chat([system, *turns], tools=[CALCULATOR_TOOL] if tools is None else tools)


def plan_of(answer: Answer) -> list[dict[str, Any]]:
    assert answer.content is not None and not answer.tool_calls
    steps: list[dict[str, Any]] = json.loads(answer.content)["steps"]
    Plan.model_validate({"steps": steps})  # the service's own plan contract
    return steps


def test_planner_makes_one_calculator_step_per_expression_then_total_and_split() -> None:
    steps = plan_of(respond(planner({"role": "user", "content": TRIP}), FRONTIER))
    assert [(s["id"], s["description"], s["tool"], s["expression"]) for s in steps] == [
        (1, "flights", "calculator", "2 * 340"),
        (2, "hotel", "calculator", "5 * 120"),
        (3, "food", "calculator", "5 * 45"),
        (4, "total", "calculator", "#1 + #2 + #3"),
        (5, "per person", "calculator", "#4 / 2"),
    ]


def test_planner_single_expression_has_no_total_step() -> None:
    steps = plan_of(respond(planner({"role": "user", "content": "What is 2 * 3 + 4 * 5?"}), MID))
    assert len(steps) == 1
    assert steps[0]["expression"] == "2 * 3 + 4 * 5" and steps[0]["tool"] == "calculator"


def test_planner_without_arithmetic_answers_the_question_in_one_step() -> None:
    steps = plan_of(respond(planner({"role": "user", "content": "Why is the sky blue?"}), EDGE))
    assert steps == [
        {"id": 1, "description": "answer the question", "tool": None, "expression": None}
    ]


def test_planner_reads_the_question_behind_a_feedback_turn() -> None:
    request = planner(
        {"role": "user", "content": "hotel 3 * 99, taxi 2 * 15"},
        {"role": "assistant", "content": '{"steps": ['},
        {"role": "user", "content": "Your previous answer could not be used. Reply with JSON."},
    )
    assert [s["expression"] for s in plan_of(respond(request, FRONTIER))] == [
        "3 * 99",
        "2 * 15",
        "#1 + #2",
    ]


def test_expressions_are_normalised_for_the_calculator() -> None:
    text = "Rent $1,200 / 4, tiles (3 + 4) \u00d7 12.5 and 2x3, then 7 \u00f7 2 on 2024-01-05."
    assert [e.text for e in find_expressions(text)] == [
        "1200 / 4",
        "(3 + 4) * 12.5",
        "2 * 3",
        "7 / 2",
    ]
    assert find_expressions("a 5-day trip with 3 x-rays") == []


def test_labels_can_follow_the_expression() -> None:
    steps = build_plan("2*340 for flights and 5*120 for the hotel")["steps"]
    assert [s["description"] for s in steps] == ["flights", "hotel", "total"]


def test_split_phrasings() -> None:
    assert split_count("the bill, split between 4") == 4
    assert split_count("total divided by 3") == 3
    assert split_count("per person for 5 people") == 5
    assert split_count("for 6 friends, per person") == 6
    assert split_count("for 2 nights") is None


def test_executor_calls_the_calculator_for_the_expression() -> None:
    request = executor({"role": "user", "content": "Step 1: flights\nExpression: 2 * 340"})
    answer = respond(request, EDGE)
    assert answer.content is None and answer.finish_reason == "tool_calls"
    (call,) = answer.tool_calls
    assert call.name == "calculator" and call.id.startswith("call_")
    assert json.loads(call.arguments) == {"expression": "2 * 340"}
    assert respond(request, EDGE) == answer  # deterministic, ids included


def test_executor_reports_the_tool_result() -> None:
    call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "calculator", "arguments": '{"expression": "2 * 340"}'},
    }
    request = executor(
        {"role": "user", "content": "Step 1: flights\nExpression: 2 * 340"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_1", "content": "680"},
    )
    answer = respond(request, EDGE)
    assert answer.content == "Result: 680" and answer.finish_reason == "stop"


def test_executor_calls_again_for_a_new_step_after_earlier_tool_results() -> None:
    call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "calculator", "arguments": '{"expression": "2 * 340"}'},
    }
    request = executor(
        {"role": "user", "content": TRIP},
        {"role": "user", "content": "Step 1: flights\nExpression: 2 * 340"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_1", "content": "680"},
        {"role": "user", "content": "Step 4: total\nExpression: (680) + (600) + (225)"},
    )
    (new_call,) = respond(request, EDGE).tool_calls
    assert json.loads(new_call.arguments) == {"expression": "(680) + (600) + (225)"}
    assert new_call.id != "call_1"


def test_executor_without_expression_or_tool_answers_in_text() -> None:
    plain = respond(executor({"role": "user", "content": "Step 1: answer the question"}), EDGE)
    assert plain.content and not plain.tool_calls and "edge-a" in plain.content
    no_tool = executor({"role": "user", "content": "Expression: 1 + 1"}, tools=[])
    assert respond(no_tool, EDGE).tool_calls == ()


def test_synthesizer_writes_one_sentence_per_step_and_the_final_answer() -> None:
    summary = (
        "Question: trip cost\nStep 1 (flights): 680\nStep 2 (hotel): 600\nStep 3 (total): 1280"
    )
    request = chat(
        [
            {"role": "system", "content": "ROLE: synthesizer\nWrite the answer."},
            {"role": "user", "content": summary},
        ]
    )
    lines = (respond(request, MID).content or "").splitlines()
    assert lines == ["flights: 680.", "hotel: 600.", "total: 1280.", "Final answer: 1280"]
    frontier_lines = (respond(request, FRONTIER).content or "").splitlines()
    assert frontier_lines[0] == "Here is the answer to: trip cost"
    assert frontier_lines[-1] == "Final answer: 1280"


def test_generic_answer_is_model_specific_and_deterministic() -> None:
    words = " ".join(f"w{i}" for i in range(40))
    request = chat([{"role": "user", "content": words}])
    answers = {spec.name: respond(request, spec).content or "" for spec in (FRONTIER, MID, EDGE)}
    for name, content in answers.items():
        assert name in content and "w19" in content and "w20" not in content
        assert respond(request, CATALOG.model(name)).content == content
    assert len(answers["edge-a"]) < len(answers["mid-a"]) < len(answers["frontier-a"])


def test_generic_json_and_forced_tool_answers() -> None:
    as_json = chat([{"role": "user", "content": "hi"}], response_format={"type": "json_object"})
    assert json.loads(respond(as_json, MID).content or "") == {"model": "mid-a", "answer": "hi"}
    forced = chat(
        [{"role": "user", "content": "find it"}],
        tools=[CALCULATOR_TOOL],
        tool_choice={"type": "function", "function": {"name": "calculator"}},
    )
    (call,) = respond(forced, MID).tool_calls
    assert call.name == "calculator" and json.loads(call.arguments) == {"expression": "find it"}


class Recorded:
    """What a later `RecordedAnswers` source will look like: answers some prompts only."""

    def answer(self, request: ChatCompletionRequest, model: ModelSpec) -> Answer | None:
        prompt = request.messages[-1].get("content")
        return Answer(content="recorded answer") if prompt == "known prompt" else None


def test_responder_tries_sources_in_order() -> None:
    responder = Responder([Recorded(), ScriptedRoles(), GenericAnswer()])
    known = chat([{"role": "user", "content": "known prompt"}])
    other = chat([{"role": "user", "content": "other prompt"}])
    assert responder.answer(known, MID).content == "recorded answer"
    assert "mid-a" in (responder.answer(other, MID).content or "")
    assert "mid-a" in (Responder([]).answer(other, MID).content or "")


CALC_EXPRESSION = re.compile(r"^[0-9.+\-*/() #]+$")
question_text = st.text(
    alphabet=st.sampled_from(list("0123456789 +-*/x\u00d7\u00f7^().,$:;?!-abcdeforsplitbydvn#")),
    max_size=120,
)


def _check_plan(plan: dict[str, Any]) -> None:
    steps = plan["steps"]
    assert [step["id"] for step in steps] == list(range(1, len(steps) + 1))
    for step in steps:
        expression = step["expression"]
        if expression is None:
            assert step["tool"] is None and len(steps) == 1
            continue
        assert CALC_EXPRESSION.match(expression), expression
        refs = [int(ref) for ref in re.findall(r"#(\d+)", expression)]
        assert all(1 <= ref < step["id"] for ref in refs)
        ast.parse(re.sub(r"#\d+", "1", expression), mode="eval")  # parses, never run
    Plan.model_validate(plan)


@given(question_text)
def test_any_question_gives_a_valid_plan(question: str) -> None:
    _check_plan(build_plan(question))


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["flights", "hotel", "food", "taxi"]),
            st.integers(1, 999),
            st.sampled_from(["*", "+", "x", "\u00d7", "/", "-"]),
            st.integers(1, 999),
        ),
        min_size=1,
        max_size=5,
    ),
    st.one_of(st.none(), st.integers(1, 9)),
)
def test_written_expressions_become_calculator_steps(
    items: list[tuple[str, int, str, int]], people: int | None
) -> None:
    question = ", ".join(f"{label} {a} {op} {b} USD" for label, a, op, b in items)
    if people is not None:
        question += f", split between {people}"
    plan = build_plan(question)
    _check_plan(plan)
    steps = plan["steps"]
    for step, (label, a, op, b) in zip(steps, items, strict=False):
        assert step["description"] == label
        assert evaluate(step["expression"]) == evaluate(f"{a} {op.replace('x', '*')} {b}")
    expected = len(items) + (len(items) > 1) + (people is not None)
    assert len(steps) == expected


FEEDBACK = {
    "role": "user",
    "content": "Your previous answer could not be used (malformed JSON). Call the tool again.",
}


def test_executor_and_synthesizer_redo_their_step_after_a_feedback_turn() -> None:
    step = {"role": "user", "content": "Step 1: flights\nExpression: 2 * 340"}
    broken = {"role": "assistant", "content": '(tool call calculator({"expression": "2 *))'}
    retried = respond(executor(step, broken, FEEDBACK), EDGE)
    (call,) = retried.tool_calls
    assert json.loads(call.arguments) == {"expression": "2 * 340"}

    system = {"role": "system", "content": "ROLE: synthesizer\nWrite the final answer."}
    summary = {"role": "user", "content": "Question: q\nStep 1 (flights): 680"}
    cut = {"role": "assistant", "content": '{"answer": "flights: 6'}
    again = respond(chat([system, summary, cut, FEEDBACK]), MID)
    assert again.content is not None and again.content.endswith("Final answer: 680")
