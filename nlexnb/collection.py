"""Explain a whole collection of images in one call, streamed to a Parquet file that survives interruption.

:func:`explain_collection` reads a folder, a list of images, a labelled set (``(path, label)`` pairs, as
:mod:`nlexnb.datasets` returns) or a torch ``Dataset`` through a ``DataLoader`` (decoding in worker processes), runs the
classifier and the concept selection a batch at a time on the classifier's device, and appends one row per image to a
Parquet file with pyarrow: nothing is accumulated, so memory does not grow with the collection.

**Same answers as one image at a time.** The default greedy selection is computed for the whole batch at once
(candidates, shortlist and Gram-Schmidt greedy as ``[B, S, d]`` tensors; a few host synchronisations per batch, none
per image) and gives the concepts and contributions :meth:`nlexnb.Explainer.explain` gives for each image (tests check
it to 1e-5). Another selection method (``Explainer(selector="nonnegative")`` or your own) runs per image through
:meth:`nlexnb.Explainer.select`; the rest of the batch stays batched.

**Safe to interrupt.** Rows go to part files in ``<out>.partial/``, each written under a temporary name and renamed into
place (an error or Ctrl-C keeps every finished batch; a killed process loses at most ``checkpoint_every`` images). The
final file appears, by an atomic rename, only when every image is done; running the same call again resumes where it
stopped (images whose id is already written are not read again). The file records which classifier, mapper, bank and
settings wrote it, and a run with different ones is refused rather than mixed in; a lock file lets one run at a time
write it.

**Bad images do not stop a run.** An unreadable, truncated or non-image file is skipped and listed, with the reason, in
``<out stem>.errors.parquet`` (:func:`read_errors`); :func:`read_explanations` reads the rows back as a DataFrame.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import json
import os
import shutil
import socket
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from PIL import Image

from ._checks import positive_int
from .datasets import IMAGE_EXTENSIONS, image_files
from .explain import Explainer
from .images import ImageLike, to_pil
from .selection import GreedySelector

__all__ = [
    "explain_collection",
    "read_explanations",
    "read_errors",
    "remove_explanations",
    "CollectionRun",
    "ENGINES",
    "errors_path",
]

FORMAT = 1
"""Version of the file layout below; part of every file's identity."""

ENGINES: dict[str, str] = {
    "local": "this process: a DataLoader decodes in workers, the classifier's device explains batch by batch",
    "ray": "Ray Data: an actor pool holds one explainer per CPU or GPU slot, on one machine or a cluster "
    "(pip install nlexnb[ray])",
}
"""Ways to run :func:`explain_collection`, by name."""

COLUMNS: dict[str, str] = {
    "id": "position of the image in the collection (int); the key a resumed run skips by",
    "path": "the image's file, or null for an in-memory image",
    "label": "the collection's label for it, or null",
    "predicted": "the class explained: the predicted class index",
    "predicted_name": "its name",
    "probability": "the classifier's softmax probability of it",
    "concepts": "the named concepts, most important first (list<str>)",
    "contributions": "what each adds to the drop of the explained quantity when its direction joins the span (list)",
    "shares": "contribution / explained (list)",
    "total": "the closed-form drop when all named directions are removed (sum of the contributions)",
    "measured": "the same drop measured by re-running the head on the ablated features",
    "explained": "the quantity explained: the predicted logit, or logit - foil logit with a foil",
}
"""The columns of an explanations file, in order, with what each holds."""

_META_IDENTITY = b"nlexnb.identity"
_META_INFO = b"nlexnb.info"

# what reading or decoding one image may raise when the image (not the code) is at fault
_IMAGE_ERRORS = (OSError, ValueError, SyntaxError, Image.DecompressionBombError)


# ---- Arrow schemas (pyarrow is imported when first used) -------------------------------------------------------------
def _pa():
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as exc:  # pragma: no cover - pyarrow is a dependency
        raise ImportError("explain_collection writes Parquet with pyarrow: pip install 'pyarrow>=14'") from exc
    return pa, pq


def _row_schema():
    pa, _ = _pa()
    return pa.schema(
        [
            ("id", pa.int64()),
            ("path", pa.string()),
            ("label", pa.string()),
            ("predicted", pa.int64()),
            ("predicted_name", pa.string()),
            ("probability", pa.float64()),
            ("concepts", pa.list_(pa.string())),
            ("contributions", pa.list_(pa.float64())),
            ("shares", pa.list_(pa.float64())),
            ("total", pa.float64()),
            ("measured", pa.float64()),
            ("explained", pa.float64()),
        ]
    )


def _error_schema():
    pa, _ = _pa()
    return pa.schema([("id", pa.int64()), ("path", pa.string()), ("label", pa.string()), ("reason", pa.string())])


# ---- where things are written ----------------------------------------------------------------------------------------
def errors_path(out: str | os.PathLike) -> Path:
    """The errors file beside an explanations file: ``x.parquet`` -> ``x.errors.parquet``."""
    out = Path(out)
    stem = out.stem if out.suffix == ".parquet" else out.name
    return out.with_name(f"{stem}.errors.parquet")


def _partial_dir(out: Path) -> Path:
    return out.with_name(out.name + ".partial")


def remove_explanations(out: str | os.PathLike) -> None:
    """Remove an explanations file, its errors file and the parts of an unfinished run written to ``out`` (nothing
    else), so that the next :func:`explain_collection` starts afresh."""
    out = Path(out)
    for file in (out, errors_path(out)):
        file.unlink(missing_ok=True)
    shutil.rmtree(_partial_dir(out), ignore_errors=True)


# ---- the result of a run ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CollectionRun:
    """What one :func:`explain_collection` call did.

    Attributes:
        path: the explanations file (:func:`read_explanations`). errors_path: the skipped images (:func:`read_errors`).
        images: how many images the collection holds (None for an iterable dataset without a length).
        rows: explanations in the file. written: explained by this call. resumed: already there before it.
        errors: images skipped (unreadable, or predicted as the foil), listed in ``errors_path``.
        seconds: wall time of this call.
    """

    path: Path
    errors_path: Path
    images: int | None
    rows: int
    written: int
    resumed: int
    errors: int
    seconds: float

    def read(self) -> pd.DataFrame:
        """The explanations as a DataFrame (:func:`read_explanations`)."""
        return read_explanations(self.path)

    def read_errors(self) -> pd.DataFrame:
        """The skipped images with their reasons (:func:`read_errors`)."""
        return read_errors(self.path)

    def __repr__(self) -> str:
        return (
            f"CollectionRun({str(self.path)!r}: {self.rows} explanations, {self.written} new, {self.resumed} resumed, "
            f"{self.errors} skipped, {self.seconds:.1f} s)"
        )


# ---- the collection, as a DataLoader source --------------------------------------------------------------------------
def _reason(exc: BaseException) -> str:
    from .images import UnreadableImageError

    return str(exc) if isinstance(exc, UnreadableImageError) else f"{type(exc).__name__}: {exc}"


def _prepare(image: Any, transform, name: str) -> torch.Tensor:
    """One image -> the classifier's input [3, H, W]; a float tensor [3, H, W] is taken as already preprocessed."""
    if isinstance(image, torch.Tensor) and image.is_floating_point():
        if image.ndim != 3:
            raise TypeError(
                f"{name} is a float tensor of shape {tuple(image.shape)}: a preprocessed image must be [3, H, W] "
                "(or give a uint8 image, a PIL image, an array or a path)"
            )
        return image
    return transform(to_pil(image, name))


def _label_text(label: Any, classes: Sequence[str] | None, name: str) -> str | None:
    if label is None or isinstance(label, str):
        return label
    if isinstance(label, torch.Tensor) and label.numel() == 1:
        label = label.item()
    if isinstance(label, (int, np.integer)) and not isinstance(label, bool):
        return str(classes[int(label)]) if classes is not None else str(int(label))
    raise TypeError(f"{name} has label {label!r}: a label must be a string, a class index or None")


def _path_text(image: Any) -> str | None:
    return os.fspath(image) if isinstance(image, (str, os.PathLike)) else None


class _ListItems(torch.utils.data.Dataset):
    """A folder's files, a list of images or ``(image, label)`` pairs: item ``i`` -> (id, tensor or None, path, label,
    reason)."""

    def __init__(self, items: Sequence[Any], labels: Sequence[str | None] | None, transform) -> None:
        self.items, self.labels, self.transform = items, labels, transform

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int):
        image = self.items[i]
        path, label = _path_text(image), None if self.labels is None else self.labels[i]
        try:
            return (i, _prepare(image, self.transform, f"images[{i}]"), path, label, None)
        except _IMAGE_ERRORS as exc:
            return (i, None, path, label, _reason(exc))


def _dataset_paths(ds) -> list[str] | None:
    """File paths of a torchvision ``DatasetFolder`` / ``ImageFolder`` (``samples``), else None."""
    samples = getattr(ds, "samples", None) or getattr(ds, "imgs", None)
    if isinstance(samples, list) and len(samples) == len(ds) and all(isinstance(s, tuple) for s in samples[:1]):
        return [os.fspath(s[0]) for s in samples]
    return None


def _unpack(raw: Any) -> tuple[Any, Any]:
    """A dataset item -> (image, label): an image, an ``(image, label, ...)`` tuple, or a dict with "image"."""
    if isinstance(raw, Mapping):
        if "image" not in raw:
            raise TypeError(f"A dataset item that is a dict needs an 'image' key (and optionally 'label'): {list(raw)}")
        return raw["image"], raw.get("label")
    if isinstance(raw, (tuple, list)):
        if not raw:
            raise TypeError("A dataset item is an empty tuple: give an image, or (image, label)")
        return raw[0], raw[1] if len(raw) > 1 else None
    return raw, None


def _dataset_item(i: int, ds, transform, classes, paths) -> tuple:
    path = None if paths is None else paths[i]
    try:
        image, label = _unpack(ds[i])
    except _IMAGE_ERRORS as exc:  # the dataset's own loader failed on this file (torchvision's ImageFolder does)
        return (i, None, path, None, _reason(exc))
    label = _label_text(label, classes, f"images[{i}]")
    path = _path_text(image) or path
    try:
        return (i, _prepare(image, transform, f"images[{i}]"), path, label, None)
    except _IMAGE_ERRORS as exc:
        return (i, None, path, label, _reason(exc))


class _DatasetItems(torch.utils.data.Dataset):
    """A user's map-style Dataset, item by item (its images may be paths, PIL images, arrays or tensors)."""

    def __init__(self, ds, transform) -> None:
        self.ds, self.transform = ds, transform
        self.classes = getattr(ds, "classes", None)
        self.paths = _dataset_paths(ds)

    def __len__(self) -> int:
        return len(self.ds)

    def __getitem__(self, i: int):
        return _dataset_item(i, self.ds, self.transform, self.classes, self.paths)


class _IterableItems(torch.utils.data.IterableDataset):
    """A user's IterableDataset, numbered in the order it yields (ids already written are skipped)."""

    def __init__(self, ds, transform, done: np.ndarray) -> None:
        self.ds, self.transform, self.done = ds, transform, done
        self.classes = getattr(ds, "classes", None)

    def __iter__(self) -> Iterator[tuple]:
        for i, raw in enumerate(self.ds):
            if i < len(self.done) and self.done[i]:
                continue
            yield _dataset_item(i, _One(raw), self.transform, self.classes, None)


class _One:
    """Makes one yielded item look like ``ds[i]`` for :func:`_dataset_item`."""

    def __init__(self, raw: Any) -> None:
        self.raw = raw

    def __getitem__(self, i: int) -> Any:
        return self.raw


@dataclass
class _Batch:
    ids: list[int]
    x: torch.Tensor | None
    paths: list[str | None]
    labels: list[str | None]
    errors: list[tuple[int, str | None, str | None, str]]
    size: int


def _collate(items: list[tuple]) -> _Batch:
    good = [it for it in items if it[1] is not None]
    errors = [(it[0], it[2], it[3], it[4]) for it in items if it[1] is None]
    x = None
    if good:
        shapes = {tuple(it[1].shape) for it in good}
        if len(shapes) > 1:
            raise ValueError(
                f"Images {[it[0] for it in good][:5]} have different shapes after preprocessing ({sorted(shapes)[:3]}):"
                " a Dataset must return images of one size; return PIL images or paths (the classifier's transform "
                "is applied), or apply explainer.classifier.transform yourself"
            )
        x = torch.stack([it[1] for it in good])
    return _Batch([it[0] for it in good], x, [it[2] for it in good], [it[3] for it in good], errors, len(items))


class _Positions(torch.utils.data.Sampler):
    """The ids still to explain, in order, as Python ints."""

    def __init__(self, positions: np.ndarray) -> None:
        self.positions = positions

    def __iter__(self) -> Iterator[int]:
        return (int(i) for i in self.positions)

    def __len__(self) -> int:
        return len(self.positions)


@dataclass
class _Source:
    dataset: torch.utils.data.Dataset | None  # None for an iterable dataset (built once the ids done are known)
    size: int | None
    paths: list[str | None] | None  # known before reading any image: checked against a resumed file
    iterable: Any = None
    transform: Any = None


def _as_source(images: Any, transform, num_workers: int) -> _Source:
    """A folder, a list of images or of ``(image, label)`` pairs, or a torch Dataset -> a :class:`_Source`."""
    if isinstance(images, (str, os.PathLike)):
        folder = Path(images)
        if not folder.exists():
            raise FileNotFoundError(f"images: folder not found: {str(folder)!r}")
        if not folder.is_dir():
            raise ValueError(
                f"images is one file ({str(folder)!r}); pass a folder, a list of paths or a Dataset "
                "(for one image use Explainer.explain)"
            )
        found, others = image_files(folder)
        if not found:
            raise ValueError(
                f"images: no image files in {str(folder)!r} or below (extensions {', '.join(IMAGE_EXTENSIONS)})"
            )
        if others:
            warnings.warn(
                f"images: left out {len(others)} file(s) that are not images by extension, e.g. {str(others[0])!r}",
                stacklevel=3,
            )
        paths = [str(p) for p in found]
        return _Source(_ListItems(paths, None, transform), len(paths), paths)
    if isinstance(images, torch.utils.data.IterableDataset):
        if num_workers:
            raise ValueError(
                "num_workers must be 0 for an IterableDataset: its items are numbered in the order it yields them, "
                "which worker processes would change (use a map-style Dataset to decode in workers)"
            )
        size = len(images) if hasattr(images, "__len__") else None
        return _Source(None, size, None, iterable=images, transform=transform)
    if isinstance(images, torch.utils.data.Dataset):
        try:
            size = len(images)
        except TypeError:
            raise TypeError("images: a map-style Dataset must have a length (define __len__)") from None
        if size == 0:
            raise ValueError("images is an empty Dataset: give at least one image")
        items = _DatasetItems(images, transform)
        return _Source(items, size, items.paths)
    if isinstance(images, (list, tuple)):
        if not images:
            raise ValueError("images is an empty list: give at least one image (or a folder, or a Dataset)")
        pairs = [isinstance(it, (tuple, list)) and len(it) == 2 and not _is_image(it) for it in images]
        if any(pairs) and not all(pairs):
            i = pairs.index(not pairs[0])
            raise TypeError(
                f"images mixes (image, label) pairs and bare images (images[0] is {'a pair' if pairs[0] else 'not'}, "
                f"images[{i}] is {'a pair' if pairs[i] else 'not'}): give one kind"
            )
        labelled = all(pairs)
        items = [it[0] for it in images] if labelled else list(images)
        labels = None
        if labelled:
            labels = []
            for i, (_, label) in enumerate(images):
                if not isinstance(label, str) or not label.strip():
                    raise ValueError(f"images[{i}] has label {label!r}: labels must be non-empty strings")
                labels.append(label)
        for i, item in enumerate(items):
            if not _is_image(item):
                raise TypeError(
                    f"images[{i}] is a {type(item).__name__}: each image must be a path, a PIL image, a numpy array "
                    "or a uint8 tensor [3, H, W] (or a float tensor [3, H, W] already preprocessed)"
                )
        return _Source(_ListItems(items, labels, transform), len(items), [_path_text(it) for it in items])
    if isinstance(images, Iterator):
        raise TypeError(
            "images is an iterator: it cannot be resumed. Pass a list (list(images)), a folder or a torch Dataset"
        )
    raise TypeError(
        f"images must be a folder, a list of images or of (image, label) pairs, or a torch Dataset; got "
        f"{type(images).__name__}"
    )


def _is_image(item: Any) -> bool:
    return isinstance(item, (str, os.PathLike, Image.Image, np.ndarray, torch.Tensor))


# ---- the batched explanation -----------------------------------------------------------------------------------------
class _BatchExplainer:
    """Explains a batch of preprocessed images at once, exactly as :meth:`Explainer.explain` does one by one."""

    def __init__(self, explainer: Explainer, k: int, foil: int | None) -> None:
        self.explainer, self.k, self.foil = explainer, k, foil
        space = explainer.space
        self.space, self.clf = space, space.classifier
        self.directions = space.directions
        self.device = self.directions.device
        t = len(space)
        self.size = max(explainer.shortlist, k)
        self.first = min(max(4 * self.size, self.size + 64), t)  # Explainer.candidates looks at this many, then filters
        self.batched = type(explainer.selector) is GreedySelector
        # per class seen: which concepts name it or echo it (the per-class filters of Explainer.candidates), one row
        # each in ``table``; ``slot[c]`` is class c's row (-1 until seen). Grows with the classes, not [K, T] upfront
        self.slot = torch.full((self.clf.num_classes,), -1, dtype=torch.long, device=self.device)
        self.table = torch.zeros(0, t, dtype=torch.bool, device=self.device)
        self.known: dict[int, int] = {}
        pa, _ = _pa()
        self.texts, self.names = pa.array(space.texts), pa.array(self.clf.class_names)

    def _block(self, classes: list[int]) -> None:
        new = [c for c in dict.fromkeys(classes) if c not in self.known]
        if not new:
            return
        everything = range(len(self.space))
        rows = []
        for c in new:
            row = torch.tensor(self.space.mentions(everything, [c]), dtype=torch.bool, device=self.device)
            if self.explainer.echo_margin is not None:
                row |= self.explainer.echoes(everything, c).to(self.device)
            rows.append(row)
            self.known[c] = len(self.known)
        self.table = torch.cat([self.table, torch.stack(rows)])
        self.slot[torch.tensor(new, device=self.device)] = torch.tensor(
            [self.known[c] for c in new], device=self.device
        )

    def blocked(self, classes: torch.Tensor) -> torch.Tensor:
        """[B, T]: the concepts that name or echo each of ``classes`` [B] (all of them seen by :meth:`_block`)."""
        return self.table[self.slot[classes]]

    def __call__(self, x: torch.Tensor) -> dict[str, np.ndarray]:
        with torch.inference_mode():
            return self._explain(x)

    def _explain(self, x: torch.Tensor) -> dict[str, np.ndarray]:
        clf, foil = self.clf, self.foil
        f = clf.features(x.to(clf.device, non_blocking=True), progress=False)
        logits = clf.head(f)
        predicted = logits.argmax(1)
        probability = logits.softmax(-1).gather(1, predicted[:, None])[:, 0]
        w = clf.head_weight[predicted]
        if foil is not None:
            w = w - clf.head_weight[foil]  # zero where the image is predicted as the foil: nothing is selected
        labels = predicted.tolist()  # the one sync before the end
        classes = list(dict.fromkeys(labels)) + ([foil] if foil is not None else [])
        self._block(classes)
        unit_w = w / w.norm(dim=1, keepdim=True).clamp_min(1e-30)
        n = f.shape[0]
        projections = self.directions @ torch.cat([f, unit_w]).T  # [T, 2B], as Explainer.explain computes them
        if self.batched:
            presence, alignment = projections[:, :n].T, projections[:, n:].T
            candidates = self._candidates(presence, alignment, predicted)
            chosen = self._greedy(candidates, f, w, self._prior(candidates, labels))
        else:
            chosen = self._select_each(f, predicted, projections)
        gains, basis = _marginal_gains(self.directions, chosen, f, w)
        value = self._value(f.double(), predicted)
        ablated = (f.double() - torch.einsum("bk,bkd->bd", torch.einsum("bkd,bd->bk", basis, f.double()), basis)).to(
            f.dtype
        )  # float32, as nlexnb.explain.project_out returns it
        measured = value - self._value(ablated.double(), predicted)
        keep = chosen >= 0
        measured = torch.where(keep.any(1), measured, torch.zeros_like(measured))
        out = {
            "predicted": predicted,
            "probability": probability.double(),
            "chosen": chosen,
            "gains": gains,
            "explained": value,
            "measured": measured,
        }
        return {key: v.cpu().numpy() for key, v in out.items()}

    def _candidates(self, presence: torch.Tensor, alignment: torch.Tensor, predicted: torch.Tensor) -> torch.Tensor:
        """The shortlist of every image [B, S] (bank indices, -1 where shorter), as :meth:`Explainer.candidates`."""
        ex = self.explainer
        single = (presence * alignment).masked_fill(
            self.space.excluded | (alignment > ex.max_alignment) | (presence <= 0) | (alignment <= 0), -torch.inf
        )
        top = single.topk(self.first, dim=1)
        blocked = self.blocked(predicted)
        if self.foil is not None:
            blocked = blocked | self.table[self.known[self.foil]]
        valid = (top.values > -torch.inf) & ~blocked.gather(1, top.indices)
        rank = valid.cumsum(1) - 1
        keep = valid & (rank < self.size)
        slot = torch.where(keep, rank, torch.full_like(rank, self.size))
        out = torch.full((len(single), self.size + 1), -1, dtype=torch.long, device=single.device)
        out.scatter_(1, slot, torch.where(keep, top.indices, torch.full_like(top.indices, -1)))
        return out[:, : self.size]

    def _prior(self, candidates: torch.Tensor, predicted: list[int]) -> torch.Tensor | None:
        """[B, S]: :meth:`Explainer.prior` of each image's candidates (their relevance to its predicted class)."""
        power = self.explainer.relevance
        if power == 0:
            return None
        rows = torch.stack([self.space.relevance(c) for c in predicted])  # cached per class
        return rows.gather(1, candidates.clamp_min(0)) ** power

    def _greedy(
        self, candidates: torch.Tensor, f: torch.Tensor, w: torch.Tensor, prior: torch.Tensor | None = None
    ) -> torch.Tensor:
        """:class:`~nlexnb.selection.GreedySelector` for the whole batch: bank indices [B, k], -1 after the last."""
        b, s = candidates.shape
        residual = self.directions[candidates.clamp_min(0)].double()  # [B, S, d]
        fd, wd = f.double(), w.double()
        alive = candidates >= 0
        active = torch.ones(b, dtype=torch.bool, device=f.device)
        chosen = torch.full((b, self.k), -1, dtype=torch.long, device=f.device)
        rows = torch.arange(b, device=f.device)
        for step in range(min(self.k, s)):
            norms = residual.norm(dim=2)
            unit = residual / norms.clamp_min(1e-12).unsqueeze(2)
            gain = torch.einsum("bsd,bd->bs", unit, fd) * torch.einsum("bsd,bd->bs", unit, wd)
            usable = alive & (norms > 1e-6) & (gain > 0)
            score = gain if prior is None else gain * prior.double()
            best = score.masked_fill(~usable, -torch.inf).argmax(1)
            active = active & usable[rows, best]
            chosen[:, step] = torch.where(active, candidates[rows, best], -1)
            alive[rows, best] &= ~active
            q = unit[rows, best] * active.unsqueeze(1)  # zero for finished images: their residual stays
            residual = residual - torch.einsum("bsd,bd->bs", residual, q).unsqueeze(2) * q.unsqueeze(1)
        return chosen

    def _select_each(self, f: torch.Tensor, predicted: torch.Tensor, projections: torch.Tensor) -> torch.Tensor:
        """Any other selection method: :meth:`Explainer.select` per image."""
        n = f.shape[0]
        chosen = torch.full((n, self.k), -1, dtype=torch.long, device=f.device)
        for i, c in enumerate(predicted.tolist()):
            if c == self.foil:
                continue
            picked, _ = self.explainer.select(f[i], c, self.k, self.foil, projections=projections[:, [i, n + i]])
            chosen[i, : len(picked)] = torch.tensor(picked, dtype=torch.long, device=f.device)
        return chosen

    def _value(self, features: torch.Tensor, predicted: torch.Tensor) -> torch.Tensor:
        """The explained quantity from float64 features [B, d], re-running the head (``Target.value``)."""
        logits = self.clf.head(features)
        value = logits.gather(1, predicted[:, None])[:, 0]
        return value - logits[:, self.foil] if self.foil is not None else value


def _marginal_gains(
    directions: torch.Tensor, chosen: torch.Tensor, f: torch.Tensor, w: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`nlexnb.selection.marginal_gains` for a batch: gains [B, k] (0 where none) and the orthonormal basis
    [B, k, d] of each image's named directions (zero rows where a direction adds nothing)."""
    b, k = chosen.shape
    dirs = directions[chosen.clamp_min(0)].double()
    fd, wd = f.double(), w.double()
    basis = torch.zeros_like(dirs)
    gains = torch.zeros(b, k, dtype=torch.float64, device=dirs.device)
    for j in range(k):
        v = dirs[:, j]
        for i in range(j):
            q = basis[:, i]
            v = v - (v * q).sum(1, keepdim=True) * q
        norm = v.norm(dim=1)
        ok = (chosen[:, j] >= 0) & (norm > 1e-8)
        q = torch.where(ok.unsqueeze(1), v / norm.clamp_min(1e-30).unsqueeze(1), torch.zeros_like(v))
        basis[:, j] = q
        gains[:, j] = (q * fd).sum(1) * (q * wd).sum(1)
    return gains, basis


# ---- identity of a run -----------------------------------------------------------------------------------------------
def _digest(texts: Sequence[str]) -> str:
    return hashlib.blake2b("\n".join(texts).encode("utf-8"), digest_size=12).hexdigest()


def _identity(explainer: Explainer, k: int, foil: int | None) -> dict[str, Any]:
    """What makes two runs' rows comparable: the models, the bank and every setting that changes a row."""
    import nlexnb

    space, clf = explainer.space, explainer.classifier
    return {
        "format": FORMAT,
        "nlexnb_version": nlexnb.__version__,
        "classifier": clf.name,
        "classifier_fingerprint": clf.fingerprint,
        "mapper_fingerprint": explainer.mapper.fingerprint,
        "bank_digest": _digest(space.texts),
        "k": k,
        "foil": foil,
        "selector": explainer.selector.name,
        "shortlist": explainer.shortlist,
        "max_alignment": explainer.max_alignment,
        "echo_margin": explainer.echo_margin,
        "echo_floor": explainer.echo_floor,
        "glosses_digest": None if space.glosses is None else _digest(space.glosses),
    }


def _info(explainer: Explainer, foil: int | None) -> dict[str, Any]:
    clf = explainer.classifier
    return {
        "mapper": explainer.mapper.method,
        "bank": explainer.bank.name,
        "bank_size": len(explainer.bank),
        "foil_name": None if foil is None else clf.class_names[foil],
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "columns": COLUMNS,
    }


def _metadata(identity: dict, info: dict) -> dict[bytes, bytes]:
    return {_META_IDENTITY: json.dumps(identity).encode(), _META_INFO: json.dumps(info).encode()}


def _read_identity(path: Path) -> dict[str, Any]:
    """The identity stored in an nlexnb Parquet file; a ValueError when it is not one."""
    _, pq = _pa()
    try:
        meta = pq.read_schema(path).metadata or {}
    except Exception as exc:
        raise ValueError(
            f"{str(path)!r} exists and is not a Parquet file ({type(exc).__name__}: {exc}); explain_collection will "
            "not overwrite it: choose another out="
        ) from None
    if _META_IDENTITY not in meta:
        raise ValueError(
            f"{str(path)!r} exists and was not written by explain_collection (no nlexnb metadata); it will not be "
            "overwritten: choose another out="
        )
    return json.loads(meta[_META_IDENTITY])


def _refuse_if_different(path: Path, found: dict, wanted: dict, out: Path) -> None:
    keys = sorted(set(found) | set(wanted), key=lambda key: list(wanted).index(key) if key in wanted else 99)
    differ = [key for key in keys if found.get(key) != wanted.get(key)]
    if differ:
        what = "; ".join(f"{key}: {found.get(key)!r} there, {wanted.get(key)!r} now" for key in differ)
        raise ValueError(
            f"{str(path)!r} holds explanations from a different classifier, mapper, bank or settings ({what}). "
            f"Rows from both would be mixed in one file: write to another out=, or delete {str(out)!r}, "
            f"{str(errors_path(out))!r} and {str(_partial_dir(out))!r} to start again"
        )


@functools.lru_cache(maxsize=1)
def _malloc_trim():
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc: nothing to do
        return None


def _trim_memory() -> None:
    """Give the heap memory freed since the last call back to the system (glibc; elsewhere a no-op). Without it glibc
    kept the scattered buffers of the classifier's CPU forward passes: resident memory grew from 1.2 to 3.2 GB over
    2,900 images in some runs, and stays at 1.2-1.3 GB with it (``benchmarks/bench_collection.py``)."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


# ---- files: parts, resume, the final merge ---------------------------------------------------------------------------
def _fsync(path: str | Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class _Parts:
    """This run's rows and errors, written as part files in the partial folder: each under a temporary name, renamed
    into place (errors first) every ``every`` images, when the run ends and when it is interrupted."""

    def __init__(self, folder: Path, metadata: dict[bytes, bytes], every: int) -> None:
        self.folder, self.every = folder, every
        self.token = f"{time.time_ns():x}-{os.getpid()}"
        self.schemas = {
            "rows": _row_schema().with_metadata(metadata),
            "errors": _error_schema().with_metadata(metadata),
        }
        self.writers: dict[str, Any] = {}
        self.tmp: dict[str, Path] = {}
        self.count = 0
        self.pending = 0

    def write(self, kind: str, table) -> None:
        _, pq = _pa()
        if kind not in self.writers:
            self.folder.mkdir(parents=True, exist_ok=True)
            self.tmp[kind] = self.folder / f".{kind}-{self.token}-{self.count:05d}.parquet.tmp"
            self.writers[kind] = pq.ParquetWriter(self.tmp[kind], self.schemas[kind])
        self.writers[kind].write_table(table.replace_schema_metadata(self.schemas[kind].metadata))

    def images_done(self, n: int) -> None:
        self.pending += n
        if self.pending >= self.every:
            self.commit()

    def commit(self) -> None:
        for kind in ("errors", "rows"):  # a row part never lands before the errors of the same images
            writer = self.writers.pop(kind, None)
            if writer is None:
                continue
            writer.close()
            _fsync(self.tmp[kind])
            os.replace(self.tmp[kind], self.folder / f"{kind}-{self.token}-{self.count:05d}.parquet")
        self.count += 1
        self.pending = 0
        _trim_memory()

    def abort(self) -> None:
        for kind, writer in list(self.writers.items()):
            try:
                writer.close()
            except Exception:
                pass
            self.tmp[kind].unlink(missing_ok=True)
        self.writers.clear()


def _existing(out: Path) -> tuple[list[Path], list[Path]]:
    """Files already holding rows and errors of this output (final files first, then parts); stale temporary files of
    a killed run are removed, and unreadable parts are removed with a warning (their images are explained again)."""
    _, pq = _pa()
    rows = [out] if out.is_file() else []
    errors = [errors_path(out)] if errors_path(out).is_file() else []
    folder = _partial_dir(out)
    if folder.is_dir():
        for tmp in folder.glob(".*.tmp"):
            tmp.unlink(missing_ok=True)
        for part in sorted(folder.glob("*.parquet")):
            try:
                pq.read_metadata(part)
            except Exception as exc:
                warnings.warn(
                    f"Removing unreadable part {str(part)!r} ({exc}); its images are explained again", stacklevel=3
                )
                part.unlink(missing_ok=True)
                continue
            (rows if part.name.startswith("rows-") else errors).append(part)
    return rows, errors


def _done_ids(files: list[Path], paths: list[str | None] | None, size: int | None, out: Path) -> np.ndarray:
    """Ids written in ``files`` as a bitmap; refuses a file whose ids or paths do not match the collection."""
    _, pq = _pa()
    done = np.zeros(size or 0, dtype=bool)
    for file in files:
        table = pq.read_table(file, columns=["id", "path"])
        ids = table.column("id").to_numpy()
        if not len(ids):
            continue
        if size is not None and ids.max() >= size:
            raise ValueError(
                f"{str(file)!r} holds image id {int(ids.max())}, but the collection has {size} images: it was written "
                f"for another collection. Write to another out=, or delete {str(out)!r} and its partial files"
            )
        if paths is not None:
            written = table.column("path").to_pylist()
            for i, p in zip(ids.tolist(), written):
                if p != paths[i]:
                    raise ValueError(
                        f"{str(file)!r} was written for another collection: image id {i} is {p!r} there and "
                        f"{paths[i]!r} here. Write to another out=, or delete {str(out)!r} and its partial files"
                    )
        if ids.max() >= len(done):
            done = np.concatenate([done, np.zeros(int(ids.max()) + 1 - len(done), dtype=bool)])
        done[ids] = True
    return done


def _union(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    n = max(len(a), len(b))
    return np.pad(a, (0, n - len(a))) | np.pad(b, (0, n - len(b)))


def _merge(sources: list[Path], target: Path, schema, skip: np.ndarray | None = None) -> tuple[int, np.ndarray]:
    """Stream the rows of ``sources`` (one row group at a time, each id once, ids marked in ``skip`` left out) into
    ``target``, atomically. Returns the rows written and the bitmap of their ids."""
    _, pq = _pa()
    seen = np.zeros(0, dtype=bool)
    rows = 0
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        with pq.ParquetWriter(tmp, schema) as writer:
            for source in sources:
                file = pq.ParquetFile(source)
                for g in range(file.num_row_groups):
                    table = file.read_row_group(g)
                    ids = table.column("id").to_numpy()
                    if not len(ids):
                        continue
                    top = int(ids.max()) + 1
                    if top > len(seen):
                        seen = np.concatenate([seen, np.zeros(top - len(seen), dtype=bool)])
                    keep = ~seen[ids]
                    if skip is not None:
                        keep &= ~np.pad(skip, (0, max(0, top - len(skip))))[ids]
                    _, first = np.unique(ids, return_index=True)  # an id twice in one group: keep its first row
                    once = np.zeros(len(ids), dtype=bool)
                    once[first] = True
                    keep &= once
                    seen[ids[keep]] = True
                    if keep.any():
                        writer.write_table(table.filter(keep).replace_schema_metadata(schema.metadata))
                        rows += int(keep.sum())
        _fsync(tmp)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return rows, seen


def _finish(out: Path, metadata: dict[bytes, bytes]) -> tuple[int, int]:
    """Merge the final files and the parts into new final files (errors first, then rows: atomic renames), then remove
    the partial folder. A crash in between is harmless: the next run merges again and keeps each id once."""
    rows_files, error_files = _existing(out)
    ok_rows, written = _merge(rows_files, out.with_name(f".{out.name}.rows"), _row_schema().with_metadata(metadata))
    tmp_rows = out.with_name(f".{out.name}.rows")
    try:
        n_errors, _ = _merge(error_files, errors_path(out), _error_schema().with_metadata(metadata), skip=written)
        os.replace(tmp_rows, out)
    finally:
        tmp_rows.unlink(missing_ok=True)
    shutil.rmtree(_partial_dir(out), ignore_errors=True)
    return ok_rows, n_errors


def _alive(pid: Any) -> bool:
    if not isinstance(pid, int):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


@contextmanager
def _lock(out: Path) -> Iterator[None]:
    """One run at a time per output: a lock file beside it holds the writer's host and pid; the lock of a process
    that no longer runs (killed) is taken over."""
    lock = out.with_name(f".{out.name}.lock")
    me = {"host": socket.gethostname(), "pid": os.getpid()}
    lock.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            try:
                holder = json.loads(lock.read_text())
            except (OSError, ValueError):
                holder = {}
            if holder.get("host") == me["host"] and not _alive(holder.get("pid")):
                lock.unlink(missing_ok=True)  # left by a killed run
                continue
            raise RuntimeError(
                f"Another explain_collection run (pid {holder.get('pid')} on {holder.get('host')!r}) is writing "
                f"{str(out)!r}; wait for it to finish, or delete {str(lock)!r} if no run is"
            ) from None
        with os.fdopen(fd, "w") as fh:
            json.dump(me, fh)
        break
    try:
        yield
    finally:
        lock.unlink(missing_ok=True)


# ---- the public calls ------------------------------------------------------------------------------------------------
def explain_collection(
    explainer: Explainer,
    images: str | os.PathLike | Sequence[ImageLike] | Sequence[tuple[ImageLike, str]] | torch.utils.data.Dataset,
    out: str | os.PathLike = "explanations.parquet",
    *,
    k: int = 5,
    foil: int | str | None = None,
    batch_size: int | None = None,
    num_workers: int = 0,
    engine: str = "local",
    checkpoint_every: int = 512,
    progress: bool | None = None,
) -> CollectionRun:
    """Explain the prediction for every image of a collection, streaming one row per image to a Parquet file.

    Each row holds what ``explainer.explain(image, k=k, foil=foil)`` says about that image (the same concepts and
    contributions): see :data:`COLUMNS`. Running the same call again after an interruption explains only the images
    not yet written; a file written by another classifier, mapper, bank or other settings is refused, not mixed.

    Args:
        explainer: an :class:`~nlexnb.Explainer` (its classifier, mapper, bank, selector and filters are used as is).
            With the default greedy selector the selection is batched on the classifier's device; another selector
            runs :meth:`~nlexnb.Explainer.select` per image.
        images: a folder (every image file under it, sorted, unlabelled; use :func:`nlexnb.datasets.image_folder`
            for labels from sub-folders), a list of images (paths, PIL images, arrays, uint8 tensors), a list of
            ``(image, label)`` pairs (:mod:`nlexnb.datasets`), or a torch ``Dataset`` whose items are an image or
            ``(image, label)`` (a float tensor [3, H, W] is taken as already preprocessed; an int label is named by
            the dataset's ``classes`` when it has them; torchvision's ``ImageFolder`` works as is). An
            ``IterableDataset`` is numbered in the order it yields.
        out: the Parquet file (written when every image is done; parts wait in ``<out>.partial/`` until then).
        k: how many concepts to name per image.
        foil: a contrast class (index or name): explains ``z_predicted - z_foil``; images predicted as the foil are
            listed in the errors.
        batch_size: images per forward pass; default 32 on a GPU and 4 on a CPU, where small batches run faster
            (``benchmarks/bench_collection.py`` on 2 cores: 49 images/s at 4 against 25 at 32, from decoded tensors).
        num_workers: DataLoader processes that read and decode images (0: in this process); with
            ``engine="ray"``, the number of Ray actors, each holding one explainer (0 or 1: one).
        engine: ``"local"`` (this process) or ``"ray"`` (Ray Data, on this machine or a cluster; see
            :data:`ENGINES`). Both write the same rows in the same file layout, and either can resume the other's
            file. With Ray, call ``ray.init(address=...)`` first (or set ``RAY_ADDRESS``) to use a running cluster;
            otherwise a local Ray instance is started (and left running for the next call). The explainer is sent
            to every actor once (about 160 MB with the default classifier and text encoder); on a cluster, ``images``
            must be paths every node can read (a shared file system) or in-memory images.
        checkpoint_every: images between two part files: at most this many are explained again after the process is
            killed (an exception or Ctrl-C keeps every finished batch).
        progress: show a progress bar (default yes).

    Returns:
        A :class:`CollectionRun` (``.read()`` gives the DataFrame, ``.read_errors()`` the skipped images).

    Raises:
        TypeError / ValueError / FileNotFoundError: a wrong argument (the message names it and what is accepted), or
            ``out`` written by another explainer or settings, or for another collection (the message says what
            differs).
        ImportError: ``engine="ray"`` without Ray installed.
        RuntimeError: another run is writing ``out`` (a lock file beside it names its process).

    One run at a time may write a given ``out`` (a second one is refused while the first is alive; the lock of a
    killed run is taken over).
    """
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {list(ENGINES)}, got {engine!r}")
    if engine == "ray":
        try:
            import ray  # noqa: F401
            import ray.data  # noqa: F401
        except ImportError:
            raise ImportError(
                "engine='ray' needs Ray, which is not installed: pip install nlexnb[ray] (or use engine='local')"
            ) from None
    if not isinstance(explainer, Explainer):
        raise TypeError(
            f"explainer must be an nlexnb.Explainer (nlexnb.Explainer(classifier, mapper)), got "
            f"{type(explainer).__name__}"
        )
    k = explainer.space.check_k(k)
    foil_index = None if foil is None else explainer.space.class_index(foil, "foil")
    if batch_size is None:
        batch_size = 32 if explainer.classifier.device.type == "cuda" else 4
    batch_size = positive_int(batch_size, "batch_size", "images per batch")
    checkpoint_every = positive_int(checkpoint_every, "checkpoint_every", "images")
    if isinstance(num_workers, bool) or not isinstance(num_workers, (int, np.integer)) or num_workers < 0:
        raise ValueError(f"num_workers must be a number of worker processes (0 or more), got {num_workers!r}")
    if not isinstance(out, (str, os.PathLike)):
        raise TypeError(f"out must be a file path (str or Path), got {type(out).__name__}")
    out = Path(out)
    if out.is_dir():
        raise ValueError(
            f"out is a folder ({str(out)!r}); give a file path such as {str(out / 'explanations.parquet')!r}"
        )
    source = _as_source(images, explainer.classifier.transform, 0 if engine == "ray" else int(num_workers))
    if engine == "ray" and source.dataset is None:
        raise ValueError(
            "engine='ray' needs a collection whose images can be read by position (a folder, a list or a map-style "
            "Dataset), not an IterableDataset; use engine='local' for it"
        )
    settings = _Settings(k, foil_index, batch_size, int(num_workers), engine)
    with _lock(out):
        return _run(explainer, source, out, settings, checkpoint_every, progress)


@dataclass(frozen=True)
class _Settings:
    k: int
    foil: int | None
    batch_size: int
    workers: int
    engine: str


def _run(explainer, source: _Source, out: Path, settings: _Settings, checkpoint_every: int, progress):
    """:func:`explain_collection` once its arguments are checked and ``out`` is locked."""
    started = time.perf_counter()
    k, foil_index = settings.k, settings.foil
    identity, info = _identity(explainer, k, foil_index), _info(explainer, foil_index)
    metadata = _metadata(identity, info)
    rows_files, error_files = _existing(out)
    for file in rows_files + error_files:
        _refuse_if_different(file, _read_identity(file), identity, out)
    done_rows = _done_ids(rows_files, source.paths, source.size, out)
    done = _union(done_rows, _done_ids(error_files, source.paths, source.size, out))
    resumed = int(done_rows.sum())
    if source.size is not None:
        done = np.pad(done, (0, max(0, source.size - len(done))))
        remaining = np.flatnonzero(~done[: source.size])
    partial = _partial_dir(out).is_dir()
    if source.size is not None and not len(remaining) and not partial and out.is_file():
        return _summary(out, source.size, 0, resumed, started)  # nothing to do: the file is complete

    todo = remaining if source.size is not None else None
    if settings.engine == "ray":
        stream = _ray_stream(explainer, source, todo, settings)
    else:
        stream = _local_stream(explainer, source, done, todo, settings)
    parts = _Parts(_partial_dir(out), metadata, checkpoint_every)
    written = skipped = batches = 0
    from tqdm.auto import tqdm

    bar = tqdm(
        total=source.size,
        initial=int(done[: source.size or len(done)].sum()),
        disable=progress is False,
        desc="explain_collection",
        unit="img",
    )
    try:
        for table, errors, size in stream:
            if table is not None and table.num_rows:
                parts.write("rows", table)
                written += table.num_rows
            if errors is not None and errors.num_rows:
                parts.write("errors", errors)
                skipped += errors.num_rows
                bar.set_postfix(skipped=skipped)
            bar.update(size)
            parts.images_done(size)
            batches += 1
            if batches % 16 == 0:
                _trim_memory()
    except BaseException:
        try:
            parts.commit()  # every finished batch is kept: the rerun starts after it
        except Exception:
            parts.abort()
        raise
    finally:
        bar.close()
    parts.commit()
    _finish(out, metadata)
    if skipped:
        warnings.warn(
            f"explain_collection skipped {skipped} image(s) (listed with the reason in {str(errors_path(out))!r}, "
            "read_errors)",
            stacklevel=3,
        )
    return _summary(out, source.size, written, resumed, started)


def _explain_batch(batch: _Batch, run: _BatchExplainer) -> tuple[Any, Any, int]:
    """One decoded batch -> (its rows, its errors: Arrow tables or None, images it held)."""
    errors = list(batch.errors)
    table = None
    if batch.x is not None:
        table, foiled = _rows(batch, run(batch.x), run)
        errors += foiled
    return table, _error_table(errors) if errors else None, batch.size


def _local_stream(explainer: Explainer, source: _Source, done, remaining, settings: _Settings) -> Iterator[tuple]:
    """Engine "local": a DataLoader decodes (in workers), this process explains batch by batch."""
    pin = explainer.classifier.device.type == "cuda"
    loader = _loader(source, done, remaining, settings.batch_size, settings.workers, pin)
    run = _BatchExplainer(explainer, settings.k, settings.foil)
    for batch in loader:
        yield _explain_batch(batch, run)


class _RayExplainer:
    """A Ray Data actor: holds one explainer (and the collection's reader), explains a batch of ids at a time."""

    def __init__(self, payload, k: int, foil: int | None) -> None:
        import ray

        explainer, dataset = ray.get(payload[0])  # a reference inside a list: fetched here, once per actor
        torch.set_num_threads(max(1, int(ray.get_runtime_context().get_assigned_resources().get("CPU", 1))))
        self.dataset = dataset
        self.run = _BatchExplainer(explainer, k, foil)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        decoded = _collate([self.dataset[int(i)] for i in batch["id"]])
        table, errors, size = _explain_batch(decoded, self.run)
        return {
            "rows": np.array([_to_ipc(table)], dtype=object),
            "errors": np.array([_to_ipc(errors)], dtype=object),
            "size": np.array([size]),
        }


def _to_ipc(table) -> bytes:
    if table is None:
        return b""
    pa, _ = _pa()
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def _from_ipc(data: bytes):
    if not data:
        return None
    pa, _ = _pa()
    return pa.ipc.open_stream(pa.py_buffer(data)).read_all()


def _ray_stream(explainer: Explainer, source: _Source, remaining, settings: _Settings) -> Iterator[tuple]:
    """Engine "ray": Ray Data sends the ids still to explain, in batches, to an actor pool (``settings.workers``
    actors, at least one; one GPU each when the explainer is on a GPU); each actor reads, decodes and explains its
    batch exactly as the local engine does, and this process writes the rows as they come back."""
    import ray

    if not ray.is_initialized():  # RAY_ADDRESS, when set, joins that cluster
        ray.init(include_dashboard=False, log_to_driver=False, logging_level="warning")
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False  # the collection's own bar counts images
    context.print_on_execution_start = False
    gpus = 1 if explainer.classifier.device.type == "cuda" else 0
    payload = ray.put((explainer, source.dataset))
    ids = ray.data.from_items([{"id": int(i)} for i in remaining])
    results = ids.map_batches(
        _RayExplainer,
        fn_constructor_args=([payload], settings.k, settings.foil),
        batch_size=settings.batch_size,
        batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=max(1, settings.workers)),
        num_cpus=1,
        num_gpus=gpus,
    )
    for row in results.iter_rows():
        yield _from_ipc(row["rows"]), _from_ipc(row["errors"]), int(row["size"])


def _loader(source: _Source, done, remaining, batch_size: int, workers: int, pin: bool):
    if source.iterable is not None:
        dataset = _IterableItems(source.iterable, source.transform, done)
        return torch.utils.data.DataLoader(dataset, batch_size=batch_size, collate_fn=_collate, pin_memory=pin)
    return torch.utils.data.DataLoader(
        source.dataset,
        batch_size=batch_size,
        sampler=_Positions(remaining),
        num_workers=workers,
        collate_fn=_collate,
        pin_memory=pin,
    )


def _rows(batch: _Batch, result: dict[str, np.ndarray], run: _BatchExplainer):
    """The Arrow table of a batch's explanations, and the images predicted as the foil (errors)."""
    pa, _ = _pa()
    explainer, foil = run.explainer, run.foil
    predicted = result["predicted"]
    ok = np.ones(len(predicted), dtype=bool) if foil is None else predicted != foil
    foiled = [
        (batch.ids[i], batch.paths[i], batch.labels[i], _foil_reason(explainer, foil))
        for i in np.flatnonzero(~ok).tolist()
    ]
    chosen, gains = result["chosen"][ok], result["gains"][ok]
    explained = result["explained"][ok]
    named = chosen >= 0
    offsets = pa.array(np.concatenate([[0], np.cumsum(named.sum(1))]).astype(np.int32))
    with np.errstate(divide="ignore", invalid="ignore"):
        shares = np.where(explained[:, None] != 0, gains / explained[:, None], np.nan)
    kept = np.flatnonzero(ok).tolist()
    table = pa.Table.from_arrays(
        [
            pa.array([batch.ids[i] for i in kept], pa.int64()),
            pa.array([batch.paths[i] for i in kept], pa.string()),
            pa.array([batch.labels[i] for i in kept], pa.string()),
            pa.array(predicted[ok].astype(np.int64)),
            run.names.take(pa.array(predicted[ok].astype(np.int64))),
            pa.array(result["probability"][ok]),
            pa.ListArray.from_arrays(offsets, run.texts.take(pa.array(chosen[named]))),
            pa.ListArray.from_arrays(offsets, pa.array(gains[named])),
            pa.ListArray.from_arrays(offsets, pa.array(shares[named])),
            pa.array(np.where(named, gains, 0.0).sum(1)),
            pa.array(result["measured"][ok]),
            pa.array(explained),
        ],
        schema=_row_schema(),
    )
    return table, foiled


def _foil_reason(explainer: Explainer, foil: int | None) -> str:
    name = explainer.classifier.class_names[foil]
    return f"predicted as the foil {foil} ({name!r}): there is no gap to explain"


def _error_table(errors: list[tuple]):
    pa, _ = _pa()
    ids, paths, labels, reasons = zip(*errors)
    return pa.Table.from_arrays(
        [pa.array(ids, pa.int64()), pa.array(paths, pa.string()), pa.array(labels, pa.string()), pa.array(reasons)],
        schema=_error_schema(),
    )


def _summary(out: Path, size: int | None, written: int, resumed: int, started: float) -> CollectionRun:
    _, pq = _pa()
    rows = pq.read_metadata(out).num_rows
    errs = pq.read_metadata(errors_path(out)).num_rows if errors_path(out).is_file() else 0
    return CollectionRun(out, errors_path(out), size, rows, written, resumed, errs, time.perf_counter() - started)


def _read_table(path: Path, kind: str, partial: bool):
    pa, pq = _pa()
    final = path if kind == "rows" else errors_path(path)
    files = [final] if final.is_file() else []
    folder = _partial_dir(path)
    if partial and folder.is_dir():
        files += sorted(folder.glob(f"{kind}-*.parquet"))
    if not files:
        if kind == "errors" and path.is_file():
            return _error_schema().empty_table()
        if folder.is_dir():
            raise FileNotFoundError(
                f"{str(path)!r} is not finished: an interrupted run left {str(folder)!r}. Run explain_collection again "
                "with the same arguments to finish it, or pass partial=True to read what is done"
            )
        raise FileNotFoundError(f"No explanations file at {str(path)!r} (explain_collection writes it)")
    tables = [pq.read_table(f) for f in files]
    meta = tables[0].schema.metadata
    table = pa.concat_tables([t.replace_schema_metadata(None) for t in tables])
    return table.replace_schema_metadata(meta)


def _frame(table, sort: bool = True) -> pd.DataFrame:
    frame = table.to_pandas()
    for column in ("concepts", "contributions", "shares"):
        if column in frame:
            frame[column] = [list(v) for v in frame[column]]
    if sort and len(frame):
        frame = frame.drop_duplicates("id").sort_values("id", kind="stable").reset_index(drop=True)
    meta = table.schema.metadata or {}
    if _META_IDENTITY in meta:
        frame.attrs["nlexnb"] = json.loads(meta[_META_IDENTITY])
        frame.attrs["nlexnb"].update(json.loads(meta.get(_META_INFO, b"{}")))
    return frame


def read_explanations(path: str | os.PathLike, *, partial: bool = False) -> pd.DataFrame:
    """An explanations file (:func:`explain_collection`) as a DataFrame, one row per image, sorted by ``id``.

    List columns (``concepts``, ``contributions``, ``shares``) hold Python lists; ``frame.attrs["nlexnb"]`` holds what
    wrote the file (classifier and mapper fingerprints, bank digest, k, foil, version, ...).

    Args:
        path: the file given as ``out=``.
        partial: also read the parts of an unfinished run (otherwise an unfinished run is an error saying so).
    """
    return _frame(_read_table(Path(path), "rows", partial))


def read_errors(path: str | os.PathLike, *, partial: bool = False) -> pd.DataFrame:
    """The images an :func:`explain_collection` run skipped: ``id``, ``path``, ``label`` and ``reason``.

    Args:
        path: the explanations file (``out=``), not the errors file itself.
        partial: also read the parts of an unfinished run.
    """
    return _frame(_read_table(Path(path), "errors", partial))
