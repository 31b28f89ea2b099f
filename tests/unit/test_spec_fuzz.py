"""Fuzzing the spec entry points: any input is accepted or rejected with SpecInvalid,
never another exception, and quickly (a hostile spec cannot hang validation)."""

from __future__ import annotations

import contextlib
import copy
import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.routing.catalog import load_catalog
from graphs.spec import SpecEnvironment, SpecInvalid, parse_spec_text, validate_spec

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "specs"
SEEDS = [parse_spec_text(path.read_text()) for path in sorted(EXAMPLES.glob("*.yaml"))]
SUB = SEEDS[0]
ENV = SpecEnvironment(
    load_catalog(), resolve_subgraph=lambda name, version: SUB if version == 1 else None
)
FUZZ = settings(
    max_examples=250,
    deadline=2000,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
    st.sampled_from(
        [
            "llm",
            "tool",
            "router",
            "map",
            "debate",
            "cascade",
            "speculative",
            "subgraph",
            "END",
            "edge",
            "mid",
            "frontier",
            "edge-a",
            "calculator",
            "http",
            "auto",
            "cascade",
            "{{ question }}",
            "{{ nope | join(', ') }}",
            "state.x > 1",
            "len(state.question) > 0",
            "question",
            "verdict",
            "result",
            "invoice",
            "debate",
            "solve",
            "extract",
            "triage",
            "append",
            "overwrite",
            "array",
            "object",
            "string",
        ]
    ),
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.text(max_size=12)
            | st.sampled_from(
                ["kind", "prompt", "tier", "output", "from", "to", "type", "reducer"]
            ),
            children,
            max_size=4,
        )
    ),
    max_leaves=20,
)


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            found.extend(_paths(item, (*path, key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.extend(_paths(item, (*path, index)))
    return found


def _mutate(document: dict[str, Any], path: tuple[Any, ...], action: str, value: Any) -> Any:
    if not path:
        return value
    parent: Any = document
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    if action == "delete":
        del parent[last]
    elif action == "insert" and isinstance(parent, dict):
        parent[f"{last}_x"] = value
    else:
        parent[last] = value
    return document


def expect_only_spec_invalid(document: Any) -> None:
    try:
        validate_spec(document, ENV)
    except SpecInvalid as invalid:
        assert invalid.errors and all(isinstance(e["pointer"], str) for e in invalid.errors)
        assert all(e["pointer"] == "" or e["pointer"].startswith("/") for e in invalid.errors)


@FUZZ
@given(st.data())
def test_mutated_examples_are_valid_or_rejected_with_pointers(data: st.DataObject) -> None:
    document = copy.deepcopy(data.draw(st.sampled_from(SEEDS)))
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        paths = _paths(document)
        path = data.draw(st.sampled_from(paths))
        action = data.draw(st.sampled_from(["replace", "delete", "insert"]))
        document = _mutate(document, path, action, data.draw(json_values))
    expect_only_spec_invalid(document)


@FUZZ
@given(json_values)
def test_any_json_value_is_rejected_cleanly(document: Any) -> None:
    expect_only_spec_invalid(document)


@FUZZ
@given(st.text(alphabet=st.sampled_from(list("{}[]:,-&*!|>'\"#% \n\tabkx01.~@")), max_size=200))
def test_any_text_parses_or_is_rejected_cleanly(text: str) -> None:
    try:
        document = parse_spec_text(text)
    except SpecInvalid as invalid:
        assert invalid.errors
        return
    expect_only_spec_invalid(document)


@FUZZ
@given(st.data())
def test_examples_serialised_and_damaged_are_rejected_cleanly(data: st.DataObject) -> None:
    text = json.dumps(data.draw(st.sampled_from(SEEDS)))
    cut = data.draw(st.integers(min_value=0, max_value=len(text)))
    noise = data.draw(st.text(max_size=5))
    damaged = text[:cut] + noise + text[cut + len(noise) :]
    for fmt in ("json", "yaml", None):
        with contextlib.suppress(SpecInvalid):
            expect_only_spec_invalid(parse_spec_text(damaged, fmt))  # type: ignore[arg-type]
