"""compile_spec: the input contract, initial and output states, and the built graph."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from app.routing.catalog import load_catalog
from graphs.spec import (
    SpecEnvironment,
    SpecInputInvalid,
    compile_spec,
    parse_spec_text,
    validate_spec,
)
from graphs.spec.state import RESET, append_reducer

ENV = SpecEnvironment(load_catalog())
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "specs"

SPEC: dict[str, Any] = {
    "name": "collect",
    "description": "Collects answers.",
    "state": {
        "question": {"type": "string", "min_length": 3, "max_length": 50},
        "level": {"type": "string", "enum": ["low", "high"], "default": "low"},
        "count": {"type": "integer", "minimum": 1, "maximum": 5, "default": 2},
        "notes": {"type": "array", "items": "string", "reducer": "append", "default": ["seed"]},
        "answer": {"type": "string"},
        "model_config": {"type": "any", "description": "a name pydantic itself uses"},
    },
    "input": ["question", "level", "count", "notes", "model_config"],
    "output": ["answer", "notes"],
    "entry": "ask",
    "nodes": {
        "ask": {"kind": "llm", "prompt": "{{ question }}", "tier": "edge", "output": "answer"}
    },
    "edges": [{"from": "ask", "to": "END"}],
    "limits": {"max_steps": 7, "budget_usd": 0.25},
}


def compiled() -> Any:
    return compile_spec(validate_spec(SPEC, ENV), ENV)


def test_input_is_validated_with_defaults_and_pydantic_style_errors() -> None:
    spec = compiled()
    assert spec.validate_input({"question": "Why?", "model_config": {"a": 1}}) == {
        "question": "Why?",
        "level": "low",
        "count": 2,
        "notes": ["seed"],
        "model_config": {"a": 1},
    }
    with pytest.raises(SpecInputInvalid) as caught:
        spec.validate_input({"question": "x", "level": "medium", "count": 9, "extra": 1})
    errors = {tuple(e["loc"]): e for e in caught.value.errors}
    assert errors[("question",)]["type"] == "string_too_short"
    assert errors[("level",)]["type"] == "literal_error"
    assert errors[("count",)]["type"] == "less_than_equal"
    assert errors[("extra",)]["type"] == "extra_forbidden"
    assert errors[("model_config",)]["type"] == "missing"
    assert all(set(e) == {"loc", "msg", "type"} for e in caught.value.errors)


def test_input_schema_is_json_schema_with_the_state_names() -> None:
    schema = compiled().input_schema
    assert set(schema["properties"]) == {"question", "level", "count", "notes", "model_config"}
    assert set(schema["required"]) == {"question", "model_config"}
    assert schema["properties"]["level"]["enum"] == ["low", "high"]
    assert schema["additionalProperties"] is False


def test_initial_state_starts_afresh_and_output_is_the_declared_fields() -> None:
    spec = compiled()
    start = spec.initial_state(spec.validate_input({"question": "Why?", "model_config": None}))
    assert start["notes"] == {RESET: ["seed"]} and start["answer"] is None
    assert append_reducer(["old"], start["notes"]) == ["seed"]
    assert append_reducer(["a"], ["b", "c"]) == ["a", "b", "c"]
    assert append_reducer(["a"], "b") == ["a", "b"]
    assert spec.output_of({"answer": "42", "notes": ["seed"], "question": "Why?"}) == {
        "answer": "42",
        "notes": ["seed"],
    }


def test_initial_state_also_takes_an_input_model_instance() -> None:
    spec = compiled()
    payload = {"question": "Why?", "model_config": None}
    from_model = spec.initial_state(spec.input_model.model_validate(payload))
    assert from_model == spec.initial_state(spec.validate_input(payload))


def test_limits_summary_and_build() -> None:
    spec = compiled()
    assert (spec.name, spec.description) == ("collect", "Collects answers.")
    assert spec.recursion_limit == 7 and spec.budget_usd == 0.25
    assert spec.node_summary() == {"ask": "llm: edge"}
    graph = spec.build(None)
    assert set(graph.get_graph().nodes) >= {"ask", "__start__", "__end__"}


def test_every_example_builds_with_a_summary() -> None:
    summaries = {}
    for path in sorted(EXAMPLES.glob("*.yaml")):
        spec = compile_spec(validate_spec(parse_spec_text(path.read_text()), ENV), ENV)
        spec.build(None)
        summaries[spec.name] = spec.node_summary()
    assert summaries["debate-judge"] == {"debate": "debate: edge, mid -> judge frontier"}
    assert summaries["cascade"] == {"solve": "cascade: edge > mid > frontier"}
    assert summaries["speculative"] == {
        "draft_and_verify": "speculative: draft edge, verify frontier"
    }
    assert summaries["structured-extraction"]["extract"] == "llm: edge-a (schema)"


def test_compiling_builds_nothing_until_asked() -> None:
    # Wrapping a validated spec is cheap and side-effect free: no graph exists yet.
    spec = compile_spec(validate_spec(SPEC, ENV), ENV)
    assert "input_model" not in vars(spec)


def test_ledger_names_fit_the_ledger_column() -> None:
    validated = validate_spec(SPEC, ENV)
    assert compile_spec(validated, ENV).ledger_name("ask") == "ask"
    nested = type(compile_spec(validated, ENV))(validated, ENV, ledger_prefix="outer/inner/")
    assert nested.ledger_name("ask") == "outer/inner/ask"
    deep = type(nested)(validated, ENV, ledger_prefix="x" * 90 + "/" + "y" * 60 + "/")
    name = deep.ledger_name("ask")
    assert len(name) == 100 and name.startswith("...") and name.endswith("/ask")
