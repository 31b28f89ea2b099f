"""Test-facing control plane: inject faults, script verdicts, read back what each model received."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from devtools.simulator.faults import FaultRule
from devtools.simulator.schemas import normalize_model_name
from devtools.simulator.state import SimulatorState, get_state
from devtools.simulator.verdicts import VerdictRule

router = APIRouter(prefix="/admin", tags=["admin"])


@router.post("/faults", status_code=201)
async def add_faults(
    rules: FaultRule | list[FaultRule] = Body(...),
    state: SimulatorState = Depends(get_state),
) -> dict[str, Any]:
    """Add one rule or a list; they apply after the rules already set."""
    added = state.faults.add(rules if isinstance(rules, list) else [rules])
    return {"added": added, "faults": state.faults.list()}


@router.get("/faults")
async def list_faults(state: SimulatorState = Depends(get_state)) -> dict[str, Any]:
    return {"faults": state.faults.list()}


@router.delete("/faults")
async def clear_faults(state: SimulatorState = Depends(get_state)) -> dict[str, Any]:
    """Drop every rule and reseed the fault draws."""
    return {"deleted": state.faults.clear()}


@router.post("/verdicts", status_code=201)
async def add_verdicts(
    rules: VerdictRule | list[VerdictRule] = Body(...),
    state: SimulatorState = Depends(get_state),
) -> dict[str, Any]:
    """Script what verifier calls answer (accept, reject, unparseable), after existing rules."""
    added = state.verdicts.add(rules if isinstance(rules, list) else [rules])
    return {"added": added, "verdicts": state.verdicts.list()}


@router.get("/verdicts")
async def list_verdicts(state: SimulatorState = Depends(get_state)) -> dict[str, Any]:
    return {"verdicts": state.verdicts.list()}


@router.delete("/verdicts")
async def clear_verdicts(state: SimulatorState = Depends(get_state)) -> dict[str, Any]:
    """Drop every verdict rule: verifiers judge by the simulator's own rule again."""
    return {"deleted": state.verdicts.clear()}


@router.get("/requests")
async def list_requests(
    model: str | None = Query(None, description="only this model's requests"),
    limit: int | None = Query(None, ge=1, description="only the most recent N"),
    state: SimulatorState = Depends(get_state),
) -> dict[str, Any]:
    """Received chat requests, oldest first, as sent (messages, tools, fault applied)."""
    entries = state.requests.entries(normalize_model_name(model) if model else None)
    if limit is not None:
        entries = entries[-limit:]
    return {"requests": entries, "count": len(entries)}


@router.delete("/requests")
async def clear_requests(state: SimulatorState = Depends(get_state)) -> dict[str, Any]:
    return {"deleted": state.requests.clear()}


class ClockAdvance(BaseModel):
    model_config = ConfigDict(extra="forbid")

    advance_seconds: float = Field(ge=0, le=30 * 86400)


@router.get("/clock")
async def read_clock(state: SimulatorState = Depends(get_state)) -> dict[str, Any]:
    """The time prompt-cache lifetimes run on (wall time plus the offset tests added)."""
    return {"now": state.clock.now(), "offset_seconds": state.clock.offset_s}


@router.post("/clock")
async def advance_clock(
    body: ClockAdvance, state: SimulatorState = Depends(get_state)
) -> dict[str, Any]:
    """Move the simulator's clock forward: cached prompt prefixes age as if time passed."""
    now = state.clock.advance(body.advance_seconds)
    return {"now": now, "offset_seconds": state.clock.offset_s}


@router.delete("/prompt-cache")
async def clear_prompt_cache(state: SimulatorState = Depends(get_state)) -> dict[str, Any]:
    """Forget every cached prompt prefix."""
    if state.cache is not None:
        state.cache.clear()
    return {"cleared": state.cache is not None}
