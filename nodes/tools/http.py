"""An HTTP tool for specs: allow-listed hosts only, http(s) only, bounded time and size.

The allow-list is part of the spec (validated when the spec is) and can only narrow the
operator's egress policy (`nodes/tools/egress.py`): every hop, redirects included, is
resolved and checked before it is connected to, and the connection goes to the address
that was checked. A redirect is followed only to an allow-listed host, checked again. The
whole exchange has one deadline (a server dripping bytes cannot hold a worker), and a body
larger than `max_bytes` is refused rather than read.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Mapping
from typing import Any, ClassVar

import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator

from nodes.tools.base import SpecTool, ToolError
from nodes.tools.egress import EgressPolicy, parse_host_entry

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
_HOST = re.compile(r"^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?(:[0-9]{1,5})?$")
_LITERAL_URL = re.compile(
    r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<authority>[^/?#{]*)(?P<rest>.*)$", re.S
)


class HttpConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    allow_hosts: list[str] = Field(
        min_length=1, max_length=20, description='host names, optionally "host:port"'
    )
    timeout_s: float = Field(10.0, gt=0, le=30, description="deadline for the whole exchange")
    max_bytes: int = Field(1_000_000, ge=1, le=5_000_000)
    max_redirects: int = Field(3, ge=0, le=5)

    @field_validator("allow_hosts")
    @classmethod
    def _plain_hosts(cls, hosts: list[str]) -> list[str]:
        for host in hosts:
            if not _HOST.match(host):
                raise ValueError(
                    f"{host!r} is not a lower-case host name or host:port (no scheme or path)"
                )
        return hosts


def host_allowed(url: httpx.URL, allow_hosts: list[str]) -> bool:
    """An entry without a port allows any port of that host; with a port, only that one."""
    host = (url.host or "").lower()
    for entry in allow_hosts:
        name, _, port = entry.partition(":")
        if name == host and (not port or int(port) == (url.port or _default_port(url))):
            return True
    return False


def _default_port(url: httpx.URL) -> int:
    return 443 if url.scheme == "https" else 80


def check_url(url: httpx.URL, config: HttpConfig) -> None:
    if url.scheme not in ("http", "https"):
        raise ToolError(f"http: scheme {url.scheme!r} is not allowed (http or https only)")
    if not host_allowed(url, config.allow_hosts):
        raise ToolError(f"http: host {url.host!r} is not in allow_hosts {config.allow_hosts}")


class HttpTool(SpecTool):
    name: ClassVar[str] = "http"
    description: ClassVar[str] = "Call an allow-listed HTTP(S) endpoint; returns status and body."
    result_type: ClassVar[str] = "object"
    required_args: ClassVar[tuple[str, ...]] = ("url",)
    optional_args: ClassVar[tuple[str, ...]] = ("method", "body")
    config_model: ClassVar[type[BaseModel]] = HttpConfig

    def __init__(self, egress: EgressPolicy | None = None) -> None:
        self.egress = egress or EgressPolicy()

    def check_config(self, config: BaseModel) -> list[tuple[tuple[str | int, ...], str]]:
        """An allow-listed host the operator's policy would refuse is a problem now."""
        assert isinstance(config, HttpConfig)
        problems: list[tuple[tuple[str | int, ...], str]] = []
        for index, entry in enumerate(config.allow_hosts):
            host, port = parse_host_entry(entry)
            problem = self.egress.host_problem(host, port)
            if problem:
                problems.append((("allow_hosts", index), f"refused at run time: {problem}"))
        return problems

    def check_args(self, args: Mapping[str, str], config: BaseModel) -> list[tuple[str, str]]:
        assert isinstance(config, HttpConfig)
        problems: list[tuple[str, str]] = []
        match = _LITERAL_URL.match(args.get("url", ""))
        if match is None:
            problems.append(("url", "the URL must start with a literal http:// or https://"))
        else:
            scheme = match.group("scheme").lower()
            if scheme not in ("http", "https"):
                problems.append(("url", f"scheme {scheme!r} is not allowed (http or https only)"))
            authority = match.group("authority")
            literal_host = "{{" not in args["url"][: match.end("authority") + 2]
            if literal_host and authority:
                url = _literal_authority(scheme, authority)
                if url is None:
                    problems.append(("url", f"{authority!r} is not a valid host"))
                elif not host_allowed(url, config.allow_hosts):
                    problems.append(("url", f"host {url.host!r} is not in allow_hosts"))
                else:
                    problem = self.egress.host_problem(url.host, url.port or _default_port(url))
                    if problem:
                        problems.append(("url", f"refused at run time: {problem}"))
        method = args.get("method")
        if method is not None and "{" not in method and method.upper() not in METHODS:
            problems.append(("method", f"method must be one of {', '.join(METHODS)}"))
        return problems

    async def run(self, args: Mapping[str, str], config: BaseModel) -> Any:
        assert isinstance(config, HttpConfig)
        method = (args.get("method") or "GET").upper()
        if method not in METHODS:
            raise ToolError(f"http: method {method!r} is not allowed")
        try:
            url = httpx.URL(args["url"])
        except (httpx.InvalidURL, TypeError) as exc:
            raise ToolError(f"http: invalid URL: {exc}") from exc
        try:
            async with asyncio.timeout(config.timeout_s):
                return await self._exchange(method, url, args.get("body"), config)
        except TimeoutError as exc:
            raise ToolError(f"http: no complete answer within {config.timeout_s:g}s") from exc
        except httpx.HTTPError as exc:
            raise ToolError(f"http: {type(exc).__name__}: {exc}") from exc

    async def _exchange(
        self, method: str, url: httpx.URL, body: str | None, config: HttpConfig
    ) -> dict[str, Any]:
        timeout = httpx.Timeout(config.timeout_s)
        # trust_env=False: no proxy or .netrc from the worker's environment.
        async with httpx.AsyncClient(
            timeout=timeout, follow_redirects=False, trust_env=False
        ) as client:
            for _ in range(config.max_redirects + 1):
                check_url(url, config)  # every hop: scheme, allow_hosts, then egress
                request = await self._pinned_request(client, method, url, body)
                response = await client.send(request, stream=True)
                try:
                    if response.is_redirect and "location" in response.headers:
                        url = url.join(response.headers["location"])
                        continue
                    raw = await _read_capped(response, config.max_bytes)
                finally:
                    await response.aclose()
                return _result(response, url, raw)
        raise ToolError(f"http: more than {config.max_redirects} redirects")

    async def _pinned_request(
        self, client: httpx.AsyncClient, method: str, url: httpx.URL, body: str | None
    ) -> httpx.Request:
        """A request to the address the egress policy checked, not to the name again:
        the Host header and TLS server name stay the URL's host."""
        address = await self.egress.resolve(url.host, url.port or _default_port(url))
        content = body.encode() if body is not None and method != "GET" else None
        headers = {"host": url.netloc.decode("ascii")}
        extensions = {"sni_hostname": url.host} if url.scheme == "https" else {}
        return client.build_request(
            method,
            url.copy_with(host=str(address)),
            content=content,
            headers=headers,
            extensions=extensions,
        )


def _literal_authority(scheme: str, authority: str) -> httpx.URL | None:
    try:
        return httpx.URL(f"{scheme}://{authority}/")
    except httpx.InvalidURL:
        return None


async def _read_capped(response: httpx.Response, limit: int) -> bytes:
    declared = response.headers.get("content-length")
    if declared is not None and declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise ToolError(f"http: response of {declared} bytes is over the {limit}-byte limit")
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > limit:
            raise ToolError(f"http: response is over the {limit}-byte limit")
        chunks.append(chunk)
    return b"".join(chunks)


def _result(response: httpx.Response, url: httpx.URL, raw: bytes) -> dict[str, Any]:
    content_type = response.headers.get("content-type", "")
    text = raw.decode(response.encoding or "utf-8", errors="replace")
    body: Any = text
    if "json" in content_type:
        try:
            body = json.loads(text)
        except json.JSONDecodeError:
            body = text
    return {
        "status": response.status_code,
        "content_type": content_type,
        "url": str(url),
        "body": body,
    }
