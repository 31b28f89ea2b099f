"""Prometheus multiprocess mode: the processes of one host (`serve`, `routegraph worker`)
keep their metric values in files in one directory, and `/metrics` adds them up.

prometheus_client picks file-backed values from `PROMETHEUS_MULTIPROC_DIR`; the service
sets that variable from `ROUTEGRAPH_METRICS_DIR` at start-up, before it creates any
metric, clears the live gauges of processes that are gone, and clears its own at exit.
Counters of processes that ended stay counted (counters never go down).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest, multiprocess, values

ENV = "PROMETHEUS_MULTIPROC_DIR"
_PID = re.compile(r"_(\d+)\.db$")


def multiprocess_dir() -> Path | None:
    """The shared directory when multiprocess mode is on."""
    value = os.environ.get(ENV)
    return Path(value) if value else None


def enable(directory: Path) -> None:
    """Turn multiprocess mode on for this process (before its metrics are created)."""
    directory.mkdir(parents=True, exist_ok=True)
    os.environ[ENV] = str(directory)
    values.ValueClass = values.get_value_class()
    for pid in _pids(directory):
        if pid != os.getpid() and not _alive(pid):
            multiprocess.mark_process_dead(pid, str(directory))


def process_exiting() -> None:
    """Drop this process's live gauges (its worker slots) from the shared directory."""
    directory = multiprocess_dir()
    if directory is not None:
        multiprocess.mark_process_dead(os.getpid(), str(directory))


def render(registry: CollectorRegistry) -> bytes:
    """The exposition text: every process's values in multiprocess mode, else `registry`."""
    directory = multiprocess_dir()
    if directory is None:
        return generate_latest(registry)
    merged = CollectorRegistry()
    multiprocess.MultiProcessCollector(merged, path=str(directory))
    return generate_latest(merged)


def _pids(directory: Path) -> set[int]:
    found = set()
    for path in directory.glob("*.db"):
        match = _PID.search(path.name)
        if match:
            found.add(int(match.group(1)))
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
