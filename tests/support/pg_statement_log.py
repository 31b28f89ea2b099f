"""A TCP proxy in front of PostgreSQL that logs every statement its clients send.

It reads the frontend side of the wire protocol: a simple `Query` is one statement, and so
is each `Execute` of the extended protocol (the SQL text comes from the `Parse` its `Bind`
names, prepared or not). Whatever the driver (SQLAlchemy over psycopg, LangGraph's
checkpointer, the listener), every statement is seen once, BEGIN and COMMIT included, and
so is every `Sync` (the end of a pipeline: one round trip). Counts are exact, not timed.
"""

from __future__ import annotations

import struct
import threading
from dataclasses import dataclass, field

from tests.support.loopback_proxy import LoopbackProxy

_UNTYPED_REQUESTS = {80877103, 80877104}  # SSLRequest, GSSENCRequest: a startup follows


@dataclass
class _Connection:
    """One client connection's parser state: buffered bytes and its named statements."""

    buffer: bytearray = field(default_factory=bytearray)
    started: bool = False
    statements: dict[bytes, str] = field(default_factory=dict)
    portals: dict[bytes, str] = field(default_factory=dict)


class PgStatementLog(LoopbackProxy):
    """`with PgStatementLog(5432) as port:`; point clients at `port`, then read
    `statements` (the SQL of each statement sent, in order) and `syncs`."""

    def __init__(self, upstream_port: int, upstream_host: str = "127.0.0.1") -> None:
        super().__init__(upstream_port, upstream_host)
        self._lock = threading.Lock()
        self._statements: list[str] = []
        self._syncs = 0

    @property
    def statements(self) -> list[str]:
        with self._lock:
            return list(self._statements)

    @property
    def syncs(self) -> int:
        with self._lock:
            return self._syncs

    def _connection_state(self) -> _Connection:
        return _Connection()

    def _from_client(self, state: _Connection, data: bytes) -> bool:
        self._read(state, data)
        return False

    def _read(self, conn: _Connection, data: bytes) -> None:
        conn.buffer += data
        while True:
            if not conn.started:
                if len(conn.buffer) < 8:
                    return
                (length,) = struct.unpack_from("!i", conn.buffer, 0)
                if len(conn.buffer) < length:
                    return
                (code,) = struct.unpack_from("!i", conn.buffer, 4)
                del conn.buffer[:length]
                conn.started = code not in _UNTYPED_REQUESTS
                continue
            if len(conn.buffer) < 5:
                return
            kind = conn.buffer[0:1]
            (length,) = struct.unpack_from("!i", conn.buffer, 1)
            if len(conn.buffer) < 1 + length:
                return
            body = bytes(conn.buffer[5 : 1 + length])
            del conn.buffer[: 1 + length]
            self._message(conn, kind, body)

    def _message(self, conn: _Connection, kind: bytes, body: bytes) -> None:
        if kind == b"Q":
            self._record(body.split(b"\x00", 1)[0].decode(errors="replace"))
        elif kind == b"P":  # Parse: statement name, query text, ...
            name, rest = body.split(b"\x00", 1)
            conn.statements[name] = rest.split(b"\x00", 1)[0].decode(errors="replace")
        elif kind == b"B":  # Bind: portal name, statement name, ...
            portal, rest = body.split(b"\x00", 1)
            conn.portals[portal] = conn.statements.get(rest.split(b"\x00", 1)[0], "?")
        elif kind == b"E":  # Execute: portal name, row limit
            self._record(conn.portals.get(body.split(b"\x00", 1)[0], "?"))
        elif kind == b"S":
            with self._lock:
                self._syncs += 1

    def _record(self, sql: str) -> None:
        with self._lock:
            self._statements.append(sql)
