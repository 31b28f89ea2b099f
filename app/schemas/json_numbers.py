"""JSON numbers as JSON Schema reads them: an `integer` is any number without a fraction.

Strict models refuse `true` or `"3"` for an int, but strict pydantic also refuses `3.0`,
which JSON Schema (and so the OpenAPI document) calls an integer. `JSONInt` takes it.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Strict


def _integral_float_to_int(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


IntegralFloat = BeforeValidator(_integral_float_to_int)
JSONInt = Annotated[int, IntegralFloat, Strict()]
