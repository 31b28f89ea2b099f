"""The tenant a request acts for (the one whose runs, graphs, threads and ledger it may see).

It is the tenant of the request's API key (`get_principal`); with auth off (loopback and
no key exists) every request is the default tenant. Another tenant's run, graph or call
answers 404, as if it did not exist.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from app.api.auth import Principal, get_principal


async def current_tenant(principal: Annotated[Principal, Depends(get_principal)]) -> str:
    return principal.tenant_id


TenantDep = Annotated[str, Depends(current_tenant)]
