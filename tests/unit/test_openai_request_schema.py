"""The schema the endpoint validates requests with is OpenAI's, as vendored in the tests'
data: regenerated from that document it is the same, so the two cannot drift apart."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.schemas.openai_request import InvalidRequest, check_request
from devtools.openai_openapi import RUNTIME_SCHEMA, request_schema

VENDORED = Path(__file__).resolve().parents[1] / "data" / "openai_openapi"


def test_the_runtime_schema_is_generated_from_the_vendored_openai_document() -> None:
    document = json.loads((VENDORED / "openapi.json").read_text())
    assert json.loads(RUNTIME_SCHEMA.read_text()) == request_schema(document)
    assert "MIT License" in (VENDORED / "LICENSE").read_text()
    assert set(document["paths"]) == {"/chat/completions", "/models"}


ASK = [{"role": "user", "content": "x"}]
VALID = [
    {"model": "auto", "messages": [{"role": "user", "content": "hi"}]},
    {
        "model": "auto",
        "messages": [
            {"role": "developer", "content": [{"type": "text", "text": "be brief"}]},
            {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}
                ],
            },
            {"role": "tool", "tool_call_id": "c", "content": "4"},
        ],
        "max_tokens": None,
        "stop": None,
        "stream": None,
        "routegraph": {"cache": False},  # unknown members are allowed, as by OpenAI
    },
]


@pytest.mark.parametrize("body", VALID)
def test_requests_openai_accepts_pass(body: dict[str, object]) -> None:
    check_request(body)


@pytest.mark.parametrize(
    ("body", "param", "code"),
    [
        ({"messages": [{"role": "user", "content": "x"}]}, "model", "missing_required_parameter"),
        ({"model": "a", "messages": [{"role": 1, "content": "x"}]}, "messages[0].role", None),
        ({"model": "a", "messages": ["x"]}, "messages[0]", "invalid_type"),
        ({"model": "a", "messages": [{"role": "user", "content": 3}]}, "messages[0].content", None),
        ({"model": "a", "messages": [{"role": "user", "content": "x"}], "n": 0}, "n", None),
        (
            {"model": "a", "messages": [{"role": "user", "content": "x"}], "stop": [1]},
            "stop[0]",
            None,
        ),
    ],
)
def test_requests_openai_refuses_name_the_field(
    body: dict[str, object], param: str, code: str | None
) -> None:
    with pytest.raises(InvalidRequest) as refused:
        check_request(body)
    assert refused.value.param == param
    if code is not None:
        assert refused.value.code == code
