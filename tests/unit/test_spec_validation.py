"""validate_spec: each kind of problem is reported at its JSON pointer, all at once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from app.routing.catalog import load_catalog
from app.routing.policy import Cascade
from graphs.spec import (
    SpecEnvironment,
    SpecInvalid,
    parse_spec_text,
    validate_spec,
)
from graphs.spec.model import Target
from graphs.spec.runners import policy_of

CATALOG = load_catalog()
ENV = SpecEnvironment(CATALOG)
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "specs"


def base() -> dict[str, Any]:
    return {
        "name": "t",
        "state": {
            "question": {"type": "string"},
            "answer": {"type": "string"},
            "score": {"type": "number", "default": 0},
            "items": {"type": "array", "reducer": "append"},
            "result": {"type": "object"},
        },
        "input": ["question"],
        "entry": "ask",
        "nodes": {
            "ask": {"kind": "llm", "prompt": "{{ question }}", "tier": "edge", "output": "answer"}
        },
        "edges": [{"from": "ask", "to": "END"}],
    }


def problems(document: dict[str, Any], env: SpecEnvironment = ENV) -> list[tuple[str, str]]:
    with pytest.raises(SpecInvalid) as caught:
        validate_spec(document, env)
    return [(error["pointer"], error["message"]) for error in caught.value.errors]


def assert_problem(
    document: dict[str, Any], where: str, fragment: str, env: SpecEnvironment = ENV
) -> None:
    found = problems(document, env)
    assert any(p == where and fragment in m for p, m in found), found


def with_node(name: str, node: dict[str, Any], after: str = "ask") -> dict[str, Any]:
    """`base()` with `node` inserted after `after` (its edge now leads to the new node)."""
    document = base()
    document["nodes"][name] = node
    document["edges"] = [{"from": after, "to": name}, {"from": name, "to": "END"}]
    return document


def test_the_examples_and_the_base_spec_are_valid() -> None:
    validate_spec(base(), ENV)
    for path in sorted(EXAMPLES.glob("*.yaml")):
        validated = validate_spec(parse_spec_text(path.read_text()), ENV)
        assert validated.spec.name


def test_unknown_node_kind() -> None:
    document = base()
    document["nodes"]["ask"]["kind"] = "llmm"
    assert_problem(
        document, "/nodes/ask/kind", "unknown node kind 'llmm'; expected one of: llm, tool"
    )


def test_missing_node_kind() -> None:
    document = base()
    del document["nodes"]["ask"]["kind"]
    assert_problem(document, "/nodes/ask/kind", "missing 'kind'")


def test_edge_to_a_missing_node() -> None:
    document = base()
    document["edges"] = [{"from": "ask", "to": "nowhere"}]
    assert_problem(document, "/edges/0/to", "unknown node 'nowhere'")


def test_edge_from_a_missing_node() -> None:
    document = base()
    document["edges"].append({"from": "aks", "to": "END"})
    assert_problem(document, "/edges/1/from", "unknown node 'aks' (did you mean 'ask'?)")


def test_unreachable_node() -> None:
    document = base()
    document["nodes"]["orphan"] = {"kind": "llm", "prompt": "x", "tier": "mid", "output": "answer"}
    document["edges"].append({"from": "orphan", "to": "END"})
    assert_problem(document, "/nodes/orphan", "node 'orphan' is unreachable from the entry 'ask'")


def test_node_without_an_outgoing_edge() -> None:
    document = base()
    document["edges"] = []
    assert_problem(document, "/nodes/ask", "has no outgoing edge")


def test_a_second_outgoing_edge_asks_for_a_router() -> None:
    document = with_node("more", {"kind": "llm", "prompt": "x", "tier": "mid", "output": "answer"})
    document["edges"].append({"from": "ask", "to": "END"})
    assert_problem(document, "/edges/2", "already has an edge (/edges/0)")


def test_cycle_without_exit_condition() -> None:
    document = with_node(
        "again", {"kind": "llm", "prompt": "x", "tier": "edge", "output": "answer"}
    )
    document["edges"] = [{"from": "ask", "to": "again"}, {"from": "again", "to": "ask"}]
    document["limits"] = {"max_steps": 20}
    assert_problem(document, "/nodes/ask", "cycle ask -> again -> ask has no exit condition")


def _loop_with_exit() -> dict[str, Any]:
    document = with_node(
        "check",
        {
            "kind": "router",
            "routes": [{"when": "state.score >= 0.8", "to": "END"}],
            "default": "ask",
        },
    )
    document["edges"] = [{"from": "ask", "to": "check"}]
    return document


def test_cycle_with_exit_but_no_step_limit() -> None:
    assert_problem(_loop_with_exit(), "/limits/max_steps", "set limits.max_steps")
    bounded = _loop_with_exit()
    bounded["limits"] = {"max_steps": 12}
    validate_spec(bounded, ENV)


def test_template_variable_not_in_state() -> None:
    document = base()
    document["nodes"]["ask"]["prompt"] = "Answer: {{ qestion }}"
    assert_problem(
        document,
        "/nodes/ask/prompt",
        "template variable 'qestion' (column 12) is not in the state (did you mean 'question'?)",
    )


def test_template_syntax_error() -> None:
    document = base()
    document["nodes"]["ask"]["system"] = "Be brief.\n{{ question | shout }}"
    assert_problem(document, "/nodes/ask/system", "unknown filter 'shout'")
    assert_problem(document, "/nodes/ask/system", "line 2, column 15")


def test_bad_router_expression() -> None:
    document = _loop_with_exit()
    document["limits"] = {"max_steps": 12}
    document["nodes"]["check"]["routes"][0]["when"] = "state.score >= and true"
    assert_problem(
        document, "/nodes/check/routes/0/when", "bad expression: unexpected 'and' (column 16)"
    )


def test_router_expression_reading_an_unknown_field() -> None:
    document = _loop_with_exit()
    document["limits"] = {"max_steps": 12}
    document["nodes"]["check"]["routes"][0]["when"] = "state.scor > 1"
    assert_problem(
        document,
        "/nodes/check/routes/0/when",
        "state.scor (column 1) is not a state field (did you mean 'score'?)",
    )


def test_router_route_to_a_missing_node_and_edge_from_a_router() -> None:
    document = _loop_with_exit()
    document["limits"] = {"max_steps": 12}
    document["nodes"]["check"]["routes"][0]["to"] = "publish"
    document["edges"].append({"from": "check", "to": "END"})
    found = problems(document)
    assert ("/nodes/check/routes/0/to", "unknown node 'publish' (or END)") in found
    assert (
        "/edges/1/from",
        "router 'check' branches through its routes; remove this edge",
    ) in found


def test_unknown_tier() -> None:
    document = base()
    document["nodes"]["ask"]["tier"] = "edgy"
    assert_problem(document, "/nodes/ask/tier", "unknown tier 'edgy'; known: frontier, mid, edge")


def test_unknown_model() -> None:
    document = base()
    del document["nodes"]["ask"]["tier"]
    document["nodes"]["ask"]["model"] = "gpt-9"
    assert_problem(document, "/nodes/ask/model", "unknown model 'gpt-9'")


def test_a_target_needs_exactly_one_of_tier_model_policy() -> None:
    document = base()
    del document["nodes"]["ask"]["tier"]
    assert_problem(document, "/nodes/ask", "set one of tier, model or policy")
    document["nodes"]["ask"].update({"tier": "edge", "model": "mid-a"})
    assert_problem(
        document, "/nodes/ask", "set only one of tier, model or policy (found tier, model)"
    )


def test_unknown_policy_and_cascade_tiers_out_of_order() -> None:
    document = base()
    del document["nodes"]["ask"]["tier"]
    document["nodes"]["ask"]["policy"] = "cheapest"
    assert_problem(
        document, "/nodes/ask/policy", "unknown policy 'cheapest'; expected one of: auto, cascade"
    )
    document["nodes"]["ask"]["policy"] = {"name": "cascade", "tiers": ["frontier", "edge"]}
    assert_problem(document, "/nodes/ask/policy/tiers", "cheapest first")


def test_a_judge_verifier_names_a_known_model_or_tier_and_only_with_verifier_judge() -> None:
    document = base()
    del document["nodes"]["ask"]["tier"]
    policy = {"name": "cascade", "tiers": ["edge", "frontier"], "verifier": "judge"}
    document["nodes"]["ask"]["policy"] = {**policy, "judge_with": "mid-b"}
    validate_spec(document, ENV)
    document["nodes"]["ask"]["policy"] = {**policy, "judge_with": "mid"}
    validate_spec(document, ENV)
    document["nodes"]["ask"]["policy"] = {**policy, "judge_with": "mid-c"}
    assert_problem(
        document,
        "/nodes/ask/policy/judge_with",
        "unknown model or tier 'mid-c' (did you mean 'mid-b'?); known: tiers frontier, mid, edge",
    )
    document["nodes"]["ask"]["policy"] = {**policy, "verifier": "nonempty", "judge_with": "mid"}
    assert_problem(document, "/nodes/ask/policy/judge_with", "judge_with needs verifier: judge")
    document["nodes"]["ask"]["policy"] = {**policy, "verifier": "agreement", "agree_with": "x"}
    assert_problem(document, "/nodes/ask/policy/agree_with", "unknown model or tier 'x'")


def test_a_third_vote_needs_agreement_and_its_tiebreak_a_known_model_and_three_votes() -> None:
    document = base()
    del document["nodes"]["ask"]["tier"]
    policy = {"name": "cascade", "tiers": ["edge", "frontier"], "verifier": "agreement"}
    document["nodes"]["ask"]["policy"] = {**policy, "votes": 3, "tiebreak_with": "mid-a"}
    validate_spec(document, ENV)
    target = Target.model_validate({"policy": document["nodes"]["ask"]["policy"]})
    assert policy_of(target) == Cascade(
        tiers=("edge", "frontier"), verifier="agreement", votes=3, tiebreak_with="mid-a"
    )
    document["nodes"]["ask"]["policy"] = {**policy, "votes": 3, "tiebreak_with": "mid-c"}
    assert_problem(document, "/nodes/ask/policy/tiebreak_with", "unknown model or tier 'mid-c'")
    document["nodes"]["ask"]["policy"] = {**policy, "tiebreak_with": "mid-a"}
    assert_problem(document, "/nodes/ask/policy/tiebreak_with", "tiebreak_with needs votes: 3")
    document["nodes"]["ask"]["policy"] = {**policy, "verifier": "nonempty", "votes": 3}
    assert_problem(document, "/nodes/ask/policy/votes", "votes needs verifier: agreement")


def test_unknown_tool() -> None:
    document = with_node(
        "calc",
        {"kind": "tool", "tool": "calculater", "args": {"expression": "1"}, "output": "score"},
    )
    assert_problem(
        document, "/nodes/calc/tool", "unknown tool 'calculater' (did you mean 'calculator'?)"
    )


def test_tool_arguments_are_checked() -> None:
    document = with_node(
        "calc", {"kind": "tool", "tool": "calculator", "args": {"expr": "1"}, "output": "score"}
    )
    found = problems(document)
    assert (
        "/nodes/calc/args/expr",
        "calculator takes no argument 'expr'; it takes expression",
    ) in found
    assert ("/nodes/calc/args", "missing argument 'expression' of calculator") in found


def test_output_schema_that_is_not_json_schema() -> None:
    document = base()
    document["state"]["answer"]["type"] = "object"
    document["nodes"]["ask"]["output_schema"] = {
        "type": "object",
        "properties": {"total": {"type": "numbr"}, "items": {"type": "array", "minItems": -1}},
    }
    found = problems(document)
    assert any(
        p == "/nodes/ask/output_schema/properties/total/type" and "not valid JSON Schema" in m
        for p, m in found
    )
    assert any(p == "/nodes/ask/output_schema/properties/items/minItems" for p, _ in found)


def test_output_schema_may_not_hold_regular_expressions_or_remote_refs() -> None:
    document = base()
    document["state"]["answer"]["type"] = "object"
    document["nodes"]["ask"]["output_schema"] = {
        "type": "object",
        "properties": {
            "pattern": {"type": "string"},  # a property named "pattern" is fine
            "code": {"type": "string", "pattern": "^(a+)+$"},
            "other": {"$ref": "https://example.com/schema.json"},
        },
    }
    found = problems(document)
    assert (
        "/nodes/ask/output_schema/properties/code/pattern",
        "regular expressions are not allowed in output schemas (they can hang a worker)",
    ) in found
    assert (
        "/nodes/ask/output_schema/properties/other/$ref",
        "only local references ($ref: '#/...') are allowed",
    ) in found
    assert not any(p.endswith("/properties/pattern") for p, _ in found)


def test_output_field_must_exist_and_fit_what_the_node_writes() -> None:
    document = base()
    document["nodes"]["ask"]["output"] = "anser"
    assert_problem(
        document, "/nodes/ask/output", "unknown state field 'anser' (did you mean 'answer'?)"
    )
    document["nodes"]["ask"]["output"] = "score"
    assert_problem(
        document, "/nodes/ask/output", "this node writes a string but state field 'score' is number"
    )
    document["nodes"]["ask"]["output"] = "items"  # an append list takes any value
    validate_spec(document, ENV)


def test_state_reducers_defaults_and_input() -> None:
    document = base()
    document["state"]["answer"]["reducer"] = "append"
    document["state"]["score"]["default"] = "high"
    document["input"] = ["question", "qestion"]
    found = problems(document)
    assert ("/state/answer/reducer", "the append reducer needs type: array") in found
    assert ("/state/score/default", "the default is not of type number") in found
    assert ("/input/1", "unknown state field 'qestion' (did you mean 'question'?)") in found


def test_names_are_checked() -> None:
    document = base()
    document["nodes"]["answer"] = document["nodes"].pop("ask")
    document["entry"] = "answer"
    document["edges"] = [{"from": "answer", "to": "END"}]
    document["state"]["bad name"] = {"type": "string"}
    found = problems(document)
    assert (
        "/nodes/answer",
        "node 'answer' has the name of a state field; name them differently",
    ) in found
    assert any(p == "/state/bad name" and "must start with a letter" in m for p, m in found)


def test_structural_errors_are_pointers_too() -> None:
    document = base()
    document["nodes"]["ask"]["promt"] = document["nodes"]["ask"].pop("prompt")
    document["nodes"]["ask"]["max_tokens"] = "many"
    document["edges"][0].pop("to")
    found = problems(document)
    assert ("/nodes/ask/prompt", "required field is missing") in found
    assert ("/nodes/ask/promt", "unknown field 'promt' (did you mean 'prompt'?)") in found
    assert any(p == "/nodes/ask/max_tokens" and "integer" in m for p, m in found)
    assert ("/edges/0/to", "required field is missing") in found


def test_every_problem_is_reported_at_once() -> None:
    document = base()
    document["nodes"]["ask"]["tier"] = "edgy"
    document["nodes"]["ask"]["prompt"] = "{{ nope }}"
    document["nodes"]["broken"] = {"kind": "mystery"}
    document["edges"].append({"from": "ask", "to": "ghost"})
    pointers = {p for p, _ in problems(document)}
    assert {"/nodes/ask/tier", "/nodes/ask/prompt", "/nodes/broken/kind", "/edges/1/to"} <= pointers
