"""Strings, JSON and integers as the database and JSON Schema accept them."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from app.schemas.json_numbers import JSONInt
from app.schemas.storable import StorableJSONObject, StorableStr


class Body(BaseModel):
    name: StorableStr
    data: StorableJSONObject
    count: JSONInt = 0


@pytest.mark.parametrize(
    ("payload", "loc", "error_type"),
    [
        ({"name": "a\x00", "data": {}}, ("name",), "unstorable_string"),
        ({"name": "\udc80", "data": {}}, ("name",), "unstorable_string"),
        (
            {"name": "a", "data": {"x": [1, {"y": "\x00"}]}},
            ("data", "x", 1, "y"),
            "unstorable_string",
        ),
        ({"name": "a", "data": {"x": float("inf")}}, ("data", "x"), "finite_number"),
        ({"name": "a", "data": {}, "count": True}, ("count",), "int_type"),
        ({"name": "a", "data": {}, "count": 1.5}, ("count",), "int_type"),
    ],
)
def test_storable_types_name_the_nested_field(
    payload: dict[str, Any], loc: tuple[Any, ...], error_type: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        Body.model_validate(payload)
    assert [(e["loc"], e["type"]) for e in caught.value.errors()] == [(loc, error_type)]


def test_storable_types_accept_what_the_database_stores() -> None:
    body = Body.model_validate({"name": "é ✓ 𝄞", "data": {"k": ["é", 1.5, None]}, "count": 3.0})
    assert body.count == 3 and body.data == {"k": ["é", 1.5, None]}


def test_json_deeper_than_the_limit_is_refused() -> None:
    deep: dict[str, Any] = {}
    node = deep
    for _ in range(40):
        node["a"] = {}
        node = node["a"]
    with pytest.raises(ValidationError) as caught:
        Body.model_validate({"name": "a", "data": deep})
    assert caught.value.errors()[0]["type"] == "json_too_deep"
