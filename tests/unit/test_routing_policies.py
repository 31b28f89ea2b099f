"""Routing policies on constructed cases: the choice, the limits, and the recorded reason."""

from __future__ import annotations

import pytest

from app.routing.catalog import load_catalog
from app.routing.classifier import Classification
from app.routing.policy import Auto, Cascade, RouteInputs, route_request

CATALOG = load_catalog()


def inputs(edge: float, mid: float, frontier: float, **extra: object) -> RouteInputs:
    classification = Classification(
        task_class="math",
        complexity=1 - edge,
        p_good={"edge": edge, "mid": mid, "frontier": frontier},
    )
    return RouteInputs(prompt_tokens=200, classification=classification, **extra)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("p", "tier"),
    [
        ((0.9, 0.92, 0.95), "edge"),  # the cheapest tier already clears the bar
        ((0.5, 0.8, 0.9), "mid"),
        ((0.3, 0.6, 0.9), "frontier"),
    ],
)
def test_auto_picks_the_cheapest_tier_that_clears_the_threshold(
    p: tuple[float, float, float], tier: str
) -> None:
    route = route_request(Auto(threshold=0.75), CATALOG, node="answer", inputs=inputs(*p))
    assert route.tier == tier
    assert [m.tier for m in route.candidates] == [tier, tier]  # fallback stays in the tier
    assert route.task_class == "math"
    assert "threshold 0.75" in route.reason and "class=math" in route.reason
    assert "edge(p=" in route.reason and "frontier(p=" in route.reason  # candidates listed


def test_auto_takes_the_best_predicted_tier_when_none_clears() -> None:
    route = route_request(Auto(threshold=0.99), CATALOG, inputs=inputs(0.3, 0.5, 0.8))
    assert route.tier == "frontier"
    assert "no tier clears 0.99" in route.reason


def test_auto_respects_the_remaining_budget() -> None:
    # frontier would clear the bar but ~$0.0135 does not fit in $0.009; mid (~$0.0066) fits.
    route = route_request(
        Auto(threshold=0.75), CATALOG, inputs=inputs(0.3, 0.6, 0.9, remaining_budget_usd=0.009)
    )
    assert route.tier == "mid"
    assert "frontier(p=0.90" in route.reason and "over budget" in route.reason


def test_auto_respects_the_latency_slo() -> None:
    # 400 output tokens on frontier-a take ~0.9 s + 4.8 s; on mid-a ~0.45 s + 3.2 s.
    route = route_request(
        Auto(threshold=0.75, max_latency_ms=4000), CATALOG, inputs=inputs(0.3, 0.6, 0.9)
    )
    assert route.tier == "mid"
    assert "over latency SLO" in route.reason


def test_auto_with_nothing_feasible_goes_cheapest_and_says_so() -> None:
    route = route_request(
        Auto(threshold=0.75), CATALOG, inputs=inputs(0.3, 0.6, 0.9, remaining_budget_usd=0.0)
    )
    assert route.tier == "edge" and "no tier fits budget/SLO" in route.reason


def test_auto_needs_a_classification_and_cascade_is_not_routed_once() -> None:
    with pytest.raises(ValueError, match="classification"):
        route_request(Auto(), CATALOG, inputs=RouteInputs(prompt_tokens=10))
    with pytest.raises(TypeError, match="walked by the gateway"):
        route_request(Cascade(), CATALOG)
