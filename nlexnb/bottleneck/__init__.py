"""A concept bottleneck without data: each class row written as a few concepts, from the head's weights and names alone.

The classifier's head scores class ``c`` with ``W[c] . f + b[c]``. With the concept directions ``V`` of a
:class:`~nlexnb.space.ConceptSpace` (mapped concept texts, centred on the bank's mean, unit length), each centred class
row ``W[c] - mean(W)`` is approximated by a sparse non-negative combination ``sum_j A[c, j] V[j]`` with at most
``n_concepts`` terms (non-negative orthogonal matching pursuit: add the concept most correlated with what is left,
refit the weights on the support with non-negative least squares, repeat), then scaled to the row's length, so
that a class the bank writes poorly is not scored lower than the head scores it. The bottleneck's logits are then
``A @ (V f) + mean(W) . f + b``: the image enters only through its concept scores ``V f`` (the bottleneck layer) and
a term shared by every class, so predictions are decided by the concepts alone. Class names and peoples are never
concepts (:attr:`~nlexnb.space.ConceptSpace.excluded`), and a class's recipe never names the class in other words
(its head noun: "camel" for Arabian camel, "sand cat" for tiger cat), so a class cannot be its own recipe, nor echoes a
word that qualifies its name ("pyramid" for Egyptian cat, "classroom" for school bus:
:meth:`~nlexnb.space.ConceptSpace.qualifier_echoes`).

Judge it by :meth:`ConceptBottleneck.agreement` (top-1 agreement with the original head on images you have) and by
reading its recipes (:meth:`ConceptBottleneck.recipe`); ``benchmarks/bench_bottleneck.py`` prints both beside random
concepts given the same budget. No images are used to fit it.
"""

from __future__ import annotations

from ..pursuit import sparse_nonnegative_fit, sparse_nonnegative_path
from .fit import concept_bottleneck, neighbour_bottleneck, random_bottleneck, tradeoff
from .model import (
    RESIDUAL_WARNING,
    ConceptBottleneck,
    PoorFitWarning,
    recipe_residual,
    to_row_length,
)
from .results import CONFIDENCE_EDGES, AgreementByConfidence, BottleneckExplanation, Intervention, Recipe, Tradeoff
from .store import load_bottleneck

__all__ = [
    "ConceptBottleneck",
    "concept_bottleneck",
    "sparse_nonnegative_fit",
    "sparse_nonnegative_path",
    "Recipe",
    "BottleneckExplanation",
    "Intervention",
    "Tradeoff",
    "AgreementByConfidence",
    "CONFIDENCE_EDGES",
    "PoorFitWarning",
    "RESIDUAL_WARNING",
    "load_bottleneck",
    "random_bottleneck",
    "neighbour_bottleneck",
    "recipe_residual",
    "to_row_length",
    "tradeoff",
]
