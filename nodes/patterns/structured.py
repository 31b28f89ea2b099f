"""Calls whose answer must be a JSON object valid against a JSON Schema (spec output schemas).

The schema check runs inside the gateway's `validate` hook: an invalid answer is fed back to
the same model up to 3 times, then the next model of the route answers; every attempt is a
ledger row and the outcome is reported as a decision event.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.validators import validator_for

from app.gateway.gateway import InvalidOutput
from app.gateway.types import CallContext, ModelRequest, ModelResult
from app.routing.policy import Policy
from nodes.context import NodeCalls
from nodes.patterns.participants import Emit, decision


def schema_errors(schema: dict[str, Any], value: Any) -> list[str]:
    """Why `value` does not match `schema` (at most three problems), for the model to fix."""
    validator = validator_for(schema, default=Draft202012Validator)(schema)
    messages = []
    for error in validator.iter_errors(value):
        where = "/".join(str(part) for part in error.absolute_path) or "answer"
        messages.append(f"{where}: {error.message[:200]}")
        if len(messages) == 3:
            break
    return messages


@dataclass
class _Attempts:
    invalid: list[dict[str, str]] = field(default_factory=list)


async def complete_json(
    calls: NodeCalls,
    request: ModelRequest,
    schema: dict[str, Any],
    policy: Policy,
    ctx: CallContext,
    emit: Emit,
) -> tuple[Any, ModelResult]:
    """The parsed answer and the result of the model that gave it."""
    attempts = _Attempts()

    def validate(result: ModelResult) -> Any:
        try:
            value = json.loads(result.content or "")
        except json.JSONDecodeError as exc:
            problem = f"not JSON: {exc.msg}"
        else:
            errors = schema_errors(schema, value)
            if not errors:
                return value
            problem = "; ".join(errors)
        attempts.invalid.append({"model": result.model, "error": problem})
        raise InvalidOutput(problem)

    result = await calls.gateway.complete(request, policy, ctx, validate=validate)
    value = json.loads(result.content or "")
    if attempts.invalid:
        first_model = attempts.invalid[0]["model"]
        decision(
            emit,
            calls.node,
            "output_fallback" if result.model != first_model else "output_retry",
            model=result.model,
            tier=result.tier,
            attempts=result.attempts,
            invalid=attempts.invalid,
        )
    return value, result
