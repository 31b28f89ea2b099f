"""A third vote on a disagreement: the majority rule, who votes, and what `auto` expects of it."""

from __future__ import annotations

import random

import pytest

from app.gateway.agreement_check import third_opinion
from app.routing.agreement import compare_answers, majority_vote
from app.routing.catalog import load_catalog
from app.routing.exploration import ExplorationBudget
from app.routing.observations import ANY
from app.routing.online import OnlineView
from app.routing.online_config import OnlineConfig
from app.routing.policy import Cascade
from app.routing.utility import choose_by_utility, verified_success, voted_success
from tests.unit.test_routing_utility import MATCH, known_cells, options

ARC = (
    "Which gas do plants take in for photosynthesis?\nA) oxygen\nB) carbon dioxide\n"
    "C) nitrogen\nD) helium\nPrint only a single choice.\nAnswer:"
)
USER = [{"role": "user", "content": ARC}]
CATALOG = load_catalog()


def test_a_third_answer_siding_with_the_first_keeps_the_first_and_outvotes_the_second() -> None:
    vote = majority_vote(compare_answers("B", "D", USER), "The answer is B.")
    assert (vote.accepted, vote.served, vote.agreeing) == (True, 0, (0, 2))
    assert vote.reason == (
        "answers disagree: choice 'B' vs 'D'; the third answer gives choice 'B' too: majority"
    )


def test_a_third_answer_siding_with_the_second_serves_the_second() -> None:
    vote = majority_vote(compare_answers("B", "(D)", USER), "D) helium")
    assert (vote.accepted, vote.served, vote.agreeing) == (True, 1, (1, 2))


def test_three_different_answers_or_a_third_without_one_reach_no_majority() -> None:
    pair = compare_answers("B", "D", USER)
    for third, why in (("A", "all differ"), ("I cannot tell", "the third answer has no choice")):
        vote = majority_vote(pair, third)
        assert (vote.accepted, vote.served, vote.agreeing) == (False, None, ())
        assert vote.reason.endswith(why) or why in vote.reason


def test_no_vote_where_the_pair_cannot_be_compared_and_none_needed_where_it_agrees() -> None:
    refused = majority_vote(compare_answers("B", "I do not know", USER), "B")
    assert not refused.accepted and refused.served is None
    agreed = majority_vote(compare_answers("B", "B.", USER), "D")
    assert (agreed.accepted, agreed.served, agreed.agreeing) == (True, 0, (0, 1))


def test_the_tiebreak_is_the_cheapest_other_model_below_the_escalation_the_rules_allow() -> None:
    policy = Cascade(verifier="agreement", votes=3)
    cheapest = [m.name for m in CATALOG.by_price()]
    third = third_opinion(CATALOG, policy, ("edge-a", "edge-b"), "frontier")
    assert third is not None and third.tier == "mid"
    assert third.name == next(n for n in cheapest if n.startswith("mid"))
    refused = third_opinion(
        CATALOG, policy, ("edge-a", "edge-b"), "frontier", allowed=lambda m: m.name != third.name
    )
    assert refused is not None and refused.name not in (third.name, "edge-a", "edge-b")
    assert refused.tier != "frontier"
    assert third_opinion(CATALOG, policy, ("edge-a", "edge-b"), "mid") is None  # nothing below
    named = Cascade(verifier="agreement", votes=3, tiebreak_with="frontier-b")
    assert third_opinion(CATALOG, named, ("edge-a", "edge-b"), "frontier") == CATALOG.model(
        "frontier-b"
    )


def test_a_third_vote_catches_more_and_escalates_less_than_two() -> None:
    two, escalate_two = verified_success(0.85, 0.8, 0.95)
    three, asked, escalate_three = voted_success(0.85, 0.8, 0.8, 0.95)
    assert asked == pytest.approx(escalate_two)  # the third answers exactly on a disagreement
    assert escalate_three < 0.5 * escalate_two
    assert three > two - 0.02  # a good third keeps nearly all of the fallback's success
    assert voted_success(1.0, 1.0, 0.2, 0.9) == pytest.approx((1.0, 0.0, 0.0))
    # A third that is always wrong settles nothing right: what it outvotes is lost.
    worst, _, _ = voted_success(0.85, 0.8, 0.0, 0.95)
    assert worst < two


@pytest.mark.parametrize("votes", [2, 3])
def test_auto_names_a_tiebreak_only_with_three_votes(votes: int) -> None:
    """Where a tie vote from 'good' costs less than escalating to the frontier."""
    cells = known_cells({"poor": 0.8, "adequate": 0.85, "good": 0.85, "frontier": 0.95})
    config = OnlineConfig(agreement_votes=votes)
    v = OnlineView("qa", MATCH, "ood:c01", ANY, cells, config, ExplorationBudget(0.0), "t")
    choice = choose_by_utility(options(), v, cost_weight=0.2, rng=random.Random(0), verifiable=True)
    assert choice is not None and choice.verify is not None
    if votes == 2:
        assert choice.tiebreak is None and ", a tie " not in choice.why
    else:
        assert choice.tiebreak is not None
        assert choice.tiebreak not in (*choice.verify, choice.index)
        assert "verify: adequate and poor answer and must agree, a tie good, else frontier" in (
            choice.why
        )


def test_agreement_votes_are_two_or_three() -> None:
    with pytest.raises(ValueError, match="agreement_votes must be 2 or 3"):
        OnlineConfig(agreement_votes=4)


def test_a_dear_model_chosen_over_the_default_gives_way_to_a_cheaper_checked_pair() -> None:
    """'good' (30% of the default's price) has the best utility alone, yet two cheap answers
    checked against each other, the default on a disagreement, are worth more at weight 0.2:
    without offering that pair the dear model would be served for as long as it stays ahead."""
    cells = known_cells({"poor": 0.82, "adequate": 0.82, "good": 0.92, "frontier": 0.95})
    v = OnlineView("qa", MATCH, "ood:c01", ANY, cells, OnlineConfig(), ExplorationBudget(0.0), "t")
    alone = choose_by_utility(options(), v, cost_weight=0.2, rng=random.Random(0))
    assert alone is not None and alone.index == 2  # 'good'
    checked = choose_by_utility(
        options(), v, cost_weight=0.2, rng=random.Random(0), verifiable=True
    )
    assert checked is not None and checked.verify == (0, 1) and checked.index == 3
    assert checked.why.startswith("verify: poor and adequate answer and must agree, else frontier")
    assert "> 0.858 for good alone" in checked.why
