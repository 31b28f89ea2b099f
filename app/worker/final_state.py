"""The state a LangGraph run ended with, from the values it streamed, for `runs.wait`.

`astream` (as the worker calls it, no `output_keys`) streams every state channel in its
`values` chunks, the channels `aget_state` reads: so the last root chunk is what reading
the run's final checkpoint back would give, unless the run ended in an interrupt (whose
pending tasks only the checkpoint holds) or streamed no values. Then there is nothing to
hand over and the waiter reads the checkpoint.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from app.services.lg_json import jsonable

INTERRUPT_KEY = "__interrupt__"


def ended_state(values: Mapping[str, Any] | None) -> Callable[[], dict[str, Any]] | None:
    """How to make the run's end state as JSON (made only if someone waits), or None when
    the last streamed values are not the whole of it."""
    if not isinstance(values, Mapping) or INTERRUPT_KEY in values:
        return None
    snapshot = dict(values)
    return lambda: dict(jsonable(snapshot))
