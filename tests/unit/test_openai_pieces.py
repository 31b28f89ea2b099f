"""The pure parts of the OpenAI-compatible endpoint: repeat filter, rate limit, cache keys."""

from __future__ import annotations

from datetime import UTC, datetime

import h11
import pytest

from app.api.chat_completions import HEADER_CHARS, header_value
from app.gateway.cache import cache_key
from app.gateway.continuation import RepeatFilter, continuation_request
from app.gateway.types import ModelRequest
from app.services.api_keys import hash_token, period_key
from app.services.auth import is_loopback
from app.services.rate_limit import RateLimiter

SENT = "The lighthouse keeper fed the cat every evening at six, "


def feed_all(filter_: RepeatFilter, pieces: list[str]) -> str:
    return "".join(filter_.feed(piece) for piece in pieces) + filter_.flush()


def test_a_real_continuation_passes_through() -> None:
    assert feed_all(RepeatFilter(SENT), ["and the cat ", "purred."]) == "and the cat purred."


def test_a_model_that_starts_over_is_cut_back_to_what_is_new() -> None:
    restart = SENT + "and the cat purred."
    pieces = [restart[i : i + 7] for i in range(0, len(restart), 7)]
    assert feed_all(RepeatFilter(SENT), pieces) == "and the cat purred."


def test_a_repeated_tail_is_dropped() -> None:
    assert feed_all(RepeatFilter(SENT), ["at six, and then slept."]) == "and then slept."


def test_a_short_continuation_is_flushed_at_the_end() -> None:
    assert feed_all(RepeatFilter(SENT), ["."]) == "."


def test_nothing_sent_means_nothing_to_filter() -> None:
    assert RepeatFilter("").feed("Hello") == "Hello"


def test_continuation_request_carries_the_partial_answer_and_a_smaller_limit() -> None:
    request = ModelRequest(messages=[{"role": "user", "content": "story"}], max_tokens=100)
    continued = continuation_request(request, SENT)
    assert continued.messages[-2] == {"role": "assistant", "content": SENT}
    assert continued.messages[-1]["role"] == "user"
    assert continued.max_tokens is not None and 0 < continued.max_tokens < 100


def test_rate_limiter_refills_per_minute() -> None:
    limiter = RateLimiter()
    assert limiter.take("k", 2) is None and limiter.take("k", 2) is None
    wait = limiter.take("k", 2)
    assert wait is not None and 0 < wait <= 30
    assert limiter.take("other", 2) is None


def test_cache_key_ignores_key_order_and_separates_tenants() -> None:
    one = cache_key("acme", {"model": "edge", "messages": [{"role": "user", "content": "x"}]})
    same = cache_key("acme", {"messages": [{"content": "x", "role": "user"}], "model": "edge"})
    assert one == same
    assert one != cache_key(
        "globex", {"model": "edge", "messages": [{"role": "user", "content": "x"}]}
    )


def test_budget_periods_and_token_hashes() -> None:
    moment = datetime(2026, 11, 28, 23, 59, tzinfo=UTC)
    assert period_key("day", moment) == "2026-11-28" and period_key("month", moment) == "2026-11"
    assert len(hash_token("rg-x")) == 64 and hash_token("rg-x") != hash_token("rg-y")


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("localhost", True),
        ("::1", True),
        ("0.0.0.0", False),
        ("10.1.2.3", False),
    ],
)
def test_auth_can_only_be_off_on_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


@pytest.mark.parametrize(
    "reason",
    [
        "auto: edge-a; " + "x" * 996 + " and more",  # cut right after a space
        "two\nlines\tand\r\nmore",
        "p=0.9 ≥ bar — café",
        "   ",
    ],
)
def test_a_routing_reason_is_always_a_legal_header_value(reason: str) -> None:
    value = header_value(reason)
    assert len(value) <= HEADER_CHARS and value == value.strip()
    assert all(32 <= ord(char) < 127 for char in value)
    h11.Response(status_code=200, headers=[("x-routegraph-reason", value)])
