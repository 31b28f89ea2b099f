"""The OpenAPI document's building blocks: storable schemas, per-graph bodies, problems."""

from __future__ import annotations

from typing import Any

from app.api.openapi import build_openapi, storable_schema, submit_run_variants
from app.api.problems import PROBLEM_JSON, problem_responses
from app.schemas.storable import NO_NUL_PATTERN

SUBMIT_RUN = {
    "type": "object",
    "properties": {"graph": {"type": "string"}, "input": {"type": "object"}},
    "required": ["graph", "input"],
}


def test_storable_schema_forbids_nul_in_free_strings_and_keys_only() -> None:
    schema = {
        "type": "object",
        "properties": {
            "text": {"type": "string", "examples": [{"type": "string"}]},
            "either": {"anyOf": [{"type": ["string", "null"]}, {"type": "integer"}]},
            "choice": {"type": "string", "enum": ["a", "b"]},
            "when": {"type": "string", "format": "date-time"},
            "closed": {"type": "object", "additionalProperties": False},
            "list": {"type": "array"},
        },
    }
    result = storable_schema(schema)
    props = result["properties"]
    assert props["text"]["pattern"] == NO_NUL_PATTERN
    assert props["text"]["examples"] == [{"type": "string"}]  # data is never rewritten
    assert props["either"]["anyOf"][0]["pattern"] == NO_NUL_PATTERN
    assert "pattern" not in props["choice"] and "pattern" not in props["when"]
    assert "propertyNames" not in props["closed"]
    assert props["list"]["items"] == {"$ref": "#/components/schemas/StorableJSON"}
    assert result["propertyNames"] == {"pattern": NO_NUL_PATTERN}
    assert result["additionalProperties"] == {"$ref": "#/components/schemas/StorableJSON"}
    assert "pattern" not in schema["properties"]["text"]  # the input is not modified


def test_each_graph_becomes_a_branch_with_its_defs_hoisted_into_components() -> None:
    graph_schema = {
        "type": "object",
        "properties": {"step": {"$ref": "#/$defs/Step"}},
        "$defs": {"Step": {"type": "object", "properties": {"name": {"type": "string"}}}},
        "examples": [{"step": {"name": "one"}}],
    }
    body, components = submit_run_variants(SUBMIT_RUN, {"my graph": graph_schema, "b": {}})
    assert body["oneOf"] == [
        {"$ref": "#/components/schemas/SubmitRun.b"},
        {"$ref": "#/components/schemas/SubmitRun.my_graph"},
    ]
    assert body["discriminator"]["mapping"]["my graph"] == "#/components/schemas/SubmitRun.my_graph"
    variant = components["SubmitRun.my_graph"]
    assert variant["properties"]["graph"]["const"] == "my graph"
    step_ref = "#/components/schemas/SubmitRun.my_graph.input.Step"
    assert variant["properties"]["input"]["properties"]["step"] == {"$ref": step_ref}
    assert components["SubmitRun.my_graph.input.Step"]["properties"]["name"]["pattern"]
    assert variant["examples"] == [{"graph": "my graph", "input": {"step": {"name": "one"}}}]


def test_the_document_declares_problem_schemas_and_drops_null_from_parameters() -> None:
    base: dict[str, Any] = {
        "paths": {
            "/v1/runs": {
                "post": {
                    "parameters": [
                        {
                            "name": "k",
                            "in": "header",
                            "schema": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                        }
                    ],
                    "requestBody": {
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/SubmitRun"}
                            }
                        }
                    },
                }
            }
        },
        "components": {"schemas": {"SubmitRun": SUBMIT_RUN}},
    }
    document = build_openapi(base, {"g": {"type": "object"}})
    operation = document["paths"]["/v1/runs"]["post"]
    assert operation["parameters"][0]["schema"] == {"type": "string"}
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    assert body["oneOf"] == [{"$ref": "#/components/schemas/SubmitRun.g"}]
    schemas = document["components"]["schemas"]
    assert {"Problem", "FieldError", "StorableJSON", "SubmitRun.g"} <= set(schemas)
    assert base["components"]["schemas"] == {"SubmitRun": SUBMIT_RUN}  # base left as it was


def test_problem_responses_are_problem_json() -> None:
    responses = problem_responses(404, 409)
    assert set(responses) == {404, 409}
    assert responses[404]["content"] == {
        PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}
    }
