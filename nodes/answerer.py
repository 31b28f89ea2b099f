"""Answerer node: one routed model call, the policy chosen per request."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from app.gateway.types import ModelRequest
from app.routing.policy import Auto, Cascade, FixedTier, Policy
from nodes.context import NodeCalls, RunContext

ANSWER_PROMPT = "Answer the user's question. Show your work, then give the final answer."


def policy_from_input(name: str, threshold: float | None) -> Policy:
    """`auto`, `cascade`, or a tier name; `threshold` is auto's quality bar, or the
    cascade's router bar for answers the verifier accepted."""
    if name == "auto":
        return Auto() if threshold is None else Auto(threshold=threshold)
    if name == "cascade":
        return Cascade(min_p_good=threshold)
    if name in ("frontier", "mid", "edge"):
        return FixedTier(name)  # type: ignore[arg-type]
    raise ValueError(f"unknown policy {name!r}")


async def answer(state: dict[str, Any], runtime: Runtime[RunContext]) -> dict[str, Any]:
    calls = NodeCalls(runtime, "answer")
    messages = [
        {"role": "system", "content": ANSWER_PROMPT},
        {"role": "user", "content": state["question"]},
    ]
    policy = policy_from_input(state.get("policy", "auto"), state.get("threshold"))
    result = await calls.gateway.complete(
        ModelRequest(messages=messages, max_tokens=1000), calls.policy(policy), calls.next_context()
    )
    return {"answer": result.content or "", "model": result.model, "tier": result.tier}
