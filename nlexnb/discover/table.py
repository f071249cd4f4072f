"""What every discovery function returns: a ranked :class:`ConceptTable`, with its plot and rich display."""

from __future__ import annotations

import html
from dataclasses import dataclass, field

import pandas as pd

from .._checks import positive_int


# ---- results ---------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Chance:
    """The band of a table's score within which the bank's ``concepts`` would fall by chance along the table's
    direction (``low`` on the negative side, ``high`` on the positive, to the thousandth): a row inside it is weak."""

    low: float
    high: float
    concepts: int


@dataclass
class ConceptTable:
    """A discovery result: a ranked table with what it shows.

    Attributes:
        kind: which function made it ("class_concepts", "contrast", "image_concepts", "subconcepts",
            "nearest_classes", "collection_concepts", "error_concepts", "context_reliance").
        title: a title for plots and reports.
        value: the table's main score column.
        table: the rows (a pandas DataFrame).
        assignment: for :func:`subconcepts`, each image's cluster.
        profile: for :func:`subconcepts`, a cluster x concept table (what :meth:`plot` draws); for
            :func:`collection_concepts`, a group x concept table of how often each concept is named.
        per_image: for :func:`error_concepts` and :func:`context_reliance`, one row per explained image (its verdict,
            or its reliance on the surroundings).
        sides: for :func:`contrast`, the names of its two classes (c1 first), as ``favours`` writes them: the plot
            colours and labels each class's side by them even when one side names no concept.
        chance: for :func:`class_concepts` and :func:`contrast`, the :class:`Chance` band of the score column: about
            where the furthest of the bank's concepts would land along the table's direction (the class row, or the
            difference of the two rows) if none were related to it. A row inside it is *weak* (:attr:`weak`; marked
            in the display, drawn pale). None for a bank of fewer than 100 usable concepts, whose scores have no bulk
            to measure chance by.
    """

    kind: str
    title: str
    value: str
    table: pd.DataFrame
    assignment: list[int] | None = None
    profile: pd.DataFrame | None = field(default=None, repr=False)
    per_image: pd.DataFrame | None = field(default=None, repr=False)
    sides: tuple[str, str] | None = None
    chance: Chance | None = None

    def plot(self, max_rows: int | None = None):
        """The result drawn (seaborn, headless): a bar chart of a ranking (a contrast coloured by the class each
        concept favours), the cluster x concept heat map of sub-concepts, one panel of concepts per class for
        :func:`collection_concepts`, concepts over-represented on each side for :func:`error_concepts`, and the
        reliance on surroundings per image, per class and per concept for :func:`context_reliance`.

        Args:
            max_rows: the most bars (a contrast: on each side; :func:`subconcepts`: clusters;
                :func:`collection_concepts` and :func:`context_reliance`: classes) shown, the title saying "the first
                N of M" when the table holds more; None: 20 for a ranking, every cluster, 12 classes for the
                collection views.

        Returns:
            The matplotlib Figure.
        """
        from ..plots import concept_table_figure

        if max_rows is not None:
            max_rows = positive_int(max_rows, "max_rows", "rows (or classes) to draw")
        return concept_table_figure(self, max_rows=max_rows)

    @property
    def weak(self) -> pd.Series | None:
        """For each row, whether its score lies within :attr:`chance` (None for a table without one)."""
        if self.chance is None:
            return None
        return self.table[self.value].between(self.chance.low, self.chance.high).rename("weak")

    def weak_note(self) -> str | None:
        """The sentence that says how many rows are weak and why, or None where none is."""
        weak = self.weak
        if weak is None or not weak.any():
            return None
        low, high, n = self.chance.low, self.chance.high, self.chance.concepts
        if self.kind == "contrast":
            band, out = f"between {low:.3f} and {high:.3f} is no further out than", "the furthest"
            along = "either way along the difference of the two rows"
        else:
            band, out, along = f"of {high:.3f} or less is no higher than", "the best", "against this row"
        many = f"{int(weak.sum())} of the {len(weak)} rows are" if len(weak) > 1 else "The row is"
        return (
            f"{many} weak: a {self.value} {band} chance, about where {out} of the bank's {n:,} concepts would land "
            f"{along} if none were related to it (from the median and spread of all their {self.value}s; about one "
            "unrelated concept lands beyond it)."
        )

    def displayed(self) -> pd.DataFrame:
        """The table as displayed: with a column marking the weak rows where any is."""
        note = self.weak_note()
        return self.table if note is None else self.table.assign(weak=self.weak.map({True: "weak", False: ""}))

    def __repr__(self) -> str:
        note = self.weak_note()
        return f"{self.title}\n{self.displayed().to_string(index=False)}" + ("" if note is None else f"\n{note}")

    def _repr_html_(self) -> str:
        note = self.weak_note()
        body = self.displayed().to_html(index=False, float_format=lambda v: f"{v:.3g}")
        return f"<p><b>{self.title}</b></p>" + body + ("" if note is None else f"<p><i>{html.escape(note)}</i></p>")

    # behaves as its table, as the DataFrames discovery returned before
    def __getattr__(self, name: str):
        own = {"table", "kind", "title", "value", "assignment", "profile", "per_image", "sides", "chance"}
        if name.startswith("__") or name in own:
            raise AttributeError(name)
        return getattr(self.table, name)

    @property
    def attrs(self) -> dict:
        """What the DataFrames of earlier versions carried in ``attrs`` (kind, title, value, assignment, profile), and
        ``per_image`` where there is one."""
        keys = ("kind", "title", "value", "assignment", "profile", "per_image")
        return {k: getattr(self, k) for k in keys if getattr(self, k) is not None}

    def __getitem__(self, key):
        return self.table[key]

    def __len__(self) -> int:
        return len(self.table)

    def __contains__(self, key) -> bool:
        return key in self.table

    def __iter__(self):
        """Refused: ``pd.DataFrame(result)`` iterates its argument, and took the column names for the rows (a table of
        one column, "rank", "concept", "cosine"); pandas gives a constructor no other way in."""
        raise TypeError(
            "A ConceptTable cannot be iterated: pd.DataFrame(result) and list(result) would read only its column names "
            f"({', '.join(map(str, self.table.columns))}); use result.table, its DataFrame (result.table.copy() for a "
            "copy, list(result.table) for the column names)"
        )


# ---- plots -----------------------------------------------------------------------------------------------------------
def plot(table: ConceptTable, max_rows: int | None = None):
    """Draw any result of this module (the same as ``table.plot()``). Returns the matplotlib Figure."""
    if not isinstance(table, ConceptTable):
        raise TypeError(
            f"plot() draws the results of nlexnb.discover functions (a ConceptTable), got {type(table).__name__}"
        )
    return table.plot(max_rows=max_rows)
