"""The checked cascade's replay: the verifier decides, the learned bar escalates where verified
cheap answers are wrong, the cheap call is paid whenever it is made."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from app.routing.classifier import Classification, TaskClassifier
from app.routing.clusters import ClusterMatch, TopicClusters
from app.routing.online_config import OnlineConfig
from devtools.bench.checked_cascade import flag_rates, replay_checked, verifier_alone
from devtools.bench.many_models import Prepared, Settings, prepare
from devtools.bench.routerbench_data import Stream

RIGHT = "She buys 3 * 4 = 12 apples, then 12 + {n} = {total}.\n#### {total}"
WRONG_SUM = "She buys 3 * 4 = 12 apples, then 12 + {n} = {bad}.\n#### {bad}"


def stream(n: int = 240) -> Stream:
    """Even rows: the cheap answer is worked out right; odd rows: a step is wrong (and so is
    the answer). In rows 4k+2 the cheap answer checks out but is wrong (a wrong setup)."""
    prompts, answers, correct = [], [], []
    for i in range(n):
        prompts.append(f"Sam has {i + 5} pears and buys 3 bags of 4 apples. How many fruits?")
        text = (RIGHT if i % 2 == 0 else WRONG_SUM).format(n=i + 5, total=i + 17, bad=2 * i + 40)
        answers.append([text, f"#### {i + 17}"])
        correct.append([float(i % 4 == 0), 1.0])
    cost = np.tile([0.04, 1.0], (n, 1))
    return Stream(
        "toy", ("cheap", "strong"), "strong", prompts, ["T"] * n, np.array(correct), cost, answers
    )


def prepared(n: int = 240) -> Prepared:
    s = stream(n)
    p = prepare(
        s,
        {"cheap": 0.04, "strong": 1.0},
        TaskClassifier.load(),
        TopicClusters.load(),
        classifier_knows_models=True,
        verifier="arithmetic",
    )
    # Rows 4k+2 (verified but wrong) are a kind of request of their own: class and cluster.
    p_good = {"edge": 0.85, "mid": 0.9, "frontier": 0.95}
    kinds = ["setup" if i % 4 == 2 else "fine" for i in range(n)]
    return dataclasses.replace(
        p,
        classifications=tuple(Classification(k, 0.2, p_good) for k in kinds),
        match=[ClusterMatch(k, 0.5, 0.4, True) for k in kinds],
    )


def test_the_arithmetic_verifier_flags_exactly_the_answers_whose_steps_are_wrong() -> None:
    p = prepared()
    assert p.verdicts is not None
    assert list(p.verdicts[:4]) == [True, False, True, False]
    rates = flag_rates(p)
    assert rates["flagged"] == 0.5 and rates["of_right"] == 0.0
    assert rates["of_wrong"] == 2 / 3  # the wrong setups (rows 4k+2) check out


def test_verifier_alone_serves_the_cheap_answer_it_accepts_and_pays_the_cheap_call_always() -> None:
    p = prepared()
    order = np.random.default_rng(0).permutation(len(p))
    trace = replay_checked(p, order, Settings(0.0, False, OnlineConfig(), checked="arithmetic"))
    assert p.verdicts is not None
    accepted = p.verdicts[order]
    assert (trace.served[accepted] == 0).all() and (trace.served[~accepted] == 1).all()
    assert np.allclose(trace.cost, np.where(accepted, 0.04, 1.04))
    assert trace.verified.all()  # every request was checked
    alone = verifier_alone(p)
    assert alone["cost"] == pytest.approx(trace.cost.sum() / len(p))  # GPT-4 costs 1 a row
    assert alone["relative"] == pytest.approx(trace.correct.mean())


def test_the_learned_bar_escalates_verified_answers_where_they_keep_being_wrong() -> None:
    p = prepared(400)
    order = np.random.default_rng(1).permutation(len(p))
    settings = Settings(0.8, False, OnlineConfig(explore_share=0.05), checked="arithmetic")
    trace = replay_checked(p, order, settings)
    setup = np.array([p.match[i].cluster == "setup" for i in order])
    assert p.verdicts is not None
    accepted = p.verdicts[order]
    late = np.arange(len(order)) >= len(order) // 2
    # Verified answers in "setup" were served, rated wrong, and are escalated later on...
    assert (trace.served[setup & ~late] == 0).any()
    assert (trace.served[setup & late] == 1).mean() > 0.9
    # ...while verified answers in "fine" keep being served by the cheap model.
    assert (trace.served[~setup & accepted & late] == 0).mean() > 0.9
    assert trace.correct[late].mean() > trace.correct[~late].mean()


def test_skipping_the_cheap_call_changes_the_cost_not_what_is_served() -> None:
    p = prepared(400)
    order = np.random.default_rng(2).permutation(len(p))
    walk = Settings(0.8, False, OnlineConfig(explore_share=0.0), checked="arithmetic")
    skip = dataclasses.replace(walk, skip_cheap=True)
    walked, skipped = replay_checked(p, order, walk), replay_checked(p, order, skip)
    assert (walked.served == skipped.served).all()
    assert (skipped.cost <= walked.cost).all() and skipped.cost.sum() < walked.cost.sum()
    assert not skipped.verified.all()  # some requests went to GPT-4 without a cheap call
    assert np.allclose(skipped.cost[~skipped.verified], 1.0)
