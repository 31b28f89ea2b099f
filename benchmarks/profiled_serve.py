"""`python -m app.cli serve` with a profiler switched by signals, for
`benchmarks/server_instructions.py --profile`: SIGUSR1 starts profiling, SIGUSR2 stops it
and writes $ROUTEGRAPH_PROFILE_OUT, so the profile holds the counted runs, not start-up.

cProfile is of little use on an asyncio server (every resumption of a coroutine is a call
and time is attributed across awaits oddly), and a sampling thread sees the loop's thread
only where that releases the GIL (in socket and libpq calls), so this samples by SIGPROF:
every millisecond of the process's CPU time (not wall time: an idle loop is not sampled)
the handler records the main thread's Python stack, the cost of a C call landing on its
caller. Written as collapsed stacks (`frame;frame;... count`, flamegraph.pl's input).

    python benchmarks/profiled_serve.py serve --port 8000
"""

from __future__ import annotations

import os
import signal
import sys
from collections import Counter
from pathlib import Path
from types import FrameType

import greenlet

INTERVAL_SECONDS = 0.001


class StackSampler:
    """Counts the main thread's Python stacks at every SIGPROF while started."""

    def __init__(self) -> None:
        self.stacks: Counter[str] = Counter()

    def start(self) -> None:
        signal.signal(signal.SIGPROF, self._sample)
        signal.setitimer(signal.ITIMER_PROF, INTERVAL_SECONDS, INTERVAL_SECONDS)

    def stop(self) -> None:
        signal.setitimer(signal.ITIMER_PROF, 0, 0)

    def _sample(self, signum: int, frame: FrameType | None) -> None:
        self.stacks[_collapsed(frame)] += 1


def _collapsed(frame: FrameType | None) -> str:
    """The stack as `outer;...;inner`, continued through the greenlets SQLAlchemy's
    asyncio layer runs its sync code in (into the frames that switched to them)."""
    names = []
    runner = greenlet.getcurrent()
    while frame is not None:
        code = frame.f_code
        names.append(f"{_short(code.co_filename)}:{code.co_name}")
        frame = frame.f_back
        if frame is None and runner is not None and runner.parent is not None:
            runner = runner.parent
            frame = runner.gr_frame
    return ";".join(reversed(names))


def _short(filename: str) -> str:
    for marker in ("site-packages/", "python3.11/", "wt-cpu/"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename


def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sampler = StackSampler()

    def start(signum: int, frame: FrameType | None) -> None:
        sampler.start()

    def stop(signum: int, frame: FrameType | None) -> None:
        sampler.stop()
        lines = (f"{stack} {count}" for stack, count in sampler.stacks.most_common())
        Path(os.environ["ROUTEGRAPH_PROFILE_OUT"]).write_text("\n".join(lines) + "\n")

    signal.signal(signal.SIGUSR1, start)
    signal.signal(signal.SIGUSR2, stop)
    from app.cli import cli

    cli(sys.argv[1:], prog_name="routegraph")


if __name__ == "__main__":
    main()
