"""The OpenAPI document: FastAPI's, plus problem+json schemas and each graph's input schema.

Graphs are registered at start-up and later at run time, so the document is rebuilt
whenever the registry's input schemas change (`app.openapi` is replaced; FastAPI's own
would cache the first document forever). A request body typed `SubmitRun` becomes a
`oneOf` with one branch per graph: `{graph: const <name>, input: <that graph's schema>}`.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

from fastapi import FastAPI

from app.api.problems import problem_components
from app.schemas.storable import NO_NUL_PATTERN
from app.services.container import Services

SUBMIT_RUN_REF = "#/components/schemas/SubmitRun"
STORABLE_JSON_REF = "#/components/schemas/StorableJSON"
# Keywords whose values are data, not subschemas: never rewritten.
_DATA_KEYWORDS = frozenset({"examples", "example", "default", "const", "enum"})
_NOT_COMPONENT_CHARS = re.compile(r"[^A-Za-z0-9._-]")

JSONSchema = dict[str, Any]


def graph_input_schemas(services: Services) -> dict[str, JSONSchema]:
    """Each registered graph's input JSON Schema: the one place that reads the registry."""
    return {graph.name: graph.definition.input_schema for graph in services.registry.loaded()}


def storable_json_component() -> JSONSchema:
    """Any JSON value whose strings and keys the database can store (recursive)."""
    storable_string = {"type": "string", "pattern": NO_NUL_PATTERN}
    return {
        "description": "any JSON value; strings and keys without NUL, numbers finite",
        "anyOf": [
            storable_string,
            {"type": ["number", "boolean", "null"]},
            {"type": "array", "items": {"$ref": STORABLE_JSON_REF}},
            {
                "type": "object",
                "propertyNames": storable_string,
                "additionalProperties": {"$ref": STORABLE_JSON_REF},
            },
        ],
    }


def storable_schema(schema: Any) -> Any:
    """A copy of a JSON Schema that admits only strings and keys the database can store.

    Unconstrained strings get `NO_NUL_PATTERN`; open objects get `propertyNames` and
    storable values; arrays without `items` get storable items.
    """
    if isinstance(schema, list):
        return [storable_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    result = {
        key: value if key in _DATA_KEYWORDS else storable_schema(value)
        for key, value in schema.items()
    }
    types = result.get("type")
    types = set(types) if isinstance(types, list) else {types}
    if "string" in types and not {"pattern", "format", "enum", "const"} & result.keys():
        result["pattern"] = NO_NUL_PATTERN
    is_object = "object" in types or "properties" in result
    if is_object and result.get("additionalProperties") is not False:
        result.setdefault("propertyNames", {"pattern": NO_NUL_PATTERN})
        if result.get("additionalProperties", True) is True:
            result["additionalProperties"] = {"$ref": STORABLE_JSON_REF}
    if "array" in types and "items" not in result:
        result["items"] = {"$ref": STORABLE_JSON_REF}
    return result


def _component_name(*parts: str) -> str:
    return ".".join(_NOT_COMPONENT_CHARS.sub("_", part) for part in parts)


def _hoist_defs(schema: JSONSchema, prefix: str) -> tuple[JSONSchema, dict[str, JSONSchema]]:
    """Move `$defs` into components (renamed under `prefix`) and point `$ref`s at them."""
    schema = copy.deepcopy(schema)
    defs: dict[str, JSONSchema] = schema.pop("$defs", {})

    def rewrite(node: Any) -> Any:
        if isinstance(node, list):
            return [rewrite(item) for item in node]
        if not isinstance(node, dict):
            return node
        rewritten = {key: rewrite(value) for key, value in node.items()}
        ref = rewritten.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            rewritten["$ref"] = "#/components/schemas/" + _component_name(prefix, ref[8:])
        return rewritten

    components = {_component_name(prefix, name): rewrite(d) for name, d in defs.items()}
    return rewrite(schema), components


def submit_run_variants(
    submit_run: JSONSchema, graphs: dict[str, JSONSchema]
) -> tuple[JSONSchema, dict[str, JSONSchema]]:
    """The `oneOf` over graphs for a SubmitRun body, and the components it refers to."""
    components: dict[str, JSONSchema] = {}
    branches = []
    mapping = {}
    for name, input_schema in sorted(graphs.items()):
        variant_name = _component_name("SubmitRun", name)
        input_schema, defs = _hoist_defs(input_schema, f"{variant_name}.input")
        components.update(storable_schema(defs))
        variant = copy.deepcopy(submit_run)
        variant["title"] = f"SubmitRun ({name})"
        variant["properties"]["graph"] = {"type": "string", "const": name, "title": "Graph"}
        variant["properties"]["input"] = storable_schema(input_schema)
        if isinstance(input_schema.get("examples"), list):  # schemathesis' examples phase
            variant["examples"] = [{"graph": name, "input": x} for x in input_schema["examples"]]
        components[variant_name] = variant
        ref = f"#/components/schemas/{variant_name}"
        branches.append({"$ref": ref})
        mapping[name] = ref
    body = {"oneOf": branches, "discriminator": {"propertyName": "graph", "mapping": mapping}}
    return body, components


def _bodies_of(document: JSONSchema, ref: str) -> list[JSONSchema]:
    """The JSON request-body media objects whose schema is exactly `ref`."""
    media = []
    for path_item in document.get("paths", {}).values():
        for operation in path_item.values():
            content = operation.get("requestBody", {}).get("content", {})
            json_body = content.get("application/json")
            if json_body and json_body.get("schema") == {"$ref": ref}:
                media.append(json_body)
    return media


def _without_null(schema: JSONSchema) -> JSONSchema:
    """`anyOf: [X, null]` -> X: a parameter is absent or a string, HTTP has no null."""
    branches = schema.get("anyOf")
    if not isinstance(branches, list):
        return schema
    kept = [branch for branch in branches if branch != {"type": "null"}]
    if len(kept) != 1 or len(kept) == len(branches):
        return schema
    rest = {
        key: value
        for key, value in schema.items()
        if key != "anyOf" and not (key == "default" and value is None)
    }
    return {**kept[0], **rest}


def _parameters_without_null(document: JSONSchema) -> None:
    for path_item in document.get("paths", {}).values():
        for operation in path_item.values():
            for parameter in operation.get("parameters", []):
                if "schema" in parameter:
                    parameter["schema"] = _without_null(parameter["schema"])


def build_openapi(base: JSONSchema, graphs: dict[str, JSONSchema]) -> JSONSchema:
    """`base` (FastAPI's document) with problem schemas and per-graph run bodies."""
    document = copy.deepcopy(base)
    _parameters_without_null(document)
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas.update(problem_components())
    schemas["StorableJSON"] = storable_json_component()
    if "SubmitRun" in schemas:
        schemas["SubmitRun"] = storable_schema(schemas["SubmitRun"])
    if graphs and "SubmitRun" in schemas:
        body_schema, components = submit_run_variants(schemas["SubmitRun"], graphs)
        schemas.update(components)
        for media in _bodies_of(document, SUBMIT_RUN_REF):
            media["schema"] = body_schema
    return document


def install_openapi(app: FastAPI) -> None:
    """Serve `build_openapi`, rebuilt when the registered graphs' input schemas change."""
    cache: dict[str, JSONSchema] = {}

    def openapi() -> JSONSchema:
        services: Services | None = getattr(app.state, "services", None)
        graphs = graph_input_schemas(services) if services is not None else {}
        key = json.dumps(graphs, sort_keys=True)
        if key not in cache:
            cache.clear()  # only the current registry's document is worth keeping
            cache[key] = build_openapi(FastAPI.openapi(app), graphs)
        return cache[key]

    app.openapi = openapi  # type: ignore[method-assign]
