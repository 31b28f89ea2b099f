"""Feedback: a user's score on a model call or on a run's answer, and the feedback recorded."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Response

from app.api.deps import ServicesDep
from app.api.json_route import ProblemRoute
from app.api.problems import problem_responses
from app.api.tenant import TenantDep
from app.schemas.feedback import FeedbackIn, FeedbackOut
from app.schemas.storable import StorableStr
from app.services import feedback as feedback_service

router = APIRouter(prefix="/v1", tags=["feedback"], route_class=ProblemRoute)
CallId = Annotated[StorableStr, Path(description="a model call's id (`GET /v1/runs/{id}/calls`)")]
RunId = Annotated[StorableStr, Path(description="the run's id")]

_FEEDBACK_LINKS = {
    "ListCallFeedback": {
        "operationId": "list_call_feedback",
        "parameters": {"call_id": "$response.body#/call_id"},
    },
    "RateCall": {"operationId": "rate_call", "parameters": {"call_id": "$response.body#/call_id"}},
}
_RATED: dict[int | str, dict[str, Any]] = {
    201: {"description": "Recorded", "links": _FEEDBACK_LINKS},
    200: {
        "model": FeedbackOut,
        "description": "Replaced the user's earlier feedback on this call",
        "links": _FEEDBACK_LINKS,
    },
}


# Both ratings (of a call, of a run's answer) and both listings answer alike.
_RATE_ROUTE: dict[str, Any] = {
    "status_code": 201,
    "response_model": FeedbackOut,
    "responses": {**_RATED, **problem_responses(404, 409)},
}
_LIST_ROUTE: dict[str, Any] = {
    "response_model": list[FeedbackOut],
    "responses": problem_responses(404),
}


def _listed(rows: list[Any]) -> list[FeedbackOut]:
    return [FeedbackOut.model_validate(row) for row in rows]


def _answer(rated: tuple[Any, bool], response: Response) -> FeedbackOut:
    row, created = rated
    if not created:
        response.status_code = 200
    return FeedbackOut.model_validate(row)


@router.post("/calls/{call_id}/feedback", **_RATE_ROUTE)
async def rate_call(
    call_id: CallId, body: FeedbackIn, response: Response, services: ServicesDep, tenant: TenantDep
) -> FeedbackOut:
    """Score a call's answer (0..1). One score per call: a repeat replaces it (200).
    The next `auto` decision for requests like it reads it."""
    return _answer(await feedback_service.rate_call(services, call_id, tenant, body), response)


@router.post("/runs/{run_id}/feedback", **_RATE_ROUTE)
async def rate_run(
    run_id: RunId, body: FeedbackIn, response: Response, services: ServicesDep, tenant: TenantDep
) -> FeedbackOut:
    """Score the answer an ended run gave: it goes to the run's last call that completed
    with an answer (`call_id` says which). 409 while the run has not ended, or if no call
    of it answered."""
    return _answer(await feedback_service.rate_run(services, run_id, tenant, body), response)


@router.get("/calls/{call_id}/feedback", **_LIST_ROUTE)
async def list_call_feedback(
    call_id: CallId, services: ServicesDep, tenant: TenantDep
) -> list[FeedbackOut]:
    """A call's feedback from every source: the user's, and verdicts recorded on the way
    (cascade verifier, structured-output validation, a debate judge's pick)."""
    return _listed(await feedback_service.call_feedback(services, call_id, tenant))


@router.get("/runs/{run_id}/feedback", **_LIST_ROUTE)
async def list_run_feedback(
    run_id: RunId, services: ServicesDep, tenant: TenantDep
) -> list[FeedbackOut]:
    """Feedback on the calls of a run, oldest first."""
    return _listed(await feedback_service.run_feedback(services, run_id, tenant))
