"""Cache prices, warm-prefix ordering, cache-control hints and the simulator's prompt
cache, as pure functions (the end-to-end behaviour is in test_cache_aware_routing)."""

from __future__ import annotations

import pytest

from app.gateway.cache_hints import needs_hints, with_cache_hints
from app.gateway.prefixes import prompt_prefixes
from app.gateway.provider_answer import answer_from_json
from app.routing.catalog import load_catalog
from app.routing.policy import FixedTier, route_request
from app.routing.warm_route import WarmPrefix, expected_cost, prefer_warm
from devtools.simulator.cache import PrefixCache, SimClock

CATALOG = load_catalog()
SYSTEM = {"role": "system", "content": "policy " * 2500}


def test_cost_prices_reads_and_writes_apart() -> None:
    mid_b = CATALOG.model("mid-b")
    # 1M prompt tokens: 600k read from the cache, 300k written, 100k new.
    cost = mid_b.cost_usd(1_000_000, 0, cached_tokens=600_000, cache_write_tokens=300_000)
    assert cost == pytest.approx(0.6 * 0.30 + 0.3 * 6.00 + 0.1 * 3.00)
    # Writes are capped by what is left once reads are counted; an OpenAI-style model
    # bills writes as plain input.
    assert mid_b.cost_usd(100, 0, 80, 500) == pytest.approx((80 * 0.30 + 20 * 6.00) / 1e6)
    mid_a = CATALOG.model("mid-a")
    assert mid_a.cost_usd(1000, 0, 0, 1000) == mid_a.cost_usd(1000, 0)


def test_anthropic_usage_through_litellm_is_read_as_reads_and_writes() -> None:
    raw = {
        "choices": [{"message": {"content": "ok"}, "finish_reason": "stop"}],
        "usage": {
            "prompt_tokens": 4000,
            "completion_tokens": 10,
            "prompt_tokens_details": {"cached_tokens": 1000, "cache_creation_tokens": 2900},
            "cache_creation_input_tokens": 2900,
            "cache_read_input_tokens": 1000,
        },
    }
    usage = answer_from_json(raw).usage
    assert (usage.cached_tokens, usage.cache_write_tokens) == (1000, 2900)


def test_a_warm_model_goes_first_only_when_cheaper_and_the_reason_says_so() -> None:
    route = route_request(FixedTier("mid"), CATALOG)
    assert [m.name for m in route.candidates] == ["mid-a", "mid-b"]
    warm = prefer_warm(route, {"mid-b": WarmPrefix(3000, 1800)}, 3100, 200)
    assert [m.name for m in warm.candidates] == ["mid-b", "mid-a"]
    assert "prefix warm on mid-b (3000 tokens cached, 30 min left)" in warm.reason
    assert warm.reason.endswith("chain mid-b > mid-a")
    # A barely warm prefix does not pay for writing the rest at twice the input price.
    small = prefer_warm(route, {"mid-b": WarmPrefix(1100, 1800)}, 3100, 200)
    assert small.candidates == route.candidates and small.reason == route.reason
    # Warm on the first model already: it stays, and the reason notes it.
    first = prefer_warm(route, {"mid-a": WarmPrefix(3000, 120)}, 3100, 200)
    assert first.candidates == route.candidates and "prefix warm on mid-a" in first.reason
    mid_b = CATALOG.model("mid-b")
    assert expected_cost(mid_b, 3100, 200, None) == mid_b.cost_usd(3100, 200, 0, 3100)


def test_hints_mark_the_stable_prefix_and_the_last_message_for_marking_providers() -> None:
    messages = [SYSTEM, {"role": "user", "content": "q1"}, {"role": "assistant", "content": "a"}]
    assert needs_hints(CATALOG.model("mid-b"), messages)
    assert not needs_hints(CATALOG.model("mid-a"), messages)  # caches on its own
    assert not needs_hints(CATALOG.model("mid-b"), messages[1:])  # too short to cache
    marked = with_cache_hints(CATALOG.model("mid-b"), messages)
    marker = {"type": "ephemeral", "ttl": "1h"}
    assert marked[0]["content"] == [
        {"type": "text", "text": SYSTEM["content"], "cache_control": marker}
    ]
    assert marked[1] == messages[1]
    assert marked[2]["content"][0]["cache_control"] == marker
    # Markers do not change what a prefix is.
    assert [p.digest for p in prompt_prefixes(marked)] == [
        p.digest for p in prompt_prefixes(messages)
    ]


def test_the_simulator_cache_is_deterministic_per_prefix_and_lifetime() -> None:
    clock = SimClock()
    cache = PrefixCache(1024, clock=clock)
    mid_a, mid_b = CATALOG.model("mid-a"), CATALOG.model("mid-b")
    one = [SYSTEM, {"role": "user", "content": "q1"}]
    two = [*one, {"role": "assistant", "content": "a1"}, {"role": "user", "content": "q2"}]
    assert cache.usage_for(mid_a, one, None).cached_tokens == 0
    hit = cache.usage_for(mid_a, two, None)
    assert hit.cached_tokens > 3000 and hit.cached_tokens % 128 == 0
    assert hit.written_tokens is None  # automatic caching reports no writes
    clock.advance(301)  # past the 5-minute lifetime
    assert cache.usage_for(mid_a, two, None).cached_tokens == 0

    # Marking provider: nothing without markers; a marked prompt is written, then read.
    assert cache.usage_for(mid_b, one, None).written_tokens == 0
    first = cache.usage_for(mid_b, with_cache_hints(mid_b, one), None)
    assert first.cached_tokens == 0 and first.written_tokens and first.written_tokens > 3000
    clock.advance(50 * 60)
    second = cache.usage_for(mid_b, with_cache_hints(mid_b, two), None)
    assert second.cached_tokens == first.written_tokens
    assert second.written_tokens and second.written_tokens < 20
    clock.advance(61 * 60)
    assert cache.usage_for(mid_b, with_cache_hints(mid_b, two), None).cached_tokens == 0
