"""Whose fault a failed provider call is: the request's (stop, tell the caller) or the
model's (the next model of the chain may succeed).

A provider's 400 about the request itself (context too long, content policy, an invalid
value) would be the same on every model: walking the chain would only cost a call per
model and turn the caller's error into an outage. Errors another model could fix fall
back: 5xx, timeouts, cut connections, rate limits, authentication or a missing model on
the provider side (our configuration), and a 400 saying this model lacks a capability
(`unsupported_parameter`, `unsupported_value`, `model_not_supported`...).
"""

from __future__ import annotations

from app.gateway.errors import ProviderRejected

REQUEST_FAULT_STATUSES = frozenset({400, 413, 422})
# 400s that name something this model cannot do, which another model may.
CAPABILITY_CODES = frozenset(
    {
        "unsupported_parameter",
        "unsupported_value",
        "unsupported_model",
        "model_not_supported",
        "model_not_found",
        "invalid_model",
    }
)
# LiteLLM's exception classes for the request faults it recognises in any provider's reply.
LITELLM_CODES = {
    "ContextWindowExceededError": "context_length_exceeded",
    "ContentPolicyViolationError": "content_policy_violation",
}


def request_fault(exc: BaseException, model: str) -> ProviderRejected | None:
    """The caller's error when the provider refused the request itself, else None."""
    status = getattr(exc, "status_code", None)
    if status not in REQUEST_FAULT_STATUSES:
        return None
    code = _code(exc)
    if code in CAPABILITY_CODES:
        return None
    param = getattr(exc, "param", None)
    message = _message(exc)
    return ProviderRejected(
        model,
        message,
        status=400,
        code=code,
        param=param if isinstance(param, str) else None,
    )


def _code(exc: BaseException) -> str | None:
    for cls in type(exc).__mro__:
        if cls.__name__ in LITELLM_CODES:
            return LITELLM_CODES[cls.__name__]
    code = getattr(exc, "code", None)
    if isinstance(code, str) and code:
        return code
    body = getattr(exc, "body", None)  # the OpenAI SDK's parsed error body
    if isinstance(body, dict) and isinstance(body.get("code"), str):
        return str(body["code"])
    return None


def _message(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    # LiteLLM formats messages as "litellm.X: X: <Provider>Exception - <message>".
    return text.rsplit("Exception - ", 1)[-1].strip()[:500]
