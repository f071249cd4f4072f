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

import difflib
import hashlib
import html
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ._checks import number, positive_int, warn_user, yes_or_no
from ._store import atomic_save_safetensors, atomic_write_bytes
from .classifier import LabelPrediction
from .explain import HeatMap, input_view, upsample_map
from .images import ImageInput, ImageLike
from .labels import primary_name
from .pursuit import sparse_nonnegative_fit, sparse_nonnegative_path
from .space import ConceptSpace, concept_space

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


RESIDUAL_WARNING = 0.9
"""A class whose recipe leaves out more than this share of its centred row is named in a :class:`PoorFitWarning`."""

FORMAT_VERSION = 1


class PoorFitWarning(UserWarning):
    """Some classes are poorly written by their recipes (see :data:`RESIDUAL_WARNING`); they are kept, not dropped."""


# ---- typed results ---------------------------------------------------------------------------------------------------
def _html(title: str, table: pd.DataFrame, note: str = "") -> str:
    """A result's rich display in Jupyter: a bold title, its table, an optional small note."""
    body = table.to_html(index=False, float_format=lambda v: f"{v:.3g}", border=0)
    foot = f"<p style='font-size:smaller'>{html.escape(note)}</p>" if note else ""
    return f"<div><p><b>{html.escape(title)}</b></p>{body}{foot}</div>"


@dataclass
class Recipe:
    """One class's recipe: the concepts its bottleneck row is made of, heaviest first.

    Attributes:
        class_index, class_name: the class.
        table: ``concept``, ``weight`` (its non-negative weight in the row), ``share`` (of the recipe's weight) and
            ``row left out`` (the share of the class's centred row that the concepts down to this one leave out:
            how much each further concept writes; the last is ``residual``).
        residual: the share of the class's centred row the recipe leaves out (0 = all of it written).
        n_concepts: the bottleneck's budget per class.

    ``recipe["concept"]``, ``len(recipe)``, ``recipe.columns`` and ``recipe.head(n)`` read the table, as when a recipe
    was a DataFrame.
    """

    class_index: int
    class_name: str
    table: pd.DataFrame
    residual: float
    n_concepts: int

    def __getitem__(self, key):
        return self.table[key]

    def __len__(self) -> int:
        return len(self.table)

    @property
    def columns(self) -> pd.Index:
        return self.table.columns

    def head(self, n: int = 5) -> pd.DataFrame:
        return self.table.head(n)

    @property
    def title(self) -> str:
        return (
            f"\u201c{primary_name(self.class_name)}\u201d as {len(self.table)} concepts "
            f"(budget {self.n_concepts}; {self.residual:.0%} of its row left out)"
        )

    def plot(self, max_rows: int = 12, ax=None):
        """Horizontal bars of each concept's weight, labelled with its share; returns the Figure."""
        from .plots import recipe_figure

        return recipe_figure(self, max_rows=max_rows, ax=ax)

    def __repr__(self) -> str:
        top = ", ".join(f"{c} {s:.0%}" for c, s in zip(self.table["concept"][:5], self.table["share"][:5]))
        return f"Recipe({primary_name(self.class_name)!r}: {top}{', ...' if len(self.table) > 5 else ''})"

    def _repr_html_(self) -> str:
        return _html(self.title, self.table)


@dataclass
class BottleneckExplanation:
    """Why the bottleneck gives class ``target`` its logit for one image: faithful by construction.

    The bottleneck logit is ``sum_j A[c, j] (V f)_j + shared``, so each recipe concept's ``contribution`` (its
    ``activation`` ``(V f)_j`` times its ``weight`` ``A[c, j]``) is exactly its part of the logit, and the
    contributions add up to ``logit - shared``.

    Attributes:
        target, target_name: the explained class (default the bottleneck's top-1).
        logit, probability: the bottleneck's logit and softmax probability for it.
        shared: ``mean(W) . f + b[c]``, the part of the logit that does not come from concepts.
        table: one row per recipe concept, largest contribution first: ``concept``, ``activation``, ``weight``,
            ``contribution`` and ``share`` (of ``logit - shared``).
        predicted_name: the bottleneck's top-1 class; original_name: the original head's, from the same features.
        heatmaps: where each of the top concepts contributes (``weight * feature_map[l] . v``, logit units), in order.
    """

    target: int
    target_name: str
    logit: float
    probability: float
    shared: float
    table: pd.DataFrame
    predicted_name: str
    original_name: str
    heatmaps: list[HeatMap] = field(default_factory=list, repr=False)

    @property
    def total(self) -> float:
        """The concepts' part of the logit: the sum of the contributions (= ``logit - shared``)."""
        return float(self.table["contribution"].sum())

    @property
    def sentence(self) -> str:
        what = f"\u201c{primary_name(self.target_name)}\u201d (p {self.probability:.2f})"
        if self.target_name == self.predicted_name:
            head = f"The bottleneck gives {what}"
        else:
            head = f"The bottleneck scores {what} (its top class is \u201c{primary_name(self.predicted_name)}\u201d)"
        positive = self.table[self.table["contribution"] > 0].head(3)
        if positive.empty:
            body = f"{head}: no concept of its recipe is present in the image."
        else:
            listed = ", ".join(f"\u201c{c}\u201d ({s:.0%})" for c, s in zip(positive["concept"], positive["share"]))
            body = f"{head} mostly through {listed}."
        if self.predicted_name != self.original_name:
            body += f" The original head predicts \u201c{primary_name(self.original_name)}\u201d."
        return body

    def plot(self, max_rows: int = 10, figsize: tuple[float, float] = (11, 4)):
        """The image with the top concept's heat map, beside each concept's contribution; returns the Figure."""
        from .plots import bottleneck_explanation_figure

        return bottleneck_explanation_figure(self, max_rows=max_rows, figsize=figsize)

    def __repr__(self) -> str:
        return f"BottleneckExplanation({self.sentence!r})"

    def _repr_html_(self) -> str:
        note = (
            f"logit {self.logit:.2f} = concepts {self.total:.2f} + shared term {self.shared:.2f}; "
            f"{len(self.table)} recipe concepts, 10 largest shown"
        )
        return _html(self.sentence, self.table.head(10), note)


@dataclass
class Intervention:
    """One image's bottleneck prediction before and after concept activations were set by hand.

    Attributes:
        changes: concept -> ``(activation before, activation after)``.
        table: the classes in the top ``k`` before or after: ``class_name``, ``logit_before``, ``logit_after``,
            ``probability_before``, ``probability_after``, most probable after first.
        before, after: the bottleneck's top-1 class name before and after.
    """

    changes: dict[str, tuple[float, float]]
    table: pd.DataFrame
    before: str
    after: str

    @property
    def changed(self) -> bool:
        """Whether the top-1 class changed."""
        return self.before != self.after

    @property
    def sentence(self) -> str:
        what = ", ".join(f"\u201c{c}\u201d {a:.2f} \u2192 {b:.2f}" for c, (a, b) in self.changes.items())
        before, after = primary_name(self.before), primary_name(self.after)
        if self.changed:
            return f"Setting {what} changes \u201c{before}\u201d to \u201c{after}\u201d."
        return f"Setting {what} keeps \u201c{before}\u201d."

    def plot(self, figsize: tuple[float, float] = (8, 3.5)):
        """Probabilities of the top classes before and after, side by side; returns the Figure."""
        from .plots import intervention_figure

        return intervention_figure(self, figsize=figsize)

    def __repr__(self) -> str:
        return f"Intervention({self.sentence!r})"

    def _repr_html_(self) -> str:
        return _html(self.sentence, self.table)


@dataclass
class Tradeoff:
    """Agreement with the original head against the number of concepts per class (:func:`tradeoff`).

    Attributes:
        table: one row per budget and kind (``"recipes"``: the fitted bottleneck; ``"random concepts"``: the same fit
            allowed only as many concepts drawn at random for each class; ``"text neighbours"``: allowed only each
            class's nearest concepts in text space): ``concepts per class``, ``kind``, ``agreement``,
            ``mean residual`` and ``concepts used`` (distinct concepts over all recipes).
        images: how many images the agreement is measured on.
    """

    table: pd.DataFrame
    images: int

    def plot(self, figsize: tuple[float, float] = (10, 3.5)):
        """Agreement and mean residual against the budget, recipes beside the baselines; returns the Figure."""
        from .plots import tradeoff_figure

        return tradeoff_figure(self, figsize=figsize)

    def __repr__(self) -> str:
        return f"Tradeoff({self.images} images, budgets {sorted(set(self.table['concepts per class']))})"

    def _repr_html_(self) -> str:
        return _html(f"Sparsity against agreement on {self.images} images", self.table)


CONFIDENCE_EDGES: tuple[float, ...] = (0.2, 0.5, 0.8)
"""Where :meth:`ConceptBottleneck.agreement_by_confidence` cuts the head's top-1 probability: under 0.2 the head
itself hardly decides (several classes within a few points); from 0.8 it is sure."""


@dataclass
class AgreementByConfidence:
    """Agreement with the original head, split by how sure the head is
    (:meth:`ConceptBottleneck.agreement_by_confidence`).

    Attributes:
        table: one row per band of the head's top-1 probability, then ``"all"``: ``head's confidence``, ``images``,
            ``agreement`` (same top-1 class) and ``in top 5`` (the head's class among the bottleneck's five
            highest); NaN where a band holds no image.
        images: how many images it is measured on.
    """

    table: pd.DataFrame
    images: int

    def plot(self, figsize: tuple[float, float] = (8, 3.5)):
        """Both agreements per confidence band, the number of images under each pair of bars; returns the Figure."""
        from .plots import agreement_by_confidence_figure

        return agreement_by_confidence_figure(self, figsize=figsize)

    def __repr__(self) -> str:
        overall = self.table.iloc[-1]
        return (
            f"AgreementByConfidence({self.images} images, agreement {overall['agreement']:.3f}, "
            f"in top 5 {overall['in top 5']:.3f})"
        )

    def _repr_html_(self) -> str:
        return _html(f"Agreement with the original head by its confidence, {self.images} images", self.table)


# ---- the bottleneck --------------------------------------------------------------------------------------------------
@dataclass
class ConceptBottleneck:
    """A head that sees an image only through its concept scores. Built by :func:`concept_bottleneck`.

    Attributes:
        space: the concept space (classifier, mapper, bank) it was fitted in.
        weights: [K, T] non-negative, at most ``n_concepts`` non-zeros per class: class ``c``'s recipe.
        n_concepts: the budget per class.
        residual: [K] how much of each centred class row the recipe leaves out: the share outside the recipe's
            direction (0 = all of it written; :func:`recipe_residual`).
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

    # ---- logits: one definition -------------------------------------------------------------------------------------
    def concept_scores(self, features: torch.Tensor) -> torch.Tensor:
        """The bottleneck layer [N, T]: each concept direction's score ``V f`` for features [N, d]."""
        return features.to(self.space.directions.device, torch.float32) @ self.space.directions.T

    def shared_logits(self, features: torch.Tensor) -> torch.Tensor:
        """[N, K]: ``mean(W) . f + b``, the part of every logit that does not pass through the concepts."""
        f = features.to(self.space.directions.device, torch.float32)
        clf = self.space.classifier
        shared = f @ clf.head_weight.mean(0).to(f.device, torch.float32)
        bias = clf.head_bias.to(f.device, torch.float32) if clf.head_bias is not None else 0.0
        return shared[:, None] + bias

    def logits_from_features(self, features: torch.Tensor, scores: torch.Tensor | None = None) -> torch.Tensor:
        """[N, K]: ``A @ (V f) + mean(W) . f + b`` (the shared term moves every class alike).

        ``scores`` [N, T] replaces the concept scores ``V f`` (what an intervention sets); the shared term still
        comes from ``features``."""
        scores = self.concept_scores(features) if scores is None else scores.to(self.weights.device, torch.float32)
        return scores @ self.weights.T.float() + self.shared_logits(features)

    def logits(self, images: ImageInput) -> torch.Tensor:
        """The bottleneck's logits [N, K] for images (anything :meth:`nlexnb.Classifier.features` takes)."""
        with torch.inference_mode():
            return self.logits_from_features(self.space.classifier.features(images))

    def predict(self, images: ImageInput, k: int = 5) -> list[LabelPrediction]:
        """The bottleneck's top-``k`` classes for each image, as :class:`~nlexnb.classifier.LabelPrediction`: typed
        like :meth:`nlexnb.Classifier.predict`'s predictions, and equal to the top class name as a string."""
        k = min(positive_int(k, "k", "classes per image"), len(self.space.classifier.class_names))
        names = self.space.classifier.class_names
        top = self.logits(images).softmax(1).topk(k, dim=1)
        return [LabelPrediction(i, [names[j] for j in i], p) for i, p in zip(top.indices.tolist(), top.values.tolist())]

    def agreement(self, images: ImageInput | None = None, *, features: torch.Tensor | None = None) -> float:
        """The share of images whose top-1 class is the same under the bottleneck and the original head
        (``features`` [N, d]: the images' features, when already computed)."""
        with torch.inference_mode():
            f = _features(self.space, images, features)
            original = self.space.classifier.head(f).argmax(1).cpu()
            return float((self.logits_from_features(f).argmax(1).cpu() == original).float().mean())

    def agreement_by_confidence(
        self,
        images: ImageInput | None = None,
        *,
        features: torch.Tensor | None = None,
        edges: Sequence[float] = CONFIDENCE_EDGES,
    ) -> AgreementByConfidence:
        """:meth:`agreement`, split by the original head's top-1 probability (bands cut at ``edges``, increasing, in
        (0, 1)), and whether the head's class is among the bottleneck's five highest.

        Where the head is sure, a recipe's residual rarely changes its decision; where it hesitates between several
        classes, whatever a recipe leaves out decides between them. On the 298 benchmark photos at 32 concepts
        per class (lite0), agreement is 0.94 where the head gives 0.8 or more and 0.37 where it gives under 0.2
        (``benchmarks/RESULTS.md``)."""
        edges = _confidence_edges(edges)
        with torch.inference_mode():
            f = _features(self.space, images, features)
            head = self.space.classifier.head(f).float().cpu()
            written = self.logits_from_features(f).cpu()
        confidence, original = head.softmax(1).max(1)
        same = (written.argmax(1) == original).numpy()
        in_top = (written.topk(min(5, written.shape[1]), dim=1).indices == original[:, None]).any(1).numpy()
        band = np.digitize(confidence.numpy(), edges)
        labels = [f"< {edges[0]:g}", *(f"{a:g} to {b:g}" for a, b in zip(edges, edges[1:])), f">= {edges[-1]:g}"]
        rows = [_agreement_row(label, band == b, same, in_top) for b, label in enumerate(labels)]
        rows.append(_agreement_row("all", np.ones_like(same), same, in_top))
        return AgreementByConfidence(pd.DataFrame(rows), int(f.shape[0]))

    # ---- reading it ------------------------------------------------------------------------------------------------
    def recipe(self, c: int | str) -> Recipe:
        """Class ``c``'s concepts, heaviest first (a :class:`Recipe`: ``.table`` with ``concept``, ``weight``,
        ``share`` of the recipe's weight and ``row left out`` down to each concept, ``.plot()``)."""
        index = self.space.class_index(c)
        row = self.weights[index]
        order = [i for i in row.argsort(descending=True).tolist() if row[i] > 0]
        total = float(row.sum()) or 1.0
        partial = (row[order].double()[:, None] * self.space.directions[order].double()).cumsum(0)
        table = pd.DataFrame(
            {
                "concept": [self.space.texts[i] for i in order],
                "weight": [float(row[i]) for i in order],
                "share": [float(row[i]) / total for i in order],
                "row left out": _left_out(_centred_rows(self.space)[index : index + 1], partial).tolist(),
            }
        )
        name = self.space.classifier.class_names[index]
        return Recipe(index, name, table, float(self.residual[index]), self.n_concepts)

    def poorly_written(self, threshold: float = RESIDUAL_WARNING) -> pd.DataFrame:
        """The classes whose recipe leaves out more than ``threshold`` of their centred row, worst first:
        ``class_name``, ``residual``."""
        order = self.residual.argsort(descending=True).tolist()
        names = self.space.classifier.class_names
        rows = [(names[i], float(self.residual[i])) for i in order if float(self.residual[i]) > threshold]
        return pd.DataFrame(rows, columns=["class_name", "residual"])

    def explain(self, image: ImageLike | torch.Tensor, target: int | str | None = None, k: int = 5):
        """Each recipe concept's part of class ``target``'s bottleneck logit for one image (default: the bottleneck's
        top-1), with heat maps of the ``k`` largest from the same forward pass: a :class:`BottleneckExplanation`."""
        clf, space = self.space.classifier, self.space
        index = None if target is None else space.class_index(target, "target")
        k = positive_int(k, "k", "heat maps")
        x = space.preprocess_one(image)
        out = clf.forward_all(x)
        f = out.features
        with torch.inference_mode():
            scores = self.concept_scores(f)
            logits = self.logits_from_features(f, scores)[0]
            shared = self.shared_logits(f)[0]
        scores = scores[0]
        predicted = int(logits.argmax())
        index = predicted if index is None else index
        row = self.weights[index]
        used = torch.nonzero(row > 0).flatten()
        activation = scores[used].double()
        contribution = activation * row[used].double()
        part = float(logits[index] - shared[index])
        order = contribution.argsort(descending=True)
        used, activation, contribution = used[order], activation[order], contribution[order]
        table = pd.DataFrame(
            {
                "concept": [space.texts[i] for i in used.tolist()],
                "activation": activation.tolist(),
                "weight": row[used].double().tolist(),
                "contribution": contribution.tolist(),
                "share": (contribution / part).tolist() if part else [float("nan")] * len(used),
            }
        )
        top = used[:k]
        grids = torch.einsum("hwd,kd->khw", out.feature_map[0].float(), space.directions[top])
        grids = grids * row[top].float()[:, None, None]
        view = input_view(clf, x)  # one picture for all the maps
        up = upsample_map(grids, tuple(x.shape[-2:]))
        maps = [
            HeatMap(space.texts[i], u.cpu().numpy(), g.cpu().numpy(), view, score=float(c))
            for i, u, g, c in zip(top.tolist(), up, grids, contribution[:k].tolist())
        ]
        names = clf.class_names
        return BottleneckExplanation(
            target=index,
            target_name=names[index],
            logit=float(logits[index]),
            probability=float(logits.softmax(0)[index]),
            shared=float(shared[index]),
            table=table,
            predicted_name=names[predicted],
            original_name=names[int(out.logits[0].argmax())],
            heatmaps=maps,
        )

    # ---- interventions ---------------------------------------------------------------------------------------------
    def concept_index(self, concept: str) -> int:
        """The bank index of a concept text (exact, else ignoring case); a ValueError with close matches if none."""
        if not isinstance(concept, str):
            raise TypeError(f"A concept must be a text of the bank, got {type(concept).__name__} ({concept!r})")
        texts = self.space.texts
        if concept in texts:
            return texts.index(concept)
        lower = [t.lower() for t in texts]
        if concept.strip().lower() in lower:
            return lower.index(concept.strip().lower())
        close = difflib.get_close_matches(concept, texts, n=5, cutoff=0.6)
        hint = f"; close: {close}" if close else "; see cbm.space.texts"
        raise ValueError(f"{concept!r} is not a concept of the bank {self.space.bank.name!r}{hint}")

    def intervene(self, image: ImageLike | torch.Tensor, values: Mapping[str, float], k: int = 5) -> Intervention:
        """Set concept activations ``(V f)_j`` by hand for one image and see the bottleneck's prediction change.

        Args:
            image: one image.
            values: concept text -> the activation to use (``0.0`` switches the concept off: the score of an image
                that shows it no more than the bank's average concept).
            k: how many top classes, before and after, the table lists.
        """
        chosen = self._chosen(values)
        k = positive_int(k, "k", "classes")
        with torch.inference_mode():
            f = self.space.classifier.features(self.space.preprocess_one(image))
            scores = self.concept_scores(f)
            changed = scores.clone()
            for i, value in chosen.items():
                changed[0, i] = value
            before = self.logits_from_features(f)[0].double()
            after = self.logits_from_features(f, changed)[0].double()
        p_before, p_after = before.softmax(0), after.softmax(0)
        top = dict.fromkeys(p_after.topk(k).indices.tolist() + p_before.topk(k).indices.tolist())
        names = self.space.classifier.class_names
        table = pd.DataFrame(
            {
                "class_name": [names[i] for i in top],
                "logit_before": [float(before[i]) for i in top],
                "logit_after": [float(after[i]) for i in top],
                "probability_before": [float(p_before[i]) for i in top],
                "probability_after": [float(p_after[i]) for i in top],
            }
        ).sort_values("probability_after", ascending=False, ignore_index=True, kind="stable")
        changes = {self.space.texts[i]: (float(scores[0, i]), float(v)) for i, v in chosen.items()}
        return Intervention(changes, table, names[int(before.argmax())], names[int(after.argmax())])

    def _chosen(self, values: Mapping[str, float]) -> dict[int, float]:
        if not isinstance(values, Mapping) or not values:
            raise TypeError(f"values must be a dict of concept -> activation, e.g. {{'foam': 0.0}}, got {values!r}")
        chosen = {}
        for concept, value in values.items():
            index = self.concept_index(concept)
            ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
            if not ok or not np.isfinite(value):
                raise ValueError(f"The activation for {concept!r} must be a finite number, got {value!r}")
            if not bool((self.weights[:, index] > 0).any()):
                warn_user(f"{concept!r} is in no class's recipe: setting its activation changes nothing")
            chosen[index] = float(value)
        return chosen

    def without(self, concepts: str | Sequence[str], classes: int | str | Sequence[int | str] | None = None):
        """A new bottleneck with ``concepts`` removed from the recipes of ``classes`` (default every class); the
        other weights are kept as fitted (not refitted), and the residuals say how much more each row now leaves out.
        """
        items = [concepts] if isinstance(concepts, str) else list(concepts)
        if not items:
            raise ValueError("concepts is empty: name at least one concept to remove")
        columns = [self.concept_index(c) for c in items]
        if classes is None:
            rows = list(range(self.weights.shape[0]))
        else:
            listed = [classes] if isinstance(classes, (str, int, np.integer)) else list(classes)
            rows = [self.space.class_index(c, "classes") for c in listed]
        weights = self.weights.clone()
        block = weights[rows][:, columns]
        absent = [items[j] for j in range(len(columns)) if not bool((block[:, j] > 0).any())]
        if absent:
            where = "any class's recipe" if classes is None else "the recipes of those classes"
            warn_user(f"{absent} are not in {where}: nothing removed for them")
        weights[torch.tensor(rows)[:, None], torch.tensor(columns)[None, :]] = 0
        return ConceptBottleneck(self.space, weights, self.n_concepts, recipe_residual(self.space, weights))

    # ---- saving ----------------------------------------------------------------------------------------------------
    def identity(self) -> dict:
        """What a saved bottleneck must match to be loaded: the classifier, its class names, the bank, the budget."""
        clf, bank = self.space.classifier, self.space.bank
        return {
            "format": FORMAT_VERSION,
            "classifier": clf.name,
            "classifier_fingerprint": clf.fingerprint,
            "num_classes": clf.num_classes,
            "num_features": clf.num_features,
            "class_names_sha256": _text_hash(clf.class_names),
            "bank": bank.name,
            "bank_size": len(bank),
            "bank_sha256": _text_hash(bank.texts),
            "mapper_fingerprint": self.space.mapper.fingerprint,
            "n_concepts": self.n_concepts,
        }

    def save(self, path: str | Path) -> Path:
        """Write ``weights`` and ``residual`` as safetensors, and beside it a JSON sidecar (``<name>.json``) with
        :meth:`identity` and the tensors' file hash, both atomically; returns the safetensors path."""
        path = Path(path)
        if path.suffix != ".safetensors":
            path = path.with_name(path.name + ".safetensors")
        meta = self.identity()
        atomic_save_safetensors(path, {"weights": self.weights, "residual": self.residual}, {"nlexnb": "bottleneck"})
        sidecar = {**meta, "tensors_sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
        atomic_write_bytes(_sidecar(path), (json.dumps(sidecar, indent=1) + "\n").encode("utf-8"))
        return path


def _centred_rows(space: ConceptSpace) -> torch.Tensor:
    """[K, d] float64: the head's class rows minus their mean, what recipes write (on the space's device)."""
    w = space.classifier.head_weight.to(space.directions.device, torch.float64)
    return w - w.mean(0)


def _left_out(rows: torch.Tensor, written: torch.Tensor) -> torch.Tensor:
    """[R]: the share of each of ``rows`` [R, d] (or one row [1, d]) outside the direction of ``written`` [R, d]: the
    sine of the angle between them, 1 where nothing is written or the two point apart."""
    cosine = (rows * written).sum(1) / (rows.norm(dim=1) * written.norm(dim=1)).clamp_min(1e-12)
    return (1 - cosine.clamp(0, 1) ** 2).sqrt()


def recipe_residual(space: ConceptSpace, weights: torch.Tensor) -> torch.Tensor:
    """[K]: the share of each centred class row ``W[c] - mean(W)`` that lies outside its recipe's direction (the sine
    of the angle between the row and ``weights[c] @ V``; 1 for an empty recipe). Recipes are scaled to their rows'
    length (:func:`to_row_length`), so this is all a recipe leaves out; for a least-squares recipe it is also the
    relative norm of what is left."""
    rows = _centred_rows(space)
    return _left_out(rows, weights.to(rows.device, torch.float64) @ space.directions.double()).float()


def to_row_length(space: ConceptSpace, weights: torch.Tensor) -> torch.Tensor:
    """``weights`` [K, T] with each class's recipe scaled so that what it writes, ``weights[c] @ V``, is as long as
    the centred class row it stands for.

    A least-squares recipe is the row's projection onto a few concepts, so it is shorter than the row by the cosine
    between them, and a class its bank writes poorly would score lower on its own images than the original head
    scores it. Giving every recipe its row's length keeps the head's balance between classes: with no images, top-1
    agreement at 32 concepts rises from 0.534 to 0.611 on lite0 (0.477 to 0.547 on lite1, 0.540 to 0.607 on lite2;
    benchmarks/RESULTS.md). The scale is one number per class: a recipe's concepts and their shares do not change."""
    rows = _centred_rows(space)
    weights = weights.to(rows.device, torch.float64)
    length = (weights @ space.directions.double()).norm(dim=1)
    scale = torch.where(length > 0, rows.norm(dim=1) / length.clamp_min(1e-12), torch.zeros_like(length))
    return weights * scale[:, None]


def _features(space: ConceptSpace, images, features: torch.Tensor | None) -> torch.Tensor:
    if (images is None) == (features is None):
        raise ValueError("Pass images or their features (features=), one of the two")
    if features is None:
        return space.classifier.features(images)
    if features.ndim != 2 or features.shape[1] != space.classifier.num_features:
        raise ValueError(
            f"features must be [N, {space.classifier.num_features}] ({space.classifier.name}'s features), "
            f"got {list(features.shape)}"
        )
    return features


def _confidence_edges(edges) -> tuple[float, ...]:
    """``edges`` as increasing probabilities strictly between 0 and 1, or a ValueError saying what is accepted."""
    if isinstance(edges, (str, bytes)) or not isinstance(edges, Sequence) or not edges:
        raise ValueError(
            f"edges must be a non-empty list of probabilities in (0, 1), e.g. (0.2, 0.5, 0.8); got {edges!r}"
        )
    values = tuple(number(e, "each of edges", 0, 1, open_low=True, open_high=True, what="a probability") for e in edges)
    if any(b <= a for a, b in zip(values, values[1:])):
        raise ValueError(f"edges must increase, e.g. (0.2, 0.5, 0.8); got {list(values)}")
    return values


def _agreement_row(label: str, chosen: np.ndarray, same: np.ndarray, in_top: np.ndarray) -> dict:
    chosen = chosen.astype(bool)
    count = int(chosen.sum())
    return {
        "head's confidence": label,
        "images": count,
        "agreement": float(same[chosen].mean()) if count else float("nan"),
        "in top 5": float(in_top[chosen].mean()) if count else float("nan"),
    }


def _text_hash(texts: Sequence[str]) -> str:
    return hashlib.sha256("\n".join(texts).encode("utf-8")).hexdigest()[:16]


def _sidecar(path: Path) -> Path:
    return path.with_suffix(".json")


def load_bottleneck(path: str | Path, classifier, mapper=None, concepts=None) -> ConceptBottleneck:
    """Load a bottleneck saved with :meth:`ConceptBottleneck.save` into the space of (classifier, mapper, bank).

    Raises:
        FileNotFoundError: no such file, or its JSON sidecar is missing.
        ValueError: a damaged file, a sidecar of another save, or a bottleneck made for another classifier (name,
            head weights, classes, feature width) or another bank (name, size, texts), each named with what was found.
    """
    from safetensors import safe_open

    path = Path(path)
    if path.suffix != ".safetensors" and not path.is_file():
        path = path.with_name(path.name + ".safetensors")
    if not path.is_file():
        raise FileNotFoundError(f"Bottleneck file not found: {str(path)!r}")
    if not _sidecar(path).is_file():
        raise FileNotFoundError(
            f"{str(path)!r} has no sidecar {str(_sidecar(path))!r}: a bottleneck is saved as both; save it again"
        )
    try:
        saved = json.loads(_sidecar(path).read_text(encoding="utf-8"))
        with safe_open(str(path), framework="pt") as fh:
            tensors = {k: fh.get_tensor(k) for k in fh.keys()}
        weights, residual = tensors["weights"], tensors["residual"]
    except Exception as exc:
        raise ValueError(
            f"{str(path)!r} is not a readable nlexnb bottleneck (damaged, truncated or another format): {exc}"
        ) from exc
    if saved.get("tensors_sha256") != hashlib.sha256(path.read_bytes()).hexdigest():
        raise ValueError(
            f"{str(path)!r} does not hold the tensors its sidecar {str(_sidecar(path))!r} describes (their hash "
            "differs): the file was changed or damaged after it was saved, or the sidecar belongs to another save. "
            "Save the bottleneck again"
        )
    space = concept_space(classifier, mapper, concepts)
    here = ConceptBottleneck(space, weights, int(saved.get("n_concepts", 0)), residual).identity()
    if saved.get("format") != FORMAT_VERSION:
        raise ValueError(f"{str(path)!r} has bottleneck format {saved.get('format')!r}; this version reads 1")
    checks = [
        ("classifier", "classifier", "made for another classifier"),
        ("classifier_fingerprint", "classifier", "made for other head weights"),
        ("num_classes", "classifier", "made for another number of classes"),
        ("num_features", "classifier", "made for another feature width"),
        ("class_names_sha256", "classifier", "made for other class names"),
        ("bank", "bank", "made with another concept bank"),
        ("bank_size", "bank", "made with a bank of another size"),
        ("bank_sha256", "bank", "made with other concept texts"),
    ]
    for key, part, reason in checks:
        if saved.get(key) != here[key]:
            found = here["classifier"] if part == "classifier" else f"{here['bank']!r} ({here['bank_size']} concepts)"
            made = (
                saved.get("classifier")
                if part == "classifier"
                else f"{saved.get('bank')!r} ({saved.get('bank_size')} concepts)"
            )
            which = f": it was fitted for {made}, not {found}" if made != found else ""  # same name: say no more
            raise ValueError(
                f"{str(path)!r} was {reason} ({key}: saved {saved.get(key)!r}, here {here[key]!r}){which}. "
                f"Load it with the {part} it was made for, or fit a new one"
            )
    if tuple(weights.shape) != (here["num_classes"], here["bank_size"]) or residual.shape != (here["num_classes"],):
        raise ValueError(f"{str(path)!r} holds tensors of the wrong shape {list(weights.shape)}: the file is damaged")
    if not (torch.isfinite(weights).all() and (weights >= 0).all() and torch.isfinite(residual).all()):
        raise ValueError(f"{str(path)!r} holds negative, NaN or infinite weights: the file is damaged; save it again")
    if saved.get("mapper_fingerprint") != here["mapper_fingerprint"]:
        warn_user(
            f"{str(path)!r} was fitted with another mapper (fingerprint {saved.get('mapper_fingerprint')}, here "
            f"{here['mapper_fingerprint']}): its recipes name the same concepts, but their directions differ here, "
            "so its logits will not be those it was judged by"
        )
    device = space.directions.device
    return ConceptBottleneck(space, weights.to(device), int(saved["n_concepts"]), residual.to(device))


def random_bottleneck(space: ConceptSpace, n_concepts: int, seed: int = 0) -> ConceptBottleneck:
    """Recipes of ``n_concepts`` concepts drawn at random for each class (among those a bottleneck may use), weighted
    by the same non-negative fit: the chance baseline a bottleneck's agreement is read against."""
    n = _check_budget(space, n_concepts)
    usable = ~_refused(space)
    noise = torch.rand(len(space.classifier.class_names), len(space), generator=torch.Generator().manual_seed(seed))
    noise = noise.to(usable.device).masked_fill(~usable, -1.0)
    return _restricted(space, _top_mask(noise, n) & usable, n)


def neighbour_bottleneck(space: ConceptSpace, n_concepts: int) -> ConceptBottleneck:
    """Recipes of each class's ``n_concepts`` nearest concepts in text space (:meth:`ConceptSpace.name_similarity`,
    what a text encoder alone would name), weighted by the same non-negative fit: the baseline that knows the words
    but not the classifier. Like the fitted recipes it never uses a concept naming the class or a kind of it."""
    n = _check_budget(space, n_concepts)
    refused = _refused(space)  # as for the fitted recipes
    nearest = _top_mask(space.name_similarity().masked_fill(refused, -torch.inf), n) & ~refused
    return _restricted(space, nearest, n)


def _refused(space: ConceptSpace, allow_kinds: bool = False) -> torch.Tensor:
    """[K, T] bool: what class ``c``'s recipe may never use, for the fitted recipes and both baselines alike: class
    names and peoples (:attr:`~nlexnb.space.ConceptSpace.excluded`), echoes of a word that qualifies its name
    (:meth:`~nlexnb.space.ConceptSpace.qualifier_mask`), other animals than the class and what only other animals
    have ("reindeer" for ice bear, "striped shell" for tabby; :meth:`~nlexnb.space.ConceptSpace.animal_mask`: at 32
    concepts, agreement 0.597 / 0.540 / 0.594 on lite0/1/2 against 0.607 / 0.557 / 0.601, recipes judged visual
    evidence 0.081 on lite0 as before) and, unless ``allow_kinds``, kinds of the class
    (:meth:`~nlexnb.space.ConceptSpace.naming_mask`). Recipes may use the things explanations refuse
    (:meth:`~nlexnb.space.ConceptSpace.unlisted_things`): refusing them too reads better for some classes ("kitten,
    striped, charcoal, paw" for tabby instead of "kitten, sponge, gray plastic, paw") but costs agreement (0.570 on
    lite0 at 32, 0.503 on lite1; 52 of the 57 whole photos the head is sure of kept instead of all) for recipes judged
    visual evidence 0.091 instead of 0.081; ``benchmarks/RESULTS.md``). Nor do they refuse the colours explanations
    refuse (:meth:`~nlexnb.space.ConceptSpace.unlisted_colours`): agreement at 32 fell to 0.584 / 0.527 / 0.597 on
    lite0/1/2 from 0.591 / 0.534 / 0.601, for recipes judged as before (0.085 on lite0)."""
    refused = space.excluded | space.qualifier_mask() | space.animal_mask()
    return refused if allow_kinds else refused | space.naming_mask()


def _check_budget(space: ConceptSpace, n_concepts: int) -> int:
    n = positive_int(n_concepts, "n_concepts", "concepts per class")
    usable = int((~space.excluded).sum())
    if n > usable:
        raise ValueError(f"n_concepts={n} is more than the {usable} concepts of the bank a bottleneck may use")
    return n


def _top_mask(score: torch.Tensor, n: int) -> torch.Tensor:
    """[R, T] bool: each row's ``n`` highest scores."""
    return torch.zeros_like(score, dtype=torch.bool).scatter_(1, score.topk(n, dim=1).indices, True)


def _restricted(space: ConceptSpace, allowed: torch.Tensor, n: int) -> ConceptBottleneck:
    """The bottleneck's fit with each class allowed only its own concepts (``allowed`` [K, T])."""
    fit = sparse_nonnegative_fit(_centred_rows(space), space.directions, n, allowed=allowed)
    weights = to_row_length(space, fit)
    return ConceptBottleneck(space, weights, n, recipe_residual(space, weights))


def tradeoff(
    space,
    images: ImageInput | None = None,
    budgets: Sequence[int] = (4, 8, 16, 32, 64),
    *,
    features: torch.Tensor | None = None,
    fitted: Sequence[ConceptBottleneck] = (),
    seed: int = 0,
) -> Tradeoff:
    """How agreement with the original head grows with the number of concepts per class, beside two baselines given
    the same budget: concepts drawn at random for each class, and each class's nearest concepts in text space.

    Args:
        space: a :class:`~nlexnb.space.ConceptSpace` (or a bottleneck, for its space).
        images: the images agreement is measured on (or ``features=`` [N, d], already computed).
        budgets: concepts per class (one pursuit to the largest gives them all: seconds on two CPU cores).
        fitted: bottlenecks of this space already fitted, reused for their budgets.
        seed: draws the random concepts (:func:`random_bottleneck`).

    Returns:
        A :class:`Tradeoff`. Poorly written classes at small budgets are expected here: their warnings are not
        repeated, the ``mean residual`` column says it.
    """
    space = space.space if isinstance(space, ConceptBottleneck) else space
    if not isinstance(space, ConceptSpace):
        raise TypeError(f"tradeoff takes a ConceptSpace (or a bottleneck), got {type(space).__name__}")
    budgets = [positive_int(b, "budgets", "concepts per class") for b in budgets]
    if not budgets:
        raise ValueError("budgets is empty: give at least one number of concepts per class, e.g. (8, 16, 32)")
    known = {cbm.n_concepts: cbm for cbm in fitted if cbm.space is space}
    with torch.inference_mode():
        f = _features(space, images, features)
    missing = [n for n in budgets if n not in known]
    if missing:
        known.update(_fit_budgets(space, missing, _usable(space, None, max(missing))))
    rows = []
    for n in sorted(set(budgets)):
        cbm = known[n]
        baselines = (
            ("random concepts", random_bottleneck(space, n, seed)),
            ("text neighbours", neighbour_bottleneck(space, n)),
        )
        for kind, model in (("recipes", cbm), *baselines):
            rows.append(
                {
                    "concepts per class": n,
                    "kind": kind,
                    "agreement": model.agreement(features=f),
                    "mean residual": float(model.residual.mean()),
                    "concepts used": int((model.weights > 0).any(0).sum()),
                }
            )
    return Tradeoff(pd.DataFrame(rows), f.shape[0])


def concept_bottleneck(
    classifier,
    mapper=None,
    concepts=None,
    *,
    n_concepts: int = 32,
    allowed: torch.Tensor | None = None,
    allow_kinds: bool = False,
) -> ConceptBottleneck:
    """Fit a data-free concept bottleneck: every class row as at most ``n_concepts`` concepts (see the module).

    Args:
        classifier: a classifier (then ``mapper`` and optionally ``concepts``, as for :class:`nlexnb.Explainer`), or a
            :class:`~nlexnb.space.ConceptSpace`.
        n_concepts: the budget per class (at most the number of concepts the bank allows).
        allowed: [T] bool, the bank concepts the recipes may use (default all; class names and peoples never).
        allow_kinds: let a class's recipe use kinds of the class ("camel" for Arabian camel, "sand cat" for tiger
            cat; :meth:`~nlexnb.space.ConceptSpace.naming_mask`). Off by default: such recipes repeat the class in other
            words, and agree with the original head no more on lite0 and lite2 (0.61 at 32 concepts) and a little
            more on lite1 (0.59 against 0.55).

    Example:
        >>> cbm = nlexnb.bottleneck.concept_bottleneck(clf, mapper, n_concepts=32)
        >>> cbm.recipe("espresso").head()
        >>> cbm.agreement(photos)
    """
    space = concept_space(classifier, mapper, concepts)
    n = positive_int(n_concepts, "n_concepts", "concepts per class")
    allow_kinds = yes_or_no(allow_kinds, "allow_kinds")  # "no" is a true string: recipes would name their class
    cbm = _fit_budgets(space, (n,), _usable(space, allowed, n), allow_kinds)[n]
    _warn_poorly_written(cbm)
    return cbm


def _usable(space: ConceptSpace, allowed: torch.Tensor | None, n: int) -> torch.Tensor:
    """[T] bool: the concepts a recipe may use (``allowed``, never class names or peoples), checked to hold ``n``."""
    usable = ~space.excluded
    allowed = usable if allowed is None else usable & torch.as_tensor(allowed, dtype=torch.bool).to(usable.device)
    if not bool(allowed.any()):
        raise ValueError("Every concept of the bank is a class name or names a people: a bottleneck needs others")
    if n > int(allowed.sum()):
        raise ValueError(
            f"n_concepts={n} is more than the {int(allowed.sum())} concepts of the bank a recipe may use (class names, "
            f"peoples and concepts not allowed left out): give at most {int(allowed.sum())}, or a larger bank"
        )
    return allowed


def _fit_budgets(
    space: ConceptSpace, budgets: Sequence[int], allowed: torch.Tensor, allow_kinds: bool = False
) -> dict[int, ConceptBottleneck]:
    """One pursuit to the largest budget, a bottleneck for each budget (see :func:`sparse_nonnegative_path`). A class's
    recipe never uses a concept that names it (:meth:`~nlexnb.space.ConceptSpace.naming_mask`: "camel" for Arabian
    camel, "sand cat" for tiger cat) unless ``allow_kinds``; whole class names and echoes of a word that qualifies
    its name (:meth:`~nlexnb.space.ConceptSpace.qualifier_mask`) never."""
    allowed = allowed & ~_refused(space, allow_kinds)
    path = sparse_nonnegative_path(_centred_rows(space), space.directions, budgets, allowed=allowed)
    scaled = {n: to_row_length(space, weights) for n, weights in path.items()}
    return {n: ConceptBottleneck(space, weights, n, recipe_residual(space, weights)) for n, weights in scaled.items()}


def _warn_poorly_written(cbm: ConceptBottleneck) -> None:
    """One :class:`PoorFitWarning` naming the classes whose recipe leaves out more than :data:`RESIDUAL_WARNING` of
    their row (the ten worst with their residuals, and how many in all); they stay in the bottleneck."""
    poor = cbm.poorly_written()
    if poor.empty:
        return
    worst = ", ".join(f"{primary_name(c)!r} {r:.2f}" for c, r in zip(poor["class_name"][:10], poor["residual"][:10]))
    more = f" and {len(poor) - 10} more" if len(poor) > 10 else ""
    warn_user(
        f"{len(poor)} classes are poorly written by {cbm.n_concepts} concepts (residual above {RESIDUAL_WARNING}): "
        f"{worst}{more}. They are kept; cbm.poorly_written() lists them all. A larger n_concepts or bank writes more",
        PoorFitWarning,
    )
