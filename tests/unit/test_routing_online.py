"""Online estimates: the Bayesian update, back-off, the OOD guard and the exploration budget."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.routing.clusters import ClusterMatch
from app.routing.exploration import ExplorationBudget
from app.routing.observations import (
    ANY,
    Cell,
    CellKey,
    Counts,
    InMemoryStatsStore,
    Observation,
    level_keys,
    prior_band,
    tier_arm,
)
from app.routing.online import (
    OnlineConfig,
    OnlineView,
    Option,
    choose,
    estimate,
)

CONFIG = OnlineConfig()
IN = ClusterMatch("c07:algebra", 0.3, 0.5, True)
OUT = ClusterMatch("c07:algebra", 0.3, 9.0, False, "form atypical for its topic (9.0 > 2.0)")


def observation(call: str, tier: str, score: float, prior: float, **extra: str) -> Observation:
    fields = {"tenant": "acme", "task_class": "math", "cluster": "c07:algebra"} | extra
    return Observation(
        tenant=fields["tenant"],
        call_id=call,
        source="user",
        task_class=fields["task_class"],
        cluster=fields["cluster"],
        tier=tier,
        model=f"{tier}-a",
        score=score,
        prior_p=prior,
    )


def view_of(
    store: InMemoryStatsStore,
    match: ClusterMatch = IN,
    *,
    budget: ExplorationBudget | None = None,
    config: OnlineConfig = CONFIG,
    priors: dict[str, float] | None = None,
) -> OnlineView:
    cluster = match.cluster if match.in_distribution else f"ood:{match.cluster}"
    keys = [
        k
        for tier, p in (priors or {"edge": 0.8, "frontier": 0.9}).items()
        for k in level_keys(ANY, "math", cluster, tier_arm(tier), "", prior_band(p, cluster))
    ]
    return OnlineView("math", match, cluster, ANY, store.load_now(keys), config, budget)


def test_with_no_feedback_the_estimate_is_the_prior() -> None:
    est = view_of(InMemoryStatsStore()).estimate(tier_arm("edge"), 0.8)
    assert est.mean == pytest.approx(0.8)
    assert est.low < 0.8 < est.high
    assert est.events == (0, 0, 0)


def test_failures_in_a_cell_pull_its_estimate_down_and_narrow_the_interval() -> None:
    store = InMemoryStatsStore()
    store.add_now(observation(f"c{i}", "edge", 0.0, 0.8) for i in range(40))
    est = view_of(store).estimate(tier_arm("edge"), 0.8)
    assert est.mean < 0.3  # 40 failures where the prior said 80% success
    assert est.events == (40, 40, 40)
    fresh = view_of(InMemoryStatsStore()).estimate(tier_arm("edge"), 0.8)
    assert est.high - est.low < fresh.high - fresh.low
    assert "40 feedback events in cluster" in est.describe()


def test_a_cluster_backs_off_to_its_task_class_when_it_has_no_evidence() -> None:
    store = InMemoryStatsStore()
    store.add_now(observation(f"c{i}", "edge", 0.0, 0.8, cluster="c09:geometry") for i in range(60))
    sibling = view_of(store).estimate(tier_arm("edge"), 0.8)  # c07 itself has no feedback
    assert sibling.events == (60, 60, 0)
    assert sibling.mean < 0.7  # the class-level evidence moves it...
    own = view_of(store, ClusterMatch("c09:geometry", 0.3, 0.5, True))
    assert own.estimate(tier_arm("edge"), 0.8).mean < sibling.mean  # ...less than its own


def test_a_few_events_that_noise_explains_do_not_move_a_trusted_prior() -> None:
    store = InMemoryStatsStore()
    store.add_now([observation("c1", "edge", 0.0, 0.8), observation("c2", "edge", 1.0, 0.8)])
    assert view_of(store).estimate(tier_arm("edge"), 0.8).mean == pytest.approx(0.8)


def test_out_of_distribution_the_prior_counts_for_little() -> None:
    store = InMemoryStatsStore()
    store.add_now(
        observation(f"c{i}", "edge", float(i % 4 == 0), 0.9, cluster="ood:c07:algebra")
        for i in range(20)
    )
    est = view_of(store, OUT).estimate(tier_arm("edge"), 0.9)
    assert not est.prior_trusted
    assert est.mean < 0.55  # 25% observed success outweighs the prior's 0.9 after 20 events
    in_dist = view_of(store).estimate(tier_arm("edge"), 0.9)
    assert in_dist.mean == pytest.approx(0.9)  # in-distribution cells are kept apart


def test_estimates_are_learned_per_prior_band() -> None:
    assert prior_band(0.3, "c1") != prior_band(0.95, "c1")
    assert prior_band(0.95, "ood:c1") == "ood"
    store = InMemoryStatsStore()
    store.add_now(observation(f"c{i}", "edge", 0.0, 0.95) for i in range(40))
    view = view_of(store, priors={"edge": 0.3})
    assert view.estimate(tier_arm("edge"), 0.3).mean == pytest.approx(0.3)


def test_counts_are_weighted_by_source() -> None:
    cell = Cell({"user": Counts(10, 8, 7), "cascade_verifier": Counts(10, 0, 7)})
    weighted = cell.weighted(CONFIG.source_weights)
    assert weighted.events == pytest.approx(15)
    assert weighted.good == pytest.approx(8)
    assert cell.events == 20


def test_estimate_clips_impossible_counts_after_retractions() -> None:
    est = estimate([Counts(-1e-12, 0.0, 0.0)] * 3, [0, 0, 0], 0.7, CONFIG)
    assert est.mean == pytest.approx(0.7)


def options(edge: float = 0.8, frontier: float = 0.9) -> list[Option]:
    return [
        Option("edge", tier_arm("edge"), edge),
        Option("frontier", tier_arm("frontier"), frontier, safe=True),
    ]


def test_choose_takes_the_cheapest_option_clearing_an_absolute_or_relative_bar() -> None:
    view = view_of(InMemoryStatsStore())
    assert choose(options(), view, threshold=0.75, relative=False, floor=0.0).index == 0  # type: ignore[union-attr]
    strict = choose(options(), view, threshold=0.95, relative=True, floor=0.0)
    assert strict is not None and strict.index == 1  # 0.80 < 0.95 x 0.90
    assert "0.95 x best estimate 0.90" in strict.why
    lenient = choose(options(), view, threshold=0.85, relative=True, floor=0.0)
    assert lenient is not None and lenient.index == 0


def test_out_of_distribution_without_evidence_only_the_safe_tier_is_eligible() -> None:
    view = view_of(InMemoryStatsStore(), OUT)
    choice = choose(options(edge=0.95), view, threshold=0.75, relative=False, floor=0.0)
    assert choice is not None and choice.index == 1
    assert "OUT OF DISTRIBUTION" in view.describe() and "form atypical" in view.describe()


@given(
    share=st.floats(0.0, 1.0),
    wants=st.lists(st.booleans(), min_size=1, max_size=300),
)
def test_exploration_never_exceeds_its_share_of_decisions(share: float, wants: list[bool]) -> None:
    budget = ExplorationBudget(share)
    for want in wants:
        explored = budget.decide(want)
        assert not explored or want
        assert budget.explorations <= share * budget.decisions + 1e-9


def test_the_budget_is_used_when_exploring_is_always_worthwhile() -> None:
    budget = ExplorationBudget(0.1)
    assert sum(budget.decide(True) for _ in range(1000)) == 100


def test_exploration_picks_a_cheaper_uncertain_tier_within_budget_and_above_the_floor() -> None:
    budget = ExplorationBudget(1.0)
    view = view_of(InMemoryStatsStore(), OUT, budget=budget)  # untrusted prior: wide interval
    choice = choose(options(edge=0.7), view, threshold=0.9, relative=True, floor=0.5)
    assert choice is not None and choice.explored and choice.index == 0
    assert "exploring edge" in choice.why and "floor 0.50" in choice.why
    below = choose(options(edge=0.4), view, threshold=0.9, relative=True, floor=0.5)
    assert below is not None and not below.explored and below.index == 1  # never below the floor


def test_no_exploration_without_a_budget_or_with_a_zero_share() -> None:
    for budget in (None, ExplorationBudget(0.0)):
        view = view_of(InMemoryStatsStore(), OUT, budget=budget)
        choice = choose(options(edge=0.7), view, threshold=0.9, relative=True, floor=0.0)
        assert choice is not None and not choice.explored


def test_config_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="explore_share"):
        OnlineConfig(explore_share=1.5)
    with pytest.raises(ValueError, match="prior_strength"):
        OnlineConfig(prior_strength=0)


def test_cell_keys_differ_by_level() -> None:
    keys = level_keys(ANY, "math", "c1", "tier:edge", "", "0.80-0.90")
    assert keys[0] == CellKey(ANY, ANY, ANY, "tier:edge", "", "0.80-0.90")
    assert keys[2].cluster == "c1" and keys[1].cluster == ANY


def test_the_learned_table_lists_cells_with_their_evidence() -> None:
    from app.routing.observations import stats_rows

    store = InMemoryStatsStore()
    store.add_now(observation(f"c{i}", "edge", float(i < 3), 0.8) for i in range(4))
    rows = stats_rows(store.table(), CONFIG.source_weights)
    assert len(rows) == 6  # tier and model arm, three levels each
    top = rows[0]
    assert top["events"] == 4 and top["events_by_source"] == {"user": 4}
    assert top["success"] == pytest.approx(0.75) and top["prior"] == pytest.approx(0.8)
