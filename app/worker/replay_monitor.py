"""Checks a replay step by step against its source run and gives its verdict.

Calls are checked by the tape gateway as they are made. After each step the replay's new
checkpoint (LangGraph's `checkpoints` stream) is checked against the source's checkpoint
of the same step: the same nodes ran (else `path_changed`) and they left the same state
(else `output_changed`), which catches changed code that calls no model. A step past the
source's last one is a divergence too, except after a source that was cancelled there.
At the end the verdict compares status and output.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.db.events_repo import PendingEvent
from app.db.models import Run
from app.gateway.replay_errors import Divergence, ReplayDiverged, SourceEnded
from app.gateway.tape_gateway import TapeGateway
from app.run_status import RunStatus
from app.services.state_diff import diff_states, normalize
from app.worker.run_scope import RunScope

DIFF_CHARS = 300


@dataclass(frozen=True)
class SourceStep:
    """The source's checkpoint after one step: the nodes that ran and the state left."""

    ran: tuple[str, ...] | None
    values: Any


class ReplayMonitor:
    def __init__(
        self,
        *,
        source: Run,
        steps: dict[int, SourceStep],
        scope: RunScope,
        stop: bool,
        divergence: Divergence | None,
    ) -> None:
        self.source = source
        self.steps = steps
        self.scope = scope
        self.stop = stop
        self.divergence = divergence  # the first one (an earlier attempt may have found it)
        self.gateway: TapeGateway | None = None
        self._next: tuple[str, ...] | None = None

    def report(self, divergence: Divergence) -> None:
        """Record the first divergence (later ones follow from it) as an event."""
        if self.divergence is not None:
            return
        self.divergence = divergence
        self.scope.add(
            PendingEvent("replay_divergence", node=divergence.node, payload=divergence.to_json())
        )

    def on_checkpoint(self, chunk: dict[str, Any]) -> None:
        """Compare the step that wrote this checkpoint with the source's same step."""
        metadata = chunk.get("metadata") or {}
        ran, self._next = self._next, tuple(chunk.get("next") or ())
        if self.divergence is not None or metadata.get("source") != "loop":
            return
        step = int(metadata.get("step", 0))
        expected = self.steps.get(step)
        found = self._compare(step, ran, chunk.get("values"), expected)
        if found is None:
            return
        self.report(found)
        if self.stop:
            raise ReplayDiverged(found)
        if self.gateway is not None:
            self.gateway.live_mode = True

    def _compare(
        self, step: int, ran: tuple[str, ...] | None, values: Any, expected: SourceStep | None
    ) -> Divergence | None:
        node = ", ".join(ran) if ran else None
        if expected is None:
            last = max(self.steps) if self.steps else None
            if self.source.status == RunStatus.CANCELLED:
                raise SourceEnded(RunStatus.CANCELLED, self.source.error)
            return Divergence(
                "path_changed",
                step,
                node,
                f"the source's last step was {last} ({self.source.status}); the replay ran "
                f"step {step}" + (f" ({node})" if node else ""),
            )
        if ran is not None and expected.ran is not None and sorted(ran) != sorted(expected.ran):
            return Divergence(
                "path_changed",
                step,
                node,
                f"the source ran {list(expected.ran)} at this step, the replay {list(ran)}",
                diff={"source": list(expected.ran), "replay": list(ran)},
            )
        if normalize(values) != normalize(expected.values):
            changed = diff_states(expected.values, values, DIFF_CHARS)
            return Divergence(
                "output_changed",
                step,
                node,
                f"the state after this step differs from the source's in {sorted(changed)}",
                diff={
                    key: {"source": d["before"], "replay": d["after"]} for key, d in changed.items()
                },
            )
        return None

    def verdict(self, status: str, output: dict[str, Any], error: str | None) -> dict[str, Any]:
        """The replay's `replay` object, once it has ended."""
        output_matches = normalize(output) == normalize(self.source.output or {})
        if self.divergence is None and (status != self.source.status or not output_matches):
            what = (
                f"the source ended {self.source.status}, the replay {status}"
                if status != self.source.status
                else "the run's output differs from the source's"
            )
            self.report(
                Divergence(
                    "output_changed",
                    None,
                    None,
                    what,
                    diff=diff_states(self.source.output or {}, output, DIFF_CHARS) or None,
                )
            )
        gateway = self.gateway
        return {
            "source_run_id": self.source.id,
            "on_divergence": "stop" if self.stop else "live",
            "reproduced": self.divergence is None,
            "divergence": self.divergence.to_json() if self.divergence else None,
            "calls_replayed": gateway.replayed if gateway else 0,
            "calls_live": gateway.live_calls if gateway else 0,
            "source_status": self.source.status,
            "source_version": self.source.version,
            "output_matches": output_matches,
        }
