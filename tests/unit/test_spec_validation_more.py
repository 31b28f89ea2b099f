"""Spec validation, continued: bounds, maps, HTTP tool, subgraphs, the published schema."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from graphs.spec import (
    SpecEnvironment,
    parse_spec_text,
    prefetch_subgraphs,
    spec_json_schema,
    validate_spec,
)
from graphs.spec.model import MAX_NODES
from tests.unit.test_spec_validation import (
    CATALOG,
    ENV,
    EXAMPLES,
    assert_problem,
    base,
    problems,
    with_node,
)


@pytest.mark.parametrize(
    ("mutate", "where", "fragment"),
    [
        (
            lambda d: d["nodes"].update(
                {
                    f"n{i}": {
                        "kind": "router",
                        "routes": [{"when": "true", "to": "END"}],
                        "default": "END",
                    }
                    for i in range(MAX_NODES)
                }
            ),
            "/nodes",
            f"at most {MAX_NODES}",
        ),
        (
            lambda d: d["nodes"]["ask"].update({"prompt": "x" * 20_001}),
            "/nodes/ask/prompt",
            "at most 20000",
        ),
        (
            lambda d: d.update({"limits": {"max_steps": 100_000}}),
            "/limits/max_steps",
            "less than or equal to 1000",
        ),
        (
            lambda d: d["nodes"]["ask"].update({"max_tokens": 10**9}),
            "/nodes/ask/max_tokens",
            "less than or equal",
        ),
    ],
)
def test_specs_are_bounded(mutate: Any, where: str, fragment: str) -> None:
    document = base()
    mutate(document)
    assert_problem(document, where, fragment)


def test_pattern_nodes_are_bounded() -> None:
    document = with_node(
        "argue",
        {
            "kind": "debate",
            "prompt": "{{ question }}",
            "debaters": [{"tier": "edge"}] * 6,
            "rounds": 4,
            "output": "result",
        },
    )
    found = problems(document)
    assert any(p == "/nodes/argue/debaters" and "at most 5" in m for p, m in found)
    assert any(p == "/nodes/argue/rounds" and "less than or equal to 3" in m for p, m in found)
    document = with_node(
        "each",
        {
            "kind": "map",
            "over": "state.items",
            "max_items": 1000,
            "node": {"kind": "llm", "prompt": "{{ item }}", "tier": "edge"},
            "output": "items",
        },
    )
    assert_problem(document, "/nodes/each/max_items", "less than or equal to 100")
    document["nodes"]["each"].update({"max_items": 10, "as": "the item"})
    assert_problem(document, "/nodes/each/as", "should match pattern")


def test_document_size_and_nesting_are_bounded() -> None:
    nested: Any = "x"
    for _ in range(60):
        nested = {"a": nested}
    document = base()
    document["nodes"]["ask"]["output_schema"] = nested
    ((where, message),) = problems(document)
    assert "nested deeper than" in message and where.startswith("/nodes/ask/output_schema")
    document = base()
    document["description"] = "x" * 300_000
    ((where, message),) = problems(document)
    assert where == "" and "limit" in message


def test_map_inner_node_sees_its_element_and_the_state() -> None:
    document = with_node(
        "each",
        {
            "kind": "map",
            "over": "state.items",
            "as": "line",
            "node": {
                "kind": "llm",
                "prompt": "{{ question }}: {{ line }} #{{ index }} {{ item }}",
                "tier": "edge",
            },
            "output": "items",
        },
    )
    assert problems(document) == [
        (
            "/nodes/each/node/prompt",
            "template variable 'item' (column 44) is not in the state (did you mean "
            "'items'?); known: answer, index, items, line, question, result, score",
        )
    ]


def test_http_tool_settings_and_literal_urls_are_checked() -> None:
    document = with_node(
        "fetch",
        {
            "kind": "tool",
            "tool": "http",
            "args": {"url": "https://evil.example.com/{{ question }}", "method": "TRACE"},
            "config": {"allow_hosts": ["api.example.com", "https://x.org/path"], "timeout_s": 600},
            "output": "result",
        },
    )
    found = problems(document)
    assert any(
        p == "/nodes/fetch/config/allow_hosts" and "no scheme or path" in m for p, m in found
    )
    assert any(p == "/nodes/fetch/config/timeout_s" for p, _ in found)
    document["nodes"]["fetch"]["config"] = {"allow_hosts": ["api.example.com"]}
    found = problems(document)
    assert ("/nodes/fetch/args/url", "host 'evil.example.com' is not in allow_hosts") in found
    assert (
        "/nodes/fetch/args/method",
        "method must be one of GET, POST, PUT, PATCH, DELETE",
    ) in found
    document["nodes"]["fetch"]["args"] = {"url": "file:///etc/passwd"}
    assert_problem(document, "/nodes/fetch/args/url", "scheme 'file' is not allowed")
    document["nodes"]["fetch"]["args"] = {"url": "{{ question }}"}
    assert_problem(
        document, "/nodes/fetch/args/url", "must start with a literal http:// or https://"
    )


SUB = {
    "name": "sub",
    "state": {"topic": {"type": "string"}, "summary": {"type": "string"}},
    "input": ["topic"],
    "entry": "write",
    "nodes": {
        "write": {"kind": "llm", "prompt": "{{ topic }}", "tier": "mid", "output": "summary"}
    },
    "edges": [{"from": "write", "to": "END"}],
}


def env_with(stored: dict[tuple[str, int], dict[str, Any]]) -> SpecEnvironment:
    return SpecEnvironment(
        CATALOG, resolve_subgraph=lambda name, version: stored.get((name, version))
    )


def subgraph_node(**overrides: Any) -> dict[str, Any]:
    return {
        "kind": "subgraph",
        "graph": "sub",
        "version": 1,
        "input": {"topic": "state.question"},
        "output": "result",
        **overrides,
    }


def test_subgraph_resolves_by_name_and_version() -> None:
    document = with_node("summarise", subgraph_node())
    validated = validate_spec(document, env_with({("sub", 1): SUB}))
    assert ("sub", 1) in validated.subgraphs
    assert_problem(
        document, "/nodes/summarise/graph", "no graph 'sub' with version 1", env_with({})
    )


def test_subgraph_input_must_match_its_input() -> None:
    document = with_node("summarise", subgraph_node(input={"topik": "state.question"}))
    found = problems(document, env_with({("sub", 1): SUB}))
    assert (
        "/nodes/summarise/input/topik",
        "graph 'sub' v1 has no input 'topik'; its input: topic",
    ) in found
    assert ("/nodes/summarise/input", "missing input 'topic' of graph 'sub' v1") in found


def test_an_invalid_or_cyclic_subgraph_is_reported_at_the_node() -> None:
    broken = copy.deepcopy(SUB)
    broken["nodes"]["write"]["tier"] = "edgy"
    document = with_node("summarise", subgraph_node())
    assert_problem(
        document,
        "/nodes/summarise/graph",
        "graph 'sub' v1 is invalid: /nodes/write/tier: unknown tier",
        env_with({("sub", 1): broken}),
    )
    cyclic = copy.deepcopy(SUB)
    cyclic["nodes"]["again"] = subgraph_node(input={"topic": "state.topic"}, output="summary")
    cyclic["edges"] = [{"from": "write", "to": "again"}, {"from": "again", "to": "END"}]
    cyclic["state"]["summary"]["type"] = "any"
    assert_problem(
        document,
        "/nodes/summarise/graph",
        "graphs include each other: sub v1 -> sub v1",
        env_with({("sub", 1): cyclic}),
    )


async def test_subgraphs_can_be_prefetched_for_a_synchronous_resolver() -> None:
    middle = copy.deepcopy(SUB)
    middle["name"] = "middle"
    middle["state"]["inner"] = {"type": "object"}
    middle["nodes"]["deeper"] = subgraph_node(input={"topic": "state.topic"}, output="inner")
    middle["edges"] = [{"from": "write", "to": "deeper"}, {"from": "deeper", "to": "END"}]
    stored = {("middle", 2): middle, ("sub", 1): SUB}
    fetched: list[tuple[str, int]] = []

    async def fetch(name: str, version: int) -> dict[str, Any] | None:
        fetched.append((name, version))
        return stored.get((name, version))

    document = with_node("summarise", subgraph_node(graph="middle", version=2))
    resolve = await prefetch_subgraphs(document, fetch)
    assert fetched == [("middle", 2), ("sub", 1)]
    validated = validate_spec(document, SpecEnvironment(CATALOG, resolve_subgraph=resolve))
    assert ("sub", 1) in validated.subgraphs[("middle", 2)].subgraphs


def test_the_published_json_schema_describes_the_format() -> None:
    schema = spec_json_schema()
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert set(schema["required"]) == {"name", "state", "input", "entry", "nodes"}
    kinds = schema["properties"]["nodes"]["additionalProperties"]["discriminator"]["mapping"]
    assert set(kinds) == {
        "llm",
        "tool",
        "router",
        "map",
        "debate",
        "cascade",
        "speculative",
        "subgraph",
    }
    assert "from" in schema["$defs"]["Edge"]["properties"]


def test_the_examples_match_the_published_json_schema() -> None:
    schema = spec_json_schema()
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema)
    for path in sorted(EXAMPLES.glob("*.yaml")):
        assert list(validator.iter_errors(parse_spec_text(path.read_text()))) == [], path
    shorthand = base()
    del shorthand["nodes"]["ask"]["tier"]
    shorthand["nodes"]["ask"]["policy"] = "auto"
    assert list(validator.iter_errors(shorthand)) == []
    validate_spec(shorthand, ENV)


def test_non_mapping_documents_are_rejected() -> None:
    for document in ([], "spec", None, 3):
        ((where, message),) = problems(document)  # type: ignore[arg-type]
        assert where == "" and "a spec is a mapping" in message


async def test_an_out_of_range_subgraph_version_is_a_problem_never_a_lookup() -> None:
    document = with_node("summarise", subgraph_node(version=10**30))
    looked_up: list[tuple[str, int]] = []

    async def fetch(name: str, version: int) -> dict[str, Any] | None:
        looked_up.append((name, version))
        return None

    resolver = await prefetch_subgraphs(document, fetch)
    assert looked_up == []
    assert_problem(
        document,
        "/nodes/summarise/version",
        "less than or equal to 2147483647",
        SpecEnvironment(CATALOG, resolve_subgraph=resolver),
    )


@pytest.mark.parametrize(
    ("schema", "where", "fragment"),
    [
        (
            {"type": "object", "properties": {"child": {"$ref": "#"}}},
            "/properties/child/$ref",
            "reference '#' is recursive",
        ),
        (
            {
                "type": "object",
                "properties": {"a": {"$ref": "#/$defs/loop"}},
                "$defs": {"loop": {"$ref": "#/$defs/loop"}},
            },
            "/$defs/loop/$ref",
            "is recursive",
        ),
        (
            {"type": "object", "properties": {"a": {"$ref": "#/$defs/missing"}}},
            "/properties/a/$ref",
            "points to nothing",
        ),
        (
            {
                "type": "object",
                "properties": {"a": {"$ref": "#/$defs/d0"}},
                "$defs": {
                    **{f"d{i}": {"allOf": [{"$ref": f"#/$defs/d{i + 1}"}] * 2} for i in range(20)},
                    "d20": {"type": "string"},
                },
            },
            "",
            "expand to more than 5000 schemas",
        ),
    ],
)
def test_recursive_and_unbounded_output_schemas_are_refused(
    schema: dict[str, Any], where: str, fragment: str
) -> None:
    document = base()
    document["nodes"]["ask"]["output_schema"] = schema
    document["state"]["answer"] = {"type": "object"}
    assert_problem(document, "/nodes/ask/output_schema" + where, fragment)


def test_a_schema_that_reuses_a_definition_is_fine() -> None:
    document = base()
    document["state"]["answer"] = {"type": "object"}
    document["nodes"]["ask"]["output_schema"] = {
        "type": "object",
        "properties": {"a": {"$ref": "#/$defs/name"}, "b": {"$ref": "#/$defs/name"}},
        "$defs": {"name": {"type": "string", "maxLength": 40}},
    }
    validate_spec(document, ENV)
