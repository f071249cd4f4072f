"""Fine-grained concept discovery: read what the classifier's class rows and image features encode, in words.

Every function ranks texts of a concept bank by their mapped direction (``mapper.encode``, unit-normalised) against a
vector of the classifier's own space: a class row ``W[c]`` (:func:`class_concepts`), the difference of two rows
(:func:`contrast`: what separates husky from malamute), the features of a set of images (:func:`image_concepts`,
:func:`subconcepts`), or the other way round, a free text against all rows (:func:`nearest_classes`).

Each returns a pandas DataFrame; :func:`plot` draws any of them (seaborn, headless, returns the Figure).
"""

from __future__ import annotations

import difflib

import pandas as pd
import torch
import torch.nn.functional as F

from .classifier import Classifier
from .images import ImageInput
from .labels import class_name_set, primary_name, split_synonyms
from .mapper import Mapper

__all__ = [
    "resolve_class",
    "class_concepts",
    "contrast",
    "image_concepts",
    "subconcepts",
    "nearest_classes",
    "plot",
]


# ---- inputs ----------------------------------------------------------------------------------------------------------
def resolve_class(classifier: Classifier, c: int | str) -> int:
    """A class index from an index or a name (the full name, or any one synonym: "Siberian husky").

    Raises:
        ValueError: index out of range, unknown name (close matches listed), or a synonym shared by several classes.
    """
    names = classifier.class_names
    if isinstance(c, bool) or not isinstance(c, (int, str)) and not hasattr(c, "__index__"):
        raise TypeError(f"A class is an index or a class name, got {type(c).__name__}")
    if not isinstance(c, str):
        k = int(c)
        if not 0 <= k < len(names):
            raise ValueError(f"Class index {k} out of range [0, {len(names)})")
        return k
    if c in names:
        return names.index(c)
    wanted = c.strip().lower()
    hits = [k for k, n in enumerate(names) if n.lower() == wanted or wanted in (s.lower() for s in split_synonyms(n))]
    if len(hits) == 1:
        return hits[0]
    if len(hits) > 1:
        raise ValueError(f"Class name {c!r} is ambiguous: {[names[k] for k in hits]}; pass the full name or index")
    synonyms = {s: k for k, n in enumerate(names) for s in split_synonyms(n)}
    close = difflib.get_close_matches(c, list(synonyms), n=5, cutoff=0.5)
    hint = f"; close matches: {[names[synonyms[s]] for s in close]}" if close else ""
    raise ValueError(f"Unknown class {c!r} for {classifier.name}{hint}")


def _bank(bank, classifier: Classifier) -> list[str]:
    """Concept texts from a ConceptBank (or anything with ``.texts``), a list of strings, a file or built-in name, or
    None (the default bank), deduplicated as every bank is, without the classifier's own class names (a class
    "encodes" its name trivially) and without names of peoples, nationalities and religions (never shown, as in
    explanations)."""
    from .concepts import ConceptBank, load_concepts, names_a_people

    if hasattr(bank, "texts") and not isinstance(bank, ConceptBank):
        bank = bank.texts
    names = class_name_set(classifier.class_names)
    texts = [t for t in load_concepts(bank).texts if t.lower() not in names and not names_a_people(t)]
    if not texts:
        raise ValueError(
            "The concept bank is empty after leaving out the classifier's class names and names of peoples"
        )
    return texts


def _concept_vectors(mapper: Mapper, texts: list[str], device: torch.device) -> torch.Tensor:
    """Unit mapped directions of (deduplicated) texts, through the bank's whole-matrix cache."""
    from .concepts import ConceptBank

    return F.normalize(ConceptBank(texts, name="discover", quiet=True).encode(mapper).float().to(device), dim=1)


def _table(df: pd.DataFrame, kind: str, title: str, value: str) -> pd.DataFrame:
    df.attrs.update({"kind": kind, "title": title, "value": value})
    return df


# ---- rows ------------------------------------------------------------------------------------------------------------
def class_concepts(classifier: Classifier, mapper: Mapper, c: int | str, bank=None, k: int = 10) -> pd.DataFrame:
    """What class ``c``'s row encodes: the bank's concepts ranked by cosine with ``W[c]``.

    Returns:
        DataFrame with columns rank, concept, cosine (k rows, best first).
    """
    k_idx = resolve_class(classifier, c)
    texts = _bank(bank, classifier)
    row = F.normalize(classifier.head_weight[k_idx].float(), dim=0)
    scores = _concept_vectors(mapper, texts, row.device) @ row
    top = scores.topk(min(k, len(texts)))
    df = pd.DataFrame(
        {
            "rank": range(1, len(top.indices) + 1),
            "concept": [texts[i] for i in top.indices.tolist()],
            "cosine": top.values.cpu().numpy(),
        }
    )
    return _table(df, "class_concepts", f"What «{classifier.class_names[k_idx]}» encodes", "cosine")


def contrast(
    classifier: Classifier, mapper: Mapper, c1: int | str, c2: int | str, bank=None, k: int = 10
) -> pd.DataFrame:
    """What separates two classes: concepts ranked along ``W[c1] - W[c2]``, the top k for each side.

    Returns:
        DataFrame with columns favours (the class the concept pushes towards, by its first name), concept, score
        (cosine with the unit difference direction: positive for c1, negative for c2), cosine_c1, cosine_c2.
    """
    a, b = resolve_class(classifier, c1), resolve_class(classifier, c2)
    if a == b:
        raise ValueError(f"contrast needs two different classes, got {classifier.class_names[a]!r} twice")
    texts = _bank(bank, classifier)
    rows = classifier.head_weight.float()
    vectors = _concept_vectors(mapper, texts, rows.device)
    direction = F.normalize(rows[a] - rows[b], dim=0)
    score = vectors @ direction
    cos_a, cos_b = vectors @ F.normalize(rows[a], dim=0), vectors @ F.normalize(rows[b], dim=0)
    n = min(k, len(texts))
    pos = score.topk(n).indices.tolist()
    neg = (-score).topk(n).indices.tolist()
    name_a, name_b = primary_name(classifier.class_names[a]), primary_name(classifier.class_names[b])
    order = pos + neg
    df = pd.DataFrame(
        {
            "favours": [name_a] * len(pos) + [name_b] * len(neg),
            "concept": [texts[i] for i in order],
            "score": score[order].cpu().numpy(),
            "cosine_c1": cos_a[order].cpu().numpy(),
            "cosine_c2": cos_b[order].cpu().numpy(),
        }
    )
    return _table(df, "contrast", f"«{name_a}» vs «{name_b}»", "score")


def nearest_classes(classifier: Classifier, mapper: Mapper, text: str, k: int = 5) -> pd.DataFrame:
    """Which of the classifier's classes a free text lands nearest to (cosine of its mapped vector with each row).

    Returns:
        DataFrame with columns rank, class_index, class_name, cosine.
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"text must be a non-empty string, got {text!r}")
    rows = F.normalize(classifier.head_weight.float(), dim=1)
    vector = F.normalize(mapper.encode([text]).float().to(rows.device), dim=1)[0]
    top = (rows @ vector).topk(min(k, len(rows)))
    idx = top.indices.tolist()
    df = pd.DataFrame(
        {
            "rank": range(1, len(idx) + 1),
            "class_index": idx,
            "class_name": [classifier.class_names[i] for i in idx],
            "cosine": top.values.cpu().numpy(),
        }
    )
    return _table(df, "nearest_classes", f"Classes nearest to «{text}»", "cosine")


# ---- images ----------------------------------------------------------------------------------------------------------
def _features(classifier: Classifier, images: ImageInput | torch.Tensor, precomputed: bool) -> torch.Tensor:
    if precomputed:
        if not isinstance(images, torch.Tensor) or images.ndim != 2 or images.shape[1] != classifier.num_features:
            raise ValueError(f"features must be a [N, {classifier.num_features}] tensor")
        return images.float().to(classifier.device)
    return classifier.features(images)


def image_concepts(
    classifier: Classifier, mapper: Mapper, images: ImageInput, bank=None, k: int = 10, features: bool = False
) -> pd.DataFrame:
    """What drives the predictions across a set of images (dataset level).

    For image ``x`` predicted as class ``c``, concept ``v`` carries ``(f . v) (W[c] . v)`` of the logit ``z_c`` (the
    exact logit change when ``v`` is projected out of ``f``, ``v`` unit). Concepts are ranked by the mean of that
    contribution over the images.

    Args:
        images: the images (anything the classifier reads), or pre-computed features [N, d] with ``features=True``.

    Returns:
        DataFrame with columns rank, concept, mean_contribution, images_in_top_k (how many images have the concept
        among their own top k), top_class (the most frequent predicted class among those images).
    """
    texts = _bank(bank, classifier)
    f = _features(classifier, images, features)
    rows = classifier.head_weight.float()
    pred = classifier.head(f).argmax(1)
    vectors = _concept_vectors(mapper, texts, f.device)
    contrib = (f @ vectors.T) * (rows[pred] @ vectors.T)  # [N, J]
    n = min(k, len(texts))
    mean = contrib.mean(0)
    top = mean.topk(n).indices
    per_image_top = contrib.topk(n, dim=1).indices  # [N, n]
    rows_out = []
    for rank, j in enumerate(top.tolist(), 1):
        hit = (per_image_top == j).any(1)
        classes = pred[hit].tolist()
        common = max(set(classes), key=classes.count) if classes else None
        rows_out.append(
            {
                "rank": rank,
                "concept": texts[j],
                "mean_contribution": float(mean[j]),
                "images_in_top_k": int(hit.sum()),
                "top_class": classifier.class_names[common] if common is not None else "",
            }
        )
    return _table(pd.DataFrame(rows_out), "image_concepts", f"What drives {len(f)} predictions", "mean_contribution")


def subconcepts(
    classifier: Classifier,
    mapper: Mapper,
    images: ImageInput,
    bank=None,
    n_clusters: int = 3,
    k: int = 5,
    seed: int = 0,
    features: bool = False,
) -> pd.DataFrame:
    """Cluster images (of one class) by their concept profiles and name each cluster by its distinguishing concepts.

    An image's profile is the cosine of its features with every concept, minus that concept's mean over the images;
    k-means (k-means++ seeding, fixed seed) groups the profiles; a cluster is named by the concepts whose cosine is
    highest in the cluster relative to all the images. Profiles stay in cosine units on purpose: standardising each
    concept by its spread over the images would let concepts that barely vary anywhere (tiny spread, so any
    difference looks large) name the clusters.

    Returns:
        DataFrame with one row per cluster: cluster, size, images (indices into ``images``), concepts (the top-k
        names, joined by "; "), score (their mean cosine above the all-image mean). ``df.attrs["assignment"]`` holds
        each image's cluster and ``df.attrs["profile"]`` a cluster x concept table for :func:`plot`.
    """
    texts = _bank(bank, classifier)
    f = _features(classifier, images, features)
    if len(f) < n_clusters:
        raise ValueError(f"subconcepts needs at least n_clusters={n_clusters} images, got {len(f)}")
    vectors = _concept_vectors(mapper, texts, f.device)
    profile = F.normalize(f, dim=1) @ vectors.T
    z = profile - profile.mean(0)
    assign = _kmeans(z, n_clusters, seed)
    records, named = [], {}
    for c in range(n_clusters):
        members = (assign == c).nonzero().flatten()
        mean = z[members].mean(0)
        top = mean.topk(min(k, len(texts)))
        concepts = [texts[j] for j in top.indices.tolist()]
        named[c] = top.indices.tolist()
        records.append(
            {
                "cluster": c,
                "size": len(members),
                "images": members.tolist(),
                "concepts": "; ".join(concepts),
                "score": float(top.values.mean()),
            }
        )
    df = pd.DataFrame(records)
    columns = list(dict.fromkeys(j for c in range(n_clusters) for j in named[c]))
    heat = torch.stack([z[assign == c].mean(0)[columns] for c in range(n_clusters)]).cpu().numpy()
    df.attrs["assignment"] = assign.tolist()
    df.attrs["profile"] = pd.DataFrame(
        heat, index=[f"cluster {c}" for c in range(n_clusters)], columns=[texts[j] for j in columns]
    )
    return _table(df, "subconcepts", f"Sub-concepts of {len(f)} images", "score")


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
def plot(table: pd.DataFrame, max_rows: int = 20):
    """Draw any table returned by this module (seaborn, headless). Returns the matplotlib Figure.

    Ranked tables become horizontal bar charts (a contrast is coloured by the class each concept favours);
    :func:`subconcepts` becomes a cluster x concept heat map.
    """
    import seaborn as sns
    from matplotlib.figure import Figure

    kind = table.attrs.get("kind")
    if kind is None:
        raise ValueError(
            "plot() draws the tables returned by nlexnb.discover functions (this one has no attrs['kind'])"
        )
    title = table.attrs.get("title", "")
    if kind == "subconcepts":
        heat = table.attrs["profile"]
        fig = Figure(figsize=(1.2 + 0.45 * heat.shape[1], 1.5 + 0.5 * heat.shape[0]), layout="constrained")
        ax = fig.subplots()
        sns.heatmap(
            heat,
            ax=ax,
            cmap="RdBu_r",
            center=0,
            annot=heat.shape[1] <= 15,
            fmt=".2f",
            cbar_kws={"label": "cosine above the all-image mean"},
        )
        ax.set_title(title)
        return fig
    value = table.attrs["value"]
    shown = table.head(max_rows * (2 if kind == "contrast" else 1))
    label = "class_name" if kind == "nearest_classes" else "concept"
    fig = Figure(figsize=(7, 0.35 * len(shown) + 1.2), layout="constrained")
    ax = fig.subplots()
    hue = "favours" if kind == "contrast" else None
    sns.barplot(
        data=shown,
        x=value,
        y=label,
        hue=hue,
        dodge=False,
        ax=ax,
        orient="h",
        palette="vlag" if hue else None,
        color=None if hue else "#4c72b0",
    )
    ax.set_title(title)
    ax.set_ylabel("")
    ax.set_xlabel(value.replace("_", " "))
    return fig
