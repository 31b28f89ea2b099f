"""`GET /v1/models`: what `model` may name (auto, the tiers, the catalog's models)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from app.api.auth import Principal, get_openai_principal
from app.api.openai_errors import OpenAIError

router = APIRouter(prefix="/v1/models", tags=["openai"])


def _model(model_id: str) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "created": 0, "owned_by": "routegraph"}


@router.get("", include_in_schema=False)
async def list_models(
    request: Request, principal: Annotated[Principal, Depends(get_openai_principal)]
) -> dict[str, Any]:
    """The models the caller may name (its provider rules' forbidden ones left out)."""
    ids = await request.app.state.services.chat.listed_model_ids(principal)
    return {"object": "list", "data": [_model(model_id) for model_id in ids]}


@router.get("/{model_id}", include_in_schema=False)
async def get_model(
    model_id: str,
    request: Request,
    _principal: Annotated[Principal, Depends(get_openai_principal)],
) -> dict[str, Any]:
    if model_id not in request.app.state.services.chat.model_ids():
        raise OpenAIError(
            404,
            f"The model `{model_id}` does not exist.",
            code="model_not_found",
            param="model",
        )
    return _model(model_id)
