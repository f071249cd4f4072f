"""The collection as a DataLoader source: a folder, a list of images or of ``(image, label)`` pairs, or a torch
``Dataset``, read and decoded item by item (in worker processes when asked). An image that cannot be read becomes an
error item, listed with its reason, never a failed run; a float tensor that cannot be a preprocessed image (pixel
values 0-255, channels last) is the collection's mistake, not one image's, and is raised."""

from __future__ import annotations

import hashlib
import os
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from PIL import Image

from .._checks import UnnormalisedWarning, an_index, warn_user
from ..datasets import IMAGE_EXTENSIONS, image_files
from ..images import UnreadableImageError, apply_transform, check_preprocessed, normalisation, to_pil

__all__ = ["Source", "as_source", "Item", "Batch", "collate", "data_loader", "fingerprint", "file_stamp"]

# what reading or decoding one image may raise when the image (not the code) is at fault
_IMAGE_ERRORS = (OSError, ValueError, SyntaxError, Image.DecompressionBombError)


def _reason(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, UnreadableImageError) else f"{type(exc).__name__}: {exc}"


def _prepare(image: Any, transform, name: str) -> tuple[torch.Tensor | None, str | None, bool]:
    """One image -> (the classifier's input [3, H, W] or None, why it could not be read or None, whether it looks like
    ``ToTensor()`` output without ``Normalize``). Reading or decoding may fail for this image alone: the reason is
    returned, the run goes on. A float tensor is taken as already preprocessed and checked: a mistake there (pixel
    values 0-255, channels last) is raised, since every image of the collection is most likely made the same way."""
    if isinstance(image, torch.Tensor) and image.is_floating_point():
        x, loose = _preprocessed(image, transform, name)
        return x, None, loose
    try:
        return apply_transform(transform, to_pil(image, name)), None, False
    except _IMAGE_ERRORS as exc:
        return None, _reason(exc), False


def _preprocessed(image: torch.Tensor, transform, name: str) -> tuple[torch.Tensor, bool]:
    """A float tensor taken as preprocessed, checked: [C, H, W] with the classifier's C channels and values its
    preprocessing can give (a ValueError naming ``name`` otherwise), and whether every value is in [0, 1] (returned,
    not warned of: the run warns once for all of them, not once per image)."""
    if image.ndim != 3:
        raise TypeError(
            f"{name} is a float tensor of shape {tuple(image.shape)}: a preprocessed image must be [3, H, W] "
            "(or give a uint8 image, a PIL image, an array or a path)"
        )
    norm = normalisation(transform)
    channels = 3 if norm is None or len(norm[0]) == 1 else len(norm[0])  # Normalize(0.5, 0.5): RGB, as images are
    if image.shape[0] != channels:
        if image.shape[-1] == channels:
            raise ValueError(
                f"{name} is a float tensor {list(image.shape)} (channels last?): a preprocessed image must be "
                f"[{channels}, H, W]; use x.permute(2, 0, 1)"
            )
        raise ValueError(
            f"{name} is a float tensor {list(image.shape)}: a preprocessed image must be [{channels}, H, W] "
            "(or give a uint8 image, a PIL image, an array or a path, preprocessed for you)"
        )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_preprocessed(image[None], transform, name)  # pixel values 0-255: a ValueError, raised
    loose = False
    for warning in caught:
        if issubclass(warning.category, UnnormalisedWarning):
            loose = True
        else:
            warn_user(str(warning.message), warning.category)
    return image, loose


def fingerprint(x: torch.Tensor) -> str:
    """A short hash (16 hex digits of SHA-1) of one prepared image [3, H, W] as the classifier receives it (float32):
    what a resumed run compares to tell whether a written row is still about the image the collection holds."""
    data = x.detach().to("cpu", torch.float32).contiguous().numpy().tobytes()
    return hashlib.sha1(data).hexdigest()[:16]


def file_stamp(path: str | None) -> tuple[int, int] | None:
    """A file's size in bytes and modification time in nanoseconds, taken before it is read (None for an in-memory
    image, or a path that cannot be read): what a resumed run compares, for every written file, to find the files
    changed since they were explained without decoding them all again."""
    if path is None:
        return None
    try:
        found = os.stat(path)
    except OSError:
        return None
    return (int(found.st_size), int(found.st_mtime_ns))


class Item(NamedTuple):
    """One collection item as read: its id, the prepared image (None when it cannot be read, with the reason), its
    file's path, size and modification time (None for an in-memory image), its label, and whether it is a float
    tensor that looks not yet normalised."""

    id: int
    x: torch.Tensor | None
    path: str | None
    label: str | None
    reason: str | None = None
    stamp: tuple[int, int] | None = None
    loose: bool = False  # a float tensor whose every value is in [0, 1]: ToTensor() output without Normalize?


def _label_text(label: Any, classes: Sequence[str] | None, name: str) -> str | None:
    """A dataset's label as text: a string as is, a class index named by the dataset's ``classes`` (or written as
    its number when it has none). An index outside ``classes`` is an error: Python would read -1 as the last class."""
    if label is None or isinstance(label, str):
        return label
    if isinstance(label, torch.Tensor) and label.numel() == 1:
        label = label.item()
    if an_index(label):
        if classes is None:
            return str(int(label))
        if not 0 <= int(label) < len(classes):
            raise ValueError(
                f"label {int(label)} of {name} is not an index into the dataset's {len(classes)} classes "
                f"(0 to {len(classes) - 1}); fix the dataset's labels or its classes"
            )
        return str(classes[int(label)])
    raise TypeError(f"{name} has label {label!r}: a label must be a string, a class index or None")


def _path_text(image: Any) -> str | None:
    return os.fspath(image) if isinstance(image, (str, os.PathLike)) else None


class _ListItems(torch.utils.data.Dataset):
    """A folder's files, a list of images or ``(image, label)`` pairs: item ``i`` -> an :class:`Item`."""

    def __init__(self, items: Sequence[Any], labels: Sequence[str | None] | None, transform) -> None:
        self.items, self.labels, self.transform = items, labels, transform

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int):
        image = self.items[i]
        path, label = _path_text(image), None if self.labels is None else self.labels[i]
        stamp = file_stamp(path)
        x, reason, loose = _prepare(image, self.transform, f"images[{i}]")
        return Item(i, x, path, label, reason, stamp, loose)


def _underlying(ds) -> tuple[Any, list[int] | None]:
    """The dataset a torch ``Subset`` (``random_split`` gives them; nested ones too) draws its items from, and the
    positions there of its items in order (None when ``ds`` is no Subset): where its classes, file paths and transform
    are."""
    positions = None
    while isinstance(ds, torch.utils.data.Subset):
        own = [int(i) for i in ds.indices]
        positions = own if positions is None else [own[i] for i in positions]
        ds = ds.dataset
    return ds, positions


def _dataset_classes(ds) -> Sequence[str] | None:
    """The class names a dataset's int labels index: its own ``classes``, or those of the dataset a Subset takes its
    items from."""
    classes = getattr(ds, "classes", None)
    return classes if classes is not None else getattr(_underlying(ds)[0], "classes", None)


def _dataset_paths(ds) -> list[str] | None:
    """File paths of a torchvision ``DatasetFolder`` / ``ImageFolder`` (``samples``), or of a Subset of one, else
    None."""
    base, positions = _underlying(ds)
    samples = getattr(base, "samples", None) or getattr(base, "imgs", None)
    if isinstance(samples, list) and len(samples) == len(base) and all(isinstance(s, tuple) for s in samples[:1]):
        paths = [os.fspath(s[0]) for s in samples]
        return paths if positions is None else [paths[i] for i in positions]
    return None


def _check_normalisation(ds, transform) -> None:
    """Refuse a Dataset (or the one a Subset draws from) whose own transform normalises with another mean or std than
    the classifier's preprocessing: its float tensors are taken as preprocessed, and values normalised for another
    model lie in the range this one's give, so every image was explained as the classifier never sees it."""
    own = getattr(_underlying(ds)[0], "transform", None)
    theirs = None if own is None else normalisation(own)
    ours = normalisation(transform)
    if theirs is None or ours is None:
        return
    try:  # Normalize([0.5], [0.5]) is Normalize([0.5] * 3, [0.5] * 3) on three channels
        same = all(torch.allclose(torch.broadcast_to(t, o.shape), o, atol=1e-3) for t, o in zip(theirs, ours))
    except RuntimeError:  # shapes that do not broadcast: another number of channels
        same = False
    if same:
        return

    def listed(values: torch.Tensor) -> list[float]:
        return [round(float(v), 3) for v in values]

    mean, std = listed(ours[0]), listed(ours[1])
    raise ValueError(
        f"images: the Dataset's transform normalises with mean {listed(theirs[0])} and std {listed(theirs[1])}, but "
        f"the classifier's preprocessing normalises with mean {mean} and std {std}: every image would be explained "
        "as the classifier never sees it. Build the Dataset with transform=explainer.classifier.transform (or a "
        f"Compose ending in Normalize(mean={mean}, std={std})), or with no transform (PIL images and paths are "
        "preprocessed for you)"
    )


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


def _dataset_item(i: int, ds, transform, classes, paths) -> Item:
    path = None if paths is None else paths[i]
    stamp = file_stamp(path)  # before the dataset reads the file
    try:
        image, label = _unpack(ds[i])
    except _IMAGE_ERRORS as exc:  # the dataset's own loader failed on this file (torchvision's ImageFolder does)
        return Item(i, None, path, None, _reason(exc), stamp)
    label = _label_text(label, classes, f"images[{i}]")
    given = _path_text(image)
    if given is not None and given != path:  # the dataset hands out a path: read here
        path, stamp = given, file_stamp(given)
    x, reason, loose = _prepare(image, transform, f"images[{i}]")
    return Item(i, x, path, label, reason, stamp, loose)


class _DatasetItems(torch.utils.data.Dataset):
    """A user's map-style Dataset, item by item (its images may be paths, PIL images, arrays or tensors)."""

    def __init__(self, ds, transform) -> None:
        self.ds, self.transform = ds, transform
        self.classes = _dataset_classes(ds)
        self.paths = _dataset_paths(ds)
        # a folder read with torchvision's own loader and no transform is a list of (path, class): read each file as
        # nlexnb reads every path, so that a row is about the file its path names (torchvision's loader drops a
        # PNG's transparency, where nlexnb puts it on white: two different pictures). A Subset of one too.
        base, positions = _underlying(ds)
        self.reader = ds
        if self.paths is not None and _plain_folder(base):
            self.reader = base.samples if positions is None else [base.samples[j] for j in positions]

    def __len__(self) -> int:
        return len(self.ds)

    def __getitem__(self, i: int):
        return _dataset_item(i, self.reader, self.transform, self.classes, self.paths)


def _plain_folder(ds) -> bool:
    """Is ``ds`` a torchvision ``ImageFolder``-like dataset that only reads its files (default loader, no transforms,
    torchvision's own ``__getitem__``)?"""
    try:
        from torchvision.datasets.folder import DatasetFolder, default_loader, pil_loader
    except ImportError:
        return False
    plain = getattr(ds, "loader", None) in (default_loader, pil_loader)
    untransformed = getattr(ds, "transform", 0) is None and getattr(ds, "target_transform", 0) is None
    return plain and untransformed and type(ds).__getitem__ is DatasetFolder.__getitem__


class _IterableItems(torch.utils.data.IterableDataset):
    """A user's IterableDataset, numbered in the order it yields (ids already written are skipped)."""

    def __init__(self, ds, transform, done: np.ndarray) -> None:
        self.ds, self.transform, self.done = ds, transform, done
        self.classes = _dataset_classes(ds)

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
class Batch:
    ids: list[int]
    x: torch.Tensor | None
    paths: list[str | None]
    labels: list[str | None]
    errors: list[tuple[int, str | None, str | None, str]]
    size: int
    stamps: list[tuple[int, int] | None]
    loose: list[int]  # ids of float tensors whose every value is in [0, 1] (ToTensor() without Normalize?)


def collate(items: list[Item]) -> Batch:
    good = [it for it in items if it.x is not None]
    errors = [(it.id, it.path, it.label, it.reason) for it in items if it.x is None]
    x = None
    if good:
        shapes = {tuple(it.x.shape) for it in good}
        if len(shapes) > 1:
            raise ValueError(
                f"Images {[it.id for it in good][:5]} have different shapes after preprocessing ({sorted(shapes)[:3]}):"
                " a Dataset must return images of one size; return PIL images or paths (the classifier's transform "
                "is applied), or apply explainer.classifier.transform yourself"
            )
        x = torch.stack([it.x for it in good])
    return Batch(
        [it.id for it in good],
        x,
        [it.path for it in good],
        [it.label for it in good],
        errors,
        len(items),
        [it.stamp for it in good],
        [it.id for it in good if it.loose],
    )


class _Positions(torch.utils.data.Sampler):
    """The ids still to explain, in order, as Python ints."""

    def __init__(self, positions: np.ndarray) -> None:
        self.positions = positions

    def __iter__(self) -> Iterator[int]:
        return (int(i) for i in self.positions)

    def __len__(self) -> int:
        return len(self.positions)


@dataclass
class Source:
    dataset: torch.utils.data.Dataset | None  # None for an iterable dataset (built once the ids done are known)
    size: int | None
    paths: list[str | None] | None  # known before reading any image: checked against a resumed file
    iterable: Any = None
    transform: Any = None
    labels: list[str | None] | None = None  # known before reading any image (lists, folders): checked the same way


def as_source(images: Any, transform, num_workers: int) -> Source:
    """A folder, a list of images or of ``(image, label)`` pairs, or a torch Dataset -> a :class:`Source`."""
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
            warn_user(
                f"images: left out {len(others)} file(s) that are not images by extension, e.g. {str(others[0])!r}"
            )
        paths = [str(p) for p in found]
        return Source(_ListItems(paths, None, transform), len(paths), paths, labels=[None] * len(paths))
    if isinstance(images, torch.utils.data.IterableDataset):
        if num_workers:
            raise ValueError(
                "num_workers must be 0 for an IterableDataset: its items are numbered in the order it yields them, "
                "which worker processes would change (use a map-style Dataset to decode in workers)"
            )
        size = len(images) if hasattr(images, "__len__") else None
        if size == 0:
            raise ValueError("images is an empty IterableDataset (its length is 0): give at least one image")
        _check_normalisation(images, transform)
        return Source(None, size, None, iterable=images, transform=transform)
    if isinstance(images, torch.utils.data.Dataset):
        try:
            size = len(images)
        except TypeError:
            raise TypeError("images: a map-style Dataset must have a length (define __len__)") from None
        if size == 0:
            raise ValueError("images is an empty Dataset: give at least one image")
        _check_normalisation(images, transform)
        items = _DatasetItems(images, transform)
        return Source(items, size, items.paths)
    if _one_pair(images):
        shown = repr(os.fspath(images[0])) if isinstance(images[0], (str, os.PathLike)) else "image"
        raise TypeError(
            f"images is one (image, label) pair; pass a list of pairs: [({shown}, {images[1]!r})] (a tuple of two "
            "items whose second is a text and not a file is read as one pair, not as two images)"
        )
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
        paths = [_path_text(it) for it in items]
        return Source(_ListItems(items, labels, transform), len(items), paths, labels=labels or [None] * len(items))
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


def _one_pair(images: Any) -> bool:
    """Whether ``images`` is one ``(image, label)`` pair rather than a collection: a tuple of two whose first item is
    an image or a path and whose second is a text that names no file (so it cannot be a second image's path)."""
    if not (isinstance(images, tuple) and len(images) == 2 and isinstance(images[1], str)):
        return False
    return _is_image(images[0]) and not Path(images[1]).is_file()


def data_loader(source: Source, done, remaining, batch_size: int, workers: int, pin: bool):
    if source.iterable is not None:
        dataset = _IterableItems(source.iterable, source.transform, done)
        return torch.utils.data.DataLoader(dataset, batch_size=batch_size, collate_fn=collate, pin_memory=pin)
    return torch.utils.data.DataLoader(
        source.dataset,
        batch_size=batch_size,
        sampler=_Positions(remaining),
        num_workers=workers,
        collate_fn=collate,
        pin_memory=pin,
    )
