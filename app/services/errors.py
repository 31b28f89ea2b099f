"""Errors of the use cases; the API maps each to one problem+json status."""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    status: int = 400
    title: str = "Bad request"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class UnknownGraph(ServiceError):
    status = 404
    title = "Unknown graph"


class UnknownGraphVersion(ServiceError):
    status = 409
    title = "Graph version not available"


class InvalidInput(ServiceError):
    status = 422
    title = "Invalid input"


class RunNotFound(ServiceError):
    status = 404
    title = "Run not found"


class RunAlreadyFinished(ServiceError):
    status = 409
    title = "Run already finished"


class IdempotencyConflict(ServiceError):
    status = 409
    title = "Idempotency key reused with a different request"


class Unauthenticated(ServiceError):
    status = 401
    title = "Unauthorized"


class InvalidSpec(ServiceError):
    status = 422
    title = "Invalid graph spec"


class GraphNameTaken(ServiceError):
    status = 409
    title = "Graph name taken"


class GraphVersionNotFound(ServiceError):
    status = 404
    title = "Graph version not found"


class CallNotFound(ServiceError):
    status = 404
    title = "Model call not found"


class NoAnswerToRate(ServiceError):
    status = 409
    title = "No answer to rate"


class KeyNotFound(ServiceError):
    status = 404
    title = "API key not found"


class Forbidden(ServiceError):
    status = 403
    title = "Forbidden"
