"""What a replay or fork changes in the execution of a claimed run.

- A fork resumes from the checkpoint its thread starts with, on the live gateway, with its
  model overrides as the run context's per-node policies.
- A replay runs on a `TapeGateway` over its source's ledger (no provider is called) and
  streams LangGraph's `checkpoints` too, so that each step is compared with the source's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from langgraph.types import StreamMode

from app.db import branch_repo, ledger_repo, runs_repo
from app.db.journal import ClaimedRun
from app.db.thread_checkpoints import RUN_ID_KEY, checkpoint_id_of, thread_config
from app.gateway.interface import ModelGateway
from app.gateway.replay_errors import Divergence
from app.gateway.tape import Tape
from app.gateway.tape_gateway import TapeGateway
from app.gateway.tape_keys import tape_key_of
from app.routing.policy import Policy
from app.services.branch_plan import BranchPlan, is_branch_thread
from app.services.container import Services
from app.worker.replay_monitor import ReplayMonitor, SourceStep
from app.worker.run_scope import RunScope
from graphs.registry import Compiled


class BranchUnavailable(Exception):
    """A replay's source can no longer be read (its payloads were pruned since it queued)."""


@dataclass
class BranchRun:
    plan: BranchPlan
    gateway: ModelGateway
    policies: dict[str, Policy]
    monitor: ReplayMonitor | None = None
    # A replay's recorded tool results by call key: its tool calls are answered from them.
    tool_tape: dict[str, Any] | None = None

    @property
    def from_input(self) -> bool:
        return self.plan.from_input

    @property
    def stream_modes(self) -> list[StreamMode]:
        return ["checkpoints"] if self.monitor is not None else []

    def on_checkpoint(self, chunk: Any) -> None:
        if self.monitor is not None and isinstance(chunk, dict):
            self.monitor.on_checkpoint(chunk)

    def verdict(
        self, status: str, output: dict[str, Any], error: str | None
    ) -> dict[str, Any] | None:
        return self.monitor.verdict(status, output, error) if self.monitor is not None else None


async def load_branch(
    services: Services, claimed: ClaimedRun, compiled: Compiled, scope: RunScope
) -> BranchRun | None:
    """The run's branch plan, when it is a replay or a fork (None for other runs)."""
    if not is_branch_thread(claimed.thread_id):
        return None
    async with services.worker_sessions() as session:
        run = await runs_repo.get_run(session, claimed.id)
        if run is None or not run.branch:
            return None
        plan = BranchPlan.from_json(run.branch)
        if plan.kind == "fork":
            return BranchRun(plan, services.gateway, plan.policies())
        source = await runs_repo.get_run(session, plan.source_run_id)
        if source is None or source.payloads_pruned_at is not None:
            raise BranchUnavailable(
                f"the payloads of run {plan.source_run_id}, which this run replays, were pruned"
            )
        source_calls = await ledger_repo.calls_for_run(session, source.id)
        tool_tape = await branch_repo.recorded_tool_results(session, source.id)
        own_calls = await ledger_repo.calls_for_run(session, claimed.id)
        found = await branch_repo.divergence_events(session, claimed.id)
    divergence = Divergence(**found[0].payload) if found else None
    monitor = ReplayMonitor(
        source=source,
        steps=await source_steps(compiled, source.checkpoint_thread, source.id),
        scope=scope,
        stop=plan.on_divergence == "stop",
        divergence=divergence,
    )
    tape = Tape.from_rows(
        source.id,
        source_calls,
        status=source.status,
        error=source.error,
        budget_usd=source.budget_usd,
    )
    replayed = {call.call_key for call in own_calls if call.status == "replayed"}
    tape.used.update(tape_key_of(key, claimed.id) for key in replayed)
    gateway = TapeGateway(
        live=services.gateway,
        tape=tape,
        sessions=services.worker_sessions,
        on_divergence=plan.on_divergence,
        report=monitor.report,
        replayed_keys=replayed,
        live_mode=divergence is not None and plan.on_divergence == "live",
    )
    monitor.gateway = gateway
    # A replay of a fork routes as the fork did (its model overrides are in the plan).
    return BranchRun(plan, gateway, plan.policies(), monitor, tool_tape)


async def source_steps(compiled: Compiled, thread_id: str, run_id: str) -> dict[int, SourceStep]:
    """The source's state after each of its steps, and the nodes that ran in it."""
    history = [
        snapshot
        async for snapshot in compiled.aget_state_history(
            thread_config(thread_id), filter={RUN_ID_KEY: run_id}
        )
    ]
    history.reverse()
    steps: dict[int, SourceStep] = {}
    previous = None
    for snapshot in history:
        metadata = snapshot.metadata or {}
        if metadata.get("source") == "loop":
            ran = None
            if previous is not None and checkpoint_id_of(
                snapshot.parent_config
            ) == checkpoint_id_of(previous.config):
                ran = tuple(task.name for task in previous.tasks)
            steps[int(metadata.get("step", 0))] = SourceStep(ran, snapshot.values)
        previous = snapshot
    return steps
