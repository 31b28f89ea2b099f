from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from app.routing.catalog import load_catalog
from app.routing.policy import FixedModel, FixedTier, route_request


def test_shipped_catalog_has_three_tiers_at_2026_prices() -> None:
    catalog = load_catalog()
    assert set(catalog.tiers) == {"frontier", "mid", "edge"}
    assert catalog.chain("frontier")[0].price_per_mtok.input == 7.50
    assert catalog.chain("mid")[0].price_per_mtok.input == 3.00
    assert catalog.chain("edge")[0].price_per_mtok.input == 0.35
    for tier in catalog.tiers:
        assert len(catalog.chain(tier)) >= 2, f"{tier} needs a fallback model"


def test_cost_discounts_cached_prompt_tokens() -> None:
    model = load_catalog().model("frontier-a")
    full = model.cost_usd(1_000_000, 0)
    cached = model.cost_usd(1_000_000, 0, cached_tokens=1_000_000)
    assert full == pytest.approx(7.50)
    assert cached == pytest.approx(0.75)
    assert model.cost_usd(0, 1_000_000) == pytest.approx(30.0)
    # cached tokens beyond the prompt are not discounted twice
    assert model.cost_usd(10, 0, cached_tokens=50) == pytest.approx(model.cost_usd(10, 0, 10))


def test_catalog_rejects_a_tier_listing_an_unknown_model(tmp_path: Path) -> None:
    data = yaml.safe_load(Path("app/routing/catalog.yaml").read_text())
    data["tiers"]["mid"]["models"].append("no-such-model")
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ValidationError, match="unknown model 'no-such-model'"):
        load_catalog(path)


def test_catalog_rejects_a_model_under_the_wrong_tier(tmp_path: Path) -> None:
    data = yaml.safe_load(Path("app/routing/catalog.yaml").read_text())
    data["tiers"]["frontier"]["models"].append("edge-a")
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ValidationError, match="listed under 'frontier'"):
        load_catalog(path)


def test_fixed_tier_route_is_the_tier_chain_only() -> None:
    catalog = load_catalog()
    route = route_request(FixedTier("mid"), catalog, node="synthesize")
    assert [m.name for m in route.candidates] == ["mid-a", "mid-b"]
    assert "fixed tier mid" in route.reason and "synthesize" in route.reason


def test_fixed_model_route_falls_back_within_its_tier() -> None:
    route = route_request(FixedModel("frontier-b"), load_catalog())
    assert [m.name for m in route.candidates] == ["frontier-b", "frontier-a"]
