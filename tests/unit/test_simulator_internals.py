"""Simulator building blocks: token estimates, fault rules, answer shaping, prefix cache."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from devtools.simulator.answers import Answer, ToolCall
from devtools.simulator.cache import PrefixCache
from devtools.simulator.completions import corrupt, limit_output, stream_deltas
from devtools.simulator.config import FaultRule, SimulatorConfig
from devtools.simulator.faults import FaultInjector
from devtools.simulator.tokens import (
    count_prompt_tokens,
    count_text_tokens,
    truncate_to_tokens,
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


def test_token_estimates_are_deterministic_and_grow_with_the_prompt() -> None:
    assert count_text_tokens("") == 0
    assert count_text_tokens("one two three, four.") == 8  # ceil(4 * 1.3) + 2 marks
    short = [{"role": "user", "content": "hello"}]
    longer = [*short, {"role": "assistant", "content": "hello back to you"}]
    assert count_prompt_tokens(short) == count_prompt_tokens(short)
    assert count_prompt_tokens(longer) > count_prompt_tokens(short)
    tool = {"type": "function", "function": {"name": "calculator", "parameters": {}}}
    assert count_prompt_tokens(short, [tool]) > count_prompt_tokens(short)


@given(st.text(max_size=200), st.integers(0, 60))
def test_truncation_is_a_prefix_within_the_limit(text: str, limit: int) -> None:
    cut = truncate_to_tokens(text, limit)
    assert text.startswith(cut)
    assert count_text_tokens(cut) <= limit


@given(json_values.filter(lambda value: value not in ({}, [])))
def test_malformed_json_is_never_parseable(value: object) -> None:
    content = json.dumps(value)
    broken = corrupt(Answer(content=content)).content or ""
    with pytest.raises(json.JSONDecodeError):
        json.loads(broken)


def test_malformed_json_of_text_and_tool_calls() -> None:
    with pytest.raises(json.JSONDecodeError):
        json.loads(corrupt(Answer(content="plain words")).content or "")
    call = ToolCall("call_1", "calculator", '{"expression": "1 + 2"}')
    (broken,) = corrupt(Answer(tool_calls=(call,))).tool_calls
    with pytest.raises(json.JSONDecodeError):
        json.loads(broken.arguments)


def test_max_tokens_cuts_text_and_reports_length() -> None:
    answer = Answer(content=" ".join(["word"] * 50))
    cut, reason = limit_output(answer, 10)
    assert reason == "length" and count_text_tokens(cut.content) <= 10
    assert limit_output(answer, 1000) == (answer, "stop")


@given(st.text(max_size=120))
def test_stream_deltas_reassemble_the_answer(content: str) -> None:
    deltas = stream_deltas(Answer(content=content))
    assert "".join(delta["content"] for delta in deltas) == content


def test_stream_deltas_for_tool_calls() -> None:
    call = ToolCall("call_9", "calculator", json.dumps({"expression": "(680) + (600) + (225)"}))
    deltas = stream_deltas(Answer(tool_calls=(call,)))
    head = deltas[0]["tool_calls"][0]
    assert head["id"] == "call_9" and head["function"]["name"] == "calculator"
    pieces = [d["tool_calls"][0]["function"]["arguments"] for d in deltas]
    assert "".join(pieces) == call.arguments and len(deltas) > 2


def test_fault_rules_fire_times_then_stop_in_order() -> None:
    injector = FaultInjector(
        [FaultRule(model="a", kind="server_error", times=2), FaultRule(kind="timeout", times=1)],
        seed=1,
    )
    fired = [getattr(injector.draw("a"), "kind", None) for _ in range(4)]
    assert fired == ["server_error", "server_error", "timeout", None]
    assert [rule["remaining"] for rule in injector.list()] == [0, 0]
    injector.add([FaultRule(model="b", kind="rate_limit")])
    assert injector.draw("a") is None
    assert all(getattr(injector.draw("b"), "kind", None) == "rate_limit" for _ in range(5))


def test_probability_draws_are_reproducible_from_the_seed() -> None:
    def outcomes(seed: int) -> list[bool]:
        injector = FaultInjector([FaultRule(kind="server_error", probability=0.5)], seed)
        return [injector.draw("m") is not None for _ in range(40)]

    assert outcomes(7) == outcomes(7)
    assert outcomes(7) != outcomes(8)
    assert 5 < sum(outcomes(7)) < 35
    injector = FaultInjector([FaultRule(kind="server_error", probability=0.5)], 7)
    first = [injector.draw("m") is not None for _ in range(40)]
    injector.clear()
    injector.add([FaultRule(kind="server_error", probability=0.5)])
    assert [injector.draw("m") is not None for _ in range(40)] == first  # clear reseeds


def test_fault_rule_validation() -> None:
    with pytest.raises(ValidationError):
        FaultRule.model_validate({"kind": "explode"})
    with pytest.raises(ValidationError):
        FaultRule.model_validate({"kind": "timeout", "probability": 2})
    assert FaultRule(kind="timeout").model == "*" and FaultRule(kind="timeout").times is None


def test_config_from_json_file(tmp_path: Path) -> None:
    path = tmp_path / "sim.json"
    path.write_text(
        json.dumps(
            {
                "latency_scale": 0,
                "seed": 3,
                "faults": [{"model": "mid-a", "kind": "rate_limit", "times": 1}],
                "timeout_hang_seconds": 1.5,
            }
        )
    )
    config = SimulatorConfig.from_json_file(path)
    assert config.faults == [FaultRule(model="mid-a", kind="rate_limit", times=1)]
    assert (config.seed, config.timeout_hang_seconds, config.request_log_size) == (3, 1.5, 500)
    path.write_text(json.dumps({"latency_scal": 0}))
    with pytest.raises(ValidationError):
        SimulatorConfig.from_json_file(path)


def test_prefix_cache_counts_shared_prefixes_in_blocks() -> None:
    cache = PrefixCache(min_tokens=1024)
    system = {"role": "system", "content": "rule " * 1000}
    first = [system, {"role": "user", "content": "one"}]
    second = [system, {"role": "user", "content": "two"}]
    assert cache.cached_tokens("m", first, None) == 0
    cached = cache.cached_tokens("m", second, None)
    assert cached > 1024 and cached % 128 == 0
    assert cached <= count_prompt_tokens(second)
    assert cache.cached_tokens("other-model", second, None) == 0
    short = PrefixCache(min_tokens=1024)
    tiny = [{"role": "user", "content": "hi"}]
    short.cached_tokens("m", tiny, None)
    assert short.cached_tokens("m", tiny, None) == 0  # below the minimum
