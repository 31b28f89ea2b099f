"""The tenant a request acts for (the one whose runs, graphs and ledger it may see)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from app.services.tenancy import DEFAULT_TENANT


def current_tenant() -> str:
    """Until API keys exist every request is the embedded service's one tenant."""
    return DEFAULT_TENANT


TenantDep = Annotated[str, Depends(current_tenant)]
