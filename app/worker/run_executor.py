"""Executes one claimed run: its pinned graph with the checkpointer, node events, outcome.

Between nodes nothing is read from the database: cancellation, a lost lease and shutdown
arrive as in-memory signals (heartbeat, notifier), the timeout is a clock check, and the
node events wait in the run's scope for its next write.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable
from typing import Any, cast

import psycopg
import sqlalchemy.exc
from langchain_core.runnables import RunnableConfig
from langgraph.errors import GraphRecursionError
from langgraph.types import StreamMode

from app.db import runs_repo
from app.db.checkpoints import writes_behind
from app.db.events_repo import PendingEvent
from app.db.fencing import LeaseToken, current_lease
from app.db.journal import ClaimedRun
from app.gateway.errors import (
    AllModelsFailed,
    BudgetExceeded,
    LeaseLost,
    ProviderRejected,
    RuleViolation,
    RunCancelled,
    StepFailed,
)
from app.gateway.replay_errors import ReplayDiverged, SourceEnded
from app.routing.policy import Policy
from app.routing.policy_names import named_policy
from app.run_status import RunStatus
from app.services import run_state
from app.services.container import Services
from app.services.errors import ServiceError
from app.services.graph_registry import ResolvedGraph
from app.worker.branch_run import BranchUnavailable, load_branch
from app.worker.final_state import ended_state
from app.worker.graph_stream import graph_parts
from app.worker.lg_options import (
    CALL_KEYS_KEY,
    LgOptions,
    call_key_prefix,
    interrupted_event,
    rollback_start,
)
from app.worker.live_stream import LiveStream
from app.worker.run_scope import RunScope
from app.worker.run_tracing import trace_task
from graphs.registry import GraphInputInvalid
from nodes.context import RunContext

log = logging.getLogger(__name__)

# Infrastructure failures: the run is not at fault, so it is not failed. The worker gives
# it up; after the lease expires a worker resumes it from its last checkpoint.
DATABASE_ERRORS = (
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.InterfaceError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
)


class RunTimedOut(Exception):
    pass


class Released(Exception):
    """The worker is shutting down: the run stopped at a checkpoint and is handed back."""


async def execute_run(services: Services, claimed: ClaimedRun, scope: RunScope) -> str:
    """Run (or resume) a claimed run's graph and record how it ended; returns the outcome."""
    lease = current_lease.set(LeaseToken(claimed.id, claimed.epoch))
    settings = services.settings
    try:
        if claimed.crashes >= settings.max_run_crashes:
            blamed = (
                f"the run crashed its worker {claimed.crashes} times while running alone on "
                "it (it kills any worker that runs it); not retried"
            )
            return await _finish(services, scope, RunStatus.FAILED, {}, blamed)
        try:
            graph = await services.registry.resolve(
                claimed.graph, claimed.version, tenant_id=claimed.tenant_id
            )
        except ServiceError as exc:  # e.g. queued for code this worker no longer runs
            return await _finish(services, scope, RunStatus.FAILED, {}, exc.detail)
        telemetry = services.telemetry
        with telemetry.run_span(
            claimed.id, claimed.graph, claimed.tenant_id, claimed.epoch
        ) as span:
            outcome = await _execute(services, claimed, scope, graph)
            if span is not None and telemetry.tracing is not None:
                telemetry.tracing.run_outcome(span, outcome)
            return outcome
    finally:
        await scope.close()
        current_lease.reset(lease)  # run_once executes in its caller's task


async def _execute(
    services: Services, claimed: ClaimedRun, scope: RunScope, graph: ResolvedGraph
) -> str:
    definition = graph.definition
    compiled = services.registry.compiled(graph, claimed.tenant_id)
    lg = LgOptions.from_json(claimed.lg) if claimed.lg is not None else None
    config: RunnableConfig = {
        "configurable": {"thread_id": claimed.checkpoint_thread},
        "recursion_limit": definition.recursion_limit,
        "metadata": {"routegraph_run_id": claimed.id, "routegraph_epoch": claimed.epoch},
    }
    graph_input: Any = None
    resuming = False
    # A replay or fork (None for other runs); a fork resumes from its thread's checkpoint.
    try:
        branch = await load_branch(services, claimed, compiled, scope)
    except BranchUnavailable as exc:
        return await _finish(services, scope, RunStatus.FAILED, {}, str(exc))
    if claimed.epoch > 1:
        snapshot = await compiled.aget_state(config)
        resuming = (
            bool(snapshot.next) and (snapshot.metadata or {}).get("routegraph_run_id") == claimed.id
        )
    prefix = claimed.id
    if lg is not None:
        config = lg.config(config, resuming=resuming)
        if lg.rollback_runs and not resuming and not lg.checkpoint_id:
            await rollback_start(compiled, config, lg.rollback_runs)
    if lg is not None and lg.command is not None:
        prefix = await call_key_prefix(compiled, config, claimed.id)
        graph_input = None if resuming else lg.graph_command()
    elif lg is not None and not lg.has_input:
        graph_input = None  # continue from the thread's checkpoint
    elif not resuming and (branch is None or branch.from_input):
        try:
            graph_input = definition.initial_state(definition.validate_input(claimed.input))
        except GraphInputInvalid as exc:  # the graph's input schema changed since submit
            first = exc.errors[0] if exc.errors else {"msg": "invalid"}
            invalid = f"input no longer matches graph {claimed.graph!r}: {first['msg']}"
            return await _finish(services, scope, RunStatus.FAILED, {}, invalid)
    config["metadata"][CALL_KEYS_KEY] = prefix

    experiment, policy = await _experiment_of(services, claimed, in_branch=branch is not None)
    context = RunContext(
        experiment=experiment,
        policy_override=policy,
        gateway=branch.gateway if branch else services.gateway,
        policies=branch.policies if branch else {},
        run_id=claimed.id,
        scope=scope,
        graph=claimed.graph,
        tenant_id=claimed.tenant_id,
        key_id=claimed.api_key_id,  # every run obeys its key's provider rules
        mcp=services.mcp,
        tool_tape=branch.tool_tape if branch else None,
        loop=asyncio.get_running_loop(),
        call_key_prefix=prefix,
    )
    deadline = time.monotonic() + services.settings.run_timeout_seconds
    values: dict[str, Any] = {}
    streamed: dict[str, Any] | None = None  # the last root `values` chunk, if any
    status, error = RunStatus.SUCCEEDED, None
    own_modes: list[StreamMode] = ["tasks", "values", "custom"]
    modes = [*own_modes, *(branch.stream_modes if branch else [])]
    if lg is not None:
        modes = list(dict.fromkeys([*modes, *lg.native_modes()]))
    failed_node: str | None = None
    live = LiveStream(services.notifier, scope) if lg is not None else None
    try:
        # durability="sync": each step's checkpoint is on disk before the next step starts,
        # so a killed worker loses at most the step in flight.
        stream_kwargs = lg.astream_kwargs() if lg is not None else {"durability": "sync"}
        on_event = None
        if live is not None and lg is not None and "events" in lg.stream_modes:
            on_event = live.event
        # A run whose steps need not wait for their checkpoints writes them behind it, all
        # stored (or failed: raised here) before the run ends.
        behind = stream_kwargs["durability"] != "sync"
        async with writes_behind(services.checkpointer, enabled=behind):
            async for part in graph_parts(
                compiled,
                graph_input,
                config,
                context=context,
                modes=modes,
                stream_kwargs=stream_kwargs,
                on_event=on_event,
                name=claimed.graph,
            ):
                namespace, mode, chunk = part if len(part) == 3 else ((), *part)
                if live is not None and lg is not None and lg.wants(mode):
                    live.add(mode, namespace, chunk)
                if namespace or mode not in (*own_modes, "checkpoints"):
                    continue
                if mode == "values":
                    values = streamed = cast(dict[str, Any], chunk)
                elif mode == "custom":
                    scope.add(_custom_event(chunk))
                elif mode == "checkpoints":
                    if branch is not None:  # replays only
                        branch.on_checkpoint(chunk)
                else:
                    task = cast(dict[str, Any], chunk)
                    if services.telemetry.tracing is not None:
                        trace_task(services.telemetry.tracing, claimed.id, task)
                    if task.get("error") is not None:
                        failed_node = task.get("name")
                    if _task_event(scope, task):
                        _between_nodes(scope, deadline, services.settings.run_timeout_seconds)
        if values.get("__interrupt__"):  # paused for human input: the thread waits
            scope.add(interrupted_event(values["__interrupt__"]))
    except LeaseLost:
        log.warning(
            "run %s: lease epoch %d lost; another worker continues it", claimed.id, claimed.epoch
        )
        return "lease_lost"
    except Released:
        return await _release(services, scope)
    except BudgetExceeded as exc:
        status, error = RunStatus.BUDGET_EXCEEDED, str(exc)
    except RunCancelled as exc:
        status, error = RunStatus.CANCELLED, str(exc)
    except ReplayDiverged as exc:
        status, error = RunStatus.FAILED, str(exc)
    except SourceEnded as exc:  # the replay stopped where its source stopped
        status, error = RunStatus(exc.status), exc.error
    except (
        AllModelsFailed,
        ProviderRejected,
        RuleViolation,
        StepFailed,
        RunTimedOut,
        GraphRecursionError,
    ) as exc:
        status, error = RunStatus.FAILED, str(exc)
    except (asyncio.CancelledError, *DATABASE_ERRORS):
        raise
    except Exception as exc:  # a node bug must fail the run, not kill the worker
        node = failed_node or _node_of(exc)
        log.exception("run %s failed in node %s", claimed.id, node)
        status, error = RunStatus.FAILED, _described(exc)
        if node:
            error = f"node {node!r} failed: {error}"
    finally:
        if live is not None:
            live.close()
    output = definition.output_of(values)
    verdict = branch.verdict(status, output, error) if branch else None
    ended = None
    if lg is not None and status == RunStatus.SUCCEEDED:
        ended = ended_state(streamed)
    return await _finish(services, scope, status, output, error, replay=verdict, state=ended)


async def _experiment_of(
    services: Services, claimed: ClaimedRun, *, in_branch: bool
) -> tuple[tuple[str, str] | None, Policy | None]:
    """The A/B experiment and arm the run is in and the arm's policy; the claim read the
    ids, so only a run in an experiment reads anything (a replay or fork is in none)."""
    if in_branch or claimed.experiment_id is None or claimed.experiment_arm is None:
        return None, None
    async with services.worker_sessions() as session:
        arms = await runs_repo.experiment_arms(session, claimed.experiment_id)
    if arms is None:  # the experiment is gone: the run is in none
        return None, None
    arm = next((a for a in arms if a.get("name") == claimed.experiment_arm), {})
    policy = named_policy(arm["policy"], services.catalog) if arm.get("policy") else None
    return (claimed.experiment_id, claimed.experiment_arm), policy


def _between_nodes(scope: RunScope, deadline: float, timeout_s: float) -> None:
    """After a node finished (its checkpoint is written): honour the in-memory signals."""
    if scope.lost.is_set():
        raise LeaseLost(scope.run_id)
    if scope.cancelled.is_set():
        raise RunCancelled(f"run {scope.run_id} was cancelled")
    if time.monotonic() > deadline:
        raise RunTimedOut(f"run exceeded {timeout_s:.0f}s")
    if scope.draining.is_set():
        raise Released(scope.run_id)


def _task_event(scope: RunScope, data: dict[str, Any]) -> bool:
    """Buffer a node_started / node_finished / node_failed event; True when a node ended."""
    name = data.get("name")
    if "result" in data or "error" in data:
        error = data.get("error")
        kind = "node_failed" if error else "node_finished"
        if not error and data.get("interrupts"):  # paused in interrupt(): not done
            scope.add(
                PendingEvent("node_interrupted", node=name, payload={"task_id": data.get("id")})
            )
            return False
        scope.add(
            PendingEvent(
                kind,
                node=name,
                payload={"task_id": data.get("id"), "error": _described(error) if error else None},
            )
        )
        return not error
    scope.add(PendingEvent("node_started", node=name, payload={"task_id": data.get("id")}))
    return False


def _described(exc: BaseException) -> str:
    """`KeyError: 'question'`, not `'question'` as `str()` gives."""
    return f"{type(exc).__name__}: {exc}"


def _node_of(exc: BaseException) -> str | None:
    """The node LangGraph names in the note it adds to a task's exception."""
    for note in getattr(exc, "__notes__", None) or ():
        found = re.match(r"During task with name '([^']+)'", note)
        if found:
            return found.group(1)
    return None


def _custom_event(chunk: Any) -> PendingEvent:
    """A node's own event (`get_stream_writer()({...})`): a decision, progress, ..."""
    if isinstance(chunk, dict):
        kind = str(chunk.get("kind") or "custom")[:40]
        node = chunk.get("node")
        return PendingEvent(kind, node=str(node)[:100] if node else None, payload=chunk)
    return PendingEvent("custom", payload={"value": repr(chunk)[:2000]})


async def _finish(
    services: Services,
    scope: RunScope,
    status: str,
    output: dict[str, Any],
    error: str | None,
    *,
    replay: dict[str, Any] | None = None,
    state: Callable[[], dict[str, Any]] | None = None,
) -> str:
    """The terminal status and every buffered event (and a replay's verdict), in one fenced
    transaction. `state`: the LangGraph state the run ends with, handed to this process's
    waiters before the terminal event commits (and taken back if it does not)."""
    await scope.close()
    async with scope.lock:
        events = scope.take_events()
        if state is not None:
            services.notifier.leave_state(scope.run_id, state)
        done = False
        try:
            async with services.worker_sessions.one_statement() as session:
                done = await run_state.finish(
                    services.journal,
                    session,
                    scope.run_id,
                    status,
                    epoch=scope.epoch,
                    output=output,
                    error=error,
                    events=events,
                    replay=replay,
                )
        finally:
            if state is not None and not done:
                services.notifier.leave_state(scope.run_id, None)
    if not done:
        scope.mark_lost()
        log.warning("run %s: not finished as %s: the lease moved on", scope.run_id, status)
        return "lease_lost"
    return status


async def _release(services: Services, scope: RunScope) -> str:
    await scope.close()
    async with scope.lock:
        events = scope.take_events()
        async with services.worker_sessions.begin() as session:
            released = await services.journal.release(
                session,
                scope.run_id,
                epoch=scope.epoch,
                events=events,
                reason="worker shutting down",
            )
    if released:
        services.notifier.runs_claimable()
    return "released"
