"""Fitting a bottleneck from the head's weights and a bank alone (non-negative pursuit), the baselines
(random concepts, text neighbours) and the sparsity trade-off."""

from __future__ import annotations

import difflib
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch

from .._checks import a_number, a_seed, positive_int, warn_user, yes_or_no
from ..images import ImageInput
from ..labels import counted, primary_name
from ..pursuit import check_budget_memory, largest_budget, sparse_nonnegative_fit, sparse_nonnegative_path
from ..space import ConceptSpace, concept_space
from .model import (
    RESIDUAL_WARNING,
    ConceptBottleneck,
    PoorFitWarning,
    centred_rows,
    concept_positions,
    features_of,
    recipe_residual,
    to_row_length,
)
from .results import Tradeoff


def random_bottleneck(space: ConceptSpace, n_concepts: int, seed: int = 0) -> ConceptBottleneck:
    """Recipes of ``n_concepts`` concepts drawn at random for each class (among those a bottleneck may use), weighted
    by the same non-negative fit: the chance baseline a bottleneck's agreement is read against."""
    n, seed = _check_budget(space, n_concepts), a_seed(seed)
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
    """``n_concepts`` as a budget a baseline can be fitted with: within the bank and within memory."""
    n = positive_int(n_concepts, "n_concepts", "concepts per class")
    usable = int((~space.excluded).sum())
    if n > usable:
        raise ValueError(
            f"n_concepts={n} is more than the {usable} concepts of the bank a bottleneck may use: give at most "
            f"{_at_most(space, usable)}"
        )
    _check_memory(space, n)
    return n


def _at_most(space: ConceptSpace, count: int) -> str:
    """The largest budget that can be fitted with ``count`` concepts to choose from, in an error's words: ``count``,
    or less where a pursuit of that many for every class would not fit in memory."""
    classes = len(space.classifier.class_names)
    most = largest_budget(classes)
    return str(count) if count <= most else f"{most} (the most a pursuit for {classes} classes may take in memory)"


def _check_memory(space: ConceptSpace, n: int) -> None:
    """A ValueError before any allocation when fitting ``n`` concepts for every class would take more memory than a
    pursuit may (:data:`~nlexnb.pursuit.SUPPORT_MEMORY_LIMIT`): 2500 for ImageNet's classes crashed on 50 GB."""
    check_budget_memory(len(space.classifier.class_names), n, "classes", "concepts per class")


def _top_mask(score: torch.Tensor, n: int) -> torch.Tensor:
    """[R, T] bool: each row's ``n`` highest scores."""
    return torch.zeros_like(score, dtype=torch.bool).scatter_(1, score.topk(n, dim=1).indices, True)


def _restricted(space: ConceptSpace, allowed: torch.Tensor, n: int) -> ConceptBottleneck:
    """The bottleneck's fit with each class allowed only its own concepts (``allowed`` [K, T])."""
    fit = sparse_nonnegative_fit(centred_rows(space), space.directions, n, allowed=allowed)
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
        budgets: concepts per class (one pursuit to the largest gives them all; with the baselines, about 10 s to 32
            and 20 s to 64 for 1,000 classes on two CPU cores).
        fitted: bottlenecks of this space already fitted, reused for their budgets.
        seed: draws the random concepts (:func:`random_bottleneck`).

    Returns:
        A :class:`Tradeoff`. Poorly written classes at small budgets are expected here: their warnings are not
        repeated, the ``mean residual`` column says it.
    """
    space = space.space if isinstance(space, ConceptBottleneck) else space
    if not isinstance(space, ConceptSpace):
        raise TypeError(f"tradeoff takes a ConceptSpace (or a bottleneck), got {type(space).__name__}")
    if not isinstance(budgets, Sequence) or isinstance(budgets, str):
        raise TypeError(f"budgets must be a list of numbers of concepts per class, e.g. (8, 16, 32), got {budgets!r}")
    if isinstance(fitted, ConceptBottleneck) or not isinstance(fitted, Sequence):
        raise TypeError(f"fitted must be a list of bottlenecks (e.g. [cbm]), got {type(fitted).__name__}")
    seed = a_seed(seed)
    budgets = [positive_int(b, "budgets", "concepts per class") for b in budgets]
    if not budgets:
        raise ValueError("budgets is empty: give at least one number of concepts per class, e.g. (8, 16, 32)")
    others = [cbm for cbm in fitted if not isinstance(cbm, ConceptBottleneck) or cbm.space is not space]
    if others:
        raise TypeError(
            f"fitted must hold bottlenecks of this space, got {type(others[0]).__name__}"
            + (" of another space" if isinstance(others[0], ConceptBottleneck) else "")
            + ": their recipes would not be this curve's"
        )
    edited = [cbm.n_concepts for cbm in fitted if not cbm.default_fit]
    if edited:  # a baseline, an edited bottleneck or another fit's options are not the curve's recipes
        warn_user(
            f"tradeoff: the bottleneck(s) at {edited} concepts per class given as fitted= were not fitted with the "
            "defaults (other allowed concepts or kinds, a baseline, or edited with .without): the curve's recipes at "
            "those budgets are fitted afresh"
        )
    known = {cbm.n_concepts: cbm for cbm in fitted if cbm.default_fit}
    with torch.inference_mode():
        f = features_of(space, images, features)
    missing = [n for n in budgets if n not in known]
    if missing:
        known.update(_fit_budgets(space, missing, _usable(space, None, max(missing)), default=True))
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
    allowed: torch.Tensor | Sequence[str] | None = None,
    allow_kinds: bool = False,
) -> ConceptBottleneck:
    """Fit a data-free concept bottleneck: every class row as at most ``n_concepts`` concepts (see the module).

    Args:
        classifier: a classifier (then ``mapper`` and optionally ``concepts``, as for :class:`nlexnb.Explainer`), or a
            :class:`~nlexnb.space.ConceptSpace`.
        n_concepts: the budget per class (at most the number of concepts the bank allows).
        allowed: the bank concepts the recipes may use, a list of their texts (read as
            :meth:`ConceptBottleneck.intervene` reads them: case aside) or a [T] bool mask (default all; class names
            and peoples never).
        allow_kinds: let a class's recipe use kinds of the class ("camel" for Arabian camel, "sand cat" for tiger
            cat; :meth:`~nlexnb.space.ConceptSpace.naming_mask`). Off by default: such recipes repeat the class in other
            words, and agree with the original head no more on lite0 and lite2 (0.61 at 32 concepts) and a little
            more on lite1 (0.59 against 0.55).

    Example:
        >>> cbm = nlexnb.bottleneck.concept_bottleneck(clf, mapper, n_concepts=32)
        >>> cbm.recipe("espresso").head()
        >>> cbm.agreement(list(photos.values()))
    """
    if isinstance(classifier, ConceptBottleneck):  # "A concept space needs a mapper" said nothing of the bottleneck
        raise TypeError(
            "concept_bottleneck takes a classifier (with a mapper) or a ConceptSpace, got a ConceptBottleneck: pass "
            "its space to fit another budget in it, concept_bottleneck(cbm.space, n_concepts=...)"
        )
    if a_number(concepts):  # "'int' object is not iterable"
        raise TypeError(
            f"{concepts!r} was read as the bank (the argument after the mapper); numbers go in by keyword: "
            f"n_concepts={concepts!r}"
        )
    space = concept_space(classifier, mapper, concepts)
    n = positive_int(n_concepts, "n_concepts", "concepts per class")
    allow_kinds = yes_or_no(allow_kinds, "allow_kinds")  # "no" is a true string: recipes would name their class
    cbm = _fit_budgets(space, (n,), _usable(space, allowed, n), allow_kinds, allowed is None and not allow_kinds)[n]
    _warn_poorly_written(cbm)
    return cbm


_NEVER_USED = "ConceptSpace.excluded: class names, peoples and concepts too weakly placed to be named"
"""What :attr:`~nlexnb.space.ConceptSpace.excluded` leaves out of every recipe, in an error's words."""


def _usable(space: ConceptSpace, allowed: torch.Tensor | None, n: int) -> torch.Tensor:
    """[T] bool: the concepts a recipe may use (``allowed``, never class names or peoples), checked to hold ``n``."""
    usable = ~space.excluded
    given = allowed is not None
    if given:
        allowed = _allowed_mask(space, allowed).to(usable.device)
        if not bool(allowed.any()):
            raise ValueError(
                "allowed= leaves no concept for the recipes (its mask is all False): allow at least "
                f"n_concepts={n} concepts of the bank, or leave allowed= out for all of them"
            )
        if not bool((usable & allowed).any()):
            raise ValueError(
                f"allowed= allows only {counted(int(allowed.sum()), 'concept')} that recipes never use "
                f"({_NEVER_USED}): allow other concepts of the bank"
            )
    allowed = usable if allowed is None else usable & allowed
    if not bool(allowed.any()):
        raise ValueError(
            f"Every concept of the bank is one that recipes never use ({_NEVER_USED}): a bottleneck needs others"
        )
    count = int(allowed.sum())
    if n > count and not given:
        larger = ", or a larger bank" if count <= largest_budget(len(space.classifier.class_names)) else ""
        raise ValueError(
            f"n_concepts={n} is more than the {count} concepts of the bank a recipe may use (recipes never use "
            f"{_NEVER_USED}): give at most {_at_most(space, count)}{larger}"
        )
    if n > count:  # "or a larger bank" did not help: allowed= was what held the recipes to so few
        raise ValueError(
            f"n_concepts={n} is more than the {count} concepts allowed= lets a recipe use (recipes never use "
            f"{_NEVER_USED}): allow more concepts with allowed=, or give at most {_at_most(space, count)}"
        )
    _check_memory(space, n)
    return allowed


def _allowed_mask(space: ConceptSpace, allowed) -> torch.Tensor:
    """``allowed`` as a [T] bool mask over the bank: a bool mask of the bank's length, or a list of the bank's
    concept texts, each read as :meth:`ConceptBottleneck.concept_index` reads one (case aside). Float weights became
    "all allowed", a mask of another length failed in torch's words, and one text or texts mixed with numbers in
    numpy's ("can't convert np.ndarray of type numpy.str_")."""
    size = len(space)
    wanted = (
        f"a list of the bank's concept texts (e.g. ['coffee']) or a [{size}] bool mask over the bank (True: a recipe "
        "may use the concept)"
    )
    if isinstance(allowed, (str, bytes)):
        raise TypeError(f"allowed must be {wanted}, got the one text {allowed!r:.60}: put it in a list")
    if isinstance(allowed, np.ndarray) and allowed.dtype.kind == "U":
        allowed = allowed.tolist()
    if isinstance(allowed, (list, tuple, set, frozenset)) and any(isinstance(a, str) for a in allowed):
        others = [a for a in allowed if not isinstance(a, str)]
        if others:
            raise TypeError(
                f"allowed must be {wanted}, got texts mixed with {type(others[0]).__name__} {others[0]!r:.40}"
            )
        texts = list(allowed)
        positions = concept_positions(space.texts, texts)
        unknown = [text for text, i in zip(texts, positions) if i is None]
        if unknown:
            close = difflib.get_close_matches(unknown[0], space.texts, n=3, cutoff=0.6)
            raise ValueError(
                f"allowed names {unknown[:5]}, which {'is' if len(unknown) == 1 else 'are'} not in the bank "
                f"{space.bank.name!r}{f' (close: {close})' if close else ''}"
            )
        mask = torch.zeros(size, dtype=torch.bool)
        mask[positions] = True
        return mask
    if isinstance(allowed, torch.Tensor):
        mask = allowed
    else:
        array = np.asarray(allowed)
        if array.dtype.kind not in "biuf":  # a dict, a set of numbers, None inside a list: nothing to read as a mask
            raise TypeError(f"allowed must be {wanted}, got {type(allowed).__name__} {allowed!r:.60}")
        mask = torch.as_tensor(array)
    if mask.dtype != torch.bool or tuple(mask.shape) != (size,):
        raise ValueError(
            f"allowed must be a [{size}] bool mask over the bank (True: a recipe may use the concept) or a list of "
            f"the bank's concept texts, got {mask.dtype} of shape {list(mask.shape)}"
        )
    return mask


def _fit_budgets(
    space: ConceptSpace, budgets: Sequence[int], allowed: torch.Tensor, allow_kinds: bool = False, default: bool = False
) -> dict[int, ConceptBottleneck]:
    """One pursuit to the largest budget, a bottleneck for each budget (see :func:`sparse_nonnegative_path`). A class's
    recipe never uses a concept that names it (:meth:`~nlexnb.space.ConceptSpace.naming_mask`: "camel" for Arabian
    camel, "sand cat" for tiger cat) unless ``allow_kinds``; whole class names and echoes of a word that qualifies
    its name (:meth:`~nlexnb.space.ConceptSpace.qualifier_mask`) never. ``default``: these are the default options
    (every concept allowed, no kinds), recorded as each bottleneck's ``default_fit``."""
    allowed = allowed & ~_refused(space, allow_kinds)
    path = sparse_nonnegative_path(centred_rows(space), space.directions, budgets, allowed=allowed)
    scaled = {n: to_row_length(space, weights) for n, weights in path.items()}
    return {
        n: ConceptBottleneck(space, weights, n, recipe_residual(space, weights), default)
        for n, weights in scaled.items()
    }


def _warn_poorly_written(cbm: ConceptBottleneck) -> None:
    """One :class:`PoorFitWarning` naming the classes whose recipe leaves out more than :data:`RESIDUAL_WARNING` of
    their row (the ten worst with their residuals, and how many in all); they stay in the bottleneck."""
    poor = cbm.poorly_written()
    if poor.empty:
        return
    worst = ", ".join(f"{primary_name(c)!r} {r:.2f}" for c, r in zip(poor["class_name"][:10], poor["residual"][:10]))
    more = f" and {len(poor) - 10} more" if len(poor) > 10 else ""
    warn_user(
        f"{counted(len(poor), 'class', 'classes')} {'is' if len(poor) == 1 else 'are'} poorly written by "
        f"{counted(cbm.n_concepts, 'concept')} (residual above {RESIDUAL_WARNING}): "
        f"{worst}{more}. They are kept; cbm.poorly_written() lists them all. A larger n_concepts or bank writes more",
        PoorFitWarning,
    )
