"""What a whole explained collection leans on (the rows :func:`nlexnb.explain_collection` writes):
:func:`collection_concepts`, :func:`error_concepts` and :func:`context_reliance`."""

from __future__ import annotations

import difflib
import inspect
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .._checks import positive_int, warn_user
from ..classifier import Classifier
from ..labels import counted, split_synonyms, warn_unmatched_keys
from ..space import ConceptSpace
from .table import ConceptTable

# ---- explained collections -------------------------------------------------------------------------------------------
_LISTS = ("concepts", "contributions", "shares")
_NUMBERS = ("contributions", "shares")
_BY_WORDS = {"predicted_name": ("predicted class", "predicted classes"), "label": ("label", "labels")}


def _explanations(explanations: Any, needs: Sequence[str], what: str) -> pd.DataFrame:
    """The explanations of a collection as a DataFrame, checked: ``needs`` are there, rows are there, and the list
    columns hold lists of the right types and matching lengths. Accepts :func:`nlexnb.read_explanations`'s DataFrame,
    the :class:`~nlexnb.collection.CollectionRun` of :func:`nlexnb.explain_collection`, or the file's path."""
    from ..collection import COLUMNS, CollectionRun, read_explanations

    if isinstance(explanations, CollectionRun):
        frame = explanations.read()
    elif isinstance(explanations, (str, os.PathLike)):
        frame = read_explanations(explanations)
    elif isinstance(explanations, pd.DataFrame):
        frame = explanations
    else:
        raise TypeError(
            f"{what}: explanations must be the DataFrame nlexnb.read_explanations(out) returns (or the CollectionRun "
            f"of nlexnb.explain_collection, or the explanations file's path), got {type(explanations).__name__}"
        )
    missing = [c for c in needs if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{what}: explanations lacks the column(s) {missing}; it needs {list(needs)}. A frame read with "
            f"nlexnb.read_explanations has {list(COLUMNS)}"
        )
    if frame.empty:
        raise ValueError(
            f"{what}: explanations has no rows, so there is nothing to summarise (explain a collection with "
            "nlexnb.explain_collection, then read it with nlexnb.read_explanations)"
        )
    lists = [c for c in _LISTS if c in needs]
    ids = frame["id"].tolist() if "id" in frame.columns else list(frame.index)
    length: list[int] | None = None
    for column in lists:
        sizes = []
        for row, value in zip(ids, frame[column]):
            if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple, np.ndarray)):
                raise TypeError(
                    f"{what}: column {column!r} must hold a list per image (as read_explanations gives); the image "
                    f"with id {row} has {type(value).__name__} {value!r}"
                )
            if column in _NUMBERS:
                if not all(
                    isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) for v in value
                ):
                    raise TypeError(
                        f"{what}: column {column!r} must hold lists of numbers; the image with id {row} has "
                        f"{list(value)!r}"
                    )
            elif not all(isinstance(v, str) for v in value):
                raise TypeError(
                    f"{what}: column {column!r} must hold lists of concept texts (str); the image with id {row} "
                    f"has {list(value)!r}"
                )
            sizes.append(len(value))
        if length is None:
            length = sizes
        elif sizes != length:
            row = next(r for r, a, b in zip(ids, length, sizes) if a != b)
            raise ValueError(
                f"{what}: the lists of {lists[0]!r} and {column!r} must be as long as each other (one number per named "
                f"concept); the image with id {row} has {length[ids.index(row)]} and {sizes[ids.index(row)]}"
            )
    return frame


def _named(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """One row per (image, named concept): ``image`` (row position in ``frame``), ``concept``, ``rank`` (1 = named
    first) and the per-concept ``columns`` (contributions, shares) as floats."""
    sizes = frame["concepts"].map(len).to_numpy()
    long = pd.DataFrame(
        {
            "image": np.repeat(np.arange(len(frame)), sizes),
            "concept": [c for row in frame["concepts"] for c in row],
            "rank": np.concatenate([np.arange(1, n + 1) for n in sizes]) if sizes.sum() else np.zeros(0, dtype=int),
        }
    )
    for column in columns:
        long[column] = np.array([float(v) for row in frame[column] for v in row], dtype=np.float64)
    return long


def _by_column(frame: pd.DataFrame, by: Any, what: str) -> str:
    if not isinstance(by, str):
        raise TypeError(f"{what}: by must be a column name (str), such as 'predicted_name' or 'label'; got {by!r}")
    if by not in frame.columns:
        raise ValueError(
            f"{what}: by={by!r} is not a column of explanations ({list(frame.columns)}); group by 'predicted_name' "
            "(the class explained) or 'label' (the collection's labels)"
        )
    ids = frame["id"].tolist() if "id" in frame.columns else list(frame.index)
    for row, value in zip(ids, frame[by]):
        if isinstance(value, (list, tuple, np.ndarray, set, frozenset, dict)):
            items = list(value)[:3] if not isinstance(value, dict) else value  # a Parquet list reads as an array
            shown = repr(
                [v.item() if isinstance(v, np.generic) else v for v in items] if isinstance(items, list) else items
            )
            shown = shown if len(shown) <= 60 else shown[:57].rsplit(" ", 1)[0] + " ..."  # not cut mid-word
            raise TypeError(
                f"{what}: by={by!r} holds a {'dict' if isinstance(value, dict) else 'list'} per image (the image "
                f"with id {row} has "
                f"{shown}); by must name a column with one value per image, such as 'predicted_name' or 'label'"
            )
    return by


def _by_words(by: str) -> tuple[str, str]:
    return _BY_WORDS.get(by, (by, f"{by} values"))


def collection_concepts(
    explanations: Any, by: str = "predicted_name", top: int = 10, min_images: int = 3
) -> ConceptTable:
    """The concepts each predicted class's explanations lean on, across an explained collection.

    For every class (every value of the ``by`` column) with at least ``min_images`` explained images, each concept
    named in their explanations gets: how many of the class's images name it (``named_in``) and that as a share of
    them (``frequency``: 0.5 = half the class's explanations name it), and, over the images that name it, the mean
    of its contribution to the explained logit (``mean_contribution``, in logits) and of its share of that logit
    (``mean_share``). The ``top`` concepts of each class are kept, most often named first (ties: larger mean
    contribution first, then alphabetical).

    A concept named for most of a class's images is what the classifier's evidence for that class looks like on this
    collection; one named rarely is specific to a few images. Only named concepts count: an explanation names ``k``
    concepts, so a concept that carries a little of many images' logits without ever being among their ``k`` does
    not appear.

    Args:
        explanations: the DataFrame of :func:`nlexnb.read_explanations` (or the
            :class:`~nlexnb.collection.CollectionRun` :func:`nlexnb.explain_collection` returned, or the file's
            path); needs the ``by`` column and
            ``concepts``, ``contributions``, ``shares``.
        by: the column to group by: ``"predicted_name"`` (the class explained) or ``"label"`` (the collection's
            labels; images without one are left out), or any other column.
        top: concepts kept per class.
        min_images: classes with fewer explained images are left out (the title says how many).

    Returns:
        A :class:`ConceptTable` (kind ``"collection_concepts"``, value ``frequency``) with columns ``<by>``,
        ``group_size``, ``rank``, ``concept``, ``named_in``, ``frequency``, ``mean_contribution``, ``mean_share``:
        the largest classes first. ``profile`` holds a class x concept table of ``frequency`` (0 where not named).
        ``plot()`` draws one panel of bars per class.

    Raises:
        TypeError / ValueError: explanations that are not such a frame, lack a column, are empty, or hold something
            else than lists in the list columns; a ``by`` that is not a column; no class with ``min_images`` images.
    """
    what = "collection_concepts"
    top = positive_int(top, "top", "concepts per class")
    min_images = positive_int(min_images, "min_images", "images")
    if not isinstance(explanations, pd.DataFrame):
        explanations = _explanations(explanations, ("concepts",), what)
    by = _by_column(explanations, by, what)
    frame = _explanations(explanations, (by, "concepts", "contributions", "shares"), what)
    one, many = _by_words(by)
    kept = frame[frame[by].notna()].reset_index(drop=True)
    if kept.empty:
        raise ValueError(f"{what}: column {by!r} holds no values (every one is null): group by another column")
    sizes = kept[by].value_counts()
    sizes = sizes[sizes >= min_images]
    if sizes.empty:
        raise ValueError(
            f"{what}: no {one} has min_images={min_images} explained images (the most is "
            f"{int(kept[by].value_counts().max())}); lower min_images"
        )
    order = sorted(sizes.index, key=lambda g: (-int(sizes[g]), str(g)))
    long = _named(kept, ("contributions", "shares"))
    long[by] = kept[by].to_numpy()[long["image"].to_numpy()]
    long = long[long[by].isin(set(order))]
    stats = (
        long.groupby([by, "concept"], sort=False)
        .agg(
            named_in=("image", "nunique"),
            mean_contribution=("contributions", "mean"),
            mean_share=("shares", "mean"),
        )
        .reset_index()
    )
    stats["group_size"] = stats[by].map(sizes).astype(int)
    stats["frequency"] = stats["named_in"] / stats["group_size"]
    parts = []
    for group in order:
        rows = stats[stats[by] == group].sort_values(
            ["named_in", "mean_contribution", "concept"], ascending=[False, False, True], kind="stable"
        )
        rows = rows.head(top).assign(rank=np.arange(1, min(top, len(rows)) + 1))
        if rows.empty:  # a class whose explanations name nothing
            continue
        parts.append(rows)
    columns = [by, "group_size", "rank", "concept", "named_in", "frequency", "mean_contribution", "mean_share"]
    table = pd.concat(parts, ignore_index=True)[columns] if parts else pd.DataFrame(columns=columns)
    profile = (
        table.pivot_table(index=by, columns="concept", values="frequency", fill_value=0.0, sort=False)
        .reindex(index=[g for g in order if g in set(table[by])])
        .reindex(columns=list(dict.fromkeys(table["concept"])))
    )
    profile.columns.name = None
    left = int(kept[by].nunique()) - len(order)
    note = f"; {counted(left, one, many)} with fewer than {min_images} images left out" if left else ""
    foil = (explanations.attrs.get("nlexnb") or {}).get("foil_name")
    gap = "" if foil is None else f": each explains the gap to {foil!r} (why the predicted class rather than {foil!r})"
    title = (
        f"Concepts the explanations name, per {one} ({counted(len(order), one, many)}, "
        f"{counted(int(sizes.sum()), 'image')}{note}){gap}"
    )
    return ConceptTable("collection_concepts", title, "frequency", table.reset_index(drop=True), profile=profile)


def _correct_rule(correct: Any, classes: Any, frame: pd.DataFrame, what: str) -> Callable[[str, str], bool | None]:
    """``correct`` as a function (label, predicted_name) -> True / False / None (not judged)."""
    names = _known_class_names(classes, frame, what)
    if correct is None:
        known = set(names) if names is not None else set(frame["predicted_name"].astype(str))
        labels = sorted({str(v) for v in frame["label"].dropna()})
        unknown = [label for label in labels if label not in known]
        if unknown:
            where = "among its class names" if names is not None else "among the classes predicted here"
            raise ValueError(
                f"{what}: the labels are not the classifier's class names ({unknown[:5]}"
                f"{' ...' if len(unknown) > 5 else ''} are not {where}), so whether a prediction is right cannot be "
                "read off them. Say what counts as right: correct={label: [the class names that are right for it]} "
                "(for the stamp photos: nlexnb.datasets.label_classes('stamps')), or correct=a function (label, "
                "predicted_name) -> True, False, or None to leave the image out"
                + ("" if names is not None else "; if the labels are class names, pass classes=the classifier")
            )
        return lambda label, predicted: label == predicted
    if isinstance(correct, Mapping):
        rights: dict[str, set[str]] = {}
        for label, given in correct.items():
            if not isinstance(label, str):
                raise TypeError(f"{what}: the keys of correct= must be labels (str), got {label!r}")
            if isinstance(given, str):
                given = [given]
            if not isinstance(given, (list, tuple, set, frozenset)) or not all(isinstance(n, str) for n in given):
                raise TypeError(
                    f"{what}: correct[{label!r}] must be the class name, or a list of the class names, that are a "
                    f"right prediction for label {label!r}; got {given!r}"
                )
            rights[label] = set(given)
        if names is not None:
            lookup = _name_lookup(names)
            rights = {
                label: {_class_name(n, lookup, f"correct[{label!r}]", what) for n in given}
                for label, given in rights.items()
            }
        else:
            _warn_unchecked(rights, frame, what)
        warn_unmatched_keys(rights, [str(v) for v in frame["label"].dropna()], what)
        return lambda label, predicted: (predicted in rights[label]) if label in rights else None
    if callable(correct):
        try:
            inspect.signature(correct).bind("label", "predicted_name")
        except TypeError:
            raise TypeError(
                f"{what}: correct must take (label, predicted_name) and return True, False or None; "
                f"{getattr(correct, '__name__', type(correct).__name__)}{inspect.signature(correct)} does not take "
                "those two arguments"
            ) from None
        except ValueError:  # no signature to read (some built-ins): it is called as it is
            pass
        return correct
    raise TypeError(
        f"{what}: correct must be None (labels are class names), a mapping {{label: class names right for it}} or a "
        f"function (label, predicted_name) -> bool or None; got {type(correct).__name__}"
    )


def _known_class_names(classes: Any, frame: pd.DataFrame, what: str) -> list[str] | None:
    """The classifier's class names: ``classes`` (a Classifier or its names) when given, else those the explanations
    file records (explain_collection writes them with the rows); None when neither says."""
    if classes is not None:
        if isinstance(classes, Classifier):
            return list(classes.class_names)
        names = isinstance(classes, Sequence) and not isinstance(classes, str)
        if not names or not all(isinstance(c, str) for c in classes):
            raise TypeError(f"{what}: classes must be a Classifier or its list of class names, got {classes!r}"[:300])
        return list(classes)
    stored = frame.attrs.get("nlexnb", {}).get("class_names")
    return list(stored) if isinstance(stored, list) and all(isinstance(c, str) for c in stored) else None


def _name_lookup(names: list[str]) -> dict[str, list[str]]:
    """Every way a class may be named, as :meth:`nlexnb.Classifier.class_index` reads a name (its full name, or one of
    its comma-separated synonyms, in any case, without surrounding spaces) -> the full names it stands for; each full
    name is also under ``"=" + name``, matched exactly first."""
    lookup: dict[str, list[str]] = {}
    for name in names:
        lookup.setdefault("=" + name, []).append(name)
        for key in dict.fromkeys([name.lower(), *(s.lower() for s in split_synonyms(name))]):
            lookup.setdefault(key, []).append(name)
    return lookup


def _class_name(name: str, lookup: dict[str, list[str]], where: str, what: str) -> str:
    """The full class name ``name`` stands for ("tabby" -> "tabby, tabby cat"), or a ValueError naming ``where`` it
    came from, with close matches: a misspelt name would silently count every prediction for its label as wrong."""
    if "=" + name in lookup:
        return name
    hits = lookup.get(name.strip().lower(), [])
    if len(hits) == 1:
        return hits[0]
    if len(hits) > 1:
        raise ValueError(f"{what}: {where} names {name!r}, which is ambiguous: {hits}; give the full class name")
    synonyms = {key: full[0] for key, full in lookup.items() if not key.startswith("=")}
    close = difflib.get_close_matches(name.strip().lower(), list(synonyms), n=5, cutoff=0.6)
    matches = list(dict.fromkeys(synonyms[key] for key in close))
    hint = f"; close matches: {matches}" if matches else ""
    raise ValueError(
        f"{what}: {where} names {name!r}, which is not one of the classifier's class names{hint}. A prediction is "
        "right when its class name is listed: a misspelt or unknown name would count the right predictions as wrong"
    )


def _warn_unchecked(rights: dict[str, set[str]], frame: pd.DataFrame, what: str) -> None:
    """Without the class names (a frame built by hand, or a file of an earlier nlexnb), the names in correct= that no
    image here is predicted as cannot be checked: say so rather than count a misspelt one silently."""
    predicted = set(frame["predicted_name"].astype(str))
    unseen = sorted({n for given in rights.values() for n in given} - predicted)
    if unseen:
        warn_user(
            f"{what}: correct= names {len(unseen)} class(es) that no image here is predicted as ({unseen[:5]}"
            f"{' ...' if len(unseen) > 5 else ''}), and the explanations do not record the classifier's class names, "
            "so they cannot be checked (a misspelt one counts right predictions as wrong): pass classes=the "
            "classifier to check them"
        )


def _verdicts(frame: pd.DataFrame, rule: Callable, what: str) -> np.ndarray:
    """Per image: 1.0 right, 0.0 wrong, NaN not judged (no label, or the rule says None)."""
    out = np.full(len(frame), np.nan)
    for i, (label, predicted) in enumerate(zip(frame["label"], frame["predicted_name"])):
        if label is None or (not isinstance(label, str) and pd.isna(label)):
            continue
        verdict = rule(label, predicted)
        if verdict is None:
            continue
        if not isinstance(verdict, (bool, np.bool_)):
            raise TypeError(
                f"{what}: correct({label!r}, {predicted!r}) returned {verdict!r}; it must return True (right), False "
                "(wrong) or None (leave the image out)"
            )
        out[i] = float(verdict)
    return out


def _surprise(hits: np.ndarray, named: np.ndarray, side: np.ndarray, total: int) -> np.ndarray:
    """One-sided Fisher exact test: the chance that ``hits`` or more of the ``named`` images fall on a side of
    ``side`` images out of ``total`` when the side is drawn at random (hypergeometric upper tail)."""
    from scipy.stats import hypergeom

    return hypergeom.sf(hits - 1, total, side, named)


def error_concepts(
    explanations: Any,
    correct: Mapping[str, Any] | Callable[[str, str], bool | None] | None = None,
    *,
    by: str | None = None,
    top: int = 10,
    min_images: int = 3,
    classes: Classifier | Sequence[str] | None = None,
) -> ConceptTable:
    """Concepts named more often on wrong predictions than on right ones (and the other way round).

    Each image with a label is judged right or wrong; then, for each concept, the share of the wrong predictions whose
    explanation names it (``error_share``) is compared with the share of the right ones that do (``right_share``).
    ``difference = error_share - right_share``: a concept at +0.3 is named on 30 points more of the errors than of
    the right predictions. The ``top`` concepts on each side are kept: ``side`` "errors" (over-represented among
    errors, largest difference first) and "right" (over-represented among right predictions).

    **What counts as right must be said.** Labels such as the stamp set's ("bird", "fruit", "coin") are not the
    classifier's class names, so a prediction cannot be compared with them by name; the default refuses such labels
    with a ValueError rather than guessing. Pass ``correct=``:

    - a mapping ``{label: class names that are right for it}`` (for the stamp photos,
      :func:`nlexnb.datasets.label_classes`: "lemon" is right for "fruit", "face powder" is wrong for "coin").
      Images whose label is not a key are not judged (left out and counted), so a partial mapping does not count the
      labels it does not know as errors; a key with no class names makes every prediction for that label wrong.
      Each class name is checked against the classifier's (``classes=``, or those the explanations file records) and
      read as :meth:`nlexnb.Classifier.class_index` reads one: the full name, or one of its comma-separated synonyms
      in any case ("tabby" for "tabby, tabby cat"); an unknown name is a ValueError with close matches, as a misspelt
      one would count right predictions as wrong. Where neither gives the class names (a frame built by hand), names
      that no image is predicted as are warned about;
    - a function ``correct(label, predicted_name)`` of two arguments returning True, False, or None to leave that
      image out;
    - nothing, when the labels are the classifier's class names (an ImageNet validation folder): right means the label
      is the predicted class's name. The labels are checked against ``classes`` (the classifier or its class names;
      default the classes predicted in the collection).

    **How to read it.** Explanations name concepts aligned with the *predicted* class, so over the whole collection
    (``by=None``) the comparison mostly shows which classes are predicted wrongly (the concepts of a class that is
    often predicted wrongly are named on the errors), not why: a concept over-represented among errors is a symptom
    to look at, not a cause. ``by="predicted_name"`` compares right and wrong predictions *of the same class*
    (classes with both, and at least ``min_images`` images), which holds the class fixed: what a class's wrong
    predictions lean on that its right ones do not. ``p_value`` is a one-sided Fisher exact test of each count (how
    often a concept named on that many images would fall that unevenly on this side by chance); it is not corrected
    for the many concepts compared, so among hundreds a few fall below 0.05 by chance. Counts are in the
    table: a difference over three images means little.

    Args:
        explanations: the DataFrame of :func:`nlexnb.read_explanations` (or the CollectionRun, or the file's path);
            needs ``label``, ``predicted_name`` and ``concepts``.
        correct: what counts as a right prediction (see above).
        by: None (all judged images together) or ``"predicted_name"`` (within each predicted class).
        top: concepts kept on each side (per class with ``by``).
        min_images: a concept must be named on at least this many judged images to be compared (and, with ``by``, a
            class must have this many judged images).
        classes: the classifier (or its class names): with ``correct=None``, the labels must be names of its classes;
            with a mapping, the names it lists must be. Default: the class names the explanations file records (or,
            for a frame without them, the classes predicted in it).

    Returns:
        A :class:`ConceptTable` (kind ``"error_concepts"``, value ``difference``) with columns (``predicted_name``
        with ``by``), ``side``, ``concept``, ``errors``, ``right`` (images naming it), ``error_share``,
        ``right_share``, ``difference``, ``error_rate`` (of the judged images naming it, the share that are wrong),
        ``p_value``. ``per_image`` holds every image's ``id``, ``label``, ``predicted_name`` and ``correct`` (True,
        False, or None when not judged). The title gives the numbers of wrong, right and unjudged images (and, with
        ``by``, of the classes compared).

    Raises:
        TypeError / ValueError: explanations that are not such a frame, lack a column or are empty; labels that are
            not class names with ``correct=None``; a mapping naming a class the classifier does not have; a
            ``correct`` of another type, a function that does not take (label, predicted_name), or one returning
            something else than True / False / None; no image judged, or every judged image on one side (with ``by``, a
            collection where no class has both gives an empty table, and the title says so).
    """
    what = "error_concepts"
    top = positive_int(top, "top", "concepts per side")
    min_images = positive_int(min_images, "min_images", "images")
    if by is not None and by != "predicted_name":
        raise ValueError(f"{what}: by must be None (all images together) or 'predicted_name' (per class), got {by!r}")
    frame = _explanations(explanations, ("label", "predicted_name", "concepts"), what).reset_index(drop=True)
    if frame["label"].isna().all():
        raise ValueError(
            f"{what}: no image has a label, so no prediction can be judged right or wrong: explain a labelled "
            "collection ((image, label) pairs, such as nlexnb.datasets.stamp_photo_set(), or a labelled Dataset)"
        )
    verdict = _verdicts(frame, _correct_rule(correct, classes, frame, what), what)
    judged = ~np.isnan(verdict)
    n_right, n_wrong = int((verdict == 1).sum()), int((verdict == 0).sum())
    unjudged = len(frame) - n_right - n_wrong
    if not judged.any():
        labels = sorted({str(v) for v in frame["label"].dropna()})
        keys = sorted(correct)[:8] if isinstance(correct, Mapping) else None
        hint = f" the keys of correct= ({keys}) must be labels of the collection;" if keys is not None else ""
        raise ValueError(
            f"{what}: no image could be judged right or wrong (labels here: {labels[:8]});{hint} correct= says what "
            "is right for each label"
        )
    per_image = pd.DataFrame(
        {
            "id": frame["id"] if "id" in frame.columns else frame.index,
            "label": frame["label"],
            "predicted_name": frame["predicted_name"],
            "correct": [None if np.isnan(v) else bool(v) for v in verdict],
        }
    )
    if by is None:
        if not n_right or not n_wrong:
            raise ValueError(
                f"{what}: every one of the {n_right + n_wrong} judged predictions is "
                f"{'right' if n_right else 'wrong'}: there is nothing to compare"
            )
        table = _error_table(frame[judged], verdict[judged], top, min_images)
    else:
        parts, compared = [], 0
        for name, rows in frame[judged].groupby("predicted_name", sort=True):
            v = verdict[rows.index.to_numpy()]
            if len(rows) >= min_images and 0 < v.sum() < len(v):
                compared += 1
                part = _error_table(rows, v, top, min_images)
                if len(part):
                    parts.append(part.assign(predicted_name=name))
        columns = ["predicted_name", *_ERROR_COLUMNS]
        table = pd.concat(parts, ignore_index=True)[columns] if parts else pd.DataFrame(columns=columns)
    if table.empty and (by is None or compared):  # the title would say "3 wrong, 4 right" over an empty table
        long = _named(frame[judged].reset_index(drop=True), ()).drop_duplicates(["image", "concept"])
        most = int(long.groupby("concept").size().max()) if len(long) else 0
        if most < min_images:
            raise ValueError(
                f"{what}: no concept is named on min_images={min_images} judged images (the most is {most}); "
                "lower min_images"
            )
    left = f", {unjudged} not judged" if unjudged else ""
    scope = ""
    if by is not None:
        within = "the one predicted class" if compared == 1 else f"each of {compared} predicted classes"
        shown = table["predicted_name"].nunique()
        listed = "" if shown == compared else f"; {shown} with a concept named more often on one side"
        scope = f", within {within} with both{listed}"
    if by is not None and not compared:
        scope = f"; no predicted class has both among at least {min_images} judged images"
    title = f"Concepts named on wrong vs right predictions ({n_wrong} wrong, {n_right} right{left}{scope})"
    return ConceptTable("error_concepts", title, "difference", table.reset_index(drop=True), per_image=per_image)


_ERROR_COLUMNS = ["side", "concept", "errors", "right", "error_share", "right_share", "difference", "error_rate"]
_ERROR_COLUMNS += ["p_value"]


def _error_table(frame: pd.DataFrame, verdict: np.ndarray, top: int, min_images: int) -> pd.DataFrame:
    """The two-sided comparison of :func:`error_concepts` over the images of ``frame`` (verdict 1 right, 0 wrong)."""
    n_right, n_wrong = int(verdict.sum()), int(len(verdict) - verdict.sum())
    long = _named(frame.reset_index(drop=True), ())
    long["right"] = verdict[long["image"].to_numpy()] == 1
    long = long.drop_duplicates(["image", "concept"])
    counts = long.groupby("concept").agg(right=("right", "sum"), named=("image", "size"))
    counts["errors"] = counts["named"] - counts["right"]
    counts = counts[counts["named"] >= min_images].reset_index()
    columns = _ERROR_COLUMNS
    if counts.empty:
        return pd.DataFrame(columns=columns)
    counts["error_share"] = counts["errors"] / n_wrong
    counts["right_share"] = counts["right"] / n_right
    counts["difference"] = counts["error_share"] - counts["right_share"]
    counts["error_rate"] = counts["errors"] / counts["named"]
    errors_side = counts[counts["difference"] > 0].sort_values(
        ["difference", "errors", "concept"], ascending=[False, False, True], kind="stable"
    )
    right_side = counts[counts["difference"] < 0].sort_values(
        ["difference", "right", "concept"], ascending=[True, False, True], kind="stable"
    )
    errors_side = errors_side.head(top).assign(side="errors")
    right_side = right_side.head(top).assign(side="right")
    total = n_right + n_wrong
    errors_side["p_value"] = _surprise(
        errors_side["errors"].to_numpy(), errors_side["named"].to_numpy(), n_wrong, total
    )
    right_side["p_value"] = _surprise(right_side["right"].to_numpy(), right_side["named"].to_numpy(), n_right, total)
    table = pd.concat([errors_side, right_side], ignore_index=True)
    table[["errors", "right"]] = table[["errors", "right"]].astype(int)
    return table[columns]


def _key(text: str) -> str:
    """How concepts are compared: case-insensitively, whitespace collapsed (as a ConceptBank deduplicates them)."""
    return " ".join(text.split()).lower()


def _surroundings(
    bank: Any, surroundings: Any, kinds: Any, named: set[str], frame: pd.DataFrame, what: str
) -> tuple[set[str], str]:
    """The concept keys that count as surroundings, and a phrase saying where they came from."""
    from ..concepts import ConceptBank, load_concepts

    if surroundings is not None:
        if bank is not None:
            raise ValueError(f"{what}: pass bank= (its concepts of kind {kinds!r}) or surroundings=, not both")
        if isinstance(surroundings, str) or not isinstance(surroundings, (list, tuple, set, frozenset)):
            raise TypeError(
                f"{what}: surroundings must be a list of concept texts (such as ['snow', 'grass', 'sky']), got "
                f"{type(surroundings).__name__}"
            )
        if not surroundings or not all(isinstance(t, str) and t.strip() for t in surroundings):
            raise ValueError(f"{what}: surroundings must be a non-empty list of non-empty concept texts")
        _known_surroundings(surroundings, named, frame, what)
        listed = counted(len(set(map(_key, surroundings))), "concept")
        return {_key(t) for t in surroundings}, f"{listed} listed as surroundings"
    kinds = (kinds,) if isinstance(kinds, str) else kinds
    if not isinstance(kinds, (list, tuple, set, frozenset)) or not kinds or not all(isinstance(k, str) for k in kinds):
        raise TypeError(f"{what}: kinds must be a kind of concept or a list of them (such as ['scene']), got {kinds!r}")
    if bank is None:
        bank = ConceptBank.visual()
    elif isinstance(bank, ConceptSpace) or isinstance(getattr(bank, "space", None), ConceptSpace):
        bank = bank.bank
    elif not isinstance(bank, ConceptBank):
        if not isinstance(bank, (str, os.PathLike)):
            raise TypeError(
                f"{what}: bank must be a ConceptBank, a bank's name ('visual'), an Explainer or a ConceptSpace, got "
                f"{type(bank).__name__}; or pass surroundings=[concept texts]"
            )
        bank = load_concepts(bank)
    wanted = set(kinds)
    if wanted - set(bank.sources):  # a misspelt kind beside a right one would silently count for nothing
        present = sorted(set(bank.sources))
        raise ValueError(
            f"{what}: bank {bank.name!r} records no concept of kind {sorted(wanted - set(bank.sources))} (its kinds: "
            f"{present[:8]}"
            f"{' ...' if len(present) > 8 else ''}); a bank made from a list or a file records none. Pass "
            "surroundings=[the concept texts that are surroundings], or the bank the explanations were written with "
            "if it records kinds (the visual bank: 'scene')"
        )
    known = {_key(t) for t in bank.texts}
    unknown = sorted(c for c in named if _key(c) not in known)
    if unknown:
        wrote = frame.attrs.get("nlexnb", {}).get("bank")
        source = f" (they were written with bank {wrote!r})" if wrote and wrote != bank.name else ""
        raise ValueError(
            f"{what}: {len(unknown)} concept(s) the explanations name are not in bank {bank.name!r}{source}, e.g. "
            f"{unknown[:4]}: pass the bank the explanations were written with (bank=explainer.bank), or "
            "surroundings=[the concept texts that are surroundings]"
        )
    keys = {_key(t) for t, kind in zip(bank.texts, bank.sources) if kind in wanted}
    return keys, f"concepts of kind {'/'.join(sorted(wanted))} in the {bank.name!r} bank"


def _known_surroundings(surroundings: Sequence[str], named: set[str], frame: pd.DataFrame, what: str) -> None:
    """Refuse a list of surroundings none of which any explanation names or any bank holds (a typo: the reliance
    would be 0 for every image), and warn about the ones of a list that are unknown while others are known. Known:
    named by an explanation, or a concept of the default visual bank or of the built-in bank the file was written
    with."""
    from ..concepts import BANKS, ConceptBank, load_concepts

    known = {_key(c) for c in named} | {_key(t) for t in ConceptBank.visual().texts}
    wrote = frame.attrs.get("nlexnb", {}).get("bank")
    if isinstance(wrote, str) and wrote in BANKS and wrote not in ("visual", "default"):
        known |= {_key(t) for t in load_concepts(wrote).texts}
    unknown = [t for t in dict.fromkeys(surroundings) if _key(t) not in known]
    if not unknown:
        return
    close = {t: difflib.get_close_matches(_key(t), sorted(known), n=3, cutoff=0.75) for t in unknown}
    hints = "; ".join(f"{t!r}: did you mean {m}?" for t, m in close.items() if m)
    it = "it" if len(unknown) == 1 else "them"
    where = f"no explanation names {it} and no bank holds {it}"
    if len(unknown) == len(set(surroundings)):
        raise ValueError(
            f"{what}: surroundings {unknown} {'is not a concept' if len(unknown) == 1 else 'are not concepts'}: "
            f"{where}, so the reliance would be 0 for every image"
            f"{f' ({hints})' if hints else ''}. List concept texts the explanations name (or the bank's)"
        )
    warn_user(
        f"{what}: surroundings {unknown} {'is' if len(unknown) == 1 else 'are'} not a concept: {where}, so "
        f"{'it counts' if len(unknown) == 1 else 'they count'} for nothing{f' ({hints})' if hints else ''}"
    )


def context_reliance(
    explanations: Any,
    bank: Any = None,
    *,
    surroundings: Sequence[str] | None = None,
    kinds: str | Sequence[str] = ("scene",),
    by: str = "predicted_name",
    min_images: int = 1,
) -> ConceptTable:
    """How much of each explanation is carried by concepts of the surroundings (snow, grass, water, sky) rather than
    the object.

    **What the number is.** For one explanation, ``reliance`` = the summed contributions of its named concepts that
    are surroundings / the summed contributions of all its named concepts (``total``): 0.25 means a quarter of what the
    explanation accounts for comes from surroundings. ``logit_share`` divides the same sum by the explained logit
    instead (the named concepts together account for only part of it; NaN where that is not positive, as the file's
    ``shares`` are). A class's row averages its images.

    **What counts as surroundings.** By default the concepts of kind ``"scene"`` in the default visual bank
    (``nlexnb/data/visual_concepts.tsv``, column 2; ``scripts/build_visual_bank.py`` gives that kind to WordNet's
    landforms, bodies of water and land, and to a list of scene words: sky, snow, grass, water, forest, beach, sunset,
    white background, ... 59 concepts; WordNet landforms a reader takes another way, such as "bank", "cape" or "spit",
    are of kind ``"ambiguous"`` instead); ``kinds=`` picks other kinds of a bank that records them, and
    ``surroundings=`` takes your own list of concept texts instead. Concepts are compared case-insensitively. A listed
    text that no explanation names and no bank holds (the default visual bank, or the built-in bank the file was
    written with) can never count: a list of only such texts is a ValueError (a typo would report 0%), and such texts
    beside known ones are named in a warning. Every kind in ``kinds`` must be one the bank records.

    **Limits.** Only named concepts count: context that carries a prediction without being among its ``k`` named
    concepts is invisible here. An explanation names a concept only when the image shows it *and* the explained
    class's row is aligned with it, so a surroundings concept appears where the classifier's notion of the class
    includes it ("snow" for a husky): that is the reliance this measures, and a low number is not proof that the
    classifier ignores the background (ablate the features, or occlude the background, to test that). A kind is a
    property of the word, not of where it is in the photo: "sunlight" named for a solar dish counts as surroundings
    even if it describes what the dish is for. Explanations that name nothing, or whose contributions sum to zero
    or less, have no reliance (NaN) and are left out of the means.

    Args:
        explanations: the DataFrame of :func:`nlexnb.read_explanations` (or the CollectionRun, or the file's path);
            needs ``concepts``, ``contributions``, ``explained`` and the ``by`` column.
        bank: where the kinds come from: a :class:`~nlexnb.ConceptBank` that records them (its ``sources``), a bank's
            name, or the Explainer / ConceptSpace the explanations came from; None: the default visual bank. Every
            named concept must be in it.
        surroundings: the concept texts that are surroundings, instead of a bank's kinds.
        kinds: the bank kinds that are surroundings.
        by: the column the summary groups by (``"predicted_name"``, or ``"label"``).
        min_images: classes with fewer explained images are left out of the summary (not of ``per_image``).

    Returns:
        A :class:`ConceptTable` (kind ``"context_reliance"``, value ``mean_reliance``): ``table`` has one row per class
        (``<by>``, ``images``, ``naming_surroundings`` (images whose explanation names at least one),
        ``mean_reliance``, ``mean_logit_share``, ``surroundings`` (the surroundings concepts named, most frequent
        first, with counts)), most reliant first; ``per_image`` has one row per image (``id``, ``path``, ``label``,
        ``<by>``, ``surroundings`` (list), ``context_contribution``, ``total``, ``reliance``, ``logit_share``).
        The title gives the mean reliance over all images.

    Raises:
        TypeError / ValueError: explanations that are not such a frame, lack a column or are empty; a bank that records
            no concept of one of ``kinds`` (pass ``surroundings=``), or that lacks concepts the explanations name; both
            ``bank`` and ``surroundings``; surroundings that are none of them concepts; a ``by`` that is not a column
            or holds a list per image.
    """
    what = "context_reliance"
    min_images = positive_int(min_images, "min_images", "images")
    if not isinstance(explanations, pd.DataFrame):
        explanations = _explanations(explanations, ("concepts",), what)
    by = _by_column(explanations, by, what)
    frame = _explanations(explanations, (by, "concepts", "contributions", "explained"), what).reset_index(drop=True)
    named = {c for row in frame["concepts"] for c in row}
    keys, source = _surroundings(bank, surroundings, kinds, named, frame, what)
    long = _named(frame, ("contributions",))
    long["surroundings"] = long["concept"].map(lambda c: _key(c) in keys).astype(bool)
    n = len(frame)
    index = long["image"].to_numpy()
    total = np.bincount(index, weights=long["contributions"].to_numpy(), minlength=n)
    context = np.bincount(index, weights=np.where(long["surroundings"], long["contributions"], 0.0), minlength=n)
    with np.errstate(divide="ignore", invalid="ignore"):
        reliance = np.where(total > 0, context / total, np.nan)
        explained = frame["explained"].to_numpy(dtype=np.float64)
        logit_share = np.where(explained > 0, context / explained, np.nan)  # as the file's shares: NaN at <= 0
    lists: list[list[str]] = [[] for _ in range(n)]
    for i, concept in zip(index[long["surroundings"].to_numpy()], long.loc[long["surroundings"], "concept"]):
        lists[i].append(concept)
    per_image = pd.DataFrame({c: frame[c] for c in ("id", "path", "label") if c in frame.columns and c != by})
    per_image[by] = frame[by]
    per_image["surroundings"] = lists
    per_image["context_contribution"] = context
    per_image["total"] = total
    per_image["reliance"] = reliance
    per_image["logit_share"] = logit_share
    rows = []
    for group, part in per_image[per_image[by].notna()].groupby(by, sort=False):
        if len(part) < min_images:
            continue
        counts = pd.Series([c for row in part["surroundings"] for c in dict.fromkeys(row)]).value_counts()
        rows.append(
            {
                by: group,
                "images": len(part),
                "naming_surroundings": int(part["surroundings"].map(bool).sum()),
                "mean_reliance": float(part["reliance"].mean()) if part["reliance"].notna().any() else np.nan,
                "mean_logit_share": float(part["logit_share"].mean()) if part["logit_share"].notna().any() else np.nan,
                "surroundings": "; ".join(f"{c} ({k})" for c, k in counts.items()),
            }
        )
    columns = [by, "images", "naming_surroundings", "mean_reliance", "mean_logit_share", "surroundings"]
    if not rows and per_image[by].notna().any():  # the title's mean would stand over an empty table
        most = int(per_image[by].value_counts().max())
        raise ValueError(
            f"{what}: no {_by_words(by)[0]} has min_images={min_images} explained images (the most is {most}); "
            "lower min_images"
        )
    table = pd.DataFrame(rows, columns=columns)
    if len(table):
        table = table.sort_values(["mean_reliance", "images", by], ascending=[False, False, True], kind="stable")
    naming = int(per_image["surroundings"].map(bool).sum())
    mean = float(np.nanmean(reliance)) if np.isfinite(reliance).any() else float("nan")
    on_average = f"{mean:.1%} of the named contribution on average" if np.isfinite(mean) else "no explanation names one"
    verb = "names" if n == 1 else "name"
    title = f"Reliance on surroundings ({source}): {on_average}; {naming} of {counted(n, 'explanation')} {verb} any"
    return ConceptTable("context_reliance", title, "mean_reliance", table.reset_index(drop=True), per_image=per_image)
