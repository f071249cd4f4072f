"""What a bottleneck returns: a class's :class:`Recipe`, a :class:`BottleneckExplanation`, an
:class:`Intervention`, the sparsity :class:`Tradeoff` and :class:`AgreementByConfidence`, each with a sentence,
a plot and a rich display."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd

from .._checks import positive_int
from ..explain import HeatMap
from ..explanation import probability_text, share_text
from ..labels import counted, joined, primary_name

EMPTY_RECIPE = (
    "the recipe is empty: its concepts were removed (cbm.without), or none of the concepts it may use correlates "
    "positively with its class's row"
)
"""What a recipe with no concept left says, in a figure and in an explanation: it was fitted empty or emptied later."""


def distinct_names(names: Sequence[str]) -> list[str]:
    """What a sentence or a tick label calls each class: its first synonym (:func:`~nlexnb.labels.primary_name`),
    or its whole name where two of the classes given share a first synonym (ImageNet's "maillot" and "maillot, tank
    suit"), as discovery's contrast of them does: "changes “maillot” to “maillot”" read as one class, and a figure drew
    one bar for both. One class named twice keeps its first synonym."""
    short = [primary_name(name) for name in names]
    whole: dict[str, set[str]] = {}
    for name, first in zip(names, short):
        whole.setdefault(first, set()).add(name)
    return [name if len(whole[first]) > 1 else first for name, first in zip(names, short)]


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
            ``row left out`` (the share of the class's centred row outside the direction the concepts down to this
            one write: how much each further concept adds; the last is ``residual``).
        residual: the share of the class's centred row outside the recipe's direction, the sine of the angle
            between them (0 = the row's direction exactly, 1 = at right angles). The recipe, scaled to the row's
            length, misses the row by more than this: by sqrt(2 - 2 cos) of its length.
        n_concepts: the bottleneck's budget per class.
        shown_name: what its title calls the class: its first synonym, or its whole name where another of the
            classifier's classes has the same first synonym (:func:`distinct_names`: ImageNet's "maillot" and
            "maillot, tank suit"); empty: the first synonym.

    ``recipe["concept"]``, ``len(recipe)``, ``recipe.columns`` and ``recipe.head(n)`` read the table, as when a recipe
    was a DataFrame.
    """

    class_index: int
    class_name: str
    table: pd.DataFrame
    residual: float
    n_concepts: int
    shown_name: str = ""

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
    def name(self) -> str:
        """What the recipe calls its class (``shown_name``, else the class's first synonym)."""
        return self.shown_name or primary_name(self.class_name)

    @property
    def title(self) -> str:
        if self.table.empty:  # "as 0 concepts"
            return f"\u201c{self.name}\u201d has no concepts (budget {self.n_concepts})"
        return (
            f"\u201c{self.name}\u201d as {counted(len(self.table), 'concept')} "
            f"(budget {self.n_concepts}; {self.residual:.0%} of its row outside the recipe's direction)"
        )

    def plot(self, max_rows: int = 12, ax=None):
        """Horizontal bars of each concept's weight, labelled with its share; returns the Figure."""
        from ..plots import recipe_figure

        return recipe_figure(self, max_rows=positive_int(max_rows, "max_rows", "concepts to draw"), ax=ax)

    def __repr__(self) -> str:
        top = ", ".join(f"{c} {s:.0%}" for c, s in zip(self.table["concept"][:5], self.table["share"][:5]))
        return f"Recipe({self.name!r}: {top or 'no concepts'}{', ...' if len(self.table) > 5 else ''})"

    def _repr_html_(self) -> str:
        return _html(self.title, self.table, EMPTY_RECIPE if self.table.empty else "")


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
        target, predicted, original = distinct_names([self.target_name, self.predicted_name, self.original_name])
        what = f"\u201c{target}\u201d ({probability_text(self.probability)})"
        if self.target_name == self.predicted_name:
            head = f"The bottleneck gives {what}"
        else:
            head = f"The bottleneck scores {what} (its top class is \u201c{predicted}\u201d)"
        positive = self.table[self.table["contribution"] > 0].head(3)
        pushes = joined(f"\u201c{c}\u201d ({g:+.2f})" for c, g in zip(positive["concept"], positive["contribution"]))
        if self.table.empty:
            body = f"{head} from the shared term alone; {EMPTY_RECIPE}."
        elif positive.empty:
            body = f"{head}: no concept of its recipe is present in the image."
        elif self.total <= 0:  # shares of a negative total read "mottled fur (-215%)": say what each adds instead
            speak = "speaks" if len(positive) == 1 else "speak"
            lower = f"its recipe's concepts lower the logit by {-self.total:.2f} in all"
            body = f"{head}; {lower}, though {pushes} {speak} for it."
        elif round(100 * float(positive["share"].sum())) > 100:  # the rest of the recipe pulls the other way
            rest = float(positive["contribution"].sum()) - self.total
            body = f"{head} mainly through {pushes} (in logits; the rest of its recipe takes {rest:.2f} away)."
        else:
            listed = joined(
                f"\u201c{c}\u201d ({share_text(s)})" for c, s in zip(positive["concept"], positive["share"])
            )
            carried = float(positive["share"].sum())  # the words follow the shares listed, as an explanation's do
            together = f", together {share_text(carried)}" if len(positive) > 1 else ""
            body = f"{head} {'mainly' if round(100 * carried) >= 50 else 'partly'} through {listed}{together}."
        if self.predicted_name != self.original_name:
            body += f" The original head predicts \u201c{original}\u201d."
        return body

    def plot(self, max_rows: int = 10, figsize: tuple[float, float] = (11, 4)):
        """The image with the top concept's heat map, beside each concept's contribution; returns the Figure."""
        from ..plots import bottleneck_explanation_figure

        max_rows = positive_int(max_rows, "max_rows", "concepts to draw")
        return bottleneck_explanation_figure(self, max_rows=max_rows, figsize=figsize)

    def __repr__(self) -> str:
        return f"BottleneckExplanation({self.sentence!r})"

    def _repr_html_(self) -> str:
        shown = "the 10 largest shown" if len(self.table) > 10 else "all shown"
        note = (
            f"logit {self.logit:.2f} = concepts {self.total:.2f} + shared term {self.shared:.2f}; "
            f"{counted(len(self.table), 'recipe concept')}, {shown}"
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
        what = joined(f"\u201c{c}\u201d {a:.2f} \u2192 {b:.2f}" for c, (a, b) in self.changes.items())
        before, after = distinct_names([self.before, self.after])
        if self.changed:
            return f"Setting {what} changes \u201c{before}\u201d to \u201c{after}\u201d."
        return f"Setting {what} keeps \u201c{before}\u201d."

    def plot(self, figsize: tuple[float, float] = (8, 3.5)):
        """Probabilities of the top classes before and after, side by side; returns the Figure."""
        from ..plots import intervention_figure

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
        from ..plots import tradeoff_figure

        return tradeoff_figure(self, figsize=figsize)

    def __repr__(self) -> str:
        return f"Tradeoff({counted(self.images, 'image')}, budgets {sorted(set(self.table['concepts per class']))})"

    def _repr_html_(self) -> str:
        return _html(f"Sparsity against agreement on {counted(self.images, 'image')}", self.table)


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
            highest); NaN where a band holds no image, and ``in top 5`` NaN throughout for a head of five classes or
            fewer (every class is in its top 5).
        images: how many images it is measured on.
        classes: how many classes the head has (None: not recorded).
    """

    table: pd.DataFrame
    images: int
    classes: int | None = None

    @property
    def measures_top5(self) -> bool:
        """Whether ``in top 5`` means something: not for a head of five classes or fewer, where it is 1.0 always."""
        return self.classes is None or self.classes > 5

    def plot(self, figsize: tuple[float, float] = (8, 3.5)):
        """Both agreements per confidence band, the number of images under each pair of bars; returns the Figure."""
        from ..plots import agreement_by_confidence_figure

        return agreement_by_confidence_figure(self, figsize=figsize)

    def __repr__(self) -> str:
        overall = self.table.iloc[-1]
        top5 = f", in top 5 {overall['in top 5']:.3f}" if self.measures_top5 else f" of {self.classes} classes"
        return f"AgreementByConfidence({counted(self.images, 'image')}, agreement {overall['agreement']:.3f}{top5})"

    def _repr_html_(self) -> str:
        title = f"Agreement with the original head by its confidence, {counted(self.images, 'image')}"
        return _html(title, self.table)
