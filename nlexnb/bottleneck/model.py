"""The :class:`ConceptBottleneck` itself: logits through concept scores, recipes, explanations,
interventions, agreement with the original head, and saving."""

from __future__ import annotations

import difflib
import hashlib
import json
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from .._checks import UnnormalisedWarning, number, positive_int, warn_user, yes_or_no
from .._store import atomic_save_safetensors, atomic_write_bytes, safetensors_path
from ..classifier import LabelPrediction
from ..explain import input_view, upsample_map
from ..explanation import HeatMap
from ..images import ImageInput, ImageLike
from ..space import ConceptSpace
from .results import (
    CONFIDENCE_EDGES,
    AgreementByConfidence,
    BottleneckExplanation,
    Intervention,
    Recipe,
    distinct_names,
)

ACTIVATION_LIMIT = 1e4
"""The largest activation an intervention may set (concept scores are a few units; 1e308 overflowed in torch's
words)."""

RESIDUAL_WARNING = 0.9
"""A class whose recipe leaves out more than this share of its centred row is named in a :class:`PoorFitWarning`."""

FORMAT_VERSION = 2
"""Version of a saved bottleneck's sidecar (2: it carries ``sidecar_sha256``, a hash of its other fields, so that a
budget or fit flag changed by accident or by hand is refused; a checksum, not a signature: whoever rewrites the hash
too, or the format to 1, which :func:`~nlexnb.bottleneck.load_bottleneck` still reads unhashed, is not stopped)."""


def sidecar_digest(sidecar: dict) -> str:
    """SHA-256 of a sidecar's fields but its own digest (JSON, sorted keys): what a format-2 sidecar carries."""
    fields = {key: value for key, value in sidecar.items() if key != "sidecar_sha256"}
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode("utf-8")).hexdigest()


class PoorFitWarning(UserWarning):
    """Some classes are poorly written by their recipes (see :data:`RESIDUAL_WARNING`); they are kept, not dropped."""


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
        default_fit: fitted by :func:`concept_bottleneck` with its defaults (every concept allowed, no kinds), so
            that :func:`tradeoff` may use it as its recipes at its budget; False for a baseline, an edited
            bottleneck or a fit with other options.
    """

    space: ConceptSpace
    weights: torch.Tensor
    n_concepts: int
    residual: torch.Tensor
    default_fit: bool = False

    def __repr__(self) -> str:
        used = int((self.weights > 0).any(0).sum())
        return (
            f"ConceptBottleneck({self.space.classifier.name!r}, {self.n_concepts} concepts per class, "
            f"{used} concepts in all, mean residual {float(self.residual.mean()):.2f})"
        )

    # ---- logits: one definition -------------------------------------------------------------------------------------
    def concept_scores(self, features: torch.Tensor) -> torch.Tensor:
        """The bottleneck layer [N, T]: each concept direction's score ``V f`` for features [N, d] (checked as
        :meth:`nlexnb.Classifier.checked_features` checks them: one vector [d] is refused, not read as a row)."""
        return self._scores(self.space.classifier.checked_features(features))

    def shared_logits(self, features: torch.Tensor) -> torch.Tensor:
        """[N, K]: ``mean(W) . f + b``, the part of every logit that does not pass through the concepts (``features``
        checked as for :meth:`concept_scores`)."""
        return self._shared(self.space.classifier.checked_features(features))

    def _scores(self, features: torch.Tensor) -> torch.Tensor:
        """:meth:`concept_scores` of features already checked."""
        return features.to(self.space.directions.device, torch.float32) @ self.space.directions.T

    def _shared(self, features: torch.Tensor) -> torch.Tensor:
        """:meth:`shared_logits` of features already checked."""
        f = features.to(self.space.directions.device, torch.float32)
        clf = self.space.classifier
        shared = f @ clf.head_weight.mean(0).to(f.device, torch.float32)
        bias = clf.head_bias.to(f.device, torch.float32) if clf.head_bias is not None else 0.0
        return shared[:, None] + bias

    def logits_from_features(self, features: torch.Tensor, scores: torch.Tensor | None = None) -> torch.Tensor:
        """[N, K]: ``A @ (V f) + mean(W) . f + b`` (the shared term moves every class alike).

        ``scores`` [N, T] replaces the concept scores ``V f`` (what an intervention sets); the shared term still
        comes from ``features``."""
        features = self.space.classifier.checked_features(features)
        if scores is None:
            scores = self._scores(features)
        else:
            wanted = (len(features), len(self.space))
            if not isinstance(scores, torch.Tensor) or tuple(scores.shape) != wanted:
                got = list(scores.shape) if isinstance(scores, torch.Tensor) else type(scores).__name__
                raise ValueError(
                    f"scores must be a tensor {list(wanted)} (a row of concept scores per image), got {got}"
                )
            if not bool(torch.isfinite(scores).all()):
                raise ValueError("scores must be finite: no NaN or inf (a concept switched off is 0.0)")
            scores = scores.to(self.weights.device, torch.float32)
        return scores @ self.weights.T.float() + self._shared(features)

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
            f = features_of(self.space, images, features)
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
        (0, 1)), and whether the head's class is among the bottleneck's five highest (NaN for a head of five classes
        or fewer, where every class is).

        Where the head is sure, a recipe's residual rarely changes its decision; where it hesitates between several
        classes, whatever a recipe leaves out decides between them. On the 298 benchmark photos at 32 concepts
        per class (lite0), agreement is 0.94 where the head gives 0.8 or more and 0.37 where it gives under 0.2
        (``benchmarks/RESULTS.md``)."""
        edges = _confidence_edges(edges)
        with torch.inference_mode():
            f = features_of(self.space, images, features)
            head = self.space.classifier.head(f).float().cpu()
            written = self.logits_from_features(f).cpu()
        confidence, original = head.softmax(1).max(1)
        same = (written.argmax(1) == original).numpy()
        classes = written.shape[1]
        if classes > 5:
            in_top = (written.topk(5, dim=1).indices == original[:, None]).any(1).numpy().astype(float)
        else:  # 1.0 by construction, not a measurement
            in_top = np.full(len(same), np.nan)
        band = np.digitize(confidence.numpy(), edges)
        labels = [f"< {edges[0]:g}", *(f"{a:g} to {b:g}" for a, b in zip(edges, edges[1:])), f">= {edges[-1]:g}"]
        rows = [_agreement_row(label, band == b, same, in_top) for b, label in enumerate(labels)]
        rows.append(_agreement_row("all", np.ones_like(same), same, in_top))
        return AgreementByConfidence(pd.DataFrame(rows), int(f.shape[0]), classes)

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
                "row left out": _left_out(centred_rows(self.space)[index : index + 1], partial).tolist(),
            }
        )
        names = self.space.classifier.class_names
        shown = distinct_names(names)[index]  # "maillot" and "maillot, tank suit" are two classes
        return Recipe(index, names[index], table, float(self.residual[index]), self.n_concepts, shown)

    def poorly_written(self, threshold: float = RESIDUAL_WARNING) -> pd.DataFrame:
        """The classes whose recipe leaves out more than ``threshold`` of their centred row, worst first:
        ``class_name``, ``residual``."""
        threshold = number(threshold, "threshold", low=0.0, high=1.0, what="a share of the row")
        order = self.residual.argsort(descending=True).tolist()
        names = self.space.classifier.class_names
        rows = [(names[i], float(self.residual[i])) for i in order if float(self.residual[i]) > threshold]
        return pd.DataFrame(rows, columns=["class_name", "residual"])

    def explain(
        self, image: ImageLike | torch.Tensor, target: int | str | None = None, k: int = 5, heatmaps: bool = True
    ):
        """Each recipe concept's part of class ``target``'s bottleneck logit for one image (default: the bottleneck's
        top-1), with heat maps of the ``k`` largest from the same forward pass: a :class:`BottleneckExplanation`.
        ``heatmaps=False`` leaves the maps out, for a classifier that gives no feature map
        (:class:`~nlexnb.classifier.NoFeatureMap`: VGG, say); the table needs none."""
        clf, space = self.space.classifier, self.space
        index = None if target is None else space.class_index(target, "target")
        k = positive_int(k, "k", "heat maps")
        heatmaps = yes_or_no(heatmaps, "heatmaps")
        x = space.preprocess_one(image)
        with _checked_already():
            out = clf.forward_all(x, maps=heatmaps)
        f = out.features
        with torch.inference_mode():
            scores = self._scores(f)
            logits = self.logits_from_features(f, scores)[0]
            shared = self._shared(f)[0]
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
                # no share of a part the concepts take away: "thin petals" at -0.46 read as +12% of a -3.93 total
                "share": (contribution / part).tolist() if part > 0 else [float("nan")] * len(used),
            }
        )
        maps = self._heatmaps(x, out.feature_map[0], used[:k], row, contribution[:k]) if heatmaps else []
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

    def _heatmaps(self, x, fmap, top, row, contribution) -> list[HeatMap]:
        """Heat maps of the recipe concepts ``top`` of ``row`` on one image's feature map, each scaled by its weight."""
        clf, space = self.space.classifier, self.space
        grids = torch.einsum("hwd,kd->khw", fmap.float(), space.directions[top])
        grids = grids * row[top].float()[:, None, None]
        view = input_view(clf, x)  # one picture for all the maps
        up = upsample_map(grids, tuple(x.shape[-2:]))
        return [
            HeatMap(space.texts[i], u.cpu().numpy(), g.cpu().numpy(), view, score=float(c))
            for i, u, g, c in zip(top.tolist(), up, grids, contribution.tolist())
        ]

    # ---- interventions ---------------------------------------------------------------------------------------------
    def concept_index(self, concept: str) -> int:
        """The bank index of a concept text (exact, else ignoring case); a ValueError with close matches if none."""
        if not isinstance(concept, str):
            raise TypeError(f"A concept must be a text of the bank, got {type(concept).__name__} ({concept!r})")
        texts = self.space.texts
        index = concept_positions(texts, [concept])[0]
        if index is not None:
            return index
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
        k = min(positive_int(k, "k", "classes"), len(self.space.classifier.class_names))  # as predict caps it
        with torch.inference_mode():
            x = self.space.preprocess_one(image)
            with _checked_already():
                f = self.space.classifier.features(x)
            scores = self._scores(f)
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
        chosen: dict[int, float] = {}
        named: dict[int, str] = {}
        for concept, value in values.items():
            index = self.concept_index(concept)
            if index in named:  # "foam" and "Foam" are one concept: which value was meant?
                raise ValueError(f"{named[index]!r} and {concept!r} name the same concept: give it one value")
            named[index] = concept
            ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
            if not ok or not np.isfinite(value) or abs(value) > ACTIVATION_LIMIT:
                raise ValueError(
                    f"The activation for {concept!r} must be a finite number within +-{ACTIVATION_LIMIT:g} (a "
                    f"concept's score on an image is a few units; 0.0 switches it off), got {value!r}"
                )
            if not bool((self.weights[:, index] > 0).any()):
                warn_user(f"{concept!r} is in no class's recipe: setting its activation changes nothing")
            chosen[index] = float(value)
        return chosen

    def without(self, concepts: str | Sequence[str], classes: int | str | Sequence[int | str] | None = None):
        """A new bottleneck with ``concepts`` removed from the recipes of ``classes`` (default every class); the
        other weights are kept as fitted (not refitted), and the residuals say how much more each row now leaves out.
        """
        if isinstance(concepts, (bytes, bytearray)) or isinstance(classes, (bytes, bytearray)):
            which, value = ("concepts", concepts) if isinstance(concepts, (bytes, bytearray)) else ("classes", classes)
            raise TypeError(
                f"{which} must be text, not {type(value).__name__} {value!r:.60} (its items would be read as numbers): "
                f"decode it first: {bytes(value[:40])!r}.decode()"
            )
        if not isinstance(concepts, (str, Sequence)):
            raise TypeError(f"concepts must be a concept text or a list of them, got {type(concepts).__name__}")
        items = [concepts] if isinstance(concepts, str) else list(concepts)
        if not items:
            raise ValueError("concepts is empty: name at least one concept to remove")
        columns = [self.concept_index(c) for c in items]
        if classes is None:
            rows = list(range(self.weights.shape[0]))
        else:
            if isinstance(classes, torch.Tensor) and classes.ndim == 0:
                classes = int(classes)
            if not isinstance(classes, (str, int, np.integer, Sequence)):
                raise TypeError(f"classes must be a class (name or index) or a list of them, got {classes!r}")
            listed = [classes] if isinstance(classes, (str, int, np.integer)) else list(classes)
            if not listed:
                raise ValueError("classes is empty: name at least one class, or None for every class")
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
        path = safetensors_path(path, "bottleneck")
        _check_sidecar_is_ours(sidecar_path(path))
        meta = self.identity()
        atomic_save_safetensors(path, {"weights": self.weights, "residual": self.residual}, {"nlexnb": "bottleneck"})
        sidecar = {
            **meta,
            "default_fit": self.default_fit,
            "tensors_sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        }
        sidecar["sidecar_sha256"] = sidecar_digest(sidecar)
        atomic_write_bytes(sidecar_path(path), (json.dumps(sidecar, indent=1) + "\n").encode("utf-8"))
        return path


@contextmanager
def _checked_already() -> Iterator[None]:
    """Run the classifier on an image :meth:`~nlexnb.space.ConceptSpace.preprocess_one` has checked: a float tensor
    that looks like ``ToTensor()`` output without ``Normalize`` was warned of there, and the same warning from the
    classifier's check of the same tensor said it twice."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UnnormalisedWarning)
        yield


def _check_sidecar_is_ours(sidecar: Path) -> None:
    """A ValueError when a file named as the sidecar exists and is not one a bottleneck wrote: the user named the
    ``.safetensors`` file, not ``results.json`` beside it, which would be overwritten without a word."""
    if not sidecar.exists():
        return
    try:
        held = json.loads(sidecar.read_text(encoding="utf-8"))
        ours = isinstance(held, dict) and {"tensors_sha256", "bank_sha256", "classifier_fingerprint"} <= set(held)
    except (OSError, UnicodeDecodeError, ValueError):
        ours = False
    if not ours:
        raise ValueError(
            f"ConceptBottleneck.save writes its sidecar to {str(sidecar)!r}, which exists and was not written by a "
            "bottleneck; it is left as it is. Save under another name"
        )


def concept_positions(texts: Sequence[str], concepts: Sequence[str]) -> list[int | None]:
    """Where each of ``concepts`` is in the bank's ``texts``: the exact text, else the text ignoring case and spaces
    around it (the first of equal texts), None where neither is there. How a bottleneck reads every concept a user
    names (``intervene``, ``without``, ``allowed=``): "Coffee" was refused by one and taken by the others."""
    exact: dict[str, int] = {}
    folded: dict[str, int] = {}
    for i, text in enumerate(texts):
        exact.setdefault(text, i)
        folded.setdefault(text.lower(), i)
    return [exact.get(c, folded.get(c.strip().lower())) for c in concepts]


def centred_rows(space: ConceptSpace) -> torch.Tensor:
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
    of the angle between the row and ``weights[c] @ V``; 1 for an empty recipe): what no scale of the recipe can
    write. For a least-squares recipe it is the relative norm of what is left; a recipe scaled to its row's length
    (:func:`to_row_length`, as fitted recipes are) misses the row by ``sqrt(2 - 2 cos)`` of its length, more than
    this, and by more than the whole row once the angle passes 60 degrees (a sine of 0.87)."""
    rows = centred_rows(space)
    return _left_out(rows, weights.to(rows.device, torch.float64) @ space.directions.double()).float()


def to_row_length(space: ConceptSpace, weights: torch.Tensor) -> torch.Tensor:
    """``weights`` [K, T] with each class's recipe scaled so that what it writes, ``weights[c] @ V``, is as long as
    the centred class row it stands for.

    A least-squares recipe is the row's projection onto a few concepts, so it is shorter than the row by the cosine
    between them, and a class its bank writes poorly would score lower on its own images than the original head
    scores it. Giving every recipe its row's length keeps the head's balance between classes: with no images, top-1
    agreement at 32 concepts rises from 0.534 to 0.611 on lite0 (0.477 to 0.547 on lite1, 0.540 to 0.607 on lite2;
    benchmarks/RESULTS.md). The scale is one number per class: a recipe's concepts and their shares do not change."""
    rows = centred_rows(space)
    weights = weights.to(rows.device, torch.float64)
    length = (weights @ space.directions.double()).norm(dim=1)
    scale = torch.where(length > 0, rows.norm(dim=1) / length.clamp_min(1e-12), torch.zeros_like(length))
    return weights * scale[:, None]


def features_of(space: ConceptSpace, images, features: torch.Tensor | None) -> torch.Tensor:
    """The classifier's features [N, d] of ``images``, or ``features`` checked, exactly one of the two given."""
    if (images is None) == (features is None):
        raise ValueError("Pass images or their features (features=), one of the two")
    if features is None:
        return space.classifier.features(images)
    return space.classifier.checked_features(features)


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
    """One band's row: how many images, and the share of them that agree (NaN for none; ``in_top`` NaN throughout
    where it is not measured)."""
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


def sidecar_path(path: Path) -> Path:
    """Where a saved bottleneck's JSON identity lies: beside its safetensors file, ``<name>.json``."""
    return path.with_suffix(".json")
