"""Zero-shot classification: any list of label names becomes a new linear head on the classifier's own features.

Each label is mapped with the prompt ensemble (``mapper.encode_labels``) to a vector in the classifier's feature space;
the head is built once, and scoring images costs the classifier's forward pass plus one matrix product.

Calibration (measured on tf_efficientnet_lite0 + all-MiniLM-L6-v2; see ``benchmarks/bench_zeroshot.py``):

- **Norms.** Mapped vectors are shrunk towards the mean (ridge: mean norm 0.97 against 2.30 for the real rows), and
  their norms vary with how "typical" a label's text is, not with the class. Each label vector is scaled to unit norm
  and then to the mean norm of the real rows. Ranking labels by cosine beat raw dot products on the coarse photo set
  (0.59 vs 0.58 with the ridge map, 0.50 vs 0.46 with the MLP map), and it makes the held-out ZSL ranking identical to
  :func:`nlexnb.evaluate.heldout`'s.
- **Temperature / bias.** With rows at the real rows' norm, logits are in the classifier's own logit units; the
  negative log-likelihood on the coarse photo set is 1.20 at scale 1 against 1.19 at the best scale (2), so no extra
  temperature is applied. A new label has no bias of its own: it gets the mean of the real biases (only matters when it
  competes with the original classes).
- **Seen-class penalty** (``include_original_classes``). Mapped label vectors align less with an image's features than
  the real rows of related classes do, so without a penalty the original classes win almost always (held-out GZSL top-1
  about 0.03). The penalty ``p`` is in cosine units; since a logit is ``|f| |w| cos``, it is subtracted from each
  original class's logit as ``p * |f| * mean_row_norm`` per image, which leaves the ranking among the original classes
  exactly the classifier's own. Default 0.1 (:data:`DEFAULT_SEEN_PENALTY`). The mapper's own calibrated
  ``meta["seen_penalty"]`` (about 0.6 for the kernel map) is for ranking label vectors against rows, where a true pair
  has cosine ~0.5; an image's features have cosine ~0.25 with their best row, and there that value lets any new label
  swallow the original classes ("a red fox" won on the espresso photo). With 0.1 the sample photos keep their own
  predictions unless a new label names them better ("cat" for the tabby, "flower" for the daisy), and held-out GZSL
  with class rows as stand-in images is 0.13 at 0.0 and above that at 0.1 (benchmarks/RESULTS.md).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ._checks import (
    OneLabelWarning,
    an_index,
    labels_with_words,
    number,
    positive_int,
    synonym_keys,
    text_list,
    warn_user,
    yes_no_or_none,
)
from .classifier import Classifier, LabelPrediction, Prediction
from .images import ImageInput
from .labels import counted
from .mapper import Mapper, check_fits
from .space import ConceptSpace

__all__ = ["ZeroShotClassifier", "ZeroShotEvaluation", "check_labels", "top1_name_baseline", "DEFAULT_SEEN_PENALTY"]

BAR = "the default: a progress bar for many batches"
"""What ``progress=None`` does, in the message for a ``progress`` that is not True, False or None."""

DEFAULT_SEEN_PENALTY = 0.1
"""Seen-class penalty (cosine units) on images: see the module docstring for how it was chosen."""


def check_labels(labels: Sequence[str], class_names: Sequence[str] = ()) -> list[str]:
    """Validate a label list: non-empty, strings, no empty or duplicate labels. Returns the labels without their
    surrounding whitespace ("cat\\r" from a pasted list is "cat"); duplicates are found ignoring case and whitespace
    ("cat" and "Cat" would split one label's probability), and also ignoring the punctuation around each
    comma-separated synonym: "cat" and "cat," are one label, and so are "cat" and "kitty, cat" (a one-name label
    that is a synonym of another label), and so are "t-shirt" and "t shirt" (a hyphen compares as a space): the
    images of a cat would split between them. Labels that are both
    ``class_names`` (a classifier's own, which may share a synonym: ImageNet's two "partridge" classes) are compared
    as given.

    Raises:
        TypeError: ``labels`` is a single string, or an item is not a string.
        ValueError: empty list, an empty label (or one of punctuation only), or duplicates (named, both of them).
    """
    items = text_list(labels, "labels", "label names", "label", "['cat', 'dog']")
    written = labels_with_words(items, "labels")
    names = [[_compact(key) for key in keys] for keys in written]  # "t-shirt", "t shirt" and "tshirt" are one
    own = set(class_names)
    having: dict[str, list[int]] = {}  # synonym -> the earlier labels that have it: only those can name one thing
    for j, keys in enumerate(names):
        for i in sorted({i for key in keys for i in having.get(key, [])}):
            shared = None if items[i] in own and items[j] in own else same_thing(names[i], keys)
            if shared:
                shared = written[i][names[i].index(shared)]  # as the first label writes it
                raise ValueError(
                    f"Duplicate labels: {items[i]!r} and {items[j]!r} (positions {i} and {j}) both name {shared!r}, "
                    "so the images of it would split between them; drop one, or write them as one label with "
                    "commas between synonyms ('kitty, cat')"
                )
        for key in keys:
            having.setdefault(key, []).append(j)
    return items


def _compact(key: str) -> str:
    """A synonym key with its hyphens as spaces: how "t-shirt" and "t shirt" compare ("co-op" and "coop" stay two)."""
    return " ".join(key.replace("-", " ").split())


def same_thing(a: list[str], b: list[str]) -> str | None:
    """The synonym two names (as :func:`synonym_keys`) share when they name the same thing: the same synonyms, or one
    name alone that is a synonym of the other; None otherwise ("a cat" and "cat" are not one thing)."""
    if set(a) == set(b) or (len(a) == 1 and a[0] in b):
        return a[0]
    if len(b) == 1 and b[0] in a:
        return b[0]
    return None


def classifier_mapper_labels(first, mapper, labels, what: str) -> tuple[Classifier, Mapper, object]:
    """``(classifier, mapper, labels)`` from the two ways zero-shot tools are called: ``(classifier, mapper, labels)``
    or ``(space, labels)`` (a :class:`~nlexnb.space.ConceptSpace` brings its classifier and mapper); ``what`` names
    the caller in errors."""
    if isinstance(first, ConceptSpace):
        if labels is None and mapper is not None and not isinstance(mapper, Mapper):
            mapper, labels = None, mapper  # what(space, ["cat", "dog"])
        if mapper is not None:
            raise ValueError(f"{what}(space, labels) uses the space's mapper: pass no other mapper")
        return first.classifier, first.mapper, labels
    if not hasattr(mapper, "encode_labels"):
        raise TypeError(
            f"{what} needs a mapper after the classifier, got {type(mapper).__name__}: "
            f"{what}(classifier, mapper, labels), or {what}(space, labels)"
        )
    return first, mapper, labels


def class_selection(include):
    """``include_original_classes`` as True, False, None or a list: numpy's bool (a flag read from an array or a
    frame) is a bool, and an array or a tensor of class indices a list of them (its truth value is ambiguous, and a
    tensor's items are no ints). A mask of True/False per class is a TypeError saying how to get its indices."""
    if isinstance(include, np.bool_):
        return bool(include)
    if isinstance(include, (np.ndarray, torch.Tensor)) and include.ndim == 0:  # one value: a flag, or a mistake
        return include.item()
    if isinstance(include, torch.Tensor):
        if include.dtype == torch.bool:
            raise mask_error(include.numel())
        return include.tolist()
    if isinstance(include, np.ndarray):
        if include.dtype == np.bool_:
            raise mask_error(include.size)
        return include.tolist()
    if isinstance(include, (list, tuple)) and include and all(isinstance(k, (bool, np.bool_)) for k in include):
        raise mask_error(len(include))
    return include


def mask_error(size: int) -> TypeError:
    """The error for a mask of ``size`` True/False values given as ``include_original_classes``, its values unprinted
    (a mask of the 1000 classes filled the screen)."""
    return TypeError(
        f"include_original_classes is a mask of {size} True/False values; it takes True (all the classifier's "
        "classes) or the indices of the classes to keep: pass np.flatnonzero(mask).tolist()"
    )


class ZeroShotClassifier:
    """A classifier over any label names, built from a mapper; no images, no training.

    Args:
        classifier: gives the features (and, with ``include_original_classes``, its own rows); or a
            :class:`~nlexnb.space.ConceptSpace`, whose classifier and mapper are used (then no mapper:
            ``ZeroShotClassifier(space, labels)``), as for :class:`nlexnb.Explainer`, discovery and the metrics.
        mapper: maps label names to classifier space (fitted on this classifier's head).
        labels: any list of unique, non-empty label names ("cat", "a red double-decker bus", ...). Commas separate
            synonyms that are averaged ("sofa, couch"). Labels that name one thing ("cat", "Cat.", "kitty, cat") are
            refused (see :func:`check_labels`): they would split its images.
        templates: prompt templates for the labels; default the mapper's.
        include_original_classes: also keep the classifier's own classes (generalised zero-shot): ``True`` for all,
            or a list of class indices (e.g. the seen classes of a held-out evaluation; an array or a tensor of them
            too, not a True/False mask). They come after the new labels in :attr:`labels`. A label that names one
            of them, in any case, by its name or one of its synonyms ("Espresso", "tabby"), is refused.
        seen_penalty: cosine-unit penalty on the original classes; default :data:`DEFAULT_SEEN_PENALTY`. A negative
            value is a bonus: the original classes then win more often than their scores alone would make them.

    Attributes:
        labels: output columns: the new labels, then (optionally) the original class names.
        num_new: how many of the columns are new labels.
        head_weight: [L, d] rows; head_bias: [L].
        center: None, or the mean feature [d] subtracted from every image's features before the new labels score
            them (see :meth:`center_on`); checked when set by hand.
    """

    def __init__(
        self,
        classifier: Classifier | ConceptSpace,
        mapper: Mapper | None = None,
        labels: Sequence[str] | None = None,
        templates: Sequence[str] | None = None,
        include_original_classes: bool | Sequence[int] = False,
        seen_penalty: float | None = None,
    ) -> None:
        classifier, mapper, labels = classifier_mapper_labels(classifier, mapper, labels, "ZeroShotClassifier")
        if not isinstance(classifier, Classifier):
            raise TypeError(
                "ZeroShotClassifier takes a classifier (nlexnb.load_classifier(...)) or a ConceptSpace first, got "
                f"{type(classifier).__name__}"
            )
        new = check_labels(labels, classifier.class_names)
        check_fits(mapper, classifier, "ZeroShotClassifier")
        include_original_classes = class_selection(include_original_classes)
        if len(new) == 1 and not include_original_classes:
            warn_user(
                f"One label ({new[0]!r}) and include_original_classes=False: every image gets probability 1.0. "
                "Give at least two labels, or include_original_classes=True to compete with the classifier's classes",
                OneLabelWarning,
            )
        if seen_penalty is not None:
            seen_penalty = number(seen_penalty, "seen_penalty", note="cosine units, e.g. 0.1")
            if include_original_classes is False or include_original_classes is None:
                warn_user(
                    f"seen_penalty={seen_penalty:g} has no effect without include_original_classes: it lowers the "
                    "classifier's own classes, and there are none among the labels"
                )
        self.original = self._original_indices(include_original_classes, classifier, new)  # before any encoding
        given = include_original_classes is not False and include_original_classes is not None  # [] names no class
        if seen_penalty is not None and given and not self.original:
            warn_user(f"seen_penalty={seen_penalty:g} has no effect: include_original_classes names no class")
        mapper.text_encoder.warn_if_truncated(new)  # warned even when the labels are cached
        self.classifier = classifier
        self.mapper = mapper
        device = classifier.device
        rows = classifier.head_weight.float()
        self.row_norm = float(rows.norm(dim=1).mean())
        bias = classifier.head_bias if classifier.head_bias is not None else torch.zeros(len(rows), device=device)
        vectors = mapper.encode_labels(new, templates).float().to(device)
        vectors = torch.nn.functional.normalize(vectors, dim=1) * self.row_norm
        new_bias = torch.full((len(new),), float(bias.mean()), device=device)
        if seen_penalty is None:
            seen_penalty = DEFAULT_SEEN_PENALTY
        self.seen_penalty = seen_penalty if self.original else 0.0  # warned above when given: 0 says nothing more
        index = torch.tensor(self.original, dtype=torch.long, device=device)
        self.head_weight = torch.cat([vectors, rows[index]])
        self.head_bias = torch.cat([new_bias, bias.float()[index]])
        self.num_new = len(new)
        self._labels: tuple[str, ...] = tuple(new + [classifier.class_names[k] for k in self.original])
        self.center = None

    @property
    def seen_penalty(self) -> float:
        """The penalty (cosine units) on the original classes; set it like any option, checked as the constructor
        checks it, with the same warning where there are no original classes for it to lower."""
        return self._seen_penalty

    @seen_penalty.setter
    def seen_penalty(self, value) -> None:
        value = number(value, "seen_penalty", note="cosine units, e.g. 0.1")
        if value and not self.original:  # stored and never used: the constructor says so, and so does a later set
            warn_user(
                f"seen_penalty={value:g} has no effect without include_original_classes: it lowers the "
                "classifier's own classes, and there are none among the labels"
            )
        self._seen_penalty = value

    @property
    def center(self) -> torch.Tensor | None:
        """None, or the mean feature [d] subtracted from every image's features before the new labels score them."""
        return self._center

    @center.setter
    def center(self, value: torch.Tensor | None) -> None:
        self._center = None if value is None else self._checked_center(value)

    def _checked_center(self, value) -> torch.Tensor:
        """A centre set by hand, checked when set (not at the next prediction, in a matrix product's words): one
        feature vector [d] of finite floats, as :meth:`center_on` makes it; stored in float32 beside the head."""
        d = self.head_weight.shape[1]
        how = "zs.center_on(images) computes it; None removes it"
        if not isinstance(value, torch.Tensor):
            raise TypeError(
                f"center must be None or a tensor [{d}] (the mean feature; {how}), got {type(value).__name__}"
            )
        if value.shape != (d,):
            raise ValueError(
                f"center must be one feature vector [{d}] (the mean feature; {how}), got {list(value.shape)}"
            )
        if not value.is_floating_point() or not bool(torch.isfinite(value).all()):
            raise ValueError(f"center must hold finite floating-point numbers ({how}): no NaN or inf")
        return value.to(self.head_weight.device, dtype=torch.float32)

    @property
    def labels(self) -> list[str]:
        """The labels, in the order of the logits (new labels first, then the classifier's own classes if kept): a
        copy, so that changing it cannot leave the labels out of step with the heads they were encoded into."""
        return list(self._labels)

    @labels.setter
    def labels(self, value) -> None:
        raise AttributeError(
            "A ZeroShotClassifier's labels cannot be replaced: each was encoded into the head when it was made, and "
            "new names would be scored with the old labels' vectors. Make a new one: "
            "nlexnb.ZeroShotClassifier(classifier, mapper, labels)"
        )

    def center_on(
        self, images: ImageInput | None = None, *, features: torch.Tensor | None = None, progress: bool | None = None
    ) -> ZeroShotClassifier:
        """Score every image relative to the mean feature of a set of unlabelled images (usually the set to classify).

        All images share a common feature direction, and labels whose vectors happen to lie along it win too often
        ("hub" labels: on the stamp photos, "tool" and "flag" take coins, chess pieces and vehicles). Subtracting the
        set's mean feature removes that direction: logits become ``(f - mean) . row + bias``. No labels are used, but
        the images are (it is transductive), so this is opt-in and never automatic: it changes results. Measured on
        the 290 stamp photos: default map 0.555 -> 0.562, map fitted on names alone 0.569 -> 0.607
        (benchmarks/RESULTS.md). With ``include_original_classes`` only the new labels are centred: the original
        classes keep the classifier's own logits (less the seen penalty), and so their own ranking.

        The set must hold at least 2 images: the "mean" of one image is the image itself, which would then score 0
        for every label (only the biases left), and every other image would be scored against that one photo.

        Args:
            images: the unlabelled images (anything ``Classifier.features`` takes); or
            features: their pre-logits features [N, d], when already computed (checked as
                :meth:`Classifier.checked_features` checks them: a tensor of finite floats, the classifier's width).
            progress: progress bar over batches.

        Returns:
            ``self``, centred (a second call replaces the centre; ``zs.center = None`` removes it).

        Raises:
            ValueError: neither or both of ``images`` and ``features``, fewer than 2 images, or features of the
                wrong width or with NaN. TypeError: features that are not a tensor.
        """
        if (images is None) == (features is None):
            given = "both None" if images is None else "both given"
            raise ValueError(
                f"images and features are {given}: center_on needs the unlabelled images or their features "
                "(features=), exactly one of them"
            )
        dim = self.head_weight.shape[1]
        if features is None:
            f = self.classifier.features(images, progress=yes_no_or_none(progress, "progress", BAR))
        elif isinstance(features, torch.Tensor) and (features.ndim != 2 or features.shape[1] != dim):
            raise ValueError(f"center_on needs features of shape [N >= 1, {dim}], got {tuple(features.shape)}")
        else:
            f = self.classifier.checked_features(features)
        if len(f) < 2:
            raise ValueError(
                f"center_on needs at least 2 images (usually the whole set to classify), got {len(f)}: the mean of "
                "one image is that image, and subtracting it would leave that image no score for any label"
            )
        self.center = f.to(self.head_weight.device, dtype=torch.float32).mean(0)
        return self

    @staticmethod
    def _original_indices(include, classifier: Classifier, new: list[str]) -> list[int]:
        if include is False or include is None:
            return []
        if include is True:
            index = list(range(classifier.num_classes))
        else:
            wanted = f"True or unique class indices in [0, {classifier.num_classes})"
            if isinstance(include, (str, bytes)) or not hasattr(include, "__iter__"):
                raise TypeError(f"include_original_classes must be {wanted}, got {type(include).__name__} {include!r}")
            if not all(an_index(k) for k in include):
                raise TypeError(f"include_original_classes must be {wanted}, got {include!r:.80}")
            index = [int(k) for k in include]
            bad = [k for k in index if not 0 <= k < classifier.num_classes]
            if bad or len(set(index)) != len(index):
                raise ValueError(
                    f"include_original_classes must be True or unique class indices in [0, {classifier.num_classes})"
                )
        names = classifier.class_names
        exact = set(names)
        clash = [f"{label!r} (class {names[k]!r})" for label in new for k in index if label == names[k]]
        if not clash:  # a label that is some other class's own name is that class, not a synonym of an included one
            keys = {k: synonym_keys(names[k]) for k in index}
            clash = [
                f"{label!r} (class {names[k]!r})"
                for label in new
                if label not in exact
                for k in index
                if set(synonym_keys(label)) & set(keys[k])  # "kitty, tabby" names the tabby by one of its names
            ]
        if clash:
            raise ValueError(
                f"Labels {', '.join(clash[:5])} are already classes of the classifier, and include_original_classes "
                "keeps those: the images of each would split between the two; drop them from labels"
            )
        return index

    def logits_from_features(self, features: torch.Tensor) -> torch.Tensor:
        """Logits [N, L] from pre-logits features [N, d]: one matrix product (less the per-image seen penalty of the
        original classes; the new labels scored on ``f - centre`` if :meth:`center_on` set one)."""
        f = self.classifier.checked_features(features).to(self.head_weight.device, dtype=torch.float32)
        logits = f @ self.head_weight.T + self.head_bias
        if self.center is not None:  # the new labels only: the original classes keep the classifier's own logits
            logits[:, : self.num_new] -= self.center @ self.head_weight[: self.num_new].T
        if self.seen_penalty and self.original:
            logits[:, self.num_new :] -= self.seen_penalty * self.row_norm * f.norm(dim=1, keepdim=True)
        return logits

    def logits(self, images: ImageInput, progress: bool | None = None) -> torch.Tensor:
        """Logits [N, L] for images (anything ``Classifier.features`` takes), features computed in batches."""
        return self.logits_from_features(
            self.classifier.features(images, progress=yes_no_or_none(progress, "progress", BAR))
        )

    def predict_proba(self, images: ImageInput, progress: bool | None = None) -> torch.Tensor:
        """Label probabilities [N, L] (columns in the order of :attr:`labels`)."""
        return self.logits(images, progress).softmax(-1)

    def predict(self, images: ImageInput, k: int = 5, progress: bool | None = None) -> list[LabelPrediction]:
        """The most likely label of each image, with the top-k labels and their probabilities.

        ``k`` comes second, as in :meth:`top_k` and :meth:`Classifier.predict`: ``zs.predict(images, 2)``. With fewer
        labels than ``k``, every label is listed, in order.

        Each result is a :class:`~nlexnb.classifier.LabelPrediction`: a :class:`~nlexnb.classifier.Prediction` (as
        :meth:`Classifier.predict` gives: ``.label``, ``.probability``, ``.names``, ``.probabilities``) that is also
        the label as a string, so ``zs.predict(images) == ["cat", "drink"]`` holds as when it returned plain labels.
        """
        return self._top(images, k, progress, LabelPrediction)

    def top_k(self, images: ImageInput, k: int = 5, progress: bool | None = None) -> list[Prediction]:
        """Top-k labels with probabilities, one :class:`~nlexnb.classifier.Prediction` per image (as :meth:`predict`,
        without being the label as a string)."""
        return self._top(images, k, progress, Prediction)

    def _top(self, images: ImageInput, k: int, progress: bool | None, kind: type[Prediction]) -> list:
        k = min(positive_int(k, "k", "labels"), len(self._labels))
        top = self.predict_proba(images, progress).topk(k, dim=-1)
        return [
            kind(i.tolist(), [self._labels[j] for j in i.tolist()], p.tolist())
            for i, p in zip(top.indices.cpu(), top.values.cpu())
        ]

    def __repr__(self) -> str:
        extra = f", original_classes={len(self.original)}, seen_penalty={self.seen_penalty:g}" if self.original else ""
        return f"ZeroShotClassifier(labels={self.num_new}{extra}, classifier={self.classifier.name!r})"


class ZeroShotEvaluation:
    """Result of :func:`nlexnb.evaluate.zero_shot`: accuracy, per-class accuracy, confusion matrix and a plot.

    Attributes:
        accuracy: top-1 accuracy over all items.
        per_class: DataFrame with columns label, n, correct, accuracy (one row per true label present).
        confusion: DataFrame, true labels (rows) x predicted labels (columns), counts.
        predictions: DataFrame with columns item, true, predicted, probability.
        skipped: ``(path, reason)`` of the image files left out because they could not be read (corrupt, truncated,
            not images); every number above is over the other images.
    """

    def __init__(
        self,
        true: list[str],
        predicted: list[str],
        probability: list[float],
        labels: list[str],
        skipped: Sequence[tuple[str, str]] = (),
    ) -> None:
        import pandas as pd

        self.skipped: list[tuple[str, str]] = list(skipped)

        self.predictions = pd.DataFrame(
            {"item": range(len(true)), "true": true, "predicted": predicted, "probability": probability}
        )
        correct = self.predictions["true"] == self.predictions["predicted"]
        self.accuracy = float(correct.mean())
        present = [label for label in labels if label in set(true)]
        grouped = self.predictions.assign(correct=correct).groupby("true", sort=False)
        per = grouped["correct"].agg(["count", "sum"]).reindex(present)
        self.per_class = pd.DataFrame(
            {"label": present, "n": per["count"].to_numpy(), "correct": per["sum"].to_numpy().astype(int)}
        )
        self.per_class["accuracy"] = self.per_class["correct"] / self.per_class["n"]
        shown = present + [p for p in dict.fromkeys(predicted) if p not in set(present)]
        self.confusion = pd.crosstab(
            pd.Categorical(true, categories=present), pd.Categorical(predicted, categories=shown), dropna=False
        )
        self.confusion.index.name, self.confusion.columns.name = "true", "predicted"

    def plot(self, normalize: bool = True, max_labels: int = 40):
        """Confusion-matrix heat map (rows: true labels, normalised to fractions by default). Returns the Figure."""
        from .plots import confusion_figure

        title = f"Zero-shot accuracy {self.accuracy:.3f} ({counted(len(self.predictions), 'image')})"
        return confusion_figure(self.confusion, title, normalize=normalize, max_labels=max_labels)

    plot_confusion = plot

    def _repr_html_(self) -> str:
        left_out = f" ({counted(len(self.skipped), 'unreadable file')} skipped)" if self.skipped else ""
        images = counted(len(self.predictions), "image")
        head = f"<b>Zero-shot accuracy {self.accuracy:.3f}</b> on {images}{left_out}<br>"
        return head + self.per_class.to_html(index=False, float_format="{:.3f}".format)

    def __repr__(self) -> str:
        n, labels = len(self.predictions), len(self.per_class)
        left_out = f", skipped={len(self.skipped)}" if self.skipped else ""
        return f"ZeroShotEvaluation(accuracy={self.accuracy:.3f}, items={n}, labels={labels}{left_out})"


def top1_name_baseline(
    classifier: Classifier, text_encoder, labels: Sequence[str], features: torch.Tensor, templates=None
) -> list[str]:
    """The no-mapper baseline: the classifier's own top-1 class name, then the nearest label in text space.

    Both sides are embedded with the same prompt ensemble (template x synonym, averaged). Takes pre-computed features
    [N, d] so that it can share one forward pass with the zero-shot head.
    """
    from .mapper import DEFAULT_TEMPLATES, check_templates, name_embeddings

    items = check_labels(labels, classifier.class_names)
    temps = check_templates(templates) if templates is not None else DEFAULT_TEMPLATES  # "a photo": one prompt for all
    features = classifier.checked_features(features)  # NaN features answered "cat"
    top1 = classifier.head(features.to(classifier.device, dtype=torch.float32)).argmax(1).cpu()
    classes = sorted(set(top1.tolist()))
    class_text = name_embeddings(text_encoder, [classifier.class_names[k] for k in classes], temps)
    nearest = (class_text @ name_embeddings(text_encoder, items, temps).T).argmax(1).tolist()
    lookup = dict(zip(classes, nearest))
    return [items[lookup[k]] for k in top1.tolist()]
