"""A minimal Redis client (RESP2 over asyncio streams): GET, SET with expiry, PING.

Enough for the shared response cache; no dependency. Connections are pooled; a broken one
is dropped and the command raises `RedisError`.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlparse

MAX_IDLE = 16


class RedisError(Exception):
    pass


class RespClient:
    def __init__(self, url: str, timeout_s: float = 2.0) -> None:
        parsed = urlparse(url)
        if parsed.scheme != "redis":
            raise ValueError("ROUTEGRAPH_REDIS_URL must be redis://host:port/db")
        self._host = parsed.hostname or "127.0.0.1"
        self._port = parsed.port or 6379
        self._db = int(parsed.path.lstrip("/") or 0)
        self._password = parsed.password
        self._timeout = timeout_s
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def get(self, key: str) -> bytes | None:
        reply = await self.command(b"GET", key.encode())
        return reply if isinstance(reply, bytes) else None

    async def set(self, key: str, value: bytes, ttl_s: float) -> None:
        await self.command(b"SET", key.encode(), value, b"PX", str(int(ttl_s * 1000)).encode())

    async def command(self, *args: bytes) -> bytes | str | int | None:
        connection = self._idle.pop() if self._idle else await self._connect()
        reader, writer = connection
        try:
            writer.write(_encode(args))
            reply = await asyncio.wait_for(_read_reply(reader), self._timeout)
        except (OSError, TimeoutError, asyncio.IncompleteReadError) as exc:
            writer.close()
            raise RedisError(f"redis at {self._host}:{self._port}: {exc!r}") from exc
        if len(self._idle) < MAX_IDLE:
            self._idle.append(connection)
        else:
            writer.close()
        if isinstance(reply, RedisError):
            raise reply
        return reply

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(self._host, self._port), self._timeout
            )
        except (OSError, TimeoutError) as exc:
            raise RedisError(f"cannot reach redis at {self._host}:{self._port}: {exc!r}") from exc
        for setup in (
            [b"AUTH", self._password.encode()] if self._password else None,
            [b"SELECT", str(self._db).encode()] if self._db else None,
        ):
            if setup:
                writer.write(_encode(setup))
                reply = await asyncio.wait_for(_read_reply(reader), self._timeout)
                if isinstance(reply, RedisError):
                    writer.close()
                    raise reply
        return reader, writer

    async def aclose(self) -> None:
        while self._idle:
            _, writer = self._idle.pop()
            writer.close()


def _encode(args: tuple[bytes, ...] | list[bytes]) -> bytes:
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        parts.append(b"$%d\r\n%s\r\n" % (len(arg), arg))
    return b"".join(parts)


async def _read_reply(reader: asyncio.StreamReader) -> bytes | str | int | RedisError | None:
    line = (await reader.readuntil(b"\r\n"))[:-2]
    kind, rest = line[:1], line[1:]
    if kind == b"+":
        return rest.decode()
    if kind == b"-":
        return RedisError(rest.decode(errors="replace"))
    if kind == b":":
        return int(rest)
    if kind == b"$":
        size = int(rest)
        if size < 0:
            return None
        data = await reader.readexactly(size + 2)
        return data[:-2]
    raise RedisError(f"unexpected redis reply {line[:40]!r}")
