"""Identifiers a client chooses (thread ids, idempotency keys) as the database holds them.

Two tenants may choose the same value; each must get its own thing. Every such value is
stored, and handed to the checkpointer, behind its tenant's id: `acme/my-thread`. Tenant
ids contain no `/`, so the tenant part can never be forged by a client's value.
"""

from __future__ import annotations

import re

TENANT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def scoped(tenant_id: str, value: str) -> str:
    """`value` as `tenant_id`'s own: the same value of another tenant is another key."""
    return f"{tenant_id}/{value}"


def checkpoint_thread(tenant_id: str, thread_id: str) -> str:
    """The LangGraph thread id under which a tenant's thread is checkpointed."""
    return scoped(tenant_id, thread_id)


def valid_tenant_id(tenant_id: str) -> bool:
    return bool(TENANT_ID.match(tenant_id))
