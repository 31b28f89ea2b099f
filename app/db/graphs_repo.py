"""Immutable graph versions: a new fingerprint gets the next version number."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db.models import GraphVersion


async def latest_version(
    session: AsyncSession, name: str, tenant_id: str = ""
) -> GraphVersion | None:
    query = (
        select(GraphVersion)
        .where(GraphVersion.tenant_id == tenant_id, GraphVersion.name == name)
        .order_by(GraphVersion.version.desc())
        .limit(1)
    )
    return (await session.execute(query)).scalar_one_or_none()


async def register_version(
    session_factory: async_sessionmaker[AsyncSession],
    *,
    name: str,
    spec: dict[str, Any],
    source: str,
    fingerprint: str,
    tenant_id: str = "",
) -> GraphVersion:
    """Return the latest version if its fingerprint matches, else store a new version."""
    for _ in range(5):
        try:
            async with session_factory.begin() as session:
                latest = await latest_version(session, name, tenant_id)
                if latest is not None and latest.fingerprint == fingerprint:
                    return latest
                row = GraphVersion(
                    tenant_id=tenant_id,
                    name=name,
                    version=(latest.version + 1) if latest else 1,
                    spec=spec,
                    source=source,
                    fingerprint=fingerprint,
                )
                session.add(row)
            return row
        except IntegrityError:
            continue  # another process registered the same version first
    raise RuntimeError(f"could not register graph {name!r}")


async def get_version(
    session: AsyncSession, name: str, version: int | None, tenant_id: str
) -> GraphVersion | None:
    """That version of the tenant's graph (the latest when `version` is None)."""
    if version is None:
        return await latest_version(session, name, tenant_id)
    return await session.get(GraphVersion, (tenant_id, name, version))


async def list_versions(session: AsyncSession, name: str, tenant_id: str) -> list[GraphVersion]:
    query = (
        select(GraphVersion)
        .where(GraphVersion.tenant_id == tenant_id, GraphVersion.name == name)
        .order_by(GraphVersion.version)
    )
    return list((await session.execute(query)).scalars())


async def list_latest_versions(session: AsyncSession, tenant_id: str) -> list[GraphVersion]:
    """The latest version of each of the tenant's graphs, by name."""
    rows = (
        await session.execute(
            select(GraphVersion)
            .where(GraphVersion.tenant_id == tenant_id)
            .order_by(GraphVersion.name, GraphVersion.version.desc())
        )
    ).scalars()
    latest: dict[str, GraphVersion] = {}
    for row in rows:
        latest.setdefault(row.name, row)
    return list(latest.values())
