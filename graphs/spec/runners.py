"""The value each kind of spec node computes: prompts rendered from state, the pattern run.

A runner takes the template scope (the state, plus the element inside a map) and returns
the JSON value the node writes; `compile.py` wires runners into LangGraph nodes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, cast

from langgraph.runtime import Runtime

from app.gateway.types import ModelRequest
from app.routing.catalog import TierName
from app.routing.policy import Auto, Cascade, FixedModel, FixedTier, Policy
from graphs.spec.environment import SpecEnvironment
from graphs.spec.errors import pointer, split_pointer
from graphs.spec.model import (
    AutoPolicy,
    CascadeNode,
    CascadePolicy,
    DebateNode,
    LlmNode,
    SpeculativeNode,
    Target,
    ToolNode,
)
from graphs.spec.templates import TemplateRenderError
from graphs.spec.validate import ValidatedSpec
from nodes.context import NodeCalls, RunContext
from nodes.patterns.cascade import CascadeVerifier, run_cascade
from nodes.patterns.debate import run_debate
from nodes.patterns.participants import Emit, Participant, call_context, decision
from nodes.patterns.prompts import extractor_prompt, with_instructions
from nodes.patterns.speculative import run_speculative
from nodes.patterns.structured import complete_json

Runner = Callable[[dict[str, Any], NodeCalls, Emit, str | None], Awaitable[Any]]


class SpecRunError(RuntimeError):
    """A spec node could not run (a template or expression failed on this state)."""


def policy_of(target: Target) -> Policy:
    """The routing policy a spec target names."""
    if target.tier is not None:
        return FixedTier(cast(TierName, target.tier))
    if target.model is not None:
        return FixedModel(target.model)
    policy = target.policy
    if isinstance(policy, AutoPolicy):
        return Auto(threshold=policy.threshold, max_latency_ms=policy.max_latency_ms)
    if isinstance(policy, CascadePolicy):
        tiers = tuple(cast(TierName, tier) for tier in policy.tiers)
        return Cascade(
            tiers=tiers,
            verifier=policy.verifier,
            min_p_good=policy.min_p_good,
            agree_with=policy.agree_with,
            votes=policy.votes,
            tiebreak_with=policy.tiebreak_with,
            judge_with=policy.judge_with,
        )
    raise ValueError("a target names a tier, a model or a policy")  # validation ensures one


def target_label(target: Target) -> str:
    if target.tier is not None:
        return target.tier
    if target.model is not None:
        return target.model
    return target.policy.name if target.policy is not None else "?"


@dataclass(frozen=True)
class RunnerFactory:
    """Builds runners for one validated spec; `where` is a node's JSON pointer."""

    validated: ValidatedSpec
    env: SpecEnvironment

    def render(self, where: str, scope: dict[str, Any]) -> str:
        template = self.validated.templates.get(where)
        if template is None:
            return ""
        try:
            return template.render(scope)
        except TemplateRenderError as exc:
            raise SpecRunError(f"{where}: {exc}") from exc

    def optional(self, where: str, scope: dict[str, Any]) -> str | None:
        return self.render(where, scope) if where in self.validated.templates else None

    def runner(self, where: str, node: Any) -> Runner:
        builders: dict[type, Callable[[str, Any], Runner]] = {
            LlmNode: self._llm,
            ToolNode: self._tool,
            DebateNode: self._debate,
            CascadeNode: self._cascade,
            SpeculativeNode: self._speculative,
        }
        return builders[type(node)](where, node)

    def _llm(self, where: str, node: LlmNode) -> Runner:
        default = policy_of(node)

        async def run(
            scope: dict[str, Any], calls: NodeCalls, emit: Emit, purpose: str | None
        ) -> Any:
            prompt = self.render(f"{where}/prompt", scope)
            system = self.optional(f"{where}/system", scope)
            policy = calls.policy(default)
            # A plain node's route reason says enough; a map item says which item it is.
            ctx = call_context(calls, purpose) if purpose else calls.next_context()
            if node.output_schema is not None:
                system = with_instructions(extractor_prompt(node.output_schema), system)
            messages = [{"role": "system", "content": system}] if system else []
            messages.append({"role": "user", "content": prompt})
            if node.output_schema is not None:
                request = ModelRequest(
                    messages=messages,
                    response_format={"type": "json_object"},
                    max_tokens=node.max_tokens,
                    temperature=node.temperature,
                )
                value, result = await complete_json(
                    calls, request, node.output_schema, policy, ctx, emit
                )
            else:
                request = ModelRequest(
                    messages=messages, max_tokens=node.max_tokens, temperature=node.temperature
                )
                result = await calls.gateway.complete(request, policy, ctx)
                value = result.content or ""
            if isinstance(policy, Cascade | Auto):
                escalated = isinstance(policy, Cascade) and result.tier != policy.tiers[0]
                decision(
                    emit,
                    calls.node,
                    "cascade_policy" if isinstance(policy, Cascade) else "auto_route",
                    tier=result.tier,
                    model=result.model,
                    escalated=escalated,
                )
            return value

        return run

    def _tool(self, where: str, node: ToolNode) -> Runner:
        tool = self.env.tools[node.tool]
        config = tool.config_model.model_validate(node.config)

        async def run(
            scope: dict[str, Any], calls: NodeCalls, emit: Emit, purpose: str | None
        ) -> Any:
            args = {
                arg: self.render(pointer(*split_pointer(where), "args", arg), scope)
                for arg in node.args
            }
            return await tool.run_in(
                args, config, calls.runtime.context.tool_call(calls.node, emit)
            )

        return run

    def _debate(self, where: str, node: DebateNode) -> Runner:
        debaters = [
            Participant(d.name or f"{target_label(d).replace('-', '_')}_{i + 1}", policy_of(d))
            for i, d in enumerate(node.debaters)
        ]
        judge = Participant("judge", policy_of(node.judge))
        return self._pattern(
            where, node, run_debate, debaters=debaters, judge=judge, rounds=node.rounds
        )

    def _cascade(self, where: str, node: CascadeNode) -> Runner:
        spec = node.verifier
        verifier = CascadeVerifier(
            check=spec.check,
            model=None if spec.check is not None else Participant("verifier", policy_of(spec)),
        )
        tiers = [cast(TierName, tier) for tier in node.tiers]
        return self._pattern(where, node, run_cascade, tiers=tiers, verifier=verifier)

    def _speculative(self, where: str, node: SpeculativeNode) -> Runner:
        drafter = Participant("drafter", policy_of(node.draft))
        verifier = Participant("verifier", policy_of(node.verifier))
        return self._pattern(where, node, run_speculative, drafter=drafter, verifier=verifier)

    def _pattern(
        self,
        where: str,
        node: DebateNode | CascadeNode | SpeculativeNode,
        run_pattern: Callable[..., Awaitable[Any]],
        **participants: Any,
    ) -> Runner:
        """A multi-model pattern on the node's rendered prompt (and system text); the node
        writes the pattern's outcome."""

        async def run(
            scope: dict[str, Any], calls: NodeCalls, emit: Emit, purpose: str | None
        ) -> Any:
            outcome = await run_pattern(
                calls,
                question=self.render(f"{where}/prompt", scope),
                instructions=self.optional(f"{where}/system", scope),
                emit=emit,
                max_tokens=node.max_tokens,
                **participants,
            )
            return outcome.to_json()

        return run


def stream_writer(runtime: Runtime[RunContext]) -> Emit:
    """The node's custom-stream writer (a no-op when the run is not streamed)."""
    return runtime.stream_writer
