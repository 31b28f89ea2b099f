"""Graph values as JSON, the way LangGraph's server serialises them.

State may hold LangChain messages, pydantic models, dataclasses, `Interrupt`s and `Send`s;
each becomes the JSON a LangGraph client expects (a message as its `model_dump()`, an
interrupt as `{"value", "id"}`). Anything else unknown becomes its `repr` rather than
failing the response.
"""

from __future__ import annotations

import dataclasses
import datetime
import uuid
from collections.abc import Mapping
from typing import Any

from langgraph.types import Interrupt, Send
from pydantic import BaseModel


def jsonable(value: Any) -> Any:
    """`value` as plain JSON types."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Mapping):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(item) for item in value]
    if isinstance(value, Interrupt):
        return {"value": jsonable(value.value), "id": value.id}
    if isinstance(value, Send):
        return {"node": value.node, "arg": jsonable(value.arg)}
    if isinstance(value, BaseModel):
        return jsonable(value.model_dump(mode="json"))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return jsonable(dataclasses.asdict(value))
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return repr(value)
