"""What a request needs of a model, and the route cut down to the models that have it.

A request that asks for log probabilities can only be answered by a model that gives
them (the catalog's `capabilities`): routing keeps the route's order but drops the others,
and the ledger's reason says so. When no model of the route can, or the model the client
named cannot, the call is refused before any provider is asked: the request's own fault,
as a provider's 400 would be.
"""

from __future__ import annotations

from dataclasses import replace

from app.gateway.errors import ProviderRejected
from app.gateway.types import ModelRequest
from app.routing.policy import Route

# Request fields (OpenAI's names) that need a catalog capability when they are set.
NEEDS = {"logprobs": "logprobs", "top_logprobs": "logprobs"}


def required(request: ModelRequest) -> dict[str, str]:
    """{request field: capability} for what this request asks that not every model gives."""
    options = request.options or {}
    return {field: cap for field, cap in NEEDS.items() if options.get(field)}


def capable_route(route: Route, request: ModelRequest) -> Route:
    """`route` with only the models that can serve `request` (ProviderRejected if none)."""
    needs = required(request)
    if not needs:
        return route
    wanted = set(needs.values())
    kept = tuple(m for m in route.candidates if wanted <= set(m.capabilities))
    if len(kept) == len(route.candidates):
        return route
    field = next(iter(needs))
    dropped = [m.name for m in route.candidates if m not in kept]
    # A model the client named is not swapped for another behind its back.
    named = route.requested == route.candidates[0].name and route.candidates[0] not in kept
    if not kept or named:
        names = route.requested if named else ", ".join(m.name for m in route.candidates)
        raise ProviderRejected(
            names,
            f"`{field}` was asked for, and no model this request may use can give it "
            f"({names}); ask another model or tier, or leave `{field}` out",
            code="unsupported_parameter",
            param=field,
        )
    reason = f"{route.reason}; `{field}` asked: {', '.join(dropped)} cannot give it"
    return replace(route, candidates=kept, reason=reason)
