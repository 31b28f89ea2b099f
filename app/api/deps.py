"""Request-scoped access to the process's services."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.services.container import Services


async def get_services(request: Request) -> Services:
    # async: a plain `def` dependency runs in the thread pool, a hand-off per request
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]
