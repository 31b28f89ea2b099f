"""Vendor OpenAI's published OpenAPI document for the two operations routegraph serves.

    python -m devtools.openai_openapi PATH/TO/openai-openapi [--commit SHA]

reads `openapi.json` and `LICENSE` of a checkout of github.com/openai/openai-openapi and
writes:

- `tests/data/openai_openapi/openapi.json`: the document cut down to
  `POST /chat/completions` and `GET /models` with every component they reference,
  unchanged (what the schemathesis test runs against), and its `LICENSE` (MIT);
- `app/schemas/openai_chat_request.schema.json`: `CreateChatCompletionRequest` as a
  plain JSON Schema (2020-12) that the endpoint validates requests with: the same
  schemas with OpenAPI's `nullable: true` spelled as JSON Schema does (`null` allowed),
  a `oneOf` told apart by `role` or `type` checked as if/then dispatch (same verdicts,
  only the named branch is checked), prose and examples dropped.

`tests/unit/test_openai_request_schema.py` checks that the second is derived from the
first, so the two cannot drift apart.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
VENDORED = ROOT / "tests" / "data" / "openai_openapi"
RUNTIME_SCHEMA = ROOT / "app" / "schemas" / "openai_chat_request.schema.json"
OPERATIONS = (("/chat/completions", "post"), ("/models", "get"))
REQUEST = "CreateChatCompletionRequest"
# Prose, examples and vendor extensions: nothing a validator reads.
DROPPED_KEYS = frozenset({"description", "title", "example", "examples", "discriminator"})
NAMED_SCHEMAS = frozenset({"properties", "patternProperties", "$defs", "definitions"})


def _refs(node: Any) -> set[str]:
    found: set[str] = set()
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            ref = item.get("$ref")
            if isinstance(ref, str):
                found.add(ref)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def _resolve(document: dict[str, Any], ref: str) -> Any:
    node: Any = document
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def _closure(document: dict[str, Any], start: set[str]) -> set[str]:
    seen: set[str] = set()
    todo = list(start)
    while todo:
        ref = todo.pop()
        if ref not in seen:
            seen.add(ref)
            todo.extend(_refs(_resolve(document, ref)))
    return seen


def subset(document: dict[str, Any]) -> dict[str, Any]:
    """The document with only OPERATIONS and the components they reference."""
    paths: dict[str, Any] = {}
    for path, method in OPERATIONS:
        paths.setdefault(path, {})[method] = document["paths"][path][method]
    components: dict[str, Any] = {}
    for ref in sorted(_closure(document, _refs(paths))):
        section, name = ref.removeprefix("#/components/").split("/", 1)
        components.setdefault(section, {})[name] = _resolve(document, ref)
    kept: dict[str, Any] = {
        key: document[key] for key in ("openapi", "info", "servers") if key in document
    }
    return {**kept, "paths": paths, "components": components}


def _tag(document: dict[str, Any], branch: Any, member: str) -> str | None:
    """The one value `member` takes in a oneOf branch (an object schema, maybe a $ref)."""
    if isinstance(branch, dict) and isinstance(branch.get("$ref"), str):
        branch = _resolve(document, branch["$ref"])
    if not isinstance(branch, dict) or member not in (branch.get("required") or []):
        return None
    values = ((branch.get("properties") or {}).get(member) or {}).get("enum") or []
    return values[0] if len(values) == 1 and isinstance(values[0], str) else None


def _dispatch(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any] | None:
    """A oneOf of objects told apart by one member (`role`, `type`) as if/then dispatch.

    The same values are valid; a validator then checks only the branch the value names
    (a message is checked as the role it says it is: 6x faster, and its errors are that
    branch's), where oneOf must try every branch.
    """
    branches = node.get("oneOf")
    if not isinstance(branches, list) or len(branches) < 2:
        return None
    for member in ("role", "type"):
        tags = [_tag(document, branch, member) for branch in branches]
        if all(tags) and len(set(tags)) == len(tags):
            rest = {key: value for key, value in node.items() if key != "oneOf"}
            return {
                **rest,
                "type": "object",
                "required": [member],
                "properties": {member: {"type": "string", "enum": tags}},
                "allOf": [
                    {
                        "if": {"required": [member], "properties": {member: {"const": tag}}},
                        "then": branch,
                    }
                    for tag, branch in zip(tags, branches, strict=True)
                ],
            }
    return None


def _plain(node: Any, document: dict[str, Any] | None = None) -> Any:
    """OpenAPI schema dialect -> JSON Schema 2020-12 (refs into `$defs`)."""
    if isinstance(node, list):
        return [_plain(item, document) for item in node]
    if not isinstance(node, dict):
        return node
    if document is not None:
        dispatch = _dispatch(document, node)
        if dispatch is not None:
            node = dispatch
    out = {
        key: _plain_map(value, document) if key in NAMED_SCHEMAS else _plain(value, document)
        for key, value in node.items()
        if key not in DROPPED_KEYS and not key.startswith("x-") and key != "nullable"
    }
    if isinstance(out.get("$ref"), str):
        out["$ref"] = "#/$defs/" + out["$ref"].rsplit("/", 1)[1]
    if node.get("nullable") is True:
        return {"anyOf": [{"type": "null"}, out]}
    return out


def _plain_map(node: Any, document: dict[str, Any] | None) -> Any:
    """`properties` and the like: every name is kept (a property may be named `title`)."""
    if not isinstance(node, dict):
        return _plain(node, document)
    return {name: _plain(schema, document) for name, schema in node.items()}


def _inline(node: Any, defs: dict[str, Any], within: tuple[str, ...] = ()) -> Any:
    """Every `$ref` replaced by its schema (a validator then follows no references: a
    third of its time); a reference back into a schema being inlined is kept."""
    if isinstance(node, list):
        return [_inline(item, defs, within) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and len(node) == 1:
        name = ref.rsplit("/", 1)[1]
        if name not in within:
            return _inline(defs[name], defs, (*within, name))
    return {key: _inline(value, defs, within) for key, value in node.items()}


def request_schema(document: dict[str, Any]) -> dict[str, Any]:
    """CreateChatCompletionRequest with its referenced schemas, as one JSON Schema."""
    ref = f"#/components/schemas/{REQUEST}"
    defs = {
        name.rsplit("/", 1)[1]: _plain(_resolve(document, name), document)
        for name in sorted(_closure(document, {ref}))
    }
    root = _inline(defs[REQUEST], defs, (REQUEST,))
    kept = {name: defs[name] for name in sorted(_refs(root))}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$comment": "Generated by devtools/openai_openapi.py from OpenAI's OpenAPI document "
        "(github.com/openai/openai-openapi, MIT license: tests/data/openai_openapi/LICENSE).",
        **root,
        **({"$defs": kept} if kept else {}),
    }


def _write_json(path: Path, value: Any, *, indent: int | None) -> None:
    path.write_text(json.dumps(value, indent=indent, sort_keys=indent is None) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkout", type=Path, help="a checkout of openai/openai-openapi")
    parser.add_argument("--commit", default="", help="the checkout's commit, for the record")
    args = parser.parse_args()
    document = json.loads((args.checkout / "openapi.json").read_text())
    VENDORED.mkdir(parents=True, exist_ok=True)
    cut = subset(document)
    if args.commit:
        cut["info"] = {**cut["info"], "x-routegraph-source-commit": args.commit}
    _write_json(VENDORED / "openapi.json", cut, indent=1)
    shutil.copyfile(args.checkout / "LICENSE", VENDORED / "LICENSE")
    _write_json(RUNTIME_SCHEMA, request_schema(cut), indent=None)
    print(f"wrote {VENDORED / 'openapi.json'} and {RUNTIME_SCHEMA}")


if __name__ == "__main__":
    main()
