"""How well a mapper puts class names where the classifier keeps its classes: held-out classes, k-fold.

For each fold, a mapper is fitted on the other classes only; each held-out class name is mapped (with the prompt
ensemble) and the classifier's true rows are ranked by cosine. ZSL ranks the held-out rows only; GZSL ranks all K rows,
with the seen-class penalty the mapper calibrated on its own training classes. Baselines run in the same call.
"""

from __future__ import annotations

import re
import time
import warnings
from collections.abc import Mapping, Sequence

import pandas as pd
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from ._checks import (
    MapperMismatchWarning,
    a_seed,
    an_index,
    in_a_sentence,
    number,
    positive_int,
    spelled_alike,
    warn_user,
    yes_no_or_none,
    yes_or_no,
)
from .classifier import Classifier, a_classifier
from .labels import warn_unmatched_keys
from .mapper import Mapper, check_fits, fit_mapper, is_mapper, name_embeddings
from .text import TextEncoder

__all__ = [
    "heldout",
    "fold_splits",
    "rank_of_true",
    "summarize",
    "free_text",
    "head_agreement",
    "mapped_head",
    "zero_shot",
    "paired_difference",
    "head_replacement",
    "bottleneck_accuracy",
    "compare_zero_shot",
    "labelled_features",
]

TOP1_NAME = "top-1 name (no mapper)"

BASELINE_TEXT = "text"


def fold_splits(num_classes: int, folds: int, seed: int = 0) -> list[list[int]]:
    """Random, disjoint held-out class sets covering all classes (the same for every method with the same seed):
    exactly ``folds`` of them, their sizes differing by at most one, each of at least 2 classes (with one class
    held out, ranking it among the held-out rows is always right: ZSL top-1 would read 1.0); so at least 4 classes."""
    num_classes = positive_int(num_classes, "num_classes", "classes")
    folds, seed = positive_int(folds, "folds", "held-out class sets"), a_seed(seed)
    if num_classes < 4:  # "folds must be between 2 and 1"
        raise ValueError(
            f"A held-out evaluation needs at least 4 classes (2 folds of at least 2 classes each, one held out while "
            f"a mapper is fitted on the other), got {num_classes}"
        )
    most = num_classes // 2
    if not 2 <= folds <= most:
        raise ValueError(
            f"folds must be between 2 and {most} (half the {num_classes} classes, so that each fold holds at least 2 "
            f"classes to rank), got {folds}"
        )
    perm = torch.randperm(num_classes, generator=torch.Generator().manual_seed(seed))
    return [sorted(chunk.tolist()) for chunk in perm.tensor_split(folds)]


def rank_of_true(scores: torch.Tensor, true_columns: torch.Tensor) -> torch.Tensor:
    """0-based rank of each row's true column among its scores [N, C] (0 = top-1), ties counted against it: a map
    that gives every class the same score ranks no class first (counting only higher scores gave it top-1 1.0).
    Scores must be finite (a NaN compares False with everything, and so ranked first too)."""
    if not isinstance(scores, torch.Tensor) or scores.ndim != 2:
        raise TypeError(f"scores must be a 2-D tensor [images, classes], got {_shape_or_type(scores)}")
    if not torch.isfinite(scores).all():
        raise ValueError("scores hold NaN or infinite values: no rank can be read off them (is the map collapsed?)")
    if not isinstance(true_columns, torch.Tensor) or true_columns.shape != (scores.shape[0],):
        raise TypeError(
            f"true_columns must be a 1-D tensor of {scores.shape[0]} column indices (one per row of scores), got "
            f"{_shape_or_type(true_columns)}"
        )
    inside = len(true_columns) == 0 or (int(true_columns.min()) >= 0 and int(true_columns.max()) < scores.shape[1])
    if true_columns.is_floating_point() or true_columns.dtype == torch.bool or not inside:  # -1 is not the last
        raise ValueError(f"true_columns must be whole numbers from 0 to {scores.shape[1] - 1} (columns of scores)")
    true_scores = scores.gather(1, true_columns.long().unsqueeze(1))
    return (scores >= true_scores).sum(1) - 1


def _shape_or_type(value) -> str:
    return f"shape {tuple(value.shape)}" if isinstance(value, torch.Tensor) else type(value).__name__


def _text_baseline(
    classifier: Classifier, encoder: TextEncoder, seen: list[int], unseen: list[int], templates: Sequence[str]
) -> torch.Tensor:
    """No mapper: each held-out name takes the row of its nearest seen class name in text space."""
    names = classifier.class_names
    unseen_text = name_embeddings(encoder, [names[k] for k in unseen], templates)
    nearest = (unseen_text @ name_embeddings(encoder, [names[k] for k in seen], templates).T).argmax(1)
    return classifier.head_weight[torch.tensor(seen)[nearest]]


GZSL_COLUMNS = ("gzsl_top1", "gzsl_top5", "gzsl_seen_top1", "gzsl_h")
"""The generalised zero-shot columns of :func:`heldout`: held-out names among all classes, seen names among all
classes, and the harmonic mean of the two top-1s (a penalty on seen classes trades one for the other)."""


def _gzsl(
    mapper: Mapper, classifier: Classifier, rows: torch.Tensor, seen: list[int], unseen: list[int], vectors
) -> dict[str, float]:
    """Generalised zero-shot scores of a fold's mapper: its held-out names' ``vectors`` and its seen names, mapped,
    ranked against every class's unit row ``rows``, the seen classes lowered by the mapper's seen penalty."""
    penalty = mapper.seen_penalty * torch.ones(len(rows), device=rows.device)
    penalty[torch.tensor(unseen, device=rows.device)] = 0.0
    unseen_rank = rank_of_true(vectors @ rows.T - penalty, torch.tensor(unseen, device=rows.device))
    seen_vectors = mapper.encode_labels([classifier.class_names[k] for k in seen])
    seen_vectors = F.normalize(seen_vectors.float().to(rows.device), dim=1)
    seen_rank = rank_of_true(seen_vectors @ rows.T - penalty, torch.tensor(seen, device=rows.device))
    u, s = (unseen_rank < 1).float().mean().item(), (seen_rank < 1).float().mean().item()
    return {
        "gzsl_top1": u,
        "gzsl_top5": (unseen_rank < 5).float().mean().item(),
        "gzsl_seen_top1": s,
        "gzsl_h": 2 * u * s / (u + s) if u + s else 0.0,
    }


def heldout(
    classifier: Classifier,
    text_encoder: TextEncoder,
    folds: int = 10,
    seed: int = 0,
    methods: Sequence[str] = ("kernel", "ridge", "text"),
    per_fold: bool = False,
    progress: bool | None = True,
    **hparams,
) -> pd.DataFrame:
    """k-fold held-out-class evaluation of mappers, with baselines side by side.

    Args:
        classifier, text_encoder: what to evaluate.
        folds: number of disjoint held-out class sets, from 2 to half the number of classes (each holds at least 2).
        seed: fixes the folds (and each fit's seed).
        methods: mapper methods (see ``nlexnb.maps.MAPS``) and/or ``"text"`` (nearest class name in text space).
        per_fold: return one row per (method, fold) instead of the mean over folds.
        progress: a progress bar over the fits (True or None, the default; False for none).
        **hparams: passed to every ``fit_mapper`` call (not ``classes`` nor ``method``: each fold chooses its classes,
            ``methods`` the methods).

    Returns:
        DataFrame with columns method, zsl_top1, zsl_top5 (held-out names among the held-out classes), gzsl_top1,
        gzsl_top5 (among all classes, seen ones lowered by the mapper's seen penalty), gzsl_seen_top1 (seen names
        among all classes, the same penalty), gzsl_h (the harmonic mean of the two top-1s), fit_seconds (and fold
        if per_fold). The text baseline's GZSL columns are NaN: each of its vectors is a seen class's row, so it
        can never name a held-out class among all of them.
    """
    from collections import Counter

    from .maps import MAPS

    a_classifier(classifier, "heldout", "its text encoder (nlexnb.load_text_encoder())")
    if not isinstance(text_encoder, TextEncoder):
        raise TypeError(
            f"text_encoder must be a TextEncoder (nlexnb.load_text_encoder()), got {type(text_encoder).__name__}"
            + (
                ": heldout fits its own mapper on each fold's classes (a fitted mapper has seen every class); a "
                "mapper holds its encoder as mapper.text_encoder"
                if is_mapper(text_encoder)
                else ""
            )
        )
    methods = [methods] if isinstance(methods, str) else list(methods)
    unknown = [m for m in methods if not isinstance(m, str) or (m != BASELINE_TEXT and m not in MAPS)]
    if unknown or not methods:  # before any fit: a typo at the end of the list would cost every fit before it
        raise ValueError(
            f"methods must name mapper methods {sorted(MAPS)} or {BASELINE_TEXT!r} (the text baseline); got {methods!r}"
        )
    repeated = [m for m, n in Counter(methods).items() if n > 1]
    if repeated:
        raise ValueError(
            f"methods names {repeated} more than once, got {methods!r}: give each method once (a repeated method is "
            "evaluated again and its folds counted twice)"
        )
    _check_fit_options(hparams)
    _check_map_options(hparams, [m for m in methods if m != BASELINE_TEXT])
    per_fold = yes_or_no(per_fold, "per_fold")
    progress = yes_no_or_none(progress, "progress", "the default: a bar over the fits") is not False
    splits = fold_splits(classifier.num_classes, folds, a_seed(seed))
    rows_all = F.normalize(classifier.head_weight.float(), dim=1)
    records = []
    jobs = [(f, m) for f in range(len(splits)) for m in methods]
    for fold, method in tqdm(jobs, desc="held-out folds", disable=not progress):
        unseen = splits[fold]
        unseen_set = set(unseen)
        seen = [k for k in range(classifier.num_classes) if k not in unseen_set]
        start = time.perf_counter()
        mapper: Mapper | None = None
        if method == BASELINE_TEXT:
            from .mapper import DEFAULT_TEMPLATES

            vectors = _text_baseline(classifier, text_encoder, seen, unseen, DEFAULT_TEMPLATES)
        else:
            mapper = fit_mapper(classifier, text_encoder, classes=seen, method=method, seed=seed, **hparams)
            vectors = mapper.encode_labels([classifier.class_names[k] for k in unseen])
        fit_seconds = time.perf_counter() - start
        vectors = F.normalize(vectors.float().to(rows_all.device), dim=1)
        truth = torch.tensor(unseen, device=rows_all.device)
        zsl_rank = rank_of_true(vectors @ rows_all[truth].T, torch.arange(len(unseen), device=rows_all.device))
        record = {
            "method": method,
            "fold": fold,
            "zsl_top1": (zsl_rank < 1).float().mean().item(),
            "zsl_top5": (zsl_rank < 5).float().mean().item(),
            **dict.fromkeys(GZSL_COLUMNS, float("nan")),  # the text baseline names a seen class's row: no GZSL
            "fit_seconds": fit_seconds,
        }
        if mapper is not None:
            record.update(_gzsl(mapper, classifier, rows_all, seen, unseen, vectors))
        records.append(record)
    table = pd.DataFrame.from_records(records)
    return table if per_fold else summarize(table)


def _check_fit_options(hparams: Mapping[str, object]) -> None:
    """A TypeError for the ``fit_mapper`` options that :func:`heldout` sets itself: ``classes`` (each fold's seen
    classes) and ``method`` (one fit per entry of ``methods``); passed on, they failed in Python's words ("got
    multiple values for keyword argument")."""
    if "method" in hparams:
        method = hparams["method"]
        raise TypeError(f"heldout takes the mapper methods as methods=, not method=: methods=[{method!r}]")
    if "classes" in hparams:
        raise TypeError(
            "heldout chooses the classes of each fit itself (every class but the fold held out): give no classes="
        )


def _check_map_options(hparams: Mapping[str, object], methods: Sequence[str]) -> None:
    """A TypeError or ValueError, before the first fit, for an option that one of ``methods`` does not take or a value
    no map can be fitted with: :func:`heldout` passes every option to every method, and ``sigma=0.5`` with
    ``methods=["kernel", "ridge"]`` failed on the first ridge fit, after the kernel fits had run."""
    import inspect

    from .maps import checked_hyper_parameters, map_defaults

    own = {name for name, p in inspect.signature(fit_mapper).parameters.items() if p.kind is p.KEYWORD_ONLY}
    options = {name: value for name, value in hparams.items() if name not in own}
    for method in methods:
        valid = list(map_defaults(method))
        unknown = sorted(set(options) - set(valid))
        if not unknown:
            continue
        takes = [m for m in methods if set(options) <= set(map_defaults(m))]
        if not takes:  # no method takes them: a misspelt option, said as fit_mapper says it
            raise TypeError(f"Unknown hyper-parameter(s) {unknown} for method {method!r}; valid: {valid}")
        given = ", ".join(f"{name}={value!r}" for name, value in options.items())
        rest = [m for m in methods if m not in takes]
        raise TypeError(
            f"heldout passes every option to every method, and {method!r} has no {unknown} (its options: {valid}): "
            f"run one heldout per method instead, heldout(classifier, encoder, methods={takes}, {given}) and "
            f"heldout(classifier, encoder, methods={rest})"
        )
    checked_hyper_parameters(options)


def summarize(per_fold: pd.DataFrame) -> pd.DataFrame:
    """Mean over folds per method, in the order the methods were given."""
    missing = [c for c in ("method", "fold") if not isinstance(per_fold, pd.DataFrame) or c not in per_fold.columns]
    if missing:
        raise ValueError(
            f"summarize takes the per-fold table of heldout(..., per_fold=True), with columns 'method' and 'fold'; "
            f"missing: {missing}"
        )
    order = list(dict.fromkeys(per_fold["method"]))
    out = per_fold.drop(columns="fold").groupby("method", sort=False).mean().reindex(order).reset_index()
    out.insert(1, "folds", per_fold.groupby("method", sort=False)["fold"].count().reindex(order).to_numpy())
    return out


# Plain-word descriptions of ImageNet classes (no class name in the text) and the classes they describe.
FREE_TEXT_PROBES: list[tuple[str, tuple[str, ...]]] = [
    ("a big orange cat with black stripes", ("tiger, Panthera tigris", "tiger cat")),
    ("a small cup of dark coffee with foam on top", ("espresso",)),
    (
        "a large grey animal with a long trunk and tusks",
        ("African elephant, Loxodonta africana", "Indian elephant, Elephas maximus", "tusker"),
    ),
    ("a black and white bear that eats bamboo", ("giant panda, panda, panda bear, coon bear, Ailuropoda melanoleuca",)),
    ("a tall yellow animal with a very long neck", ()),  # no giraffe in ImageNet-1k: reported, not scored
    (
        "a two-wheeled vehicle with pedals",
        (
            "mountain bike, all-terrain bike, off-roader",
            "bicycle-built-for-two, tandem bicycle, tandem",
            "tricycle, trike, velocipede",
        ),
    ),
    ("a striped horse of the African savanna", ("zebra",)),
    ("a round orange citrus fruit", ("orange",)),
    ("a yellow curved fruit that monkeys eat", ("banana",)),
    ("a slice of baked dough with tomato sauce and melted cheese", ("pizza, pizza pie",)),
    ("a red vehicle that carries firefighters", ("fire engine, fire truck",)),
    ("a large bird that cannot fly and runs fast", ("ostrich, Struthio camelus",)),
    ("a black and white seabird that lives in Antarctica", ("king penguin, Aptenodytes patagonica",)),
    ("a vehicle that launches into space", ("space shuttle", "missile", "projectile, missile")),
    ("a keyboard instrument with black and white keys", ("grand piano, grand", "upright, upright piano")),
    ("a timepiece worn on the wrist", ("digital watch", "analog clock")),
    (
        "a poisonous snake that rattles its tail",
        (
            "diamondback, diamondback rattlesnake, Crotalus adamanteus",
            "sidewinder, horned rattlesnake, Crotalus cerastes",
        ),
    ),
    ("a sea creature with eight arms", ()),  # octopus is not an ImageNet-1k class
    ("a large colourful parrot with a long tail", ("macaw",)),
    ("a yellow school vehicle that carries children", ("school bus",)),
    ("a soft toy bear for children", ("teddy, teddy bear",)),
    ("a boat with sails", ("catamaran", "trimaran", "schooner", "yawl")),
    ("a tiny insect that makes honey", ("bee",)),
    (
        "a green amphibian that jumps and croaks",
        (
            "tree frog, tree-frog",
            "bullfrog, Rana catesbeiana",
            "tailed frog, bell toad, ribbed toad, tailed toad, Ascaphus trui",
        ),
    ),
]


def free_text(classifier: Classifier, mapper: Mapper, probes=None) -> pd.DataFrame:
    """Rank of the intended class when plain-word descriptions are mapped (not class names): free text must map too.

    ``probes``: ``(text, intended classes)`` pairs (or a dict text -> intended classes); the classes of a probe are a
    list of class names, each as :meth:`Classifier.class_index` reads it (the full name, one synonym such as
    "tabby", or an index), or one such name alone. None: the built-in probes of ImageNet classes
    (:data:`FREE_TEXT_PROBES`; those naming no ImageNet-1k class are left out).

    Returns one row per probe: text, the intended class ranked best (``intended_class``), the nearest class, and
    that best rank (0 = top-1).
    (``free_text(mapper, classifier)``, the former order, still works and warns.)

    Raises:
        TypeError: not a classifier and a mapper, probes that are not pairs of a text and classes.
        ValueError: a mapper of another width, no probes, a blank text, a probe naming no class or an unknown one.
    """
    if isinstance(classifier, Mapper) and isinstance(mapper, Classifier):
        warnings.warn(
            "free_text(mapper, classifier) is now free_text(classifier, mapper), as everywhere else",
            DeprecationWarning,
            stacklevel=2,
        )
        classifier, mapper = mapper, classifier
    a_classifier(classifier, "free_text", "its mapper and the probes")
    check_fits(mapper, classifier, "free_text")
    if probes is None:
        pairs = [(text, list(classes)) for text, classes in FREE_TEXT_PROBES if classes]
        whose = [f"class of the built-in probe {text!r} (for other classes pass probes=)" for text, _ in pairs]
    else:
        pairs = _probe_pairs(probes)
        whose = [f"probes[{i}] class" for i in range(len(pairs))]
    targets = [[classifier.class_index(c, what) for c in classes] for (_, classes), what in zip(pairs, whose)]
    names = classifier.class_names
    rows = F.normalize(classifier.head_weight.float(), dim=1)
    vectors = F.normalize(mapper.encode([text for text, _ in pairs]).float().to(rows.device), dim=1)
    scores = vectors @ rows.T
    records = []
    for (text, _), wanted, row in zip(pairs, targets, scores):
        ranks = [int((row >= row[t]).sum()) - 1 for t in wanted]  # ties count against it, as in rank_of_true
        best = min(ranks)
        intended = names[wanted[ranks.index(best)]]
        records.append(
            {"text": text, "intended_class": intended, "nearest_class": names[int(row.argmax())], "rank": best}
        )
    return pd.DataFrame.from_records(records)


def _probe_pairs(probes) -> list[tuple[str, list]]:
    """A user's probes as ``(text, [classes])`` pairs, or an error naming the probe: one string, a list of texts
    without classes, a blank text or no class at all would otherwise fail in Python's words or score nothing."""
    pair = "(text, [intended class names]) pairs, e.g. [('a small cup of dark coffee', ['espresso'])]"
    if isinstance(probes, (str, bytes)):
        raise TypeError(f"probes must be a list of {pair}, got the single string {probes!r}")
    if isinstance(probes, Mapping):
        probes = list(probes.items())
    elif not hasattr(probes, "__iter__"):
        raise TypeError(f"probes must be a list of {pair}, got {type(probes).__name__}")
    items = list(probes)
    if not items:  # an empty list would otherwise mean "the built-in probes"
        raise ValueError("probes is empty: give (text, [intended class names]) pairs, or None for the built-in 22")
    pairs = []
    for i, item in enumerate(items):
        if isinstance(item, (str, bytes)) or not isinstance(item, Sequence) or len(item) != 2:
            raise TypeError(f"probes[{i}] must be a (text, [intended class names]) pair, got {item!r:.80}")
        text, classes = item
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"probes[{i}] has the text {text!r}: each probe needs a non-blank text to map")
        if isinstance(classes, str) or an_index(classes):
            classes = [classes]  # one class, by name or index
        elif isinstance(classes, bytes) or not hasattr(classes, "__iter__"):
            raise TypeError(f"probes[{i}] ({text!r}) must give its classes as a list of class names, got {classes!r}")
        classes = list(classes)
        if not classes:
            raise ValueError(
                f"probes[{i}] ({text!r}) names no class: give the classes it describes, e.g. ['espresso'] (a probe "
                "with no class has no rank to report)"
            )
        pairs.append((text, classes))
    return pairs


def head_agreement(classifier: Classifier, mapper: Mapper, images) -> float:
    """Fraction of images whose top-1 under the mapped-name head (all class names, mapped; the bias kept:
    :func:`mapped_head`) equals the real top-1.
    The mapper must be fitted on this classifier (as for :class:`nlexnb.ZeroShotClassifier`: another width is an
    error, another head of the same width a warning)."""
    a_classifier(classifier, "head_agreement", "its mapper and the images")
    check_fits(mapper, classifier, "head_agreement")
    features = classifier.features(images)
    same = classifier.head(features).argmax(1) == mapped_head(classifier, mapper, features).argmax(1)
    return same.float().mean().item()


def mapped_head(classifier: Classifier, mapper: Mapper, features: torch.Tensor) -> torch.Tensor:
    """Logits [N, K] of the head whose rows are the mapped class names and whose bias is the classifier's own: only
    the rows are replaced, so a map that reproduces them agrees with the real head on every image (a head without
    the bias disagreed wherever the bias decides between the top two classes). ``features`` [N, d] are checked as
    :meth:`Classifier.checked_features` checks them (a tensor of finite floats, the classifier's width)."""
    features = classifier.checked_features(features)
    rows = mapper.encode_labels(list(classifier.class_names)).to(features.device)
    logits = features @ rows.to(features.dtype).T
    return logits if classifier.head_bias is None else logits + classifier.head_bias.to(features)


def _image_of(image) -> str:
    """`` (image 'path')`` for an error about a labelled image that has a path, else ``""``."""
    import os

    return f" (image {str(image)!r})" if isinstance(image, (str, os.PathLike)) else ""


def _label_classes(pairs, classifier: Classifier, why: str) -> list[int]:
    """The class index of each pair's label, read as :meth:`Classifier.class_index` reads a class name (the full name,
    or one synonym in any case: "tabby"); a label it cannot read is a ValueError with the image's path, ``why``
    labels must be class names, and class_index's close matches."""
    found: dict[str, int] = {}
    for image, label in pairs:
        if label not in found:
            try:
                found[label] = classifier.class_index(label, "label")
            except ValueError as exc:
                if re.fullmatch(r"n\d{8}", str(label)):  # an ImageNet synset folder read as a plain ImageFolder
                    raise ValueError(
                        f"Label {label!r}{_image_of(image)} is a WordNet id, as ImageNet's synset folders are named, "
                        "not a class name: load the folder with nlexnb.datasets.imagenet_folder(root), which labels "
                        "each image with its class's name"
                    ) from None
                raise ValueError(f"{in_a_sentence(exc)}{_image_of(image)}. {why}") from None
    return [found[label] for _, label in pairs]


def _require_known_labels(pairs, known: Sequence[str], what: str) -> list:
    """``pairs`` with every true label written as in ``known``: a label that differs from one only by spaces, Unicode
    form or an invisible character ("café" from a macOS folder name, "cat " from a list) is that label, as the
    zero-shot classifier itself reads labels; case still tells labels apart. Any other label is a ValueError naming
    it, its image's path and close matches."""
    import difflib

    allowed = set(known)
    spelled = {spelled_alike(k, False): k for k in known}
    out = []
    for image, label in pairs:
        if label not in allowed:
            same = spelled.get(spelled_alike(label, False))
            if same is None:
                where = _image_of(image)
                close = difflib.get_close_matches(label, list(known), n=3)
                hint = f"; close: {close}" if close else f" {list(known)[:10]}"
                raise ValueError(f"Unknown label {label!r}{where} is not {what}{hint}")
            label = same
        out.append((image, label))
    return out


def labelled_features(
    classifier: Classifier, pairs, progress: bool | None = None, listed_in: str = "the result's .skipped"
) -> tuple[torch.Tensor, list, list[tuple[str, str]]]:
    """Features of labelled images, leaving out the image files that cannot be read: the one loop over labelled data
    of every evaluation here.

    Each image is decoded once. A corrupt, truncated or non-image *file* (:class:`nlexnb.images.UnreadableImageError`)
    is skipped and listed, with one warning for all of them, so a damaged file among thousands does not end the run
    and no result is silently computed on fewer images. Any other bad item (a missing file, None, an array with NaN)
    still raises.

    Args:
        classifier: gives the features.
        pairs: ``(image, label)`` pairs (see :func:`nlexnb.datasets.as_labelled`).
        progress: progress bar over batches (default: for more than a few batches).
        listed_in: where the caller exposes the skipped list, for the warning.

    Returns:
        ``(features [n, d], the n readable pairs, skipped)``, ``skipped`` holding ``(path, reason)`` per file left out.

    Raises:
        ValueError: not one image could be read.
    """
    from .datasets import as_labelled
    from .images import UnreadableImageError, apply_transform, to_pil

    pairs = as_labelled(pairs)  # a folder, pairs or a mistake named (it failed unpacking a bare image)
    size = classifier.batch_size
    show = progress if progress is not None else len(pairs) > 4 * size
    kept, skipped, chunks = [], [], []
    for start in tqdm(range(0, len(pairs), size), disable=not show, desc=f"{classifier.name} forward", unit="batch"):
        batch = []
        for i, (image, label) in enumerate(pairs[start : start + size], start):
            try:
                batch.append(apply_transform(classifier.transform, to_pil(image, f"the image of data[{i}]")))
            except UnreadableImageError as exc:
                skipped.append((exc.path, exc.reason))
                continue
            kept.append((image, label))
        if batch:
            chunks.append(classifier.features(torch.stack(batch), progress=False))
    examples = "; ".join(f"{path!r} ({reason})" for path, reason in skipped[:3]) + ("; ..." if len(skipped) > 3 else "")
    if not kept:
        raise ValueError(
            f"None of the {len(pairs)} image files could be read (corrupt, truncated or not images): {examples}"
        )
    if skipped:
        warn_user(
            f"Skipped {len(skipped)} of {len(pairs)} image files that cannot be read (corrupt, truncated or not "
            f"images); results are on the other {len(kept)}: {examples}. All are listed in {listed_in}"
        )
    return torch.cat(chunks), kept, skipped


def head_replacement(
    classifier: Classifier, mappers: Mapper | dict[str, Mapper], data, labels=None, progress: bool | None = None
) -> pd.DataFrame:
    """Accuracy of the classifier's own head beside heads built from its mapped class names, on labelled images.

    The papers' check that the mapper lands names where the classifier keeps its classes: replace the head's rows by
    the mapped class names (its bias kept: :func:`mapped_head`) and measure top-1/top-5 against the true labels
    (ImageNet val: the real head of a ResNet50 scores 76.13, mapped names 75.80 in the later paper). Agreement is
    the share of images whose top-1 is the real head's. A mapper fitted with ``memorize=True`` (the default)
    reproduces the rows of the names it was fitted on; pass ``fit_mapper(..., memorize=False)`` too to see the map
    alone.

    Args:
        classifier: the classifier; the true labels must be its class names, each as
            :meth:`Classifier.class_index` reads it (the full name or one synonym: "tabby"; see
            :func:`nlexnb.datasets.imagenet_folder` for ImageNet's synset folders).
        mappers: one mapper (the row "mapped class names"), or a dict name -> mapper for several rows; each fitted
            on this classifier (another width is an error, another head of the same width a warning).
        data: ``(image, class name)`` pairs or an ImageFolder directory.
        labels: for a directory, how folder names become class names (see :func:`nlexnb.datasets.image_folder`).

    Returns:
        DataFrame with one row per head ("real head", then each mapper): head, top1, top5, agreement, n.
        ``df.attrs["skipped"]`` lists the unreadable image files left out, as ``(path, reason)`` (see
        :func:`labelled_features`).

    Raises:
        TypeError: not a classifier first, or mappers that are neither a mapper nor a dict of them.
        ValueError: a true label that is not one of the classifier's class names (named, with close matches), a
            mapper of another width, or no readable image.
    """
    a_classifier(classifier, "head_replacement", "its mapper(s) and the labelled images")
    named = _named_mappers(mappers, classifier, "head_replacement", "mapped class names", "real head")
    pairs = _labelled(data, labels)
    why = f"Head replacement scores {classifier.name}'s own classes: a label that is not a class name cannot be judged"
    _label_classes(pairs, classifier, why)
    features, pairs, skipped = labelled_features(classifier, pairs, progress, "table.attrs['skipped']")
    truth = torch.zeros(len(pairs), classifier.num_classes, dtype=torch.bool)
    right = torch.tensor(_label_classes(pairs, classifier, why), dtype=torch.long)
    truth[torch.arange(len(pairs)), right] = True
    heads = {"real head": classifier.head(features)}
    for name, mapper in named.items():
        heads[name] = mapped_head(classifier, mapper, features)
    table = _heads_table(heads, truth)
    table.attrs["skipped"] = skipped
    return table


def _named_mappers(mappers, classifier: Classifier, who: str, one: str, taken: str) -> dict:
    """``mappers`` as name -> mapper, each checked to fit ``classifier``: one mapper is ``{one: mapper}``; a list
    (its rows would have no names) or anything else is a TypeError, a name equal to ``taken`` (the baseline's row)
    a ValueError."""
    if is_mapper(mappers):
        mappers = {one: mappers}
    if not isinstance(mappers, Mapping):
        raise TypeError(
            f"mappers must be a mapper or a dict name -> mapper (e.g. {{'kernel': mapper, 'ridge': ridge}}), got "
            f"{type(mappers).__name__}"
        )
    if not mappers:
        raise ValueError(f"{who} needs at least one mapper (a mapper, or a dict name -> mapper)")
    if taken in mappers:
        raise ValueError(f"mappers: {taken!r} is the name of the baseline's row; give the mapper another name")
    for name, mapper in mappers.items():
        check_fits(mapper, classifier, f"{who} (mapper {name!r})")
    return dict(mappers)


def _heads_table(heads: dict[str, torch.Tensor], truth: torch.Tensor) -> pd.DataFrame:
    """One row per head (name -> logits [N, K]): top-1 and top-5 against ``truth`` ([N, K] bool, the classes right
    for each image), and top-1 agreement with the first head."""
    reference = next(iter(heads.values())).argmax(1).cpu()
    rows = []
    for name, logits in heads.items():
        top5 = logits.topk(min(5, logits.shape[1]), dim=1).indices.cpu()
        hits = truth.gather(1, top5)
        rows.append(
            {
                "head": name,
                "top1": float(hits[:, 0].float().mean()),
                "top5": float(hits.any(1).float().mean()),
                "agreement": float((top5[:, 0] == reference).float().mean()),
                "n": len(truth),
            }
        )
    return pd.DataFrame(rows)


def bottleneck_accuracy(
    cbm,
    data,
    labels=None,
    *,
    correct: Mapping[str, Sequence[str]] | None = None,
    progress: bool | None = None,
    features: torch.Tensor | None = None,
) -> pd.DataFrame:
    """Accuracy of the classifier's own head beside its concept bottleneck on labelled images, and their agreement.

    The user-side check of a :class:`nlexnb.bottleneck.ConceptBottleneck` on ImageNet: with the validation images sorted
    into synset folders, ``bottleneck_accuracy(cbm, datasets.imagenet_folder(val_dir))``. Both heads are scored on the
    same features (one forward pass).

    Args:
        cbm: the bottleneck (its space's classifier gives the features).
        data: ``(image, label)`` pairs or an ImageFolder directory.
        labels: for a directory, how folder names become labels (see :func:`nlexnb.datasets.image_folder`).
        correct: for coarse labels, a dict label -> the class names that are right for it (e.g.
            :func:`nlexnb.datasets.label_classes`), each as :meth:`Classifier.class_index` reads it (full name or one
            synonym: "tabby"), a single name standing for a list of one; an empty list means no class is right for
            the label (a coin: every prediction for it counts as wrong, as ``label_classes`` says for coins and
            planets). Images whose label has no entry are not judged (left out and counted). Default: the labels
            must be the classifier's class names (or synonyms of them).
        progress: progress bar over batches (default: for more than a few batches).
        features: the images' features [N, d] in the order of ``data``, when already computed (no image is read).

    Returns:
        DataFrame, one row per head (``"original head"``, then ``"bottleneck (n concepts per class)"``): head, top1,
        top5, agreement (with the original head's top-1), n. ``attrs["skipped"]``: unreadable files left out, as
        ``(path, reason)``; ``attrs["not_judged"]``: how many images had a label without an entry in ``correct``.

    Raises:
        TypeError: not a bottleneck first, or ``correct`` that is not a dict of class names.
        ValueError: a label that is not a class name (without ``correct``), a class name in ``correct`` the classifier
            does not have (both named, with close matches), no image to judge, or no readable image.
    """
    from .bottleneck import ConceptBottleneck

    if not isinstance(cbm, ConceptBottleneck):
        raise TypeError(
            "bottleneck_accuracy takes a ConceptBottleneck first (nlexnb.bottleneck.concept_bottleneck(classifier, "
            f"mapper)), then the labelled images; got {type(cbm).__name__}"
        )
    classifier = cbm.space.classifier
    names = classifier.class_names
    pairs = _labelled(data, labels)
    if correct is None:
        why = f"A label that is not a class name of {classifier.name} needs correct=, e.g. datasets.label_classes(...)"
        right = {label: [k] for label, k in zip((label for _, label in pairs), _label_classes(pairs, classifier, why))}
    else:
        right = _right_classes(correct, classifier)
        warn_unmatched_keys(right, [label for _, label in pairs], "bottleneck_accuracy")
    keep = [label in right for _, label in pairs]
    judged = [pair for pair, kept in zip(pairs, keep) if kept]
    if not judged:
        raise ValueError(f"No image has a label that correct= judges: labels {sorted({lb for _, lb in pairs})[:10]}")
    not_judged = len(pairs) - len(judged)
    if features is None:
        features, judged, skipped = labelled_features(classifier, judged, progress, "table.attrs['skipped']")
    else:
        features = classifier.checked_features(features, rows=len(pairs))
        features, skipped = features[torch.tensor(keep, device=features.device)], []
    truth = torch.zeros(len(judged), len(names), dtype=torch.bool)
    for row, (_, label) in enumerate(judged):
        truth[row, right[label]] = True
    with torch.inference_mode():
        heads = {
            "original head": classifier.head(features),
            f"bottleneck ({cbm.n_concepts} concepts per class)": cbm.logits_from_features(features),
        }
    table = _heads_table(heads, truth)
    table.attrs["skipped"] = skipped
    table.attrs["not_judged"] = not_judged
    return table


def _right_classes(correct, classifier: Classifier) -> dict[str, list[int]]:
    """``correct=`` as label -> the indices of the classes right for it: a dict whose values are class names (read by
    :meth:`Classifier.class_index`) or lists of them; one string is one name, never its characters."""
    if not isinstance(correct, Mapping):
        raise TypeError(
            "correct must be a dict label -> the class names right for it (e.g. datasets.label_classes('stamps'), "
            f"or {{'cat': ['tabby', 'tiger cat']}}), got {type(correct).__name__} {correct!r:.80}"
        )
    right = {}
    for label, classes in correct.items():
        if not isinstance(label, str):
            raise TypeError(f"the keys of correct must be labels (str), got {label!r}")
        if isinstance(classes, str) or an_index(classes):
            classes = [classes]
        elif isinstance(classes, bytes) or not hasattr(classes, "__iter__"):
            raise TypeError(
                f"correct[{label!r}] must be a class name or a list of the class names right for it, got {classes!r}"
            )
        right[label] = [classifier.class_index(c, f"correct[{label!r}] class") for c in classes]
    return right


def zero_shot(zs, data, labels=None, progress: bool | None = None, features: torch.Tensor | None = None):
    """Evaluate a :class:`nlexnb.ZeroShotClassifier` on labelled images.

    Args:
        zs: the zero-shot classifier; every true label must be one of ``zs.labels``.
        data: an ImageFolder-style directory (``root/<label>/<image>``) or a list of ``(image, label)`` pairs.
        labels: for a directory, how folder names become labels (see :func:`nlexnb.datasets.image_folder`).
        progress: show a progress bar over batches (default: for more than a few batches).
        features: the images' pre-logits features [N, d] in the order of ``data``, when already computed (several
            heads scored on one forward pass).

    Returns:
        :class:`nlexnb.zeroshot.ZeroShotEvaluation` with ``accuracy``, ``per_class``, ``confusion``, ``predictions``,
        ``plot()`` (the confusion matrix) and ``skipped``: the image files that could not be read (corrupt,
        truncated, not images), as ``(path, reason)``, left out with one warning (see :func:`labelled_features`).

    Raises:
        TypeError: not a ZeroShotClassifier first.
        ValueError: empty data, no images in a folder, no readable image, a true label that is not one of the
            classifier's labels (named, with the image's path when it has one), or features of another length.
    """
    from .zeroshot import ZeroShotClassifier, ZeroShotEvaluation

    if not isinstance(zs, ZeroShotClassifier):
        raise TypeError(
            "zero_shot takes a ZeroShotClassifier first (nlexnb.ZeroShotClassifier(classifier, mapper, labels)), then "
            f"the labelled images; got {type(zs).__name__}"
        )
    pairs = _require_known_labels(_labelled(data, labels), zs.labels, "one of the zero-shot labels")
    skipped: list[tuple[str, str]] = []
    if features is None:
        features, pairs, skipped = labelled_features(zs.classifier, pairs, progress, "the evaluation's .skipped")
    else:
        features = zs.classifier.checked_features(features, rows=len(pairs))
    top = zs.logits_from_features(features).softmax(-1).max(1)
    names = zs.labels  # a copy each time it is read: read once
    predicted = [names[i] for i in top.indices.tolist()]
    truth = [label for _, label in pairs]
    return ZeroShotEvaluation(truth, predicted, top.values.tolist(), names, skipped)


def compare_zero_shot(
    classifier: Classifier,
    mappers: Mapper | dict[str, Mapper],
    data,
    labels=None,
    progress: bool | None = None,
    features: torch.Tensor | None = None,
) -> pd.DataFrame:
    """Zero-shot accuracy of several mappers on the same labelled images, beside the no-mapper baseline, with the
    first mapper's lead over each of the others (paired bootstrap interval).

    Every mapper builds a head over the set's labels; the baseline takes the classifier's own top-1 class name and
    picks the nearest label in text space (the first mapper's encoder). One forward pass serves them all.

    Args:
        classifier: gives the features.
        mappers: name -> mapper, the first being the one compared with the rest (e.g. the default, then ridge); or
            one mapper (the row "mapper", compared with the baseline alone). Each fitted on this classifier.
        data, labels, progress: as for :func:`zero_shot`.
        features: the images' features, when already computed.

    Returns:
        DataFrame, one row per method (the mappers, then :data:`TOP1_NAME`): method, accuracy, balanced accuracy
        (mean over labels), and difference, low, high (first method minus this one; empty for the first).
        ``df.attrs["correct"]`` holds each method's per-image hits, ``df.attrs["skipped"]`` the unreadable image
        files left out (see :func:`labelled_features`).

    Raises:
        ValueError: data of fewer than 2 labels (every method would be right on every image), or two labels that
            differ only by case ('cat' and 'Cat': a head takes them as one), both named as the data writes them.
    """
    from .zeroshot import ZeroShotClassifier, top1_name_baseline

    a_classifier(classifier, "compare_zero_shot", "a dict name -> mapper and the labelled images")
    mappers = _named_mappers(mappers, classifier, "compare_zero_shot", "mapper", TOP1_NAME)
    pairs = _labelled(data, labels)
    names = _head_labels(pairs, classifier.class_names)  # before skipping: an unreadable file never changes the heads
    pairs = _require_known_labels(pairs, names, "a label of the heads")  # "cat " is "cat" to every method alike
    skipped: list[tuple[str, str]] = []
    if features is None:
        features, pairs, skipped = labelled_features(classifier, pairs, progress, "table.attrs['skipped']")
    truth = [label for _, label in pairs]
    correct = {}
    for name, mapper in mappers.items():
        with warnings.catch_warnings():  # _named_mappers has warned of a mapper fitted on another head, once
            warnings.filterwarnings("ignore", category=MapperMismatchWarning)
            zs = ZeroShotClassifier(classifier, mapper, names)
        predicted = zero_shot(zs, pairs, features=features).predictions
        correct[name] = (predicted["true"] == predicted["predicted"]).tolist()
    first = next(iter(mappers.values()))
    baseline = top1_name_baseline(classifier, first.text_encoder, names, features)
    correct[TOP1_NAME] = [p == t for p, t in zip(baseline, truth)]
    rows = []
    for method, hits in correct.items():
        per_label = pd.Series(hits, dtype=float).groupby(truth).mean()
        row = {"method": method, "accuracy": sum(hits) / len(hits), "balanced accuracy": float(per_label.mean())}
        if rows:
            row.update(paired_difference(next(iter(correct.values())), hits))
        rows.append(row)
    table = pd.DataFrame(rows)
    table.attrs["correct"] = correct
    table.attrs["skipped"] = skipped
    return table


def _head_labels(pairs, class_names: Sequence[str]) -> list[str]:
    """The labels of labelled data as the heads of :func:`compare_zero_shot` take them: sorted, each as
    :func:`nlexnb.zeroshot.check_labels` writes it ("cat " is "cat"). Refused with a ValueError: fewer than 2 labels
    (every method answers the one label, and every accuracy reads 1.0), and two labels that differ only by case,
    both named as the data writes them (the head's own check named one of them, at its place among the sorted
    labels, and said to drop it from a list the user never wrote)."""
    from .zeroshot import check_labels

    first: dict[str, int] = {}
    for i, (_, label) in enumerate(pairs):
        first.setdefault(label, i)
    given = sorted(first)
    if len(given) < 2:
        raise ValueError(
            f"compare_zero_shot needs images of at least 2 labels, got only {given[0]!r}: with one label every method "
            "answers it for every image, and every accuracy reads 1.0"
        )
    seen: dict[str, str] = {}
    for label in given:
        twin = seen.setdefault(spelled_alike(label), label)
        if twin != label:
            a, b = sorted((twin, label), key=first.__getitem__)  # in the data's order
            raise ValueError(
                f"data holds the labels {a!r} ({_place(pairs, first[a])}) and {b!r} ({_place(pairs, first[b])}), "
                "which differ only by case: a zero-shot head takes them as one label, and its images would split "
                "between the two; relabel the data so that each label is written one way"
            )
    return check_labels(given, class_names)


def _place(pairs, i: int) -> str:
    """Where the labelled image ``pairs[i]`` is, for an error: its file (from a folder, or a path given), or
    ``data[i]``."""
    import os

    image = pairs[i][0]
    return f"image {str(image)!r}" if isinstance(image, (str, os.PathLike)) else f"data[{i}]"


def _labelled(data, labels=None) -> list:
    """``data`` as ``(image, label)`` pairs (:func:`nlexnb.datasets.as_labelled`); one pair not in a list, which was
    read as a list of two items ("data[0] must be an (image, label) pair, got Image"), is refused saying so."""
    from .datasets import as_labelled

    one = isinstance(data, tuple) and len(data) == 2 and isinstance(data[1], str)
    if one and not isinstance(data[0], (tuple, list)):
        raise ValueError(
            f"data is one (image, label) pair, not a list of them: wrap it in a list, [(image, {data[1]!r})]"
        )
    return as_labelled(data, labels)


def paired_difference(
    correct: Sequence[bool], baseline_correct: Sequence[bool], resamples: int = 2000, level: float = 0.95, seed: int = 0
) -> dict[str, float]:
    """Accuracy difference of two methods on the same items, with a paired bootstrap interval.

    Items are resampled with replacement (the same draw for both methods), so the interval reflects how much the
    difference depends on which images happen to be in the set. An interval above 0 says the first method is ahead
    on this kind of data, not just on these images.

    Args:
        correct: per item, whether the method was right.
        baseline_correct: per item, whether the baseline was right (same items, same order).
        resamples: bootstrap draws.
        level: the interval's coverage.
        seed: for the draws.

    Returns:
        ``{"difference", "low", "high"}`` (accuracy of the method minus the baseline's).
    """
    a = torch.as_tensor(_hits(correct, "correct"), dtype=torch.float64)
    b = torch.as_tensor(_hits(baseline_correct, "baseline_correct"), dtype=torch.float64)
    if a.ndim != 1 or a.shape != b.shape or len(a) == 0:
        raise ValueError(
            f"correct and baseline_correct must be two non-empty lists of the same length, got {len(a)} and {len(b)}"
        )
    for name, values in (("correct", a), ("baseline_correct", b)):
        if not bool(((values == 0) | (values == 1)).all()):  # counts or scores would make a "difference" above 1
            odd = sorted({float(v) for v in values[(values != 0) & (values != 1)].tolist()})[:3]
            raise ValueError(f"{name} must hold True/False (or 1/0) per item, got values such as {odd}")
    level = number(level, "level", 0, 1, open_low=True, open_high=True, what="a confidence level", note="e.g. 0.95")
    resamples = positive_int(resamples, "resamples", "bootstrap draws")
    draws = torch.randint(len(a), (resamples, len(a)), generator=torch.Generator().manual_seed(a_seed(seed)))
    diffs = (a[draws] - b[draws]).mean(1)
    tail = (1 - level) / 2
    return {
        "difference": float((a - b).mean()),
        "low": float(diffs.quantile(tail)),
        "high": float(diffs.quantile(1 - tail)),
    }


def _hits(values, name: str) -> list[float]:
    """Per-item right-or-wrong as floats: True/False (Python, numpy or a tensor of them) or numbers; a string ("True"
    and "False" alike would count as right) or another object is a TypeError naming the item."""
    import numpy as np

    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise TypeError(f"{name} must be a list of True/False (or 1/0) per item, got {type(values).__name__}")
    items = values.tolist() if isinstance(values, (torch.Tensor, np.ndarray)) else list(values)
    for i, value in enumerate(items):
        if not isinstance(value, (bool, int, float, np.bool_, np.integer, np.floating)):
            raise TypeError(f"{name}[{i}] is {type(value).__name__} {value!r:.40}, not True/False (or 1/0)")
    return [float(v) for v in items]
