"""The CLI's HTTP client of a running service: `--url` / ROUTEGRAPH_URL and the API key
from ROUTEGRAPH_API_KEY. A service that cannot be reached, or that refuses a request, is
one clear line on stderr and exit code 1, never a traceback."""

from __future__ import annotations

import os
from typing import Any, NoReturn

import httpx
import typer
from rich.console import Console

DEFAULT_URL = "http://127.0.0.1:8000"
TIMEOUT_S = 30.0

err = Console(stderr=True, highlight=False)


def fail(message: str) -> NoReturn:
    err.print(f"[red]error:[/] {message}", markup=True, soft_wrap=True)
    raise typer.Exit(1)


class ServiceClient:
    """One short-lived connection pool per command."""

    def __init__(self, url: str, api_key: str | None = None, timeout_s: float = TIMEOUT_S) -> None:
        self.url = url.rstrip("/")
        try:
            scheme = httpx.URL(self.url).scheme
        except httpx.InvalidURL as exc:
            fail(f"--url / ROUTEGRAPH_URL {url!r} is not a URL: {exc}")
        if scheme not in ("http", "https"):
            fail(f"--url / ROUTEGRAPH_URL {url!r} is not an http(s) URL")
        key = api_key if api_key is not None else os.environ.get("ROUTEGRAPH_API_KEY")
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout_s)

    def __enter__(self) -> ServiceClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.close()

    def request(self, method: str, path: str, *, ok: tuple[int, ...] = (), **kwargs: Any) -> Any:
        """The JSON answer; a problem (4xx/5xx, unless in `ok`) or no service ends the
        command with one line."""
        response = self.send(method, path, **kwargs)
        if response.is_success or response.status_code in ok:
            return response.json() if response.content else None
        fail(describe_problem(response))

    def send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            fail(
                f"cannot reach the routegraph service at {self.url} ({type(exc).__name__}): "
                "start it with `routegraph serve`, or point --url / ROUTEGRAPH_URL at it"
            )

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.request("POST", path, **kwargs)


def describe_problem(response: httpx.Response) -> str:
    """`401 Unauthorized: …` from a problem+json (or any) error answer."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and ("title" in body or "detail" in body):
        text = f"{response.status_code} {body.get('title', '')}: {body.get('detail', '')}"
    else:
        text = f"{response.status_code} {response.reason_phrase}: {response.text[:300]}"
    if response.status_code == 401:
        text += " (set ROUTEGRAPH_API_KEY to a key of your tenant)"
    return text
