"""Fine-grained concept discovery: read what the classifier's class rows and image features encode, in words.

Every function ranks the concepts of a :class:`~nlexnb.space.ConceptSpace` by their direction (the same unit directions
explanations select and ablate) against a vector of the classifier's own space: a class row ``W[c]``
(:func:`class_concepts`), the difference of two rows (:func:`contrast`: what separates husky from malamute), the
features of a set of images (:func:`image_concepts`, :func:`subconcepts`), or the other way round, a free text against
all rows (:func:`nearest_classes`). Class names and names of peoples are left out, as in explanations.

Each function takes a classifier and a mapper (and ``bank=``), or a concept space alone in their place
(``class_concepts(space, "espresso")``), and returns a :class:`ConceptTable`: ``.table`` (a DataFrame), ``.plot()``
and a rich display; it also behaves as its table (``result["concept"]``, ``len(result)``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
import torch
import torch.nn.functional as F

from ._checks import positive_int
from .classifier import Classifier
from .images import ImageInput
from .labels import primary_name
from .mapper import Mapper
from .space import ConceptSpace, concept_space

__all__ = [
    "ConceptTable",
    "resolve_class",
    "class_concepts",
    "contrast",
    "image_concepts",
    "subconcepts",
    "nearest_classes",
    "plot",
]


# ---- results ---------------------------------------------------------------------------------------------------------
@dataclass
class ConceptTable:
    """A discovery result: a ranked table with what it shows.

    Attributes:
        kind: which function made it ("class_concepts", "contrast", "image_concepts", "subconcepts",
            "nearest_classes").
        title: a title for plots and reports.
        value: the table's main score column.
        table: the rows (a pandas DataFrame).
        assignment: for :func:`subconcepts`, each image's cluster.
        profile: for :func:`subconcepts`, a cluster x concept table (what :meth:`plot` draws).
    """

    kind: str
    title: str
    value: str
    table: pd.DataFrame
    assignment: list[int] | None = None
    profile: pd.DataFrame | None = field(default=None, repr=False)

    def plot(self, max_rows: int = 20):
        """Bar chart of the ranking (a contrast coloured by the class each concept favours), or the cluster x concept
        heat map of sub-concepts (seaborn, headless). Returns the matplotlib Figure."""
        from .plots import concept_table_figure

        return concept_table_figure(self, max_rows=max_rows)

    def __repr__(self) -> str:
        return f"{self.title}\n{self.table.to_string(index=False)}"

    def _repr_html_(self) -> str:
        return f"<p><b>{self.title}</b></p>" + self.table.to_html(index=False, float_format=lambda v: f"{v:.3g}")

    # behaves as its table, as the DataFrames discovery returned before
    def __getattr__(self, name: str):
        if name.startswith("__") or name in {"table", "kind", "title", "value", "assignment", "profile"}:
            raise AttributeError(name)
        return getattr(self.table, name)

    @property
    def attrs(self) -> dict:
        """What the DataFrames of earlier versions carried in ``attrs`` (kind, title, value, assignment, profile)."""
        keys = ("kind", "title", "value", "assignment", "profile")
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
    if mapper is None and bank is not None:
        raise ValueError("A ConceptSpace already holds its bank: pass bank= only with a classifier and a mapper")
    return (lead if mapper is None else _space(lead, mapper, bank)), values


# ---- rows ------------------------------------------------------------------------------------------------------------
def class_concepts(*args, **kwargs) -> ConceptTable:
    """What class ``c``'s row encodes: concepts ranked by the cosine of their direction with ``W[c]``.

    ``class_concepts(space, c, k=10)`` or ``class_concepts(classifier, mapper, c, bank=None, k=10)``.

    Returns:
        A :class:`ConceptTable` with columns rank, concept, cosine (k rows, best first).
    """
    space, a = _bind(args, kwargs, ("c", "bank", "k"), {"bank": None, "k": 10})
    index = space.class_index(a["c"])
    row = F.normalize(space.classifier.head_weight[index].float(), dim=0)
    scores = space.directions @ row
    top = _ranked(space, scores, a["k"])
    df = pd.DataFrame(
        {"rank": range(1, len(top) + 1), "concept": [space.texts[i] for i in top], "cosine": scores[top].cpu().numpy()}
    )
    return ConceptTable("class_concepts", f"What «{space.classifier.class_names[index]}» encodes", "cosine", df)


def contrast(*args, **kwargs) -> ConceptTable:
    """What separates two classes: concepts ranked along ``W[c1] - W[c2]``, the top k for each side.

    ``contrast(space, c1, c2, k=10)`` or ``contrast(classifier, mapper, c1, c2, bank=None, k=10)``.

    Returns:
        A :class:`ConceptTable` with columns favours (the class the concept pushes towards, by its first name),
        concept, score (cosine with the unit difference direction: positive for c1, negative for c2), cosine_c1,
        cosine_c2.
    """
    space, a = _bind(args, kwargs, ("c1", "c2", "bank", "k"), {"bank": None, "k": 10})
    first, second = space.class_index(a["c1"], "c1"), space.class_index(a["c2"], "c2")
    names = space.classifier.class_names
    if first == second:
        raise ValueError(f"contrast needs two different classes, got {names[first]!r} twice")
    rows = space.classifier.head_weight.float()
    vectors = space.directions
    score = vectors @ F.normalize(rows[first] - rows[second], dim=0)
    cos_a, cos_b = vectors @ F.normalize(rows[first], dim=0), vectors @ F.normalize(rows[second], dim=0)
    pos, neg = _ranked(space, score, a["k"]), _ranked(space, score, a["k"], largest=False)
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
    top = (rows @ space.direction(text)).topk(min(a["k"], len(rows)))
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
    clf = space.classifier
    if precomputed:
        if not isinstance(images, torch.Tensor) or images.ndim != 2 or images.shape[1] != clf.num_features:
            raise ValueError(f"precomputed features must be a [N, {clf.num_features}] tensor")
        return images.float().to(clf.device)
    return clf.features(images)


def image_concepts(*args, **kwargs) -> ConceptTable:
    """What drives the predictions across a set of images (dataset level).

    ``image_concepts(space, images, k=10, precomputed=False)`` or
    ``image_concepts(classifier, mapper, images, bank=None, k=10, precomputed=False)``.

    For image ``x`` predicted as class ``c``, concept ``v`` carries ``(f . v) (W[c] . v)`` of the logit ``z_c`` (the
    exact logit change when ``v`` is projected out of ``f``, ``v`` unit). Concepts are ranked by the mean of that
    contribution over the images.

    Args:
        images: the images (anything the classifier reads), or pre-computed features [N, d] with
            ``precomputed=True`` (``features=True`` is the former spelling).

    Returns:
        A :class:`ConceptTable` with columns rank, concept, mean_contribution, images_in_top_k (how many images have
        the concept among their own top k), top_class (the most frequent predicted class among those images).
    """
    _renamed_features(kwargs)
    space, a = _bind(
        args, kwargs, ("images", "bank", "k", "precomputed"), {"bank": None, "k": 10, "precomputed": False}
    )
    f = _features(space, a["images"], a["precomputed"])
    clf = space.classifier
    pred = clf.head(f).argmax(1)
    vectors = space.directions
    contrib = ((f @ vectors.T) * (clf.head_weight.float()[pred] @ vectors.T)).masked_fill(space.excluded, -torch.inf)
    mean = contrib.mean(0)
    top = _ranked(space, mean, a["k"])
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
    n_clusters = a["n_clusters"]
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


# ---- plots -----------------------------------------------------------------------------------------------------------
def plot(table: ConceptTable, max_rows: int = 20):
    """Draw any result of this module (the same as ``table.plot()``). Returns the matplotlib Figure."""
    if not isinstance(table, ConceptTable):
        raise TypeError(
            f"plot() draws the results of nlexnb.discover functions (a ConceptTable), got {type(table).__name__}"
        )
    return table.plot(max_rows=max_rows)
