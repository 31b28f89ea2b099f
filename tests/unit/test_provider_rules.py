"""Provider rules on their own: which models each rule lets through, how tenant and key
rules combine, what routes are cut to or refused, what prompts are refused."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from app.gateway.errors import RuleViolation
from app.gateway.rules_guard import allowed_catalog, allowed_route, check_content
from app.gateway.types import ModelRequest
from app.routing.catalog import Catalog, load_catalog
from app.routing.policy import FixedModel, FixedTier, route_request
from app.routing.provider_rules import EffectiveRules, ProviderRules

ASK = ModelRequest(messages=[{"role": "user", "content": "Summarise the quarterly report"}])


def rules(tenant: ProviderRules, key: ProviderRules | None = None) -> EffectiveRules:
    layers = [("tenant acme", tenant)] + ([("key k1", key)] if key else [])
    return EffectiveRules(tuple(layers))


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    """The shipped catalog with mid-b on a second provider (the shipped one has one)."""
    data = yaml.safe_load(Path("app/routing/catalog.yaml").read_text())
    data["models"]["mid-b"]["provider"] = "otherco"
    path = tmp_path_factory.mktemp("catalog") / "catalog.yaml"
    path.write_text(yaml.safe_dump(data))
    return load_catalog(path)


def test_shipped_catalog_names_a_region_per_model() -> None:
    regions = {m.name: m.region for m in load_catalog().models.values()}
    assert set(regions.values()) == {"us", "eu"}
    assert regions["edge-a"] == "us" and regions["edge-b"] == "eu"


def test_each_model_rule_names_itself_and_its_scope(catalog: Catalog) -> None:
    providers = rules(ProviderRules(allowed_providers=("simulator",)))
    breach = providers.model_breach(catalog.model("mid-b"))
    assert breach is not None and breach.rule == "allowed_providers"
    assert breach.scope == "tenant acme" and breach.status == 403
    assert "otherco" in breach.detail
    assert providers.model_breach(catalog.model("mid-a")) is None

    models = rules(ProviderRules(allowed_models=("edge-a", "mid-a")))
    assert models.model_breach(catalog.model("edge-b")).rule == "allowed_models"  # type: ignore[union-attr]
    assert models.model_breach(catalog.model("edge-a")) is None

    regions = rules(ProviderRules(allowed_regions=("eu",)))
    assert regions.model_breach(catalog.model("frontier-a")).rule == "allowed_regions"  # type: ignore[union-attr]
    assert regions.model_breach(catalog.model("frontier-b")) is None


def test_a_key_narrows_its_tenant_and_cannot_widen_it(catalog: Catalog) -> None:
    both = rules(
        ProviderRules(allowed_regions=("eu",)),
        ProviderRules(allowed_models=("edge-a", "edge-b", "mid-b")),
    )
    allowed, excluded = both.restrict(catalog, 100, 100)
    assert allowed is not None and sorted(allowed.models) == ["edge-b", "mid-b"]
    assert (
        excluded["edge-a"].rule == "allowed_regions" and excluded["edge-a"].scope == "tenant acme"
    )
    assert (
        excluded["frontier-b"].rule == "allowed_models" and excluded["frontier-b"].scope == "key k1"
    )
    assert "frontier" not in allowed.tiers and allowed.chain("edge")[0].name == "edge-b"


def test_the_price_cap_counts_prompt_and_output_limit(catalog: Catalog) -> None:
    cap = rules(ProviderRules(max_usd_per_call=0.01))
    frontier = catalog.model("frontier-a")  # $7.50 in, $30 out per million
    assert cap.price_breach(frontier, 400, 200) is None  # $0.003 + $0.006
    breach = cap.price_breach(frontier, 1000, 1000)  # 0.0075 + 0.03
    assert breach is not None and breach.rule == "max_usd_per_call" and "$0.0375" in breach.detail
    assert cap.price_breach(catalog.model("edge-a"), 1000, 1000) is None


def test_blocked_terms_match_whole_words_in_any_case_and_the_prompt_size_is_capped() -> None:
    content = rules(ProviderRules(blocked_terms=("project falcon", "ssn"), max_prompt_tokens=50))
    assert content.content_breach(["about Project   FALCON today"], 10).rule == "blocked_terms"  # type: ignore[union-attr]
    assert content.content_breach(["my SSN: 123"], 10).rule == "blocked_terms"  # type: ignore[union-attr]
    assert content.content_breach(["lessons learned"], 10) is None  # "ssn" inside a word
    big = content.content_breach(["fine"], 51)
    assert big is not None and big.rule == "max_prompt_tokens" and big.status == 422

    blocked = ModelRequest(
        messages=[{"role": "user", "content": [{"type": "text", "text": "SSN?"}]}]
    )
    with pytest.raises(RuleViolation, match="blocked_terms of tenant acme"):
        check_content(content, blocked)
    tool = ModelRequest(
        messages=[{"role": "user", "content": "hi"}],
        tools=[{"type": "function", "function": {"name": "lookup_ssn", "description": "an SSN"}}],
    )
    with pytest.raises(RuleViolation):
        check_content(content, tool)


def test_a_fixed_tier_is_cut_inside_the_tier_or_refused(catalog: Catalog) -> None:
    eu = rules(ProviderRules(allowed_regions=("eu",)))
    route = route_request(FixedTier("frontier"), catalog)
    cut = allowed_route(eu, route, ASK, 256)
    assert [m.name for m in cut.candidates] == ["frontier-b"]
    assert "provider rules exclude frontier-a (allowed_regions of tenant acme)" in cut.reason

    edge_only = rules(ProviderRules(allowed_models=("edge-a", "edge-b")))
    with pytest.raises(RuleViolation) as refused:
        allowed_route(edge_only, route, ASK, 256)
    assert refused.value.status == 403 and refused.value.rule == "allowed_models"
    assert "no model allowed for frontier" in str(refused.value)


def test_a_named_model_outside_the_rules_is_refused_not_swapped(catalog: Catalog) -> None:
    eu = rules(ProviderRules(allowed_regions=("eu",)))
    route = route_request(FixedModel("mid-a"), catalog)  # mid-a (us), then mid-b (eu)
    with pytest.raises(RuleViolation, match="mid-a runs in region us"):
        allowed_route(eu, route, ASK, 256)


def test_nothing_allowed_at_all_is_refused_before_routing(catalog: Catalog) -> None:
    nothing = rules(ProviderRules(allowed_providers=("acme-cloud",)))
    with pytest.raises(RuleViolation, match="rule allowed_providers of tenant acme"):
        allowed_catalog(nothing, catalog, ASK, 256)
    assert allowed_catalog(EffectiveRules(), catalog, ASK, 256) == (catalog, {})


def test_rules_documents_are_validated_and_checked_against_the_catalog(catalog: Catalog) -> None:
    with pytest.raises(ValidationError):
        ProviderRules(max_usd_per_call=0)
    with pytest.raises(ValidationError):
        ProviderRules(blocked_terms=("  ",))
    with pytest.raises(ValidationError):
        ProviderRules.model_validate({"allowed_models": ["edge-a"], "surprise": 1})
    typo = ProviderRules(allowed_models=("edge-z",), allowed_regions=("mars",))
    problems = typo.catalog_problems(catalog)
    assert [loc for loc, _ in problems] == [("allowed_models", 0), ("allowed_regions", 0)]


def test_the_fingerprint_follows_the_rules() -> None:
    a = rules(ProviderRules(allowed_regions=("eu",)))
    b = rules(ProviderRules(allowed_regions=("us",)))
    assert a.fingerprint != b.fingerprint != EffectiveRules().fingerprint
    assert a.fingerprint == rules(ProviderRules(allowed_regions=("eu",))).fingerprint
