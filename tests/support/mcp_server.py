"""A small MCP server for tests, built with the official SDK's server side.

`python -m tests.support.mcp_server` serves it over stdio; `http_server()` serves it over
streamable HTTP on a free loopback port (uvicorn in a thread). Every call is appended to
the file named by ROUTEGRAPH_TEST_MCP_LOG (when set), so a test can tell whether the
server was really called (a replay must not call it).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from mcp.server.mcpserver import MCPServer

LOG_ENV = "ROUTEGRAPH_TEST_MCP_LOG"


def build_server() -> MCPServer:
    server = MCPServer("routegraph-test-tools")

    def logged(tool: str, arguments: dict[str, Any]) -> None:
        path = os.environ.get(LOG_ENV)
        if path:
            with open(path, "a", encoding="utf-8") as log:
                log.write(json.dumps({"tool": tool, "arguments": arguments}) + "\n")

    @server.tool()
    def add(a: float, b: float) -> float:
        """Add two numbers."""
        logged("add", {"a": a, "b": b})
        return a + b

    @server.tool()
    def shout(text: str, times: int = 1) -> str:
        """The text in capitals, repeated."""
        logged("shout", {"text": text, "times": times})
        return " ".join([text.upper()] * times)

    @server.tool()
    def secret(name: str) -> str:
        """A tool tenants are not allowed to call."""
        logged("secret", {"name": name})
        return f"secret of {name}"

    return server


@contextmanager
def http_server() -> Iterator[str]:
    """The server over streamable HTTP on loopback; yields its endpoint URL."""
    import threading
    import time

    import uvicorn

    from devtools.service_process import free_port

    port = free_port()
    app = build_server().streamable_http_app()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the MCP test server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


if __name__ == "__main__":
    build_server().run("stdio")
