"""Raw HTTP/1.1 over a socket, for requests no HTTP client will send (NUL in a header,
headers a byte at a time, connections held open)."""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass
from typing import Any


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def connect(port: int, *, source: str = "127.0.0.1", timeout: float = 10.0) -> socket.socket:
    """A TCP connection to the loopback server from `source` (any 127.x address works)."""
    return socket.create_connection(
        ("127.0.0.1", port), timeout=timeout, source_address=(source, 0)
    )


def read_response(sock: socket.socket) -> RawResponse:
    """Read one response with a Content-Length body (all our problem responses have one)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before a full response head: {data!r}")
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return RawResponse(int(status_line.split()[1]), headers, body[:length])


def raw_request(port: int, request: bytes, *, source: str = "127.0.0.1") -> RawResponse:
    with connect(port, source=source) as sock:
        sock.sendall(request)
        return read_response(sock)


def closed_by_server(sock: socket.socket) -> bool:
    """Whether the server has closed its end: reads reach EOF (after any response) in time."""
    try:
        while sock.recv(65536):
            pass
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False
    return True
