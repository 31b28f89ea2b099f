"""Every router of the LangGraph Server API, for `create_app` to include.

These routes are LangGraph's contract (the Agent Protocol), not routegraph's: like the
OpenAI endpoint, they stay out of routegraph's own OpenAPI document.
"""

from __future__ import annotations

from fastapi import APIRouter

from app.api.langgraph import assistants, crons, runs, store, threads


def langgraph_routers() -> list[APIRouter]:
    """The routers, in the order their paths must be matched."""
    # crons before runs and threads: `/runs/crons` and `/threads/{id}/runs/crons` are theirs.
    return [assistants.router, crons.router, store.router, runs.router, threads.router]
