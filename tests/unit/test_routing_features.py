"""Request features: robust on any text, cheap token estimates."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from app.routing.classifier import TaskClassifier
from app.routing.features import DENSE_FEATURES, estimate_tokens, extract, messages_text, tokenize

CLASSIFIER = TaskClassifier.load()


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=3000))
def test_features_never_crash_on_arbitrary_unicode(text: str) -> None:
    features = extract(text)
    assert len(features.dense) == len(DENSE_FEATURES)
    assert all(math.isfinite(x) for x in features.dense)
    assert estimate_tokens(text) >= 0
    result = CLASSIFIER.classify([{"role": "user", "content": text}])
    assert all(0.0 <= p <= 1.0 for p in result.p_good.values())


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "role": st.sampled_from(["system", "user", "assistant", "tool"]),
                "content": st.one_of(st.none(), st.text(max_size=200)),
            }
        ),
        max_size=5,
    )
)
def test_classify_accepts_any_message_shape(messages: list[dict[str, object]]) -> None:
    result = CLASSIFIER.classify(messages, node="x", has_tools=True)
    assert 0.0 <= result.complexity <= 1.0


def test_tokens_are_lowercased_and_numbers_become_shapes() -> None:
    assert tokenize("costs $12.50, “quoted” café".lower()) == [
        "costs",
        "00",
        "00",
        "quoted",
        "cafe",
    ]


def test_only_user_and_system_text_count() -> None:
    user, system = messages_text(
        [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "hello"},
            {"role": "assistant", "content": "ignored"},
        ]
    )
    assert (user, system) == ("hello", "be brief")


def test_token_estimate_is_in_the_bpe_ballpark() -> None:
    sentence = "The quick brown fox jumps over the lazy dog."
    assert 9 <= estimate_tokens(sentence) <= 12
    assert estimate_tokens("1234567") == 3  # digits chunk by three
    assert estimate_tokens("") == 0
