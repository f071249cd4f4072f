"""How discovery functions read their arguments: ``(space, ...)``, ``(explainer, ...)`` (its space) or
``(classifier, mapper, ..., bank=)``, and the ranking helpers they share (usable concepts only; each word said once)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from .. import kinds
from .._checks import a_number, positive_int, warn_user
from ..classifier import Classifier
from ..explain import Explainer
from ..mapper import Mapper, is_mapper
from ..space import ConceptSpace, concept_space
from .table import Chance


# ---- inputs ----------------------------------------------------------------------------------------------------------
def resolve_class(classifier: Classifier, c: int | str) -> int:
    """A class index from an index or a name: :meth:`nlexnb.Classifier.class_index` (kept under this name)."""
    return classifier.class_index(c)


def _space(classifier, mapper, bank) -> ConceptSpace:
    """The concept space of the arguments; refuses a bank with nothing left after class names and peoples."""
    space = concept_space(classifier, mapper, bank)
    if bool(space.excluded.all()):
        raise ValueError(
            "The concept bank is empty after leaving out the classifier's class names and names of peoples"
        )
    return space


def _split(args: tuple, names: tuple[str, ...]) -> tuple[ConceptSpace | Classifier, Mapper | None, tuple]:
    """(classifier, mapper, *rest), (space, *rest) or (explainer, *rest): the leading objects and the rest of the
    positional arguments. An Explainer stands for its space (its classifier, mapper and bank)."""
    if args and isinstance(args[0], Explainer):
        return args[0].space, None, args[1:]
    if args and isinstance(args[0], ConceptSpace):
        return args[0], None, args[1:]
    if len(args) < 2:
        raise TypeError(f"Pass a ConceptSpace or an Explainer, or a classifier and a mapper, before {', '.join(names)}")
    if not is_mapper(args[1]):
        raise TypeError(
            f"After a classifier comes its mapper (nlexnb.fit_mapper(classifier, encoder)), then {', '.join(names)}; "
            f"got {type(args[1]).__name__} {args[1]!r} instead. Or pass one ConceptSpace or Explainer first"
        )
    return args[0], args[1], args[2:]


CHANCE_MIN = 100
"""The fewest usable concepts whose scores give a chance band: fewer have no bulk to tell the few that stand out
from (a bank of 28 of one's own), and their tables mark no row weak."""


def chance_band(space: ConceptSpace, scores: torch.Tensor) -> Chance | None:
    """The band of ``scores`` [T] that the best of the bank's usable concepts reaches by chance along one direction:
    the bulk of their scores (median, and a spread from the median absolute deviation, so the few concepts the
    direction does encode do not widen it) out to the normal quantile ``1 - 1/N`` either way, about where the highest
    and the lowest of ``N`` draws from that bulk fall. A row no further out says nothing the bank's spread would not.
    None for a bank of fewer than :data:`CHANCE_MIN` usable concepts.
    """
    usable = scores[~space.excluded].double()
    n = int(usable.numel())
    if n < CHANCE_MIN:
        return None
    centre = usable.quantile(0.5)  # the mean of the middle two (torch's median takes the lower one: not symmetric)
    spread = 1.4826 * (usable - centre).abs().quantile(0.5)
    reach = torch.distributions.Normal(0.0, 1.0).icdf(torch.tensor(1.0 - 1.0 / n, dtype=torch.float64))
    # to the thousandth the note prints, so that the rows marked weak are exactly those the note's number says
    return Chance(round(float(centre - reach * spread), 3), round(float(centre + reach * spread), 3), n)


def ranked(
    space: ConceptSpace, scores: torch.Tensor, k: int, largest: bool = True, refused: torch.Tensor | None = None
) -> list[int]:
    """Indices of the k best usable concepts by ``scores`` [T]: excluded concepts never rank, nor those ``refused``
    marks ([T] bool, e.g. :func:`naming`)."""
    out = space.excluded if refused is None else space.excluded | refused
    masked = scores.masked_fill(out, -torch.inf if largest else torch.inf)
    n = min(positive_int(k, "k", "concepts"), int((~out).sum()))
    return masked.topk(n, largest=largest).indices.tolist()


def naming(space: ConceptSpace, classes: Sequence[int]) -> torch.Tensor:
    """[T] bool: the concepts that name one of ``classes`` in whole words ("ballistic missiles" for missile,
    "shopping carts" for shopping cart: :meth:`~nlexnb.space.ConceptSpace.mentions`), as explanations refuse them."""
    named = space.mentions(range(len(space.texts)), sorted(set(classes)))
    return torch.tensor(named, dtype=torch.bool, device=space.excluded.device)


def look_alike_mask(space: ConceptSpace, classes: torch.Tensor) -> torch.Tensor:
    """[N, T] bool: row ``n`` marks the concepts that are look-alikes
    (:meth:`~nlexnb.space.ConceptSpace.look_alikes`) of class ``classes[n]``, what an explanation of an image taken
    for that class may not name."""
    unique, inverse = classes.unique(return_inverse=True)
    if not len(unique):
        return torch.zeros(0, len(space.texts), dtype=torch.bool, device=space.excluded.device)
    rows = torch.stack([space.look_alike_row(int(c)) for c in unique.tolist()])
    return rows[inverse.to(rows.device)]


def bind_arguments(args: tuple, kwargs: dict, params: tuple[str, ...], defaults: dict) -> tuple[ConceptSpace, dict]:
    """Read ``(space, *params)`` or ``(classifier, mapper, *params)`` (with ``bank`` among the params) into a concept
    space and the named values; a missing or repeated argument is a TypeError naming it."""
    lead, mapper, rest = _split(args, params)
    if len(rest) > len(params):
        raise TypeError(f"Too many positional arguments: expected {', '.join(params)}")
    values = dict(zip(params, rest))
    for name, value in kwargs.items():
        if name not in params:
            raise TypeError(f"Unexpected argument {name!r}; this function takes {', '.join(params)}")
        if name in values:
            raise TypeError(f"Argument {name!r} given twice")
        values[name] = value
    values = {**defaults, **values}
    missing = [p for p in params if p not in values]
    if missing:
        raise TypeError(f"Missing argument {missing[0]!r}")
    bank = values.pop("bank", None)
    if a_number(bank):
        raise TypeError(
            f"{bank!r} was read as the bank (the argument after {params[params.index('bank') - 1]}); numbers go in by "
            f"keyword: k={bank!r}"
        )
    if mapper is None and bank is not None:
        held = "An Explainer" if isinstance(args[0], Explainer) else "A ConceptSpace"
        raise ValueError(f"{held} already holds its bank: pass bank= only with a classifier and a mapper")
    return (lead if mapper is None else _space(lead, mapper, bank)), values


WIDE = 40
"""Candidates ranked per row of a table before concepts that repeat a word are dropped."""


def per_word_limit(per_word: Any) -> int | None:
    return None if per_word is None else positive_int(per_word, "per_word", "concepts that share a word (None: any)")


def once_per_word(space: ConceptSpace, indices: list[int], per_word: int | None) -> list[int]:
    """``indices`` in order, keeping a concept only while each of its words has been said by fewer than
    ``per_word`` concepts kept before it (None: all). A table of ten golden things ("golden coat", "golden tail",
    "golden eyes", ...) or six kinds of stripes says less than one of each and the next things the row holds."""
    if per_word is None:
        return indices
    said: dict[str, int] = {}
    kept = []
    for i in indices:
        words = kinds.concept_words(space.texts[i])
        if all(said.get(w, 0) < per_word for w in words):
            for w in words:
                said[w] = said.get(w, 0) + 1
            kept.append(i)
    return kept


def say_if_fewer(what: str, k: int, there: int, listed: int, things: str = "concepts of the bank may be named") -> None:
    """Warn when ``k`` asks for more rows than there are (``there``): ``k=100000`` of a bank of 3,176 concepts
    returned 915 rows and said nothing. A table thinned below ``k`` by its own rules (one concept per word, no echo)
    says nothing: that is what it is for."""
    if k > there:
        warn_user(f"{what}: k={k}, but only {there} {things}; the table lists {listed}")


def the_next(n: int, one: str, many: str) -> str:
    """ "the next one has", "the next 3 have": the concepts a table left out, with their verb (``one`` or ``many``)."""
    return f"the next one {one}" if n == 1 else f"the next {n} {many}"
