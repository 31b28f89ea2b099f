"""A TCP proxy in front of PostgreSQL that can drop a connection right after a COMMIT.

The commit reaches the server and takes effect, but its answer never reaches the client,
which sees the connection die mid-commit: the ambiguous outcome a network or database
failover produces. Tests point a worker's database URL at the proxy and arm it.
"""

from __future__ import annotations

import threading

from tests.support.loopback_proxy import LoopbackProxy

COMMIT = b"COMMIT\x00"


class CommitDroppingProxy(LoopbackProxy):
    """`with CommitDroppingProxy(5432) as port:`; `drop_after_commits(n)` arms it to cut
    the connection of each of the next `n` commits, after the server has run them. A
    statement sent in autocommit commits by itself: `marker` (a piece of its SQL text)
    names it instead of COMMIT."""

    def __init__(self, upstream_port: int, upstream_host: str = "127.0.0.1") -> None:
        super().__init__(upstream_port, upstream_host)
        self._armed = 0
        self._marker = COMMIT
        self.dropped = 0
        self._lock = threading.Lock()

    def drop_after_commits(self, count: int, marker: bytes = COMMIT) -> None:
        with self._lock:
            self._armed = count
            self._marker = marker

    def _from_client(self, state: object, data: bytes) -> bool:
        return self._marker in data and self._take_arm()

    def _take_arm(self) -> bool:
        with self._lock:
            if self._armed <= 0:
                return False
            self._armed -= 1
            self.dropped += 1
            return True
