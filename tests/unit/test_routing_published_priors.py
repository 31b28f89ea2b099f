"""Published scores as priors (catalog `task_priors`): prior knowledge `auto` starts from."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from app.routing.arms import ModelOption, model_estimate, rescale_published
from app.routing.catalog import Catalog, ModelSpec, Prices, TaskPrior, load_catalog
from app.routing.classifier import TaskClassifier
from app.routing.clusters import ClusterMatch
from app.routing.model_route import model_options
from app.routing.observations import ANY, Cell, CellKey, Counts, level_keys, model_arm
from app.routing.online import OnlineView
from app.routing.online_config import OnlineConfig
from app.routing.policy import Auto, RouteInputs
from devtools.bench.many_models import load_published_priors
from devtools.bench.routerbench_data import ROUTERBENCH_MODELS

MATCH = ClusterMatch("ood:c01", 0.01, 9.0, False, "topic similarity 0.01 < 0.05")
CODE = "Write a python function to find the first repeated character in a given string."


def spec(name: str = "m", **published: TaskPrior) -> ModelSpec:
    return ModelSpec(
        name=name,
        tier="mid",
        provider="recorded",
        litellm_model=name,
        price_per_mtok=Prices(input=1.0, output=1.0, cached_input=0.0),
        context_window=8_000,
        task_priors=published,
    )


def cells(
    name: str, *, elsewhere: tuple[float, float] = (0, 0), here: tuple[float, float] = (0, 0)
) -> dict[CellKey, Cell]:
    """The model's cells for class `code`: (events, good) in other classes and in `code`."""
    wide, narrow = level_keys(ANY, "code", "ood:c01", model_arm(name), "", ANY)[:2]
    n_here, good_here = here
    n_all, good_all = elsewhere[0] + n_here, elsewhere[1] + good_here
    return {
        wide: Cell({"user": Counts(n_all, good_all, 0.7 * n_all)}),
        narrow: Cell({"user": Counts(n_here, good_here, 0.7 * n_here)}),
    }


def view(found: dict[CellKey, Cell], config: OnlineConfig) -> OnlineView:
    return OnlineView("code", MATCH, "ood:c01", ANY, found, config)


def test_a_published_score_must_say_where_it_was_published() -> None:
    with pytest.raises(ValidationError):
        TaskPrior(success=0.8, source="")
    with pytest.raises(ValidationError):
        TaskPrior(success=1.2, source="a leaderboard")
    assert spec(code=TaskPrior(success=0.77, source="x")).task_priors["code"].success == 0.77


def test_a_published_score_is_the_prior_worth_its_strength_and_counts_as_known() -> None:
    config = OnlineConfig(catalog_prior_strength=16.0)
    published = ModelOption(spec(), 0.4, False, 1.0, catalog_prior=True)
    weak = ModelOption(spec(), 0.7, False, 1.0)
    estimate = model_estimate(view({}, config), published)
    assert estimate.mean == pytest.approx(0.4)
    assert estimate.strength == pytest.approx(16.0)
    assert published.known(estimate, config)  # may be chosen without exploring it first
    assert not weak.known(model_estimate(view({}, config), weak), config)


def test_other_classes_events_do_not_outweigh_a_published_score() -> None:
    config = OnlineConfig(catalog_prior_strength=16.0)
    found = cells("m", elsewhere=(200, 190))  # right 95% of the time on other tasks
    published = ModelOption(spec(), 0.4, False, 1.0, catalog_prior=True)
    weak = ModelOption(spec(), 0.7, False, 1.0)
    assert model_estimate(view(found, config), published).mean == pytest.approx(0.4)
    assert model_estimate(view(found, config), weak).mean > 0.85  # pooled across classes
    unpooled = OnlineConfig(pool_classes=False)
    assert model_estimate(view(found, unpooled), weak).mean == pytest.approx(0.7)


def test_the_class_own_feedback_moves_a_published_score() -> None:
    config = OnlineConfig(catalog_prior_strength=16.0)
    found = cells("m", here=(100, 60))
    published = ModelOption(spec(), 0.85, False, 1.0, catalog_prior=True)
    assert 0.6 < model_estimate(view(found, config), published).mean < 0.66


def test_auto_starts_an_unfamiliar_request_from_the_model_published_score() -> None:
    c = TaskClassifier.load().classify([{"role": "user", "content": CODE}])
    shipped = load_catalog()
    scored = shipped.model("edge-a").model_copy(
        update={"task_priors": {c.task_class: TaskPrior(success=0.42, source="a leaderboard")}}
    )
    catalog = Catalog.model_validate(
        {**shipped.model_dump(), "models": {**shipped.model_dump()["models"], "edge-a": scored}}
    )
    options = model_options(
        Auto(),
        catalog,
        RouteInputs(200, c, online=view({}, OnlineConfig())),
        view({}, OnlineConfig()),
    )
    by_name = {o.model.name: o for o in options}
    assert by_name["edge-a"].catalog_prior and by_name["edge-a"].prior == pytest.approx(0.42)
    assert not by_name["edge-b"].catalog_prior
    assert by_name["edge-b"].prior == pytest.approx(shipped.unknown_prior["edge"])


def test_every_published_figure_for_routerbench_models_names_a_model_and_its_source() -> None:
    published = load_published_priors()
    assert set(published) <= set(ROUTERBENCH_MODELS)
    assert "gpt-3.5-turbo-1106" in published  # the cheap model that matches GPT-4 on code
    for scores in published.values():
        assert all(p.source and 0 < p.success < 1 for p in scores.values())


def test_what_one_published_model_shows_puts_the_others_on_this_traffic_scale() -> None:
    # 'a' was rated on 100 requests, right on 60 where its published 0.75 predicted 75.
    in_class = level_keys(ANY, "code", "ood:c01", model_arm("a"), "", ANY)[1]
    found = {in_class: Cell({"user": Counts(100, 60, 75)})}
    published = [
        ModelOption(spec("a"), 0.75, False, 0.1, catalog_prior=True),
        ModelOption(spec("b"), 0.85, False, 1.0, catalog_prior=True),
        ModelOption(spec("c"), 0.7, False, 0.5),  # no published score: left alone
    ]
    scale = (60 + 10) / (75 + 10)
    a, b, c = rescale_published(published, view(found, OnlineConfig(published_scale_strength=10)))
    assert b.prior == pytest.approx(0.85 * scale)  # harder here than on the leaderboard
    assert a.prior == pytest.approx(0.75)  # its own events move its estimate, not its prior
    assert c.prior == pytest.approx(0.7)
    unscaled = rescale_published(
        published, view(found, OnlineConfig(published_scale_strength=None))
    )
    assert [o.prior for o in unscaled] == [0.75, 0.85, 0.7]
