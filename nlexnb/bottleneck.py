"""A concept bottleneck without data: each class row written as a few concepts, from the head's weights and names alone.

The classifier's head scores class ``c`` with ``W[c] . f + b[c]``. With the concept directions ``V`` of a
:class:`~nlexnb.space.ConceptSpace` (mapped concept texts, centred on the bank's mean, unit length), each centred class
row ``W[c] - mean(W)`` is approximated by a sparse non-negative combination ``sum_j A[c, j] V[j]`` with at most
``n_concepts`` terms (non-negative orthogonal matching pursuit: add the concept most correlated with what is left,
refit the weights on the support with non-negative least squares, repeat). The bottleneck's logits are then
``A @ (V f) + mean(W) . f + b``: the image enters only through its concept scores ``V f`` (the bottleneck layer) and
a term shared by every class, so predictions are decided by the concepts alone. Class names and peoples are never
concepts (:attr:`~nlexnb.space.ConceptSpace.excluded`), so a class cannot be its own recipe.

Judge it by :meth:`ConceptBottleneck.agreement` (top-1 agreement with the original head on images you have) and by
reading its recipes (:meth:`ConceptBottleneck.recipe`); ``benchmarks/bench_bottleneck.py`` prints both beside random
concepts given the same budget. No images are used to fit it.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import torch

from ._checks import positive_int
from .images import ImageInput
from .space import ConceptSpace, concept_space

__all__ = ["ConceptBottleneck", "concept_bottleneck", "sparse_nonnegative_fit"]


def sparse_nonnegative_fit(
    rows: torch.Tensor,
    directions: torch.Tensor,
    n: int,
    *,
    allowed: torch.Tensor | None = None,
    steps: int = 100,
) -> torch.Tensor:
    """Non-negative orthogonal matching pursuit for every row at once: weights ``A`` [R, T] >= 0 with at most ``n``
    non-zeros per row such that ``A @ directions`` approximates ``rows`` [R, d] in least squares.

    Each step adds, per row, the allowed direction (``allowed`` [T] bool, default all) with the largest positive
    correlation with the row's residual, then refits the row's weights on its support by projected gradient descent
    (``steps`` iterations, non-negative). A row stops growing when no direction correlates positively with what is
    left of it."""
    r, t = rows.shape[0], directions.shape[0]
    n = min(positive_int(n, "n", "concepts per row"), t)
    rows, v = rows.double(), directions.double()
    allowed = torch.ones(t, dtype=torch.bool, device=v.device) if allowed is None else allowed.to(v.device)
    support = torch.zeros(r, 0, dtype=torch.long, device=v.device)
    coef = torch.zeros(r, 0, dtype=torch.float64, device=v.device)
    residual = rows.clone()
    done = torch.zeros(r, dtype=torch.bool, device=v.device)
    for _ in range(n):
        score = (residual @ v.T).masked_fill(~allowed, -torch.inf)
        score.scatter_(1, support, -torch.inf)  # a direction joins a row's support once
        best = score.max(1)
        done |= ~(best.values > 0)
        if bool(done.all()):
            break
        # finished rows repeat their first direction with a zero weight, so every row keeps the same support size
        pick = torch.where(done, support[:, 0] if support.shape[1] else best.indices, best.indices)
        support = torch.cat([support, pick[:, None]], 1)
        coef = torch.cat([coef, torch.zeros(r, 1, dtype=torch.float64, device=v.device)], 1)
        live = torch.cat([torch.ones(r, support.shape[1] - 1, dtype=torch.bool, device=v.device), ~done[:, None]], 1)
        basis = v[support]  # [R, s, d]
        gram = basis @ basis.transpose(1, 2)  # [R, s, s]
        target = torch.einsum("rsd,rd->rs", basis, rows)
        step = 1.0 / torch.linalg.eigvalsh(gram)[:, -1].clamp_min(1e-12)
        for _ in range(steps):
            coef = (coef + step[:, None] * (target - torch.einsum("rst,rt->rs", gram, coef))).clamp_min(0) * live
        residual = rows - torch.einsum("rs,rsd->rd", coef, basis)
    weights = torch.zeros(r, t, dtype=torch.float64, device=v.device)
    if support.shape[1]:
        weights.scatter_add_(1, support, coef)
    return weights


@dataclass
class ConceptBottleneck:
    """A head that sees an image only through its concept scores. Built by :func:`concept_bottleneck`.

    Attributes:
        space: the concept space (classifier, mapper, bank) it was fitted in.
        weights: [K, T] non-negative, at most ``n_concepts`` non-zeros per class: class ``c``'s recipe.
        n_concepts: the budget per class.
        residual: [K] how much of each centred class row the recipe leaves out (relative norm, 0 = all of it).
    """

    space: ConceptSpace
    weights: torch.Tensor
    n_concepts: int
    residual: torch.Tensor

    def __repr__(self) -> str:
        used = int((self.weights > 0).any(0).sum())
        return (
            f"ConceptBottleneck({self.space.classifier.name!r}, {self.n_concepts} concepts per class, "
            f"{used} concepts in all, mean residual {float(self.residual.mean()):.2f})"
        )

    def concept_scores(self, features: torch.Tensor) -> torch.Tensor:
        """The bottleneck layer [N, T]: each concept direction's score ``V f`` for features [N, d]."""
        return features.to(self.space.directions.device, torch.float32) @ self.space.directions.T

    def logits_from_features(self, features: torch.Tensor) -> torch.Tensor:
        """[N, K]: ``A @ (V f) + mean(W) . f + b`` (the shared term moves every class alike)."""
        f = features.to(self.space.directions.device, torch.float32)
        clf = self.space.classifier
        shared = f @ clf.head_weight.mean(0).to(f.device, torch.float32)
        bias = clf.head_bias.to(f.device, torch.float32) if clf.head_bias is not None else 0.0
        return self.concept_scores(f) @ self.weights.T.float() + shared[:, None] + bias

    def logits(self, images: ImageInput) -> torch.Tensor:
        """The bottleneck's logits [N, K] for images (anything :meth:`nlexnb.Classifier.features` takes)."""
        with torch.inference_mode():
            return self.logits_from_features(self.space.classifier.features(images))

    def predict(self, images: ImageInput) -> list[str]:
        """The bottleneck's predicted class name for each image."""
        names = self.space.classifier.class_names
        return [names[i] for i in self.logits(images).argmax(1).tolist()]

    def agreement(self, images: ImageInput) -> float:
        """The share of images whose top-1 class is the same under the bottleneck and the original head."""
        with torch.inference_mode():
            f = self.space.classifier.features(images)
            original = self.space.classifier.head(f).argmax(1).cpu()
            return float((self.logits_from_features(f).argmax(1).cpu() == original).float().mean())

    def recipe(self, c: int | str) -> pd.DataFrame:
        """Class ``c``'s concepts, heaviest first: ``concept``, ``weight`` and ``share`` (of the recipe's weight)."""
        index = self.space.class_index(c, "c")
        row = self.weights[index]
        order = [i for i in row.argsort(descending=True).tolist() if row[i] > 0]
        total = float(row.sum()) or 1.0
        return pd.DataFrame(
            {
                "concept": [self.space.texts[i] for i in order],
                "weight": [float(row[i]) for i in order],
                "share": [float(row[i]) / total for i in order],
            }
        )


def concept_bottleneck(
    classifier, mapper=None, concepts=None, *, n_concepts: int = 32, allowed: torch.Tensor | None = None
) -> ConceptBottleneck:
    """Fit a data-free concept bottleneck: every class row as at most ``n_concepts`` concepts (see the module).

    Args:
        classifier: a classifier (then ``mapper`` and optionally ``concepts``, as for :class:`nlexnb.Explainer`), or a
            :class:`~nlexnb.space.ConceptSpace`.
        n_concepts: the budget per class (at most the number of concepts the bank allows).
        allowed: [T] bool, the bank concepts the recipes may use (default all; class names and peoples never).

    Example:
        >>> cbm = nlexnb.bottleneck.concept_bottleneck(clf, mapper, n_concepts=32)
        >>> cbm.recipe("espresso").head()
        >>> cbm.agreement(photos)
    """
    space = concept_space(classifier, mapper, concepts)
    n = positive_int(n_concepts, "n_concepts", "concepts per class")
    usable = ~space.excluded
    allowed = usable if allowed is None else usable & torch.as_tensor(allowed, dtype=torch.bool).to(usable.device)
    if not bool(allowed.any()):
        raise ValueError("Every concept of the bank is a class name or names a people: a bottleneck needs others")
    weight = space.classifier.head_weight.to(space.directions.device, torch.float64)
    rows = weight - weight.mean(0)
    weights = sparse_nonnegative_fit(rows, space.directions, n, allowed=allowed)
    residual = (rows - weights @ space.directions.double()).norm(dim=1) / rows.norm(dim=1).clamp_min(1e-12)
    return ConceptBottleneck(space, weights, n, residual.float())
