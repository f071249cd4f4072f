"""What an explanation explains: one public notion, taken by selection, metrics and plots alike.

A target is a linear function of the classifier's features, ``value(f) = w . f + b``: a class logit
(:class:`ClassLogit`), the gap between two logits (:class:`LogitGap`: "why A rather than B"), or any direction of the
feature space (:class:`Direction`: a mapped text, a probe). Because the value is linear, removing a span ``S`` from
``f`` lowers it by exactly ``w . P_S f``: that is what concepts are chosen to carry, and :meth:`Target.measure` re-runs
the classifier's own head to check it.

In the spirit of pytorch-grad-cam's target objects; a new kind of target is one small class with ``weight``,
``bias``, ``classes`` and ``describe``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from ._checks import an_index

__all__ = ["Target", "ClassLogit", "LogitGap", "Direction", "as_target"]


class Target:
    """Base class: a linear quantity of the classifier's features. Subclasses define the four members below."""

    classes: tuple[int, ...] = ()
    """Classes whose names must never explain this target (a class is not evidence for itself)."""

    def weight(self, classifier) -> torch.Tensor:
        """The direction ``w`` [d] (float32, on the classifier's device)."""
        raise NotImplementedError

    def bias(self, classifier) -> float:
        """The constant ``b`` of ``w . f + b``."""
        raise NotImplementedError

    def describe(self, classifier) -> str:
        """A short name for tables and titles."""
        raise NotImplementedError

    def check(self, classifier) -> None:
        """Raise a clear error when this target cannot be explained on ``classifier`` (a class it does not have, a
        direction that is not one), before anything is computed from it. Nothing to check by default."""

    def value(self, classifier, features: torch.Tensor) -> torch.Tensor:
        """``w . f + b`` for features [..., d], computed by re-running the classifier's head where the target is made of
        logits (so an ablation is *measured*, not derived from ``w``)."""
        w = self.weight(classifier).to(features.dtype)
        return features @ w + self.bias(classifier)

    def measure(self, classifier, features: torch.Tensor, ablated: torch.Tensor) -> float:
        """Drop of the value when ``features`` [d] are replaced by ``ablated`` [d] (float64)."""
        return float(self.value(classifier, features.double()) - self.value(classifier, ablated.double()))


def _class_number(value, what: str, example: str) -> None:
    """A TypeError unless ``value`` is a class index: a name would be looked up as a row number ("tabby" failed in
    torch's words, an IndexError)."""
    if not an_index(value):
        raise TypeError(
            f"{what} takes a class index (an int), got {value!r}; for a name, {example} gives it, or pass the name "
            f"itself as explain(image, target=..., foil=...)"
        )


@dataclass(frozen=True)
class ClassLogit(Target):
    """The logit of one class: ``z_c = W[c] . f + b[c]``."""

    index: int

    def __post_init__(self) -> None:
        _class_number(self.index, "ClassLogit", "ClassLogit(classifier.class_index('tabby'))")

    @property
    def classes(self) -> tuple[int, ...]:
        return (self.index,)

    def weight(self, classifier) -> torch.Tensor:
        return classifier.head_weight[self.index]

    def bias(self, classifier) -> float:
        return 0.0 if classifier.head_bias is None else float(classifier.head_bias[self.index])

    def value(self, classifier, features: torch.Tensor) -> torch.Tensor:
        return classifier.head(features)[..., self.index]

    def describe(self, classifier) -> str:
        return f"logit of {classifier.class_names[self.index]!r}"

    def check(self, classifier) -> None:
        classifier.class_index(self.index, "ClassLogit's class")  # -1 is not the last class


@dataclass(frozen=True)
class LogitGap(Target):
    """How much more the classifier says ``index`` than ``foil``: ``z_index - z_foil``, direction ``W[a] - W[b]``."""

    index: int
    foil: int

    def __post_init__(self) -> None:
        example = "LogitGap(classifier.class_index('tabby'), classifier.class_index('tiger cat'))"
        _class_number(self.index, "LogitGap", example)
        _class_number(self.foil, "LogitGap's foil", example)
        if self.index == self.foil:
            raise ValueError(f"A logit gap needs two different classes, got {self.index} twice")

    @property
    def classes(self) -> tuple[int, ...]:
        return (self.index, self.foil)

    def weight(self, classifier) -> torch.Tensor:
        return classifier.head_weight[self.index] - classifier.head_weight[self.foil]

    def bias(self, classifier) -> float:
        b = classifier.head_bias
        return 0.0 if b is None else float(b[self.index] - b[self.foil])

    def value(self, classifier, features: torch.Tensor) -> torch.Tensor:
        logits = classifier.head(features)
        return logits[..., self.index] - logits[..., self.foil]

    def describe(self, classifier) -> str:
        names = classifier.class_names
        return f"gap {names[self.index]!r} - {names[self.foil]!r}"

    def check(self, classifier) -> None:
        classifier.class_index(self.index, "LogitGap's class")
        classifier.class_index(self.foil, "LogitGap's foil")


@dataclass(frozen=True)
class Direction(Target):
    """Any direction of the feature space (a mapped text, a probe, a randomised row): ``v . f``."""

    vector: torch.Tensor = field(compare=False)
    label: str = "direction"
    """What the direction is, in words (a mapped text's own text): shown in the sentence, and no concept that says
    one of its words explains it ("striped feathers" for the score of "striped fur")."""
    classes: tuple[int, ...] = ()
    """Classes whose names must not explain it (e.g. the class whose row was randomised)."""

    def weight(self, classifier) -> torch.Tensor:
        v = torch.as_tensor(self.vector)
        if v.ndim != 1 or v.shape[0] != classifier.num_features:
            raise ValueError(f"A Direction must be a vector of {classifier.num_features} numbers, got {tuple(v.shape)}")
        return v.to(classifier.device, torch.float32)

    def bias(self, classifier) -> float:
        return 0.0

    def describe(self, classifier) -> str:
        return self.label

    def check(self, classifier) -> None:
        if not isinstance(self.label, str):  # sentences quote it and read its words
            raise TypeError(
                f"A Direction's label must be a text, what the direction means (Direction(v, 'striped fur')), got "
                f"{type(self.label).__name__} {self.label!r:.40}"
            )
        if isinstance(self.classes, (str, bytes)) or not isinstance(self.classes, (tuple, list)):
            raise TypeError(
                f"A Direction's classes must be a tuple of class indices, e.g. classes=(281,), got {self.classes!r}"
            )
        for c in self.classes:
            if not an_index(c):
                raise TypeError(
                    f"A Direction's classes are class indices, got {c!r}; classifier.class_index({c!r}) gives a name's"
                )
            classifier.class_index(c, "A Direction's class")  # -1 is not the last class
        v = self.weight(classifier)
        finite = bool(torch.isfinite(v).all())
        if not finite or float(v.norm()) == 0.0:
            problem = "only zeros" if finite else "NaN or infinite values"
            raise ValueError(
                f"The Direction {self.label!r} holds {problem}: it points nowhere, and any score along it would "
                "read as an answer"
            )


def as_target(target: Target | int | None, foil: int | None = None, predicted: int | None = None) -> Target:
    """The explained quantity from the ways users say it: a :class:`Target`, a class index (with an optional foil:
    a :class:`LogitGap`), or None for the predicted class."""
    if isinstance(target, Target):
        if foil is not None:
            raise ValueError("Pass either a Target or target=/foil= class indices, not both")
        return target
    index = predicted if target is None else target
    if index is None:
        raise ValueError("No target: pass a class index or a Target")

    def whole(value):  # numpy ints as ints; anything else left for the target's own check (3.7 was class 3)
        return int(value) if an_index(value) else value

    return ClassLogit(whole(index)) if foil is None else LogitGap(whole(index), whole(foil))
