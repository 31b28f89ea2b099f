"""Request-scoped access to the process's services."""

from __future__ import annotations

from fastapi import Request

from app.services.container import Services


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services
