"""Checks whose oracle is independent of the code under test.

The ablation identity ``w . P f == head(f) - head(f - P f)`` holds for ANY matrix ``P`` (the head is linear), so
comparing the two says nothing about the projector. Here every number from nlexnb is checked against something computed
another way:

- the projection onto the span of the directions: ``numpy.linalg.lstsq`` (LAPACK's SVD-based least squares), never
  :func:`nlexnb.explain.orthonormal_basis`;
- the logits: the timm model's own classifier layer (``classifier.model.get_classifier()``), never
  ``Classifier.head`` / ``Classifier.head_weight``;
- the caches: calls to the real encoder counted by a thin pass-through wrapper.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from collections import Counter

import numpy as np
import pytest
import torch

from nlexnb import metrics
from nlexnb.concepts import ConceptBank
from nlexnb.explain import Explainer, measured_drop, orthonormal_basis, project_out
from nlexnb.text import TextEncoder

CONCEPTS = [
    "cat", "striped fur", "whiskers", "a small cup", "dark brown liquid", "foam", "a saucer", "a spoon", "grass",
]  # fmt: skip


# ---- independent oracles ---------------------------------------------------------------------------------------------
def lstsq_residual(directions, features) -> np.ndarray:
    """``f - D^T x`` with ``x = argmin ||D^T x - f||`` (numpy's SVD-based lstsq, rank-deficient D included), float64.

    ``features``: [d] or [n, d]."""
    d = np.asarray(directions, dtype=np.float64)
    f = np.asarray(features, dtype=np.float64)
    x, *_ = np.linalg.lstsq(d.T, f.T, rcond=None)
    return f - (d.T @ x).T


def as_numpy(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().double().numpy()


def projector(directions: torch.Tensor) -> torch.Tensor:
    """``P = B^T B`` from the code under test's basis."""
    basis = orthonormal_basis(directions)
    return basis.T @ basis


def close(a: float, b: float, rel: float = 1e-4) -> bool:
    return math.isclose(a, b, rel_tol=rel, abs_tol=1e-6)


@pytest.fixture(scope="module")
def explainer(classifier, ridge_mapper):
    return Explainer(classifier, ridge_mapper, ConceptBank(CONCEPTS) + ConceptBank.common_words(400))


@pytest.fixture(scope="module")
def real_head(classifier):
    """The timm model's own classifier layer, in float64 (a copy: the model itself is untouched)."""
    head = classifier.model.get_classifier()
    assert isinstance(head, torch.nn.Linear)
    return copy.deepcopy(head).double().eval()


@pytest.fixture(scope="module")
def features(classifier, photos):
    """Pre-logits features of three sample photos [3, d] (float32, as the classifier gives them)."""
    return classifier.features([photos["coffee"], photos["chelsea"], photos["rocket"]])


def oracle_drop(real_head, f: torch.Tensor, directions: torch.Tensor, target: int, foil: int | None = None):
    """Drop of ``z_target`` (or ``z_target - z_foil``) when the span of ``directions`` leaves ``f``, two ways, both
    with the lstsq residual ``f_perp``: ``w . (f - f_perp)`` with the real layer's weight rows, and the real layer
    re-run on ``f`` and ``f_perp``."""
    f64 = as_numpy(f)
    perp = lstsq_residual(as_numpy(directions), f64)
    weight = real_head.weight.detach().numpy()
    w = weight[target] - (weight[foil] if foil is not None else 0.0)
    linear = float(w @ (f64 - perp))
    with torch.no_grad():
        z = real_head(torch.from_numpy(np.stack([f64, perp])))
    gap = z[:, target] - (z[:, foil] if foil is not None else 0.0)
    return linear, float(gap[0] - gap[1])


def indices_of(explainer: Explainer, explanation) -> list[int]:
    return [explainer.bank.texts.index(c) for c in explanation.concepts["concept"]]


# ---- 1. the projector: algebra, span, and project_out against least squares ------------------------------------------
def _random_case(name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(directions [k, d], features [n, d]) for one named case (float64 unless the name says float32)."""
    g = torch.Generator().manual_seed(7)
    d = 64
    a, b, c, e = torch.randn(4, d, generator=g, dtype=torch.float64)
    feats = torch.randn(3, d, generator=g, dtype=torch.float64)
    cases = {
        "independent": torch.randn(6, d, generator=g, dtype=torch.float64),
        "float32": torch.randn(6, d, generator=g, dtype=torch.float64).float(),
        "more rows than dims": torch.randn(d + 16, d, generator=g, dtype=torch.float64),
        "duplicate last": torch.stack([a, b, c, a]),
        "zero last": torch.stack([a, b, c, torch.zeros(d, dtype=torch.float64)]),
        "duplicate first": torch.stack([a, a, b, c]),
        "zero first": torch.stack([torch.zeros(d, dtype=torch.float64), a, b, c]),
        "combination in the middle": torch.stack([a, b, a - 2 * b, c, e]),
        "duplicate float32": torch.stack([a, a, b, c]).float(),
    }
    directions = cases[name]
    return directions, feats.to(directions.dtype)


RANDOM_CASES = [
    "independent",
    "float32",
    "more rows than dims",
    "duplicate last",
    "zero last",
    "duplicate first",
    "zero first",
    "combination in the middle",
    "duplicate float32",
]


def _check_algebra(directions: torch.Tensor) -> None:
    """P is an orthogonal projector whose rank is the numerical rank of the directions."""
    p = projector(directions)
    eye_tol = 1e-10
    assert p.dtype == torch.float64
    torch.testing.assert_close(p @ p, p, atol=eye_tol, rtol=0)
    torch.testing.assert_close(p, p.T, atol=eye_tol, rtol=0)
    rank = int(torch.linalg.matrix_rank(directions))
    assert round(float(p.trace())) == rank  # the trace of an orthogonal projector is its rank
    if p.shape[0] <= 256:  # an SVD of the real [1280, 1280] P costs seconds on a small CPU
        assert int(torch.linalg.matrix_rank(p)) == rank


def _check_span(directions: torch.Tensor, feats: torch.Tensor, atol: float) -> None:
    """P fixes every direction, and project_out equals the least-squares residual (one vector and a batch)."""
    p = projector(directions)
    d64 = directions.double()
    for i, row in enumerate(d64):
        torch.testing.assert_close(p @ row, row, atol=atol * max(1.0, float(row.norm())), rtol=0, msg=f"row {i}")
    out = project_out(feats, directions)
    assert out.dtype == feats.dtype and out.shape == feats.shape
    np.testing.assert_allclose(as_numpy(out), lstsq_residual(as_numpy(directions), as_numpy(feats)), atol=atol)
    np.testing.assert_allclose(as_numpy(project_out(feats[0], directions)), as_numpy(out[0]), atol=atol)


@pytest.mark.parametrize("case", RANDOM_CASES)
def test_projector_is_an_orthogonal_projector_of_the_right_rank(case):
    directions, _ = _random_case(case)
    _check_algebra(directions)


@pytest.mark.parametrize(
    "case",
    [c for c in RANDOM_CASES],
)
def test_projector_spans_the_directions_and_project_out_is_least_squares(case):
    directions, feats = _random_case(case)
    _check_span(directions, feats, atol=1e-4 if directions.dtype == torch.float32 else 1e-9)


def _real_case(name: str, explainer, features) -> torch.Tensor:
    dirs = explainer.directions
    g = torch.Generator().manual_seed(3)
    chosen = explainer.select(features[0], int(explainer.classifier.head(features[0]).argmax()), 5)[0]
    subset = [i for i in torch.randperm(len(dirs), generator=g).tolist() if i not in chosen][:48]
    if name == "named and random":
        return dirs[chosen + subset]
    if name == "named, one repeated first":
        return dirs[[chosen[1]] + chosen + subset]
    raise KeyError(name)


@pytest.mark.parametrize(
    "case",
    [
        "named and random",
        "named, one repeated first",
    ],
)
def test_projector_on_real_concept_directions(case, explainer, features):
    directions = _real_case(case, explainer, features)
    assert directions.dtype == torch.float32
    _check_algebra(directions)
    _check_span(directions, features, atol=1e-4)  # float32 features and directions, as the explainer holds them


def test_projector_on_the_whole_bank(explainer, features):
    """All the bank's directions: centring makes them dependent up to float32 rounding (their sum is ~0), so the
    numerical rank is that of float32 (one less than the rows) or float64 (all rows); P must be one of them, still a
    projector, and still fix every direction."""
    directions = explainer.directions
    p = projector(directions)
    torch.testing.assert_close(p @ p, p, atol=1e-10, rtol=0)
    torch.testing.assert_close(p, p.T, atol=1e-10, rtol=0)
    ranks = {int(torch.linalg.matrix_rank(directions)), int(torch.linalg.matrix_rank(directions.double()))}
    assert round(float(p.trace())) in ranks  # the trace of an orthogonal projector is its rank
    torch.testing.assert_close(directions.double() @ p, directions.double(), atol=1e-6, rtol=0)
    np.testing.assert_allclose(
        as_numpy(project_out(features, directions)), lstsq_residual(as_numpy(directions), as_numpy(features)), atol=1e-4
    )


# ---- 2. the ablation drop of an explanation, against lstsq + the real classifier layer -------------------------------
def test_real_classifier_layer_reproduces_the_models_logits(classifier, photos, features, real_head):
    """The oracle's head is the model's: its logits on the features are the model's own logits."""
    logits = classifier.logits([photos["coffee"], photos["chelsea"], photos["rocket"]])
    with torch.no_grad():
        again = real_head(features.double())
    torch.testing.assert_close(again.float(), logits, atol=1e-4, rtol=1e-5)


@pytest.mark.parametrize("photo, foil", [("coffee", None), ("chelsea", None), ("chelsea", "second")])
def test_explanation_total_matches_lstsq_and_the_real_classifier_layer(
    photo, foil, explainer, classifier, photos, real_head
):
    f = classifier.features([photos[photo]])[0]
    if foil == "second":
        foil = int(classifier.logits([photos[photo]])[0].topk(2).indices[1])
    explanation = explainer.explain(photos[photo], k=5, foil=foil, heatmaps=False)
    chosen = indices_of(explainer, explanation)
    assert len(chosen) >= 2
    linear, rerun = oracle_drop(real_head, f, explainer.directions[chosen], explanation.target, foil)
    assert abs(linear) > 0.05  # a real drop, not two zeros agreeing
    assert close(linear, rerun), (linear, rerun)
    assert close(explanation.total, linear), (explanation.total, linear)
    assert close(explanation.measured, rerun), (explanation.measured, rerun)
    # the public helpers, on the same concepts
    closed, measured = metrics.ablation_drop(explainer, f, chosen, explanation.target, foil)
    assert close(closed, linear) and close(measured, rerun), (closed, measured, linear)
    assert close(measured_drop(classifier, f, explainer.directions[chosen], explanation.target, foil), rerun)


def test_a_broken_basis_passes_the_tautology_but_fails_the_oracle(explainer, classifier, photos, real_head):
    """Negative control: with a basis that is not orthonormal (the named directions, skewed) or that spans the
    wrong subspace (one direction missing), ``w . P f`` still equals ``head(f) - head(f - P f)`` (the old check
    passes), while the oracle comparison used above fails by a wide margin."""
    f = classifier.features([photos["coffee"]])[0].double()
    explanation = explainer.explain(photos["coffee"], k=5, heatmaps=False)
    target = explanation.target
    dirs = explainer.directions[indices_of(explainer, explanation)].double()
    oracle, _ = oracle_drop(real_head, f, dirs, target)
    weight = real_head.weight.detach()
    good = orthonormal_basis(dirs)
    skewed = dirs + 0.5 * dirs[:1]  # the same span, rows made far from orthonormal whatever the named directions
    broken = {
        "non-orthonormal rows": skewed,
        "scaled basis": 1.5 * good,
        "one direction missing": orthonormal_basis(dirs[:-1]),
    }
    gram = skewed @ skewed.T
    assert (gram - torch.eye(len(dirs), dtype=gram.dtype)).abs().max() > 0.1  # the rows really are not orthonormal
    for name, basis in broken.items():
        p = basis.T @ basis
        closed = float(weight[target] @ (p @ f))
        with torch.no_grad():
            z = real_head(torch.stack([f, f - p @ f]))
        tautology = float(z[0, target] - z[1, target])
        assert abs(closed - tautology) < 1e-9, name  # the tautological check cannot tell
        assert not close(closed, oracle), (name, closed, oracle)
        assert abs(closed - oracle) > 0.02 * abs(oracle), (name, closed, oracle)  # 200x the tolerance
    assert close(float(weight[target] @ (good.T @ (good @ f))), oracle)  # and passes for the real basis


def test_ablation_drop_of_a_repeated_concept_is_least_squares(explainer, features, real_head):
    """Repeating a concept does not change the span, so it must not change the drop (closed form or measured)."""
    f = features[0]
    with torch.no_grad():
        target = int(real_head(f.double()).argmax())
    linear, _ = oracle_drop(real_head, f, explainer.directions[[7, 3, 8]], target)
    for concepts in ([7, 3, 8], [3, 7, 3, 8]):
        closed, measured = metrics.ablation_drop(explainer, f, concepts, target)
        assert close(closed, linear) and close(measured, linear), (concepts, closed, measured, linear)


# ---- 3. contributions: the greedy marginal gains, against successive least squares -----------------------------------
@pytest.mark.parametrize("photo, foil", [("coffee", None), ("chelsea", "second")])
def test_contributions_are_successive_least_squares_gains(photo, foil, explainer, classifier, photos, real_head):
    """Gain j = (lstsq drop of the first j named directions) - (lstsq drop of the first j - 1); and the order of the
    default (greedy) selection: at step j, the concept named j gains at least as much as any concept named later would
    have gained there, each gain weighted by the concept's prior (its relevance to the explained class)."""
    f = classifier.features([photos[photo]])[0]
    if foil == "second":
        foil = int(classifier.logits([photos[photo]])[0].topk(2).indices[1])
    explanation = explainer.explain(photos[photo], k=5, foil=foil, heatmaps=False)
    target = explanation.target
    chosen, gains = explainer.select(f, target, 5, foil)
    assert chosen == indices_of(explainer, explanation)
    np.testing.assert_allclose(explanation.concepts["contribution"], gains, rtol=1e-6, atol=1e-9)
    dirs = explainer.directions

    def drop(concepts: list[int]) -> float:
        return oracle_drop(real_head, f, dirs[concepts], target, foil)[0] if concepts else 0.0

    weights = explainer.prior(target, chosen)  # None unless the explainer prefers relevant concepts
    prior = dict(zip(chosen, [1.0] * len(chosen) if weights is None else weights.tolist()))
    scale = max(1.0, abs(explanation.explained))
    for j in range(len(chosen)):
        before = drop(chosen[:j])
        gain = drop(chosen[: j + 1]) - before
        assert abs(gain - gains[j]) <= 1e-4 * scale, (j, gain, gains[j])
        assert gain > 0
        for later in chosen[j + 1 :]:
            later_gain = drop(chosen[:j] + [later]) - before
            assert later_gain * prior[later] <= gain * prior[chosen[j]] + 1e-6 * scale, explainer.bank.texts[later]
    assert abs(drop(chosen) - explanation.total) <= 1e-4 * scale


# ---- 4. the caches, counting calls to the real encoder ---------------------------------------------------------------
class CountingModel:
    """Pass-through wrapper of a SentenceTransformer: records the texts of every ``encode`` call, then calls it."""

    def __init__(self, model) -> None:
        self._model = model
        self.calls: list[list[str]] = []

    def encode(self, texts, *args, **kwargs):
        self.calls.append(list(texts))
        return self._model.encode(texts, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._model, name)


class CountingEncoder(TextEncoder):
    """The real TextEncoder (its own cache included), recording every ``encode`` call made to it."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.calls: list[list[str]] = []

    def encode(self, texts, progress=None):
        self.calls.append([texts] if isinstance(texts, str) else list(texts))
        return super().encode(texts, progress=progress)


def direct_embeddings(encoder, texts: list[str]) -> torch.Tensor:
    """The oracle for the cached values: the SentenceTransformer itself, no cache in between."""
    with torch.inference_mode():
        emb = encoder.model.encode(texts, convert_to_tensor=True, normalize_embeddings=True, show_progress_bar=False)
    return emb.float().cpu()


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    """An empty cache folder for this test only (``NLEXNB_CACHE`` is read when a cache is created)."""
    monkeypatch.setenv("NLEXNB_CACHE", str(tmp_path))
    return tmp_path


def test_text_cache_encodes_each_new_text_once(encoder, fresh_cache):
    model = CountingModel(encoder.model)
    texts = ["a cache probe: red kite", "a cache probe: wet slate", "a cache probe: red kite", "a cache probe: moss"]
    unique = list(dict.fromkeys(texts))
    cached = TextEncoder(model, encoder.name, encoder.device)
    first = cached.encode(texts)
    assert len(model.calls) == 1 and Counter(model.calls[0]) == Counter(unique)  # each new text once, in one call
    assert list(fresh_cache.glob("text/*/shard-*.safetensors")), "the cache must be written under NLEXNB_CACHE"
    torch.testing.assert_close(first[[0, 1, 3]], direct_embeddings(encoder, unique), atol=1e-5, rtol=1e-5)
    assert torch.equal(first[0], first[2])

    again = cached.encode(texts)
    assert len(model.calls) == 1  # no model call
    assert torch.equal(again, first)

    reopened = TextEncoder(model, encoder.name, encoder.device)  # a new object reads the shards from disk
    assert torch.equal(reopened.encode(texts), first)
    assert len(model.calls) == 1

    grown = cached.encode(texts + ["a cache probe: blue tarp"])
    assert model.calls[1:] == [["a cache probe: blue tarp"]]  # only the new text
    assert torch.equal(grown[:-1], first)
    torch.testing.assert_close(
        grown[-1:], direct_embeddings(encoder, ["a cache probe: blue tarp"]), atol=1e-5, rtol=1e-5
    )


def test_mapped_vector_cache_skips_the_encoder(encoder, ridge_mapper, fresh_cache):
    model = CountingModel(encoder.model)
    counting = CountingEncoder(model, encoder.name, encoder.device)
    mapper = dataclasses.replace(ridge_mapper, text_encoder=counting)
    texts = ["a cache probe: rusty hinge", "a cache probe: frosted glass", "a cache probe: coiled rope"]
    bank = ConceptBank(texts)
    first = bank.encode(mapper)
    assert len(counting.calls) == 1 and Counter(counting.calls[0]) == Counter(texts)
    assert len(model.calls) == 1 and Counter(model.calls[0]) == Counter(texts)
    with torch.inference_mode():
        expected = ridge_mapper.net(direct_embeddings(encoder, texts).to(ridge_mapper.device)).float()
    torch.testing.assert_close(first, expected, atol=1e-4, rtol=1e-4)

    again = ConceptBank(texts).encode(mapper)
    assert len(counting.calls) == 1 and len(model.calls) == 1  # served by the mapped-vector cache: no encoder call
    assert torch.equal(again, first)

    grown = ConceptBank(texts + ["a cache probe: chalk dust"]).encode(mapper)
    assert counting.calls[1:] == [["a cache probe: chalk dust"]]
    assert model.calls[1:] == [["a cache probe: chalk dust"]]
    assert torch.equal(grown[:-1], first)
