"""Fine-grained concept discovery: read what the classifier's class rows and image features encode, in words.

Every function ranks the concepts of a :class:`~nlexnb.space.ConceptSpace` by their direction (the same unit directions
explanations select and ablate) against a vector of the classifier's own space: a class row ``W[c]``
(:func:`class_concepts`), the difference of two rows (:func:`contrast`: what separates husky from malamute), the
features of a set of images (:func:`image_concepts`, :func:`subconcepts`), or the other way round, a free text against
all rows (:func:`nearest_classes`). Class names and names of peoples are left out, as in explanations.

Each function takes a classifier and a mapper (and ``bank=``), or a concept space alone in their place
(``class_concepts(space, "espresso")``), and returns a :class:`ConceptTable`: ``.table`` (a DataFrame), ``.plot()``
and a rich display; it also behaves as its table (``result["concept"]``, ``len(result)``).

Three more read a whole explained collection (the rows :func:`nlexnb.explain_collection` writes and
:func:`nlexnb.read_explanations` reads back) rather than the model: :func:`collection_concepts` (the concepts each
predicted class's explanations lean on), :func:`error_concepts` (concepts named more often on wrong predictions than on
right ones, given a definition of right) and :func:`context_reliance` (how much of each explanation is carried by
concepts of the surroundings rather than the object). They return a :class:`ConceptTable` too.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from ._checks import a_number, positive_int, yes_or_no
from .classifier import Classifier
from .images import ImageInput
from .labels import primary_name
from .mapper import Mapper, is_mapper
from .space import ConceptSpace, concept_space

__all__ = [
    "ConceptTable",
    "resolve_class",
    "class_concepts",
    "contrast",
    "image_concepts",
    "subconcepts",
    "nearest_classes",
    "collection_concepts",
    "error_concepts",
    "context_reliance",
    "plot",
]


# ---- results ---------------------------------------------------------------------------------------------------------
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
    """

    kind: str
    title: str
    value: str
    table: pd.DataFrame
    assignment: list[int] | None = None
    profile: pd.DataFrame | None = field(default=None, repr=False)
    per_image: pd.DataFrame | None = field(default=None, repr=False)

    def plot(self, max_rows: int | None = None):
        """The result drawn (seaborn, headless): a bar chart of a ranking (a contrast coloured by the class each
        concept favours), the cluster x concept heat map of sub-concepts, one panel of concepts per class for
        :func:`collection_concepts`, concepts over-represented on each side for :func:`error_concepts`, and the
        reliance on surroundings per image, per class and per concept for :func:`context_reliance`.

        Args:
            max_rows: the most bars (or, for :func:`collection_concepts` and :func:`context_reliance`, classes) shown;
                None: 20 for a ranking, 12 classes for the collection views.

        Returns:
            The matplotlib Figure.
        """
        from .plots import concept_table_figure

        return concept_table_figure(self, max_rows=max_rows)

    def __repr__(self) -> str:
        return f"{self.title}\n{self.table.to_string(index=False)}"

    def _repr_html_(self) -> str:
        return f"<p><b>{self.title}</b></p>" + self.table.to_html(index=False, float_format=lambda v: f"{v:.3g}")

    # behaves as its table, as the DataFrames discovery returned before
    def __getattr__(self, name: str):
        if name.startswith("__") or name in {"table", "kind", "title", "value", "assignment", "profile", "per_image"}:
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

    def __iter__(self):
        return iter(self.table)


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
    """(classifier, mapper, *rest) or (space, *rest): the leading objects and the rest of the positional arguments."""
    if args and isinstance(args[0], ConceptSpace):
        return args[0], None, args[1:]
    if len(args) < 2:
        raise TypeError(f"Pass a ConceptSpace, or a classifier and a mapper, before {', '.join(names)}")
    if not is_mapper(args[1]):
        raise TypeError(
            f"After a classifier comes its mapper (nlexnb.fit_mapper(classifier, encoder)), then {', '.join(names)}; "
            f"got {type(args[1]).__name__} {args[1]!r} instead. Or pass one ConceptSpace first"
        )
    return args[0], args[1], args[2:]


def _ranked(space: ConceptSpace, scores: torch.Tensor, k: int, largest: bool = True) -> list[int]:
    """Indices of the k best usable concepts by ``scores`` [T] (excluded concepts never rank)."""
    fill = -torch.inf if largest else torch.inf
    masked = scores.masked_fill(space.excluded, fill)
    n = min(positive_int(k, "k", "concepts"), int((~space.excluded).sum()))
    return masked.topk(n, largest=largest).indices.tolist()


def _bind(args: tuple, kwargs: dict, params: tuple[str, ...], defaults: dict) -> tuple[ConceptSpace, dict]:
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
        raise ValueError("A ConceptSpace already holds its bank: pass bank= only with a classifier and a mapper")
    return (lead if mapper is None else _space(lead, mapper, bank)), values


# ---- rows ------------------------------------------------------------------------------------------------------------
def class_concepts(*args, **kwargs) -> ConceptTable:
    """What class ``c``'s row encodes: concepts ranked by the cosine of their direction with ``W[c]``.

    ``class_concepts(space, c, k=10, echoes=False, per_head=1)`` or ``class_concepts(classifier, mapper, c,
    bank=None, k=10, ...)``.

    A concept's direction comes from the class names its text resembles, so a row also encodes the associations of
    the words that qualify its name ("pyramid" for Egyptian cat, "fireplace" for fire engine:
    :meth:`~nlexnb.space.ConceptSpace.qualifier_echoes`), the animals the class looks like ("reindeer" and "large
    penguin" for ice bear: :meth:`~nlexnb.space.ConceptSpace.other_animals`) and the things a look-alike's row carries
    ("walnut" and "elm" for koala: :meth:`~nlexnb.space.ConceptSpace.unlisted_things`). Those are left out, as
    explanations leave them out, unless ``echoes=True``. At most ``per_head`` concepts share a head noun (the best
    placed: "dark liquid" but not also "creamy liquid" and "white liquid" for espresso); ``per_head=None`` lists
    them all.

    Returns:
        A :class:`ConceptTable` with columns rank, concept, cosine (k rows, best first).
    """
    defaults = {"bank": None, "k": 10, "echoes": False, "per_head": 1}
    space, a = _bind(args, kwargs, ("c", "bank", "k", "echoes", "per_head"), defaults)
    index = space.class_index(a["c"])
    k = positive_int(a["k"], "k", "concepts")
    a["echoes"] = yes_or_no(a["echoes"], "echoes")  # "no" is a true string: it would list every echo
    per_head = _per_head(a["per_head"])
    row = F.normalize(space.classifier.head_weight[index].float(), dim=0)
    scores = space.directions @ row
    top = _ranked(space, scores, k if a["echoes"] and per_head is None else 8 * k)
    if not a["echoes"]:
        echo = _look_alikes(space, top, index)
        top = [i for i, e in zip(top, echo) if not e]
    top = _distinct(space, top, per_head)[:k]
    df = pd.DataFrame(
        {"rank": range(1, len(top) + 1), "concept": [space.texts[i] for i in top], "cosine": scores[top].cpu().numpy()}
    )
    return ConceptTable("class_concepts", f"What «{space.classifier.class_names[index]}» encodes", "cosine", df)


def contrast(*args, **kwargs) -> ConceptTable:
    """What separates two classes: for each side, the concepts the model associates with that class that lean towards
    it rather than the other, the top k by how much they separate the two.

    ``contrast(space, c1, c2, k=10, among=50, echoes=False, per_head=1)``, or with ``(classifier, mapper, c1, c2,
    bank=None, ...)``.

    Each side is drawn from its class's ``among`` nearest concepts (by cosine with its row: what
    :func:`class_concepts` lists), keeps those closer to it than to the other class (cosine with the unit difference
    ``W[c1] - W[c2]`` above zero for c1, below for c2), and leaves out kinds of either class ("wild cat" for tiger cat
    against Egyptian cat), and, unless ``echoes=True``, echoes of the words that qualify either name ("pyramid" for
    Egyptian cat, "classroom" for school bus, "burning" for fire engine:
    :meth:`~nlexnb.space.ConceptSpace.qualifier_echoes`), other animals than the side's class and things its photos
    are not expected to show ("adult male sheep" for Egyptian cat, "herring" and "fisherman" for tench, as
    explanations refuse them). Ranking the whole bank along the difference instead (``among=None``) names whatever
    separates two close rows: "doorstep", "black stone" and "cone" for Siberian husky against malamute. A side names
    at most ``per_head`` concepts with one head noun: the malamute's side says "thick tail" once, not also "long fine
    tail", "very long tail" and "very short tail" (``per_head=None`` lists them all). A side may hold fewer than
    ``k`` concepts.

    Returns:
        A :class:`ConceptTable` with columns favours (the class the concept pushes towards, by its first name),
        concept, score (cosine with the unit difference direction: positive for c1, negative for c2), cosine_c1,
        cosine_c2.
    """
    defaults = {"bank": None, "k": 10, "among": 50, "echoes": False, "per_head": 1}
    space, a = _bind(args, kwargs, ("c1", "c2", "bank", "k", "among", "echoes", "per_head"), defaults)
    first, second = space.class_index(a["c1"], "c1"), space.class_index(a["c2"], "c2")
    names = space.classifier.class_names
    if first == second:
        raise ValueError(f"contrast needs two different classes, got {names[first]!r} twice")
    k = positive_int(a["k"], "k", "concepts")
    among = None if a["among"] is None else positive_int(a["among"], "among", "concepts")
    a["echoes"] = yes_or_no(a["echoes"], "echoes")
    rows = space.classifier.head_weight.float()
    vectors = space.directions
    score = vectors @ F.normalize(rows[first] - rows[second], dim=0)
    cos_a, cos_b = vectors @ F.normalize(rows[first], dim=0), vectors @ F.normalize(rows[second], dim=0)
    per_head = _per_head(a["per_head"])
    if among is None:
        wide = k if per_head is None else 8 * k
        pos = _distinct(space, _ranked(space, score, wide), per_head)[:k]
        neg = _distinct(space, _ranked(space, score, wide, largest=False), per_head)[:k]
    else:
        pos = _distinct(space, _side(space, cos_a, score, (first, second), among, among, a["echoes"]), per_head)[:k]
        neg = _distinct(space, _side(space, cos_b, -score, (second, first), among, among, a["echoes"]), per_head)[:k]
    name_a, name_b = primary_name(names[first]), primary_name(names[second])
    order = pos + neg
    df = pd.DataFrame(
        {
            "favours": [name_a] * len(pos) + [name_b] * len(neg),
            "concept": [space.texts[i] for i in order],
            "score": score[order].cpu().numpy(),
            "cosine_c1": cos_a[order].cpu().numpy(),
            "cosine_c2": cos_b[order].cpu().numpy(),
        }
    )
    return ConceptTable("contrast", f"«{name_a}» vs «{name_b}»", "score", df)


def _side(
    space: ConceptSpace, closeness: torch.Tensor, lean: torch.Tensor, pair, among: int, k: int, echoes: bool
) -> list[int]:
    """One side of :func:`contrast`, for the class ``pair[0]`` against ``pair[1]``: of the ``among`` concepts nearest
    the class (``closeness``), those that lean its way (``lean`` > 0), name neither class nor a kind of it, and
    (unless ``echoes``) echo no word that qualifies either name and are no look-alike of the class
    (:func:`_look_alikes`), the ``k`` that lean most. (The echo test of explanations, against whole names, is not
    applied: over 50 concepts it refuses most of what a class is, "coffee" for cup, "paw" and "furry face" for
    Siberian husky.)"""
    shortlist = _ranked(space, closeness, among)
    named = space.mentions(shortlist, pair, kinds=True)
    if not echoes:
        echo = space.qualifier_echoes(shortlist, pair[1]).tolist()
        alike = _look_alikes(space, shortlist, pair[0])
        named = [n or e or o for n, e, o in zip(named, echo, alike)]
    leans = lean[shortlist].tolist()  # one transfer, not one per concept
    keep = [(-v, i) for i, n, v in zip(shortlist, named, leans) if not n and v > 0]
    return [i for _, i in sorted(keep, key=lambda pair: pair[0])[:k]]  # ties keep the shortlist's order


_SPELLINGS = {"grey": "gray", "colour": "color"}  # "iron-grey" is "iron-gray" said again


def _per_head(per_head: Any) -> int | None:
    return None if per_head is None else positive_int(per_head, "per_head", "concepts per head noun (None: any)")


def _distinct(space: ConceptSpace, indices: list[int], per_head: int | None) -> list[int]:
    """``indices`` in order, keeping at most ``per_head`` concepts with one head noun (None: all): a table of ten
    kinds of tail says less than one tail and nine other things."""
    if per_head is None:
        return indices
    seen: dict[str, int] = {}
    kept = []
    for i in indices:
        head = _SPELLINGS.get(space.heads[i], space.heads[i])
        if seen.get(head, 0) < per_head:
            seen[head] = seen.get(head, 0) + 1
            kept.append(i)
    return kept


def _look_alikes(space: ConceptSpace, indices: list[int], c: int) -> list[bool]:
    """Which concepts class ``c``'s row holds because of words or resemblances rather than what its photos show:
    echoes of a word that qualifies its name, other animals, things its photos are not expected to show, colours and
    markings it is not known to have."""
    echo = space.qualifier_echoes(indices, c).tolist()
    other = space.other_animals(indices, [c])
    thing = space.unlisted_things(indices, [c])
    colour = space.unlisted_colours(indices, [c])
    return [e or o or t or u for e, o, t, u in zip(echo, other, thing, colour)]


def nearest_classes(*args, **kwargs) -> ConceptTable:
    """Which of the classifier's classes a free text lands nearest to (cosine of its direction with each row).

    ``nearest_classes(space, text, k=5)`` or ``nearest_classes(classifier, mapper, text, k=5)``.

    Returns:
        A :class:`ConceptTable` with columns rank, class_index, class_name, cosine.
    """
    space, a = _bind(args, kwargs, ("text", "k", "bank"), {"k": 5, "bank": None})
    text = a["text"]
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"text must be a non-empty string, got {text!r}")
    rows = F.normalize(space.classifier.head_weight.float(), dim=1)
    k = positive_int(a["k"], "k", "classes")
    top = (rows @ space.direction(text)).topk(min(k, len(rows)))
    idx = top.indices.tolist()
    df = pd.DataFrame(
        {
            "rank": range(1, len(idx) + 1),
            "class_index": idx,
            "class_name": [space.classifier.class_names[i] for i in idx],
            "cosine": top.values.cpu().numpy(),
        }
    )
    return ConceptTable("nearest_classes", f"Classes nearest to «{text}»", "cosine", df)


# ---- images ----------------------------------------------------------------------------------------------------------
def _features(space: ConceptSpace, images: ImageInput | torch.Tensor, precomputed: bool) -> torch.Tensor:
    precomputed = yes_or_no(precomputed, "precomputed")
    clf = space.classifier
    if precomputed:
        if not isinstance(images, torch.Tensor) or images.ndim != 2 or images.shape[1] != clf.num_features:
            raise ValueError(f"precomputed features must be a [N, {clf.num_features}] tensor")
        return images.float().to(clf.device)
    return clf.features(images)


def image_concepts(*args, **kwargs) -> ConceptTable:
    """What drives the predictions across a set of images (dataset level).

    ``image_concepts(space, images, k=10, precomputed=False, per_head=1)`` or
    ``image_concepts(classifier, mapper, images, bank=None, k=10, ...)``.

    For image ``x`` predicted as class ``c``, concept ``v`` carries ``(f . v) (W[c] . v)`` of the logit ``z_c`` (the
    exact logit change when ``v`` is projected out of ``f``, ``v`` unit). Concepts are ranked by the mean of that
    contribution over the images, at most ``per_head`` with one head noun ("pink petals", not also "round petals"
    and "broad petals"; None: all).

    Args:
        images: the images (anything the classifier reads), or pre-computed features [N, d] with
            ``precomputed=True`` (``features=True`` is the former spelling).

    Returns:
        A :class:`ConceptTable` with columns rank, concept, mean_contribution, images_in_top_k (how many images have
        the concept among their own top k), top_class (the most frequent predicted class among those images).
    """
    _renamed_features(kwargs)
    defaults = {"bank": None, "k": 10, "precomputed": False, "per_head": 1}
    space, a = _bind(args, kwargs, ("images", "bank", "k", "precomputed", "per_head"), defaults)
    f = _features(space, a["images"], a["precomputed"])
    k, per_head = positive_int(a["k"], "k", "concepts"), _per_head(a["per_head"])
    clf = space.classifier
    pred = clf.head(f).argmax(1)
    vectors = space.directions
    contrib = ((f @ vectors.T) * (clf.head_weight.float()[pred] @ vectors.T)).masked_fill(space.excluded, -torch.inf)
    mean = contrib.mean(0)
    top = _distinct(space, _ranked(space, mean, k if per_head is None else 8 * k), per_head)[:k]
    per_image_top = contrib.topk(len(top), dim=1).indices  # [N, n]
    rows_out = []
    for rank, j in enumerate(top, 1):
        hit = (per_image_top == j).any(1)
        classes = pred[hit].tolist()
        common = max(set(classes), key=classes.count) if classes else None
        rows_out.append(
            {
                "rank": rank,
                "concept": space.texts[j],
                "mean_contribution": float(mean[j]),
                "images_in_top_k": int(hit.sum()),
                "top_class": clf.class_names[common] if common is not None else "",
            }
        )
    return ConceptTable(
        "image_concepts", f"What drives {len(f)} predictions", "mean_contribution", pd.DataFrame(rows_out)
    )


def _renamed_features(kwargs: dict) -> None:
    if "features" in kwargs:
        if "precomputed" in kwargs:
            raise TypeError("Pass precomputed= (features= is its former name), not both")
        kwargs["precomputed"] = kwargs.pop("features")


def subconcepts(*args, **kwargs) -> ConceptTable:
    """Cluster images (of one class) by their concept profiles and name each cluster by its distinguishing concepts.

    ``subconcepts(space, images, n_clusters=3, k=5, seed=0, precomputed=False)`` or
    ``subconcepts(classifier, mapper, images, bank=None, n_clusters=3, k=5, seed=0, precomputed=False)``.

    An image's profile is the cosine of its features with every concept direction, minus that concept's mean over
    the images; k-means (k-means++ seeding, fixed seed) groups the profiles; a cluster is named by the concepts whose
    cosine is highest in the cluster relative to all the images. Profiles stay in cosine units on purpose:
    standardising each concept by its spread over the images would let concepts that barely vary anywhere (tiny
    spread, so any difference looks large) name the clusters.

    Returns:
        A :class:`ConceptTable` with one row per cluster: cluster, size, images (indices into ``images``), concepts
        (the top-k names, joined by "; "), score (their mean cosine above the all-image mean); ``assignment`` holds
        each image's cluster and ``profile`` a cluster x concept table (what ``plot()`` draws).
    """
    _renamed_features(kwargs)
    defaults = {"bank": None, "n_clusters": 3, "k": 5, "seed": 0, "precomputed": False}
    space, a = _bind(args, kwargs, ("images", "bank", "n_clusters", "k", "seed", "precomputed"), defaults)
    f = _features(space, a["images"], a["precomputed"])
    n_clusters = positive_int(a["n_clusters"], "n_clusters", "clusters")
    if len(f) < n_clusters:
        raise ValueError(f"subconcepts needs at least n_clusters={n_clusters} images, got {len(f)}")
    profile = F.normalize(f, dim=1) @ space.directions.T
    z = profile - profile.mean(0)
    assign = _kmeans(z, n_clusters, a["seed"])
    records, named = [], {}
    for c in range(n_clusters):
        members = (assign == c).nonzero().flatten()
        mean = z[members].mean(0)
        top = _ranked(space, mean, a["k"])
        named[c] = top
        records.append(
            {
                "cluster": c,
                "size": len(members),
                "images": members.tolist(),
                "concepts": "; ".join(space.texts[j] for j in top),
                "score": float(mean[top].mean()),
            }
        )
    columns = list(dict.fromkeys(j for c in range(n_clusters) for j in named[c]))
    heat = torch.stack([z[assign == c].mean(0)[columns] for c in range(n_clusters)]).cpu().numpy()
    profile_table = pd.DataFrame(
        heat, index=[f"cluster {c}" for c in range(n_clusters)], columns=[space.texts[j] for j in columns]
    )
    return ConceptTable(
        "subconcepts",
        f"Sub-concepts of {len(f)} images",
        "score",
        pd.DataFrame(records),
        assignment=assign.tolist(),
        profile=profile_table,
    )


def _kmeans(x: torch.Tensor, k: int, seed: int, iters: int = 50) -> torch.Tensor:
    """Plain k-means with k-means++ seeding on the rows of ``x``; deterministic for a seed. Returns labels [N]."""
    gen = torch.Generator().manual_seed(seed)
    x = x.float().cpu()
    centres = [x[torch.randint(len(x), (1,), generator=gen)].squeeze(0)]
    for _ in range(1, k):
        d2 = torch.cdist(x, torch.stack(centres)).min(1).values.pow(2)
        p = d2 / d2.sum() if d2.sum() > 0 else torch.full_like(d2, 1 / len(d2))
        centres.append(x[torch.multinomial(p, 1, generator=gen)].squeeze(0))
    c = torch.stack(centres)
    labels = torch.cdist(x, c).argmin(1)
    for _ in range(iters):
        c = torch.stack([x[labels == j].mean(0) if (labels == j).any() else c[j] for j in range(k)])
        new = torch.cdist(x, c).argmin(1)
        if torch.equal(new, labels):
            break
        labels = new
    return labels


# ---- explained collections -------------------------------------------------------------------------------------------
_LISTS = ("concepts", "contributions", "shares")
_NUMBERS = ("contributions", "shares")
_BY_WORDS = {"predicted_name": ("predicted class", "predicted classes"), "label": ("label", "labels")}


def _explanations(explanations: Any, needs: Sequence[str], what: str) -> pd.DataFrame:
    """The explanations of a collection as a DataFrame, checked: ``needs`` are there, rows are there, and the list
    columns hold lists of the right types and matching lengths. Accepts :func:`nlexnb.read_explanations`'s DataFrame,
    the :class:`~nlexnb.collection.CollectionRun` of :func:`nlexnb.explain_collection`, or the file's path."""
    from .collection import COLUMNS, CollectionRun, read_explanations

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
    note = f"; {left} {many} with fewer than {min_images} images left out" if left else ""
    title = f"Concepts the explanations name, per {one} ({len(order)} {many}, {int(sizes.sum())} images{note})"
    return ConceptTable("collection_concepts", title, "frequency", table.reset_index(drop=True), profile=profile)


def _correct_rule(correct: Any, classes: Any, frame: pd.DataFrame, what: str) -> Callable[[str, str], bool | None]:
    """``correct`` as a function (label, predicted_name) -> True / False / None (not judged)."""
    if correct is None:
        known = _class_names(classes, frame, what)
        labels = sorted({str(v) for v in frame["label"].dropna()})
        unknown = [label for label in labels if label not in known]
        if unknown:
            where = "the classifier's class names" if classes is not None else "among the classes predicted here"
            raise ValueError(
                f"{what}: the labels are not the classifier's class names ({unknown[:5]}"
                f"{' ...' if len(unknown) > 5 else ''} are not {where}), so whether a prediction is right cannot be "
                "read off them. Say what counts as right: correct={label: [the class names that are right for it]} "
                "(for the stamp photos: nlexnb.datasets.label_classes('stamps')), or correct=a function (label, "
                "predicted_name) -> True, False, or None to leave the image out"
                + ("" if classes is not None else "; if the labels are class names, pass classes=the classifier")
            )
        return lambda label, predicted: label == predicted
    if isinstance(correct, Mapping):
        rights: dict[str, set[str]] = {}
        for label, names in correct.items():
            if not isinstance(label, str):
                raise TypeError(f"{what}: the keys of correct= must be labels (str), got {label!r}")
            if isinstance(names, str):
                names = [names]
            if not isinstance(names, (list, tuple, set, frozenset)) or not all(isinstance(n, str) for n in names):
                raise TypeError(
                    f"{what}: correct[{label!r}] must be the class name, or a list of the class names, that are a "
                    f"right prediction for label {label!r}; got {names!r}"
                )
            rights[label] = set(names)
        return lambda label, predicted: (predicted in rights[label]) if label in rights else None
    if callable(correct):
        return correct
    raise TypeError(
        f"{what}: correct must be None (labels are class names), a mapping {{label: class names right for it}} or a "
        f"function (label, predicted_name) -> bool or None; got {type(correct).__name__}"
    )


def _class_names(classes: Any, frame: pd.DataFrame, what: str) -> set[str]:
    if classes is None:
        return set(frame["predicted_name"].astype(str))
    if isinstance(classes, Classifier):
        return set(classes.class_names)
    if isinstance(classes, str) or not isinstance(classes, Sequence) or not all(isinstance(c, str) for c in classes):
        raise TypeError(f"{what}: classes must be a Classifier or its list of class names, got {classes!r}"[:300])
    return set(classes)


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
      labels it does not know as errors; a key with no class names makes every prediction for that label wrong;
    - a function ``correct(label, predicted_name)`` returning True, False, or None to leave that image out;
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
        classes: with ``correct=None``, the classifier (or its class names) the labels must be names of.

    Returns:
        A :class:`ConceptTable` (kind ``"error_concepts"``, value ``difference``) with columns (``predicted_name``
        with ``by``), ``side``, ``concept``, ``errors``, ``right`` (images naming it), ``error_share``,
        ``right_share``, ``difference``, ``error_rate`` (of the judged images naming it, the share that are wrong),
        ``p_value``. ``per_image`` holds every image's ``id``, ``label``, ``predicted_name`` and ``correct`` (True,
        False, or None when not judged). The title gives the numbers of wrong, right and unjudged images (and, with
        ``by``, of the classes compared).

    Raises:
        TypeError / ValueError: explanations that are not such a frame, lack a column or are empty; labels that are
            not class names with ``correct=None``; a ``correct`` of another type or returning something else than
            True / False / None; no image judged, or every judged image on one side (with ``by``, a collection where
            no class has both gives an empty table, and the title says so).
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
    left = f", {unjudged} not judged" if unjudged else ""
    scope = "" if by is None else f", within each of {compared} predicted classes with both"
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
    from .concepts import ConceptBank, load_concepts

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
        return {_key(t) for t in surroundings}, f"{len(set(map(_key, surroundings)))} concepts listed as surroundings"
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
    if not wanted & set(bank.sources):
        present = sorted(set(bank.sources))
        raise ValueError(
            f"{what}: bank {bank.name!r} records no concept of kind {sorted(wanted)} (its kinds: {present[:8]}"
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
    instead (the named concepts together account for only part of it). A class's row averages its images.

    **What counts as surroundings.** By default the concepts of kind ``"scene"`` in the default visual bank
    (``nlexnb/data/visual_concepts.tsv``, column 2; ``scripts/build_visual_bank.py`` gives that kind to WordNet's
    landforms, bodies of water and land, and to a list of scene words: sky, snow, grass, water, forest, beach, sunset,
    white background, ... 59 concepts; WordNet landforms a reader takes another way, such as "bank", "cape" or "spit",
    are of kind ``"ambiguous"`` instead); ``kinds=`` picks other kinds of a bank that records them, and
    ``surroundings=`` takes your own list of concept texts instead. Concepts are compared case-insensitively.

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
            no concept of ``kinds`` (pass ``surroundings=``), or that lacks concepts the explanations name; both
            ``bank`` and ``surroundings``; a ``by`` that is not a column.
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
        logit_share = np.where(explained != 0, context / explained, np.nan)
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
    table = pd.DataFrame(rows, columns=columns)
    if len(table):
        table = table.sort_values(["mean_reliance", "images", by], ascending=[False, False, True], kind="stable")
    naming = int(per_image["surroundings"].map(bool).sum())
    mean = float(np.nanmean(reliance)) if np.isfinite(reliance).any() else float("nan")
    title = (
        f"Reliance on surroundings ({source}): {mean:.1%} of the named contribution on average; "
        f"{naming} of {n} explanations name any"
    )
    return ConceptTable("context_reliance", title, "mean_reliance", table.reset_index(drop=True), per_image=per_image)


# ---- plots -----------------------------------------------------------------------------------------------------------
def plot(table: ConceptTable, max_rows: int | None = None):
    """Draw any result of this module (the same as ``table.plot()``). Returns the matplotlib Figure."""
    if not isinstance(table, ConceptTable):
        raise TypeError(
            f"plot() draws the results of nlexnb.discover functions (a ConceptTable), got {type(table).__name__}"
        )
    return table.plot(max_rows=max_rows)
