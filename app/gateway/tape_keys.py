"""Reading the tape key a call key ends with (`nodes.context.tape_key` writes them)."""

from __future__ import annotations

import re
from dataclasses import dataclass

# s<step>:<namespace>:<task path>:<node>:<index>, with `/cascade-<stage>` for cascade stages
# and `/agree` or `/judge` for a stage's second opinion or judge call.
_TAPE_KEY = re.compile(r"^s(-?\d+):([^:]*):([^:]*):(.*):(\d+)((?:/[a-z]+(?:-\d+)?)*)$")


@dataclass(frozen=True)
class TapePosition:
    step: int
    namespace: str
    path: str
    node: str
    index: int
    suffix: str = ""  # "/cascade-1": a stage of one logical call; "/cascade-0/judge": its judge


def tape_key_of(call_key: str, run_id: str | None) -> str:
    """The call key without its `<run id>:` prefix."""
    prefix = f"{run_id}:"
    return call_key[len(prefix) :] if run_id and call_key.startswith(prefix) else call_key


def parse_tape_key(key: str) -> TapePosition | None:
    match = _TAPE_KEY.match(key)
    if match is None:
        return None
    step, namespace, path, node, index, suffix = match.groups()
    return TapePosition(int(step), namespace, path, node, int(index), suffix or "")
