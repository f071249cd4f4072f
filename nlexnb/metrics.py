"""Faithfulness of explanations: concept ablation, deletion/insertion curves and a model-randomisation check.

Every function returns a tidy pandas DataFrame; :func:`faithfulness` runs them all and returns one long frame
(``image, metric, method, value``) that ``seaborn`` plots directly (see :func:`nlexnb.plots.faithfulness_figure`).

Baselines are always reported beside the explanation: ``random`` (k concepts drawn from the common words),
``frequent`` (the k concepts named most often over all the images: one image-independent explanation), and
``separate`` (the k best concepts scored one at a time instead of jointly).
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch

from ._checks import a_seed, an_index, frame_with_columns, positive_int, warn_user, yes_or_no
from .explain import Explainer, measured_drop, orthonormal_basis, upsample_map
from .images import ImageLike
from .selection import Selector, get_selector
from .targets import ClassLogit, Direction, Target, as_target

__all__ = [
    "ablation_drop",
    "concept_ablation",
    "deletion_insertion",
    "randomization_check",
    "faithfulness",
    "ablation_table",
    "curve_table",
    "randomization_table",
]


def ablation_drop(
    explainer: Explainer, features: torch.Tensor, concepts: Sequence[int], target: int, foil: int | None = None
) -> tuple[float, float]:
    """Drop of the target logit (or of ``z_target - z_foil``) when the span of some concepts is removed from ``f``.

    Args:
        explainer: gives the classifier and the concepts' directions.
        features: one image's features [d] (finite floats, the classifier's width).
        concepts: positions in the explainer's bank (whole numbers, not floats, strings or bools).
        target, foil: classes (an index or a name) or a :class:`~nlexnb.targets.Target`.

    Returns:
        ``(closed_form, measured)``: ``w . P f`` with the float64 projector ``P`` onto the concepts' directions, and
        the drop measured by re-running the head on ``f - P f``. For a linear head they agree to float precision.
    """
    explainer = _an_explainer(explainer, "ablation_drop")
    clf = explainer.classifier
    f = _one_feature(clf, features).to(clf.device, torch.float32)
    concepts = _positions(concepts, len(explainer.bank))
    dirs = explainer.directions[concepts]
    space = explainer.space
    if isinstance(target, Target):
        target.check(clf)
    else:  # a class: its index checked, never wrapped round (-5 is not class 995)
        target = space.class_index(target, "target")
        foil = None if foil is None else space.class_index(foil, "foil")
    explained = as_target(target, foil)
    basis = orthonormal_basis(dirs)
    closed = float(explained.weight(clf).double() @ (basis.T @ (basis @ f.double())))
    return closed, measured_drop(clf, f, dirs, explained)


def _an_explainer(value, who: str) -> Explainer:
    """``value`` when it is an :class:`~nlexnb.explain.Explainer`, or a TypeError saying how to make one (a classifier
    or a space there would otherwise fail on a missing attribute)."""
    if not isinstance(value, Explainer):
        raise TypeError(
            f"{who} takes an Explainer first (nlexnb.Explainer(classifier, mapper), or nlexnb.Explainer(space)), got "
            f"{type(value).__name__}"
        )
    return value


def _one_feature(classifier, features) -> torch.Tensor:
    """One image's features [d], checked as :meth:`Classifier.checked_features` checks a batch (a tensor of finite
    floats of the classifier's width): NaN would give a NaN drop, not an error."""
    d = classifier.num_features
    if not isinstance(features, torch.Tensor):
        raise TypeError(f"features must be a tensor [{d}] (one image's features), got {type(features).__name__}")
    if features.shape != (d,):
        hint = " (one row of a batch: features[0])" if features.ndim == 2 and features.shape[1] == d else ""
        raise ValueError(f"features must be one image's features [{d}], got {list(features.shape)}{hint}")
    return classifier.checked_features(features[None])[0]


def _positions(concepts, size: int) -> list[int]:
    """``concepts`` as bank positions, or an error naming the bad ones: a float (1.9 would be read as 1), a string
    or a bool is a TypeError, a position outside 0..size-1 a ValueError."""
    if isinstance(concepts, (str, bytes)) or an_index(concepts) or not hasattr(concepts, "__iter__"):
        raise TypeError(f"concepts must be a list of positions in the bank (ints), got {concepts!r:.80}")
    concepts = concepts.tolist() if isinstance(concepts, (torch.Tensor, np.ndarray)) else list(concepts)
    odd = [c for c in concepts if not an_index(c)]
    if odd:
        among = f" among {concepts!r:.80}" if len(odd) < len(concepts) else ""
        raise TypeError(f"concepts must be positions in the bank (whole numbers), got {odd[:5]!r}{among}")
    outside = [int(c) for c in concepts if not 0 <= c < size]
    if outside:
        raise ValueError(f"concepts {outside} are not positions in the bank (0..{size - 1})")
    return [int(c) for c in concepts]


def _separate(explainer: Explainer, f: torch.Tensor, target: int, k: int, allow_class_names: bool) -> list[int]:
    """Top-k concepts by their separate contribution ``(f . v)(w . v)``.

    Without class names: the explainer's own shortlist (present, aligned, no class names, no paraphrases), so the
    only difference from the named concepts is choosing one by one instead of jointly. With class names: the naive
    ranking of every concept in the bank.
    """
    if not allow_class_names:  # as wide a shortlist as select's, so that k above it is k here too
        return explainer.candidates(f, ClassLogit(target), size=max(explainer.shortlist, k))[:k]
    d, w = explainer.directions, explainer.classifier.head_weight[target]
    return ((d @ f) * (d @ w)).topk(min(len(d), k)).indices.tolist()


def most_named(chosen: Sequence[tuple[list[int], list[float]]], k: int) -> list[int]:
    """The ``k`` concepts named most often in ``chosen`` (each image's positions and contributions); ties go to the
    larger total contribution, then the earlier bank position, so the answer does not depend on the images' order
    (with a few images most counts are 1, and first-seen would be the first image's own explanation)."""
    count: Counter = Counter()
    total: dict[int, float] = {}
    for positions, gains in chosen:
        for c, g in zip(positions, gains):
            count[c] += 1
            total[c] = total.get(c, 0.0) + float(g)
    return sorted(count, key=lambda c: (-count[c], -round(total[c], 9), c))[:k]


def _random_pool(bank, source: str | None) -> list[int]:
    """The bank positions random concepts are drawn from (see :func:`concept_ablation`); a source the bank does not
    have is an error, not the whole bank."""
    if source is None:
        return bank.indices("words") if "words" in bank.sources else list(range(len(bank)))
    if source not in bank.sources:
        raise ValueError(
            f"random_source={source!r} is not a source of the bank {bank.name!r} (its sources: "
            f"{sorted(set(bank.sources))}); None draws from its 'words', or from every concept when it has none"
        )
    return bank.indices(source)


def concept_ablation(
    explainer: Explainer,
    images: Sequence[ImageLike] | dict[str, ImageLike],
    k: int = 5,
    n_random: int = 20,
    random_source: str | None = None,
    seed: int = 0,
    selectors: Sequence[Selector | str] = (),
) -> pd.DataFrame:
    """Remove k concept directions from each image's feature and measure how much the predicted logit drops.

    Methods: ``named`` (the explanation's concepts, chosen by the explainer's selector), ``separate`` (top-k by
    separate scores, class names excluded), ``naive`` (top-k by separate scores, class names allowed), ``frequent``
    (the k concepts named most often over these images), ``random`` (k concepts drawn from the bank's concepts of
    source ``random_source``, mean over ``n_random`` draws; None: its ``"words"`` when it has them, as the ``"broad"``
    bank does, else every concept; classes' names and peoples never), and ``named (NAME)`` for each other
    selection method in ``selectors`` (same space, shortlist and filters: only the choice differs; two of one name
    are a ValueError, their rows would share it).

    Returns:
        One row per image and method: ``image, target, target_name, method, k, logit, margin, drop_closed,
        drop_measured, abs_error, drop_pct_margin, concepts`` (k: how many concepts the row removed, fewer than asked
        where a method finds fewer, as the explainer does when no more concepts carry the logit; margin: the logit
        minus the mean logit).
    """
    explainer = _an_explainer(explainer, "concept_ablation")
    seed = a_seed(seed)
    if isinstance(selectors, str):  # read one letter at a time: "Unknown selector 'n'"
        raise TypeError(
            f"selectors must be a list of selection methods, got the single string {selectors!r}; wrap it in a "
            f"list: selectors=[{selectors!r}]"
        )
    selectors = _distinct_selectors(selectors)  # before any work: a repeated name would lose one's rows
    names, items = _named_images(images)
    clf = explainer.classifier
    space = explainer.space
    with torch.inference_mode():
        feats = clf.features(space.preprocess(items))
    logits = clf.head(feats.double()).float()
    k = space.check_k(k)
    n_random = positive_int(n_random, "n_random", "random draws")
    pool = [i for i in _random_pool(explainer.bank, random_source) if not bool(space.excluded[i])]
    if len(pool) < k:  # the rows would say k while the draws hold fewer
        where = f"random_source={random_source!r}" if random_source is not None else "the bank's words (the default)"
        warn_user(
            f"The random concepts, from {where}, are {len(pool)} that may be named, fewer than k={k}: each random "
            f"draw removes {len(pool)} (the 'random' rows say so in their k)"
        )
    rng = np.random.default_rng(seed)
    targets = logits.argmax(1).tolist()
    chosen = [explainer.select(feats[i], targets[i], k) for i in range(len(items))]
    named = [positions for positions, _ in chosen]
    frequent = most_named(chosen, k)
    if len(items) < 2:
        warn_user(
            "concept_ablation over one image: its 'frequent' concepts are its own named concepts, so that baseline "
            "tells nothing; give several images"
        )
    others = {}
    for selector in selectors:
        other = copy.copy(explainer)
        other.selector = selector
        others[f"named ({selector.name})"] = [other.select(f, t, k)[0] for f, t in zip(feats, targets)]
    rows = []
    for i, (name, f, target) in enumerate(zip(names, feats, targets)):
        sets = {
            "named": [named[i]],
            **{method: [chosen[i]] for method, chosen in others.items()},
            "separate": [_separate(explainer, f, target, k, allow_class_names=False)],
            "naive": [_separate(explainer, f, target, k, allow_class_names=True)],
            "frequent": [frequent],
            "random": [rng.choice(pool, size=min(k, len(pool)), replace=False).tolist() for _ in range(n_random)],
        }
        margin = float(logits[i, target] - logits[i].mean())
        for method, draws in sets.items():
            drops = np.array([ablation_drop(explainer, f, sel, target) for sel in draws])
            closed, measured = drops.mean(0)
            rows.append(
                {
                    "image": name,
                    "target": target,
                    "target_name": clf.class_names[target],
                    "method": method,
                    "k": len(draws[0]),  # what the row removed: fewer than asked where a method found fewer
                    "logit": float(logits[i, target]),
                    "margin": margin,
                    "drop_closed": closed,
                    "drop_measured": measured,
                    "abs_error": float(np.abs(drops[:, 0] - drops[:, 1]).max()),
                    "drop_pct_margin": 100.0 * closed / margin,
                    "concepts": "; ".join(explainer.bank.texts[c] for c in draws[0]) if len(draws) == 1 else "",
                }
            )
    return pd.DataFrame(rows)


def _distinct_selectors(selectors: Sequence[Selector | str]) -> list[Selector]:
    """``selectors`` as selection methods, or a ValueError for two of one name: each gives the rows ``named (NAME)``,
    and one set of rows silently replaced the other (``NonNegativeSelector(steps=1)`` beside ``steps=500``)."""
    chosen = [get_selector(selector) for selector in selectors]
    first: dict[str, int] = {}
    for i, selector in enumerate(chosen):
        j = first.setdefault(selector.name, i)
        if j != i:
            raise ValueError(
                f"selectors[{j}] and selectors[{i}] are both named {selector.name!r}: both sets of rows would be "
                f"'named ({selector.name})', and one would replace the other. Give each method once; to compare two "
                f"settings of one method, give one a name of its own (selector.name = '{selector.name}, steps=1')"
            )
    return chosen


def deletion_insertion(
    explainer: Explainer,
    image: ImageLike,
    concept: str | None = None,
    target: int | None = None,
    steps: int = 16,
    n_random: int = 2,
    baseline: str = "blur",
    seed: int = 0,
) -> pd.DataFrame:
    """Deletion and insertion AUC of a concept map and of the class map (CAM), beside random maps.

    Pixels are removed (deletion: replaced by the baseline) or revealed (insertion: starting from the baseline) in
    the order of a map, most important first, in ``steps`` equal steps. A concept map is scored by the concept's
    score ``v . f`` (what the map sums over locations), divided by its value on the full image; the class
    map by the class probability. Random maps are uniform noise on the feature grid, upsampled like the real ones.
    Lower deletion AUC and higher insertion AUC are better. A concept the image does not hold (its score, or its
    presence relative to the bank's mean, at most 0) is refused: its curves would read backwards.

    Args:
        concept: default: the top concept of the image's explanation. target: default: the predicted class.
        baseline: ``"blur"`` (Gaussian blur of the image) or ``"mean"`` (the dataset mean colour).

    Returns:
        Rows ``curve`` (deletion/insertion), ``map`` (concept/class/random), ``score`` (concept/class), ``auc``.

    Raises:
        ValueError: fewer than 2 ``steps``, a blank concept, or a concept the image does not hold.
    """
    explainer = _an_explainer(explainer, "deletion_insertion")
    steps = _curve_steps(steps)
    n_random = positive_int(n_random, "n_random", "random maps")
    seed = a_seed(seed)
    clf = explainer.classifier
    x = explainer.space.preprocess_one(image)
    out = clf.forward_all(x)
    f, logits, fmap = out.features[0], out.logits[0], out.feature_map[0]
    target = int(logits.argmax()) if target is None else explainer.space.class_index(target, "target")
    if concept is None:
        chosen, _ = explainer.select(f, target, 1)
        concept = explainer.bank.texts[chosen[0]]
    elif not isinstance(concept, str) or not concept.strip():
        raise ValueError(
            f"concept must be a concept's text, e.g. 'striped fur' (None: the explanation's first), got {concept!r}"
        )
    v = explainer.space.encode([concept])[0]
    w = clf.head_weight[target]
    size = tuple(x.shape[-2:])
    gen = torch.Generator().manual_seed(seed)
    maps = {"concept": fmap @ v, "class": fmap @ w}
    randoms = [torch.rand(fmap.shape[:2], generator=gen).to(clf.device) for _ in range(n_random)]
    base = _baseline(x, baseline)
    full, presence = float(f @ v), float(f @ explainer.space.directions_of(v[None])[0])
    if full <= 0 or presence <= 0:  # the curves divide by the full image's score: they would read backwards
        raise ValueError(
            f"deletion_insertion: the concept {concept!r} is not present in this image (its score {full:.3g}, "
            f"{presence:.3g} relative to the bank's mean): deleting the pixels its map ranks first cannot show "
            "anything about it, and its curves, divided by that score, would read backwards. Choose a concept the "
            "image holds (one of explainer.explain(image).table)"
        )

    def scores(batch: torch.Tensor) -> dict[str, np.ndarray]:
        feats = clf.features(batch)
        return {
            "concept": (feats @ v).cpu().numpy() / full,
            "class": clf.head(feats.double()).softmax(-1)[:, target].float().cpu().numpy(),
        }

    rows = []
    for map_name, grid in [("concept", maps["concept"]), ("class", maps["class"])] + [("random", r) for r in randoms]:
        order = upsample_map(grid, size).flatten().argsort(descending=True)
        for curve in ("deletion", "insertion"):
            batch = _progressive(x[0], base[0], order, steps, curve)
            for score_name, values in scores(batch).items():
                if map_name != "random" and map_name != score_name:
                    continue
                auc = float(np.trapezoid(values, dx=1.0 / steps))
                rows.append({"concept": concept, "curve": curve, "map": map_name, "score": score_name, "auc": auc})
    frame = pd.DataFrame(rows)
    return frame.groupby(["concept", "curve", "map", "score"], as_index=False, sort=False)["auc"].mean()


def _curve_steps(steps) -> int:
    """``steps`` of a deletion/insertion curve, at least 2: with one step a curve is the whole image and the baseline
    alone, the same two points for every map, and every AUC the same (concept map no better than random)."""
    steps = positive_int(steps, "steps", "deletion/insertion steps")
    if steps < 2:
        raise ValueError(
            f"steps must be at least 2, got {steps}: with one step each curve joins the whole image to the baseline, "
            "whatever the map, and every map gets the same AUC (16, the default, tells them apart)"
        )
    return steps


def _baseline(x: torch.Tensor, kind: str) -> torch.Tensor:
    if kind == "mean":
        return torch.zeros_like(x)  # normalised inputs: 0 is the dataset mean colour
    if kind == "blur":
        from torchvision.transforms.functional import gaussian_blur

        side = max(x.shape[-2:]) // 4 * 2 + 1
        return gaussian_blur(x, kernel_size=[side, side], sigma=side / 4)
    raise ValueError(f"baseline must be 'blur' or 'mean', got {kind!r}")


def _progressive(x: torch.Tensor, base: torch.Tensor, order: torch.Tensor, steps: int, curve: str) -> torch.Tensor:
    """[steps+1, C, H, W]: step i has the first i/steps of ``order`` deleted (or, for insertion, revealed)."""
    n = order.numel()
    rank = torch.empty_like(order)
    rank[order] = torch.arange(n, device=order.device)
    cut = torch.linspace(0, n, steps + 1, device=order.device).round().long()
    first = (rank.unsqueeze(0) < cut.unsqueeze(1)).view(steps + 1, 1, *x.shape[-2:])  # pixels among the first i
    if curve == "deletion":
        return torch.where(first, base.unsqueeze(0), x.unsqueeze(0))
    return torch.where(first, x.unsqueeze(0), base.unsqueeze(0))


def randomization_check(
    explainer: Explainer, images: Sequence[ImageLike] | dict[str, ImageLike], k: int = 5, seed: int = 0
) -> pd.DataFrame:
    """Model-randomisation sanity check: explain the same class with a randomised head; the explanation must change.

    The head rows are replaced by Gaussian noise of the same scale (the features and the mapper are kept). Reports
    the Spearman rank correlation of every bank concept's separate contribution under the real and the random head
    (near 0: the explanation depends on the head), and the overlap of the k named concepts.

    Returns:
        One row per image: ``image, target, rank_correlation, topk_overlap``.
    """
    explainer = _an_explainer(explainer, "randomization_check")
    seed = a_seed(seed)
    names, items = _named_images(images)
    k = explainer.space.check_k(k)
    clf = explainer.classifier
    feats = clf.features(explainer.space.preprocess(items))
    targets = clf.head(feats.double()).argmax(1).tolist()
    gen = torch.Generator().manual_seed(seed)
    noise = torch.randn(clf.head_weight.shape, generator=gen).to(clf.device) * clf.head_weight.std()
    d = explainer.directions
    rows = []
    for name, f, target in zip(names, feats, targets):
        real = (d @ f) * (d @ clf.head_weight[target])
        fake = (d @ f) * (d @ noise[target])
        named = set(explainer.select(f, target, k)[0])
        randomised = Direction(noise[target], "randomised row", classes=(target,))
        named_random = set(explainer.select(f, randomised, k)[0])
        rows.append(
            {
                "image": name,
                "target": target,
                "rank_correlation": _spearman(real, fake),
                "topk_overlap": len(named & named_random) / max(len(named), 1),
            }
        )
    return pd.DataFrame(rows)


def _spearman(a: torch.Tensor, b: torch.Tensor) -> float:
    ra = a.double().argsort().argsort().double()
    rb = b.double().argsort().argsort().double()
    ra, rb = ra - ra.mean(), rb - rb.mean()
    return float((ra @ rb) / (ra.norm() * rb.norm()))


def faithfulness(
    explainer: Explainer,
    images: Sequence[ImageLike] | dict[str, ImageLike],
    k: int = 5,
    n_random: int = 20,
    deletion: bool = True,
    steps: int = 16,
    seed: int = 0,
    selectors: Sequence[Selector | str] = (),
) -> pd.DataFrame:
    """All the faithfulness checks in one long, tidy frame: ``image, metric, method, value``.

    ``selectors``: other selection methods to measure beside the explainer's own (ablation rows ``named (NAME)``).

    Metrics: ``drop_pct_margin``, ``drop_closed``, ``abs_error`` (closed form vs measured ablation) per method of
    :func:`concept_ablation`; ``deletion_auc`` / ``insertion_auc`` per map (``concept map``, ``random map (concept)``,
    ``class map``, ``random map (class)``) when ``deletion``; ``rank_correlation`` and ``topk_overlap`` of
    :func:`randomization_check` (method ``randomised head``).
    """
    explainer = _an_explainer(explainer, "faithfulness")
    deletion = yes_or_no(deletion, "deletion")
    if deletion:  # before the ablations: refused after them, their minutes were lost
        steps = _curve_steps(steps)
    names, items = _named_images(images)
    named = dict(zip(names, items))
    parts = []
    ablation = concept_ablation(explainer, named, k=k, n_random=n_random, seed=seed, selectors=selectors)
    for metric in ABLATION_METRICS:
        parts.append(ablation[["image", "method"]].assign(metric=metric, value=ablation[metric]))
    if deletion:
        for name, item in named.items():
            frame = deletion_insertion(explainer, item, steps=steps, seed=seed)
            method = np.where(frame["map"] == "random", "random map (" + frame["score"] + ")", frame["map"] + " map")
            parts.append(
                pd.DataFrame(
                    {"image": name, "method": method, "metric": frame["curve"] + "_auc", "value": frame["auc"]}
                )
            )
    sanity = randomization_check(explainer, named, k=k, seed=seed)
    for metric in ("rank_correlation", "topk_overlap"):
        parts.append(
            pd.DataFrame(
                {"image": sanity["image"], "method": "randomised head", "metric": metric, "value": sanity[metric]}
            )
        )
    return pd.concat(parts, ignore_index=True)[["image", "metric", "method", "value"]]


def _named_images(images) -> tuple[list[str], list]:
    """``(names, images)``: a dict's keys as text, or ``"image i"``. Two keys with one text (1 and "1") are an error:
    the rows of both would carry one name, and :func:`faithfulness` would keep only one of the images."""
    if isinstance(images, (dict, list, tuple)) and not len(images):
        raise ValueError(f"images is empty ({images!r}): give at least one image, or a dict of named images")
    if isinstance(images, dict):
        names = [str(n) for n in images]
        seen: dict[str, object] = {}
        for key in images:
            if str(key) in seen:
                raise ValueError(
                    f"images has the keys {seen[str(key)]!r} and {key!r}, which both name an image {str(key)!r} in the "
                    "results; give each image its own name"
                )
            seen[str(key)] = key
        return names, list(images.values())
    if isinstance(images, (list, tuple)):
        return [f"image {i}" for i in range(len(images))], list(images)
    return ["image 0"], [images]


# ---- tables of a faithfulness frame, for reports --------------------------------------------------------------------
ABLATION_METHODS = ("named", "separate", "naive", "frequent", "random")
ABLATION_METRICS = ("drop_pct_margin", "drop_closed", "abs_error")
"""The metrics of :func:`faithfulness`'s ablation rows, which :func:`ablation_table` shows."""
OTHER_TABLES = {
    "deletion_auc": "metrics.curve_table(frame)",
    "insertion_auc": "metrics.curve_table(frame)",
    "rank_correlation": "metrics.randomization_table(frame)",
    "topk_overlap": "metrics.randomization_table(frame)",
}
"""The other metrics of :func:`faithfulness` and the table that shows each."""
CURVE_METHODS = ("concept map", "random map (concept)", "class map", "random map (class)")


def ablation_table(frame: pd.DataFrame, metric: str = "drop_pct_margin") -> pd.DataFrame:
    """One ablation metric of :func:`nlexnb.metrics.faithfulness`: image x method (``named``, ``separate``,
    ``naive``, ``frequent``, ``random``, then any other selection method), with a last row ``mean``. ``metric``: one
    of :data:`ABLATION_METRICS`; another is a ValueError listing them (naming the table of the curves' and the
    randomised head's metrics)."""
    _check_frame(frame)
    if metric not in ABLATION_METRICS:  # was "The frame holds no 'drop_pct' rows; is it the frame of ...?"
        shown = OTHER_TABLES.get(metric) if isinstance(metric, str) else None
        other = f" ({metric!r} is shown by {shown})" if shown else ""
        raise ValueError(f"metric must be one of the ablation metrics {list(ABLATION_METRICS)}, got {metric!r}{other}")
    table = _pivot(frame.query("metric == @metric"), "method", metric)
    others = [m for m in dict.fromkeys(frame["method"]) if m in table.columns and m not in ABLATION_METHODS]
    table = table[[m for m in ABLATION_METHODS if m in table.columns] + others]  # other selectors after the baselines
    return _with_mean(table)


def _with_mean(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with a last row of its column means, named ``mean`` (``mean of all images`` where an image is
    itself named "mean": writing the means under its name replaced that image's row)."""
    label = "mean of all images" if "mean" in table.index else "mean"
    return pd.concat([table, table.mean().to_frame(label).T.rename_axis(table.index.name)])


def curve_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Deletion and insertion AUC of :func:`nlexnb.metrics.faithfulness`, mean over images: one row per map
    (concept map, its random maps, class map, its random maps), columns ``deletion_auc`` and ``insertion_auc``.
    """
    _check_frame(frame)
    curves = frame[frame["metric"].isin(["deletion_auc", "insertion_auc"])]
    if curves.empty:
        raise ValueError("The frame holds no deletion/insertion rows: run metrics.faithfulness with deletion=True")
    table = curves.pivot_table(index="method", columns="metric", values="value", aggfunc="mean")
    table.columns.name = None
    return table.reindex([m for m in CURVE_METHODS if m in table.index])


def randomization_table(frame: pd.DataFrame) -> pd.DataFrame:
    """The randomised-head check of :func:`nlexnb.metrics.faithfulness`: image x (``rank_correlation``,
    ``topk_overlap``), with a last row ``mean``."""
    _check_frame(frame)
    table = _pivot(frame.query("method == 'randomised head'"), "metric", "randomised head")
    return _with_mean(table)


FRAME_COLUMNS = ("image", "metric", "method", "value")
"""The columns of :func:`faithfulness`'s frame, which the tables read."""


def _check_frame(frame) -> None:
    """A TypeError or ValueError naming what the tables expect, for anything but a frame of :func:`faithfulness`
    (another table would fail in pandas' words, on a query of a missing column)."""
    frame_with_columns(frame, FRAME_COLUMNS, "frame", "the frame of nlexnb.metrics.faithfulness")


def _pivot(rows: pd.DataFrame, columns: str, what: str) -> pd.DataFrame:
    if rows.empty:
        raise ValueError(f"The frame holds no {what!r} rows; is it the frame of nlexnb.metrics.faithfulness?")
    repeated = rows.duplicated(["image", columns])
    if repeated.any():  # pandas: "Index contains duplicate entries, cannot reshape"
        name = rows.loc[repeated, "image"].iloc[0]
        raise ValueError(
            f"The image name {name!r} appears in more than one run of the frame: frames of runs on lists name their "
            "images 'image 0', 'image 1', ... alike. Pass the images as a dict {name: image}, or rename the 'image' "
            "column of one frame before joining them"
        )
    table = rows.pivot(index="image", columns=columns, values="value")
    table.columns.name = None
    return table.loc[list(dict.fromkeys(rows["image"]))]  # the images in their own order, not sorted
