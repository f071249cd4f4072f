"""A data-free concept bottleneck: class rows as a few non-negative concepts, judged against the original head."""

from __future__ import annotations

import pytest
import torch

from nlexnb.bottleneck import concept_bottleneck, sparse_nonnegative_fit
from nlexnb.concepts import ConceptBank
from nlexnb.space import ConceptSpace


def test_the_fit_recovers_a_sparse_non_negative_combination_exactly():
    q, _ = torch.linalg.qr(torch.randn(16, 8, generator=torch.Generator().manual_seed(0)))
    v = q.T  # 8 orthonormal directions
    rows = torch.stack([2 * v[0] + 0.5 * v[3], v[5] - v[6], -v[1]])
    weights = sparse_nonnegative_fit(rows, v, 3)
    expected = torch.zeros(3, 8, dtype=torch.float64)
    expected[0, 0], expected[0, 3] = 2.0, 0.5
    expected[1, 5] = 1.0  # the negative part cannot be written with non-negative weights
    assert torch.allclose(weights, expected, atol=1e-6)  # row 2 correlates with nothing positively: no concepts


def test_the_fit_keeps_to_its_budget_and_to_the_allowed_directions():
    g = torch.Generator().manual_seed(1)
    v = torch.nn.functional.normalize(torch.randn(40, 12, generator=g), dim=1)
    rows = torch.randn(5, 12, generator=g)
    allowed = torch.arange(40) % 2 == 0
    weights = sparse_nonnegative_fit(rows, v, 4, allowed=allowed)
    assert (weights >= 0).all() and ((weights > 0).sum(1) <= 4).all() and not (weights[:, ~allowed] > 0).any()
    more = sparse_nonnegative_fit(rows, v, 8, allowed=allowed)
    left = [(rows.double() - w @ v.double()).norm(dim=1) for w in (weights, more)]
    assert (left[1] <= left[0] + 1e-9).all()  # a larger budget never fits worse


@pytest.fixture(scope="module")
def space(classifier, ridge_mapper):
    return ConceptSpace(classifier, ridge_mapper, ConceptBank.visual().texts[::8] + ["espresso", "tabby cat"])


def test_a_bottleneck_predicts_through_concept_scores_alone(space, photos):
    cbm = concept_bottleneck(space, n_concepts=6)
    assert (cbm.weights >= 0).all() and ((cbm.weights > 0).sum(1) <= 6).all()
    assert not (cbm.weights[:, space.excluded] > 0).any()  # class names never explain a class
    clf = space.classifier
    f = clf.features(list(photos.values()))
    scores = f @ space.directions.T
    expected = scores @ cbm.weights.T.float() + (f @ clf.head_weight.mean(0))[:, None] + clf.head_bias
    assert torch.allclose(cbm.logits_from_features(f), expected, atol=1e-4)
    same = (expected.argmax(1) == clf.head(f).argmax(1)).float().mean()
    assert cbm.agreement(list(photos.values())) == pytest.approx(float(same))
    assert cbm.predict(list(photos.values())) == [clf.class_names[i] for i in expected.argmax(1).tolist()]


def test_a_larger_budget_leaves_less_of_the_rows_out_and_recipes_read_as_tables(space):
    small, large = concept_bottleneck(space, n_concepts=2), concept_bottleneck(space, n_concepts=8)
    assert float(large.residual.mean()) < float(small.residual.mean()) <= 1.0
    recipe = large.recipe("espresso")
    assert list(recipe.columns) == ["concept", "weight", "share"] and 0 < len(recipe) <= 8
    assert recipe["share"].sum() == pytest.approx(1.0) and recipe["weight"].is_monotonic_decreasing
    assert "espresso" not in set(recipe["concept"]) and "8 concepts per class" in repr(large)
    first_half = torch.arange(len(space)) < len(space) // 2
    restricted = concept_bottleneck(space, n_concepts=4, allowed=first_half)
    assert not (restricted.weights[:, ~first_half] > 0).any() and (restricted.weights > 0).any()


def test_mistakes_are_named(space, classifier, ridge_mapper):
    for bad in (0, -3, 2.5, "many"):
        with pytest.raises((ValueError, TypeError), match="n_concepts"):
            concept_bottleneck(space, n_concepts=bad)
    with pytest.raises(ValueError, match="needs others"):
        concept_bottleneck(classifier, ridge_mapper, ["espresso", "tabby cat"], n_concepts=2)
    with pytest.raises(ValueError, match="not a class"):
        concept_bottleneck(space, n_concepts=2).recipe("not a class at all")
