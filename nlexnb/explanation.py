"""What an explanation is: the named concepts with their contributions, the sentence that says them, and where each
is in the image (:class:`HeatMap`). :class:`nlexnb.Explainer` makes them; plots, widgets and reports read them."""

from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from PIL import Image

from .labels import counted, joined, primary_name
from .targets import Direction, Target

__all__ = ["Explanation", "HeatMap", "LEVEL", "LITTLE", "number_text", "probability_text", "share_text"]

LITTLE = 0.1
"""Below this share of the explained quantity, the concepts a sentence names carry "little of it", and the sentence
says so instead of "because it sees": a gorilla's five best concepts of the bank carry 6% of its logit together."""


@dataclass
class HeatMap:
    """Where on the image a concept (or class) is expressed.

    Attributes:
        label: the concept text, or the class name for a class map.
        values: the map at the classifier's input resolution [H, W], in logit units (``feature_map . v``).
        grid: the same on the feature map's own grid [h, w].
        image: the preprocessed image the map covers (see :func:`input_view`).
        score: the image-level score ``f . v`` from the same forward pass (:meth:`Explainer.heatmap` sets it).
    """

    label: str
    values: np.ndarray
    grid: np.ndarray
    image: Image.Image
    score: float | None = None

    def peak(self) -> tuple[int, int]:
        """(row, column) of the maximum, in ``values`` (input-resolution) coordinates."""
        return tuple(int(i) for i in np.unravel_index(np.argmax(self.values), self.values.shape))

    def plot(self, ax=None, alpha: float = 0.5, cmap: str = "jet", vmin=None, vmax=None, colorbar: bool = True):
        """Overlay on the image, with its colour bar (the map's own range, or ``vmin`` to ``vmax``, in logit units:
        :func:`nlexnb.plots.heatmap_overlay`); returns the matplotlib Figure."""
        from .plots import heatmap_overlay

        options = {"ax": ax, "alpha": alpha, "cmap": cmap, "vmin": vmin, "vmax": vmax, "colorbar": colorbar}
        return heatmap_overlay(self.image, self.values, title=self.label, **options)

    def __repr__(self) -> str:
        score = "" if self.score is None else f", score {self.score:.2f}"
        (h, w), grid = self.values.shape, "x".join(map(str, self.grid.shape))
        return f"HeatMap({self.label!r}{score}, peak at {self.peak()} of {h}x{w}, grid {grid})"

    def _repr_png_(self) -> bytes:
        """In a notebook, a heat map shows as the image with the map over it."""
        from .plots import overlay_image

        buf = io.BytesIO()
        overlay_image(self.image, self.values).save(buf, format="PNG")
        return buf.getvalue()


def probability_text(probability: float) -> str:
    """A probability as a sentence shows it: "p 0.95", and "p < 0.01" or "p > 0.99" where two decimals would round
    it to a certainty it is not ("Predicted “megalith” (p 0.00)" read as if the model gave it no chance)."""
    if probability < 0.005:
        return "p < 0.01"
    if probability >= 0.995:
        return "p > 0.99"
    return f"p {probability:.2f}"


LEVEL = 0.005
"""A logit, gap or score smaller than this reads 0.00 to the hundredth a sentence shows: a gap that small is "level",
and nothing is explained "because" of a quantity that small."""


def number_text(value: float) -> str:
    """A logit, gap or score as a sentence shows it, to the hundredth, never "-0.00"."""
    return "0.00" if abs(value) < LEVEL else f"{value:.2f}"


def share_text(share: float) -> str:
    """A share of the explained quantity in words: "12%", "under 1%", "none", "-3% (against it)"."""
    percent = 100 * share
    if abs(percent) < 0.05:
        return "none"
    against = " (against it)" if percent < 0 else ""
    return f"under 1%{against}" if abs(percent) < 0.5 else f"{percent:.0f}%{against}"


@dataclass
class Explanation:
    """Why the classifier predicted ``target`` for one image, in concepts from a bank.

    Attributes:
        target, target_name, probability, logit: the explained class and the model's own numbers for it. For a
            :class:`~nlexnb.targets.Direction` no class is explained: ``target``, ``probability``, ``logit`` and
            ``margin`` are None and ``target_name`` is the direction's label (its score is ``explained``; the
            model's own prediction is in ``predicted``).
        margin: the logit minus the mean logit over classes.
        foil, foil_name, foil_probability: the contrast class ("why A rather than B"), else None.
        concepts: one row per named concept: ``concept``, ``score`` (its mapped vector . f, logit units),
            ``alignment`` (cosine of its direction with the class row, or with ``W[A] - W[B]``), ``contribution``
            (marginal drop of the logit, or of ``z_A - z_B``, when its direction joins the span), ``share``
            (contribution / logit, or / ``z_A - z_B``; NaN where that is 0 or below: no share of what the model
            decided against) and ``drop`` (measured drop when only its direction is
            ablated, re-running the head).
        total: closed-form drop when all named directions are removed at once (= ``concepts.contribution.sum()``).
        measured: the same drop measured by re-running the head on the ablated feature.
        sentence: the explanation in one sentence. It calls the class "predicted" only when it is the model's top
            class, and says "because it sees" only of a positive quantity: a logit or gap the model decided against
            reads "The model ranks “cup” below “espresso”, a gap of -3.10; what speaks for “cup” all the same: ...",
            and so does a gap under 0.005 ("level") and the logit of a class the model did not choose whose concepts
            carry more than all of it (a logit of 0.0006 was explained "mainly because" at 1922.8 times it).
            It says how much of the quantity the concepts it names carry ("(together 23% of its logit)"), and
            where that is under :data:`LITTLE`, that the bank's concepts carry little of it rather than "because";
            above the whole, as a multiple ("2.2 times the gap: the rest of what it sees favours “vulture”").
            Probabilities that two decimals would round to 0 or 1 read "p < 0.01" and "p > 0.99".
        predicted, predicted_name, predicted_probability: the model's own top class for the image, whatever is
            explained.
        heatmaps: one :class:`HeatMap` per named concept, in order.
        explained: the quantity the concepts explain: the logit, or ``z_A - z_B`` with a foil.
        explains: that quantity as a :class:`~nlexnb.targets.Target`.
        weighed: True when the concepts were given by a person (:meth:`Explainer.weigh`), not chosen by the explainer:
            the sentence then says how much each carries rather than that the classifier "sees" them.
        withheld: where no concept is named, how many of the bank's concepts are present in the image and aligned
            with the explained quantity but left out by the explainer's rules (names, kinds and echoes of the class,
            peoples, what its photos are not expected to show): the sentence then says the bank's concepts that
            carry the decision were left out, not that none carries it.
        concept_directions: how many directions the bank's concepts can differ in (the mapper's
            :attr:`~nlexnb.Mapper.concept_directions`; None where unbounded or unknown). Where it is 1 (a kernel or
            ridge mapper fitted on two classes) and no concept is named, the sentence says that every concept maps to
            the same direction up to sign, the reason none can be told from the class or from another.
    """

    target: int | None
    target_name: str
    probability: float | None
    logit: float | None
    margin: float | None
    concepts: pd.DataFrame
    total: float
    measured: float
    foil: int | None = None
    foil_name: str | None = None
    foil_probability: float | None = None
    heatmaps: list[HeatMap] = field(default_factory=list, repr=False)
    explained: float | None = None
    explains: Target | None = None
    weighed: bool = False
    predicted: int | None = None
    predicted_name: str | None = None
    predicted_probability: float | None = None
    withheld: int = 0
    concept_directions: int | None = None

    def __post_init__(self) -> None:
        if self.explained is None:
            self.explained = self.logit

    @property
    def table(self) -> pd.DataFrame:
        """The named concepts, one row each (the same as ``concepts``)."""
        return self.concepts

    @property
    def sentence(self) -> str:
        if self.weighed:
            return self._weighed_sentence()
        table = self.concepts
        top = table["contribution"].max() if len(table) else 0.0
        main = table[table["contribution"] >= 0.25 * top] if top > 0 else table.iloc[:0]
        quoted = [f"\u201c{n}\u201d" for n in main["concept"]]  # quoted: bank entries are labels, not grammar
        listed = joined(quoted)
        share = float(main["contribution"].sum()) / self.explained if self.explained > 0 else 0.0
        percent = round(100 * share)  # the words follow the number shown
        if not self.in_shares:
            # nothing to explain "because": said of a logit or gap the model decided against, of one level to the
            # hundredth shown, or of a class it did not choose whose concepts carry more than its whole logit (a
            # logit of 0.0006 was explained "mainly because ... (1922.8 times its logit)": a raw logit's sign
            # means nothing when softmax ignores a shift of all of them)
            head = self._against_head()
            named = f"\u201c{self._explained_name()}\u201d"
            if not quoted:
                return f"{head}; {self._nothing_named(f'speaks for {named}')}."
            return f"{head}; what speaks for {named} all the same: {listed}."
        head = self._head()
        if not quoted:
            carries = "carries this score" if isinstance(self.explains, Direction) else "carries this decision"
            return f"{head.rstrip(',')}, but {self._nothing_named(carries)}."
        together = "together " if len(quoted) > 1 else ""
        if percent < 100 * LITTLE:
            amount = "under 1%" if percent < 1 else f"{percent}%"
            carry = f"carry {amount} together" if len(quoted) > 1 else f"carries {amount}"
            return f"{head.rstrip(',')}; the concepts of the bank carry little of {self._quantity()}: {listed} {carry}."
        if percent > 100:  # "690% of the gap" said nothing a reader could use: the rest pulls the other way
            multiple = f"{share:.1f} times" if share >= 1.05 else f"{percent}% of"  # not "1.0 times": 104%
            amount = f"{together}{multiple} {self._quantity()}: {self._rest_against()}"
        else:
            amount = f"{together}{percent}% of {self._quantity()}"
        how = "mainly" if percent >= 50 else "partly"
        long_head = self.foil is not None and self._predicts() != "The model"  # "The model predicts ...; it ranks ..."
        comma = "," if isinstance(self.explains, Direction) or long_head else ""
        seer = "the model" if isinstance(self.explains, Direction) else "it"  # "The score of “x” is 0.94, ... it sees"
        return f"{head}{comma} {how} because {seer} sees {listed} ({amount})."

    @property
    def in_shares(self) -> bool:
        """Whether shares of the explained quantity mean something here, so that the sentence and the figure give
        them: not for a quantity under :data:`LEVEL` (or below zero), nor for the logit of a class the model did not
        choose that the concepts carry more than all of (a raw logit's sign means nothing when softmax ignores a
        shift of all of them: a logit of 0.0006 drew bars of 112898%). Otherwise each concept's push is given in
        the quantity's own units."""
        if self.explained < LEVEL:
            return False
        beyond = bool((self.concepts["share"].abs() > 1).any()) or self.total / self.explained > 1.005
        return not (beyond and self._unchosen())

    def _unchosen(self) -> bool:
        """True for a class the model did not predict, explained on its own (no foil, not a direction)."""
        return (
            self.foil is None
            and not isinstance(self.explains, Direction)
            and self.predicted is not None
            and self.predicted != self.target
        )

    def _nothing_named(self, does: str) -> str:
        """Why no concept is named: no concept of the bank ``does`` so, or none the explainer may name does, while
        :attr:`withheld` concepts present in the image and aligned with the quantity were left out by its rules, or
        none can be told apart at all (:attr:`concept_directions` 1: a mapper fitted on two classes)."""
        if self.concept_directions == 1:  # said "left out by its rules (... paraphrases ...)": true, and no reason
            return (
                f"no concept the explainer may name {does}: its mapper was fitted on two classes, so every concept of "
                "the bank maps to the same direction up to sign (along the difference of the two class rows) and "
                "none can be told apart from another or from the class itself; fit the mapper on a head of more "
                "classes to explain with concepts"
            )
        if not self.withheld:
            return f"no concept in the bank {does}"
        n, one = self.withheld, self.withheld == 1
        contrast = ", or not among the class's own evidence" if self.foil is not None else ""
        return (
            f"no concept the explainer may name {does}: {counted(n, 'concept')} of the bank that "
            f"{'pushes' if one else 'push'} it up in this image {'is' if one else 'are'} left out by its rules (names, "
            f"kinds and echoes of a class, peoples, paraphrases, what its photos are not expected to show{contrast})"
        )

    def _quantity(self) -> str:
        """What the shares are of, in words: the logit, the gap to the foil, or a direction's score."""
        if isinstance(self.explains, Direction):
            return "the score"
        return "the gap" if self.foil is not None else "its logit"

    def _rest_against(self, seer: str | None = None) -> str:
        """What a share above 100% means: the rest of the features pull the explained quantity down (``seer``: who
        sees, "the model" where the sentence has not named it)."""
        seer = seer or ("the model" if isinstance(self.explains, Direction) else "it")
        if self.foil is not None and not isinstance(self.explains, Direction):
            return f"the rest of what {seer} sees favours \u201c{primary_name(self.foil_name)}\u201d"
        return f"the rest of what {seer} sees lowers it"

    def _explained_name(self) -> str:
        return self.explains.label if isinstance(self.explains, Direction) else primary_name(self.target_name)

    def _named(self, name: str | None, probability: float | None) -> str:
        return f"\u201c{primary_name(name)}\u201d ({probability_text(probability)})"

    def _predicts(self) -> str:
        """ "The model predicts “X” (p ..); it" where neither explained class is the prediction, else "The model"."""
        if self.predicted is None or self.predicted in (self.target, self.foil):
            return "The model"
        return f"The model predicts {self._named(self.predicted_name, self.predicted_probability)}; it"

    def _head(self) -> str:
        """The start of the sentence when the explained quantity is positive (what the concepts carry)."""
        if isinstance(self.explains, Direction):
            return f"The score of \u201c{self.explains.label}\u201d is {number_text(self.explained)}"
        target = self._named(self.target_name, self.probability)
        foil = self._named(self.foil_name, self.foil_probability) if self.foil is not None else ""
        if self.predicted is None or self.predicted == self.target:
            return f"Predicted {target} rather than {foil}" if foil else f"Predicted {target}"
        if foil:
            return f"{self._predicts()} ranks {target} above {foil}"
        return f"{self._predicts()} gives {target} a logit of {number_text(self.explained)},"

    def _against_head(self) -> str:
        """The start of the sentence when nothing is explained "because": a quantity the model decided against, one
        level to the hundredth, or the logit of a class it did not choose whose concepts carry more than all of it."""
        if isinstance(self.explains, Direction):
            return f"The score of \u201c{self.explains.label}\u201d is {number_text(self.explained)}"
        target = self._named(self.target_name, self.probability)
        if self.foil is not None:
            foil = self._named(self.foil_name, self.foil_probability)
            if abs(self.explained) < LEVEL:  # "below (gap -0.00)", "above (gap 0.0007)": level, to the hundredth shown
                return f"{self._predicts()} ranks {target} level with {foil} (a gap under 0.01)"
            return f"{self._predicts()} ranks {target} below {foil}, a gap of {self.explained:.2f}"
        return f"{self._predicts()} gives {target} a logit of {number_text(self.explained)}"

    def _weighed_sentence(self) -> str:
        """What each given text carries of the explained quantity, and all of them together."""
        if not self.in_shares:
            # no share of a quantity the model decided against, nor of the logit of a class it did not choose that a
            # text carries more than the whole of ("“foam” carries 3231%" of a logit of 0.0167): each text's push
            table = self.concepts
            pushes = [
                f"\u201c{c}\u201d {g:+.2f}" if abs(g) >= LEVEL else f"\u201c{c}\u201d under 0.01 either way"
                for c, g in zip(table["concept"], table["contribution"])
            ]
            quantity = "the gap" if self.foil is not None and not isinstance(self.explains, Direction) else "it"
            given = "the text given moves" if len(pushes) == 1 else "the texts given move"
            return f"{self._against_head()}; {given} {quantity} by {joined(pushes)}."
        if isinstance(self.explains, Direction):
            of = f"Of the score of \u201c{self.explains.label}\u201d ({self.explained:.2f})"
        elif self.foil is not None:
            of = (
                f"Of the gap between {self._named(self.target_name, self.probability)} and "
                f"{self._named(self.foil_name, self.foil_probability)}"
            )
        else:
            of = f"Of the logit of {self._named(self.target_name, self.probability)}"

        # "none" only for what carries nothing: three of -0.4% are "under 1%, against it"; the comma, not "(against
        # it)", keeps the mark with its concept ("“a” under 1% and “b” under 1% (against it)" read as both against)
        parts = [
            f"\u201c{c}\u201d {share_text(s).replace(' (against it)', ', against it')}"
            for c, s in zip(self.concepts["concept"], self.concepts["share"])
        ]
        parts[0] = parts[0].replace("\u201d ", "\u201d carries ", 1)
        listed = joined(parts).replace(", against it and ", ", against it, and ")  # not "against it and “b” 20%"
        together = f"; together {share_text(self.total / self.explained)}" if len(parts) > 1 else ""
        beyond = ""  # "480%": the rest pulls back (not said of a "100%" that is 100.3)
        if round(100 * self.total / self.explained) > 100:
            beyond = f"; {self._rest_against('the model')}"
        return f"{of}, {listed}{together}{beyond}."

    def plot(self, figsize: tuple[float, float] = (11, 4)):
        """Contributions (seaborn bar chart) beside the image with the top concept's heat map; returns the Figure."""
        from .plots import explanation_figure

        return explanation_figure(self, figsize=figsize)

    def __repr__(self) -> str:
        return f"Explanation({self.sentence!r})"

    def _repr_html_(self) -> str:
        table = self.concepts.to_html(index=False, float_format=lambda v: f"{v:.3g}", border=0)
        thumb = ""
        if self.heatmaps:
            from .plots import overlay_image

            buf = io.BytesIO()
            overlay_image(self.heatmaps[0].image, self.heatmaps[0].values).save(buf, format="PNG")
            src = base64.b64encode(buf.getvalue()).decode()
            caption = html.escape(self.heatmaps[0].label)
            thumb = (
                f'<figure style="float:left;margin:0 1em 0 0"><img src="data:image/png;base64,{src}" width="160"/>'
                f"<figcaption style='font-size:smaller'>{caption}</figcaption></figure>"
            )
        # "remove 0.82 of -4.14" read as nonsense: what the quantity would be without them reads right for any sign
        quantity = {"its logit": "the logit", "the gap": "the gap", "the score": "the score"}[self._quantity()]
        note = (
            f"without {'the given texts' if self.weighed else 'the named concepts'} {quantity} would be "
            f"{self.explained - self.total:.2f} rather than {self.explained:.2f} ("
            + ("measured on the ablated features" if isinstance(self.explains, Direction) else "re-running the head")
            + f": {self.explained - self.measured:.2f})"
        )
        if self.foil is None and not isinstance(self.explains, Direction):  # a contrast's or direction's is another's
            note += f"; margin of \u201c{primary_name(self.target_name)}\u201d over the mean logit {self.margin:.2f}"
        return (
            f"<div>{thumb}<p><b>{html.escape(self.sentence)}</b></p>{table}"
            f"<p style='font-size:smaller'>{html.escape(note)}</p><div style='clear:both'></div></div>"
        )


# ---- the explainer -------------------------------------------------------------------------------------------------
