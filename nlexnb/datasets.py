"""Labelled image sets for zero-shot evaluation: an ImageFolder reader and a small coarse-label set from bundled photos.

A labelled set is a list of ``(image, label)`` pairs, where the image is anything :func:`nlexnb.images.to_pil` reads
(a path, a PIL image, an array). :func:`image_folder` reads the usual ``root/<class>/<image>`` layout;
:func:`coarse_photo_set` builds a small, honest set from photos that install with nlexnb's dependencies (no network),
labelled with coarse everyday words that are not ImageNet class names.
"""

from __future__ import annotations

import difflib
import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

from PIL import Image, ImageOps

from .images import ImageLike, to_pil

__all__ = ["IMAGE_EXTENSIONS", "image_folder", "as_labelled", "coarse_photo_set", "COARSE_LABELS"]

IMAGE_EXTENSIONS: tuple[str, ...] = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")

Labelled = list[tuple[ImageLike, str]]


def image_folder(root: str | os.PathLike, labels: Mapping[str, str] | Sequence[str] | None = None) -> Labelled:
    """Read an ImageFolder-style directory (``root/<class folder>/<image files>``) into ``(path, label)`` pairs.

    Files whose extension is not in :data:`IMAGE_EXTENSIONS` and hidden files are skipped (with a warning). Images are
    not opened here; an unreadable file fails, naming its path, when it is read.

    Args:
        root: the directory.
        labels: how folder names become labels. None: the folder name is the label. A mapping: folder name -> label
            (every class folder must be a key). A list: the allowed labels (every folder name must be one of them).

    Raises:
        FileNotFoundError: ``root`` is not a directory.
        ValueError: no class folders, a class folder without images, or a folder whose label is unknown (the message
            names the path).
    """
    root_path = Path(root)
    if not root_path.is_dir():
        raise FileNotFoundError(f"Image folder not found (or not a directory): {str(root_path)!r}")
    folders = sorted(p for p in root_path.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not folders:
        raise ValueError(
            f"No class folders in {str(root_path)!r}: expected root/<class>/<image> (e.g. root/cat/001.jpg)"
        )
    mapping = _folder_labels([p.name for p in folders], labels, root_path)
    pairs: Labelled = []
    skipped: list[Path] = []
    for folder in folders:
        files = sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))
        images = [p for p in files if p.suffix.lower() in IMAGE_EXTENSIONS]
        skipped += [p for p in files if p.suffix.lower() not in IMAGE_EXTENSIONS]
        if not images:
            raise ValueError(f"Class folder {str(folder)!r} holds no images (extensions {', '.join(IMAGE_EXTENSIONS)})")
        pairs += [(p, mapping[folder.name]) for p in images]
    if skipped:
        warnings.warn(
            f"Skipped {len(skipped)} file(s) that are not images by extension, e.g. {str(skipped[0])!r}", stacklevel=2
        )
    return pairs


def _folder_labels(names: list[str], labels, root: Path) -> dict[str, str]:
    if labels is None:
        return {n: n for n in names}
    if isinstance(labels, Mapping):
        unknown = [n for n in names if n not in labels]
        if unknown:
            raise ValueError(
                f"Folder {str(root / unknown[0])!r} has no entry in labels= (folders without one: {unknown[:5]}; "
                f"the mapping's keys are {list(labels)[:10]})"
            )
        return {n: labels[n] for n in names}
    if isinstance(labels, str) or not isinstance(labels, Sequence):
        raise TypeError(f"labels must be a mapping folder -> label or a list of labels, got {type(labels).__name__}")
    allowed = set(labels)
    for n in names:
        if n not in allowed:
            close = difflib.get_close_matches(n, [str(x) for x in labels], n=3)
            hint = f"; close: {close}" if close else ""
            raise ValueError(f"Folder {str(root / n)!r} is not one of the labels {list(labels)[:10]}{hint}")
    return {n: n for n in names}


def as_labelled(data, labels: Mapping[str, str] | Sequence[str] | None = None) -> Labelled:
    """Normalise ``data`` (an ImageFolder directory or a list of ``(image, label)`` pairs) to a list of pairs.

    Raises:
        ValueError: empty data, an item that is not a pair, or a label that is not a non-empty string.
    """
    if isinstance(data, (str, os.PathLike)):
        return image_folder(data, labels)
    if not isinstance(data, Sequence) or isinstance(data, (bytes, Mapping)):
        raise TypeError(
            f"data must be an ImageFolder directory or a list of (image, label) pairs, got {type(data).__name__}"
        )
    if not data:
        raise ValueError("data is empty: give an ImageFolder directory or a non-empty list of (image, label) pairs")
    pairs: Labelled = []
    for i, item in enumerate(data):
        if not isinstance(item, (tuple, list)) or len(item) != 2:
            raise ValueError(f"data[{i}] must be an (image, label) pair, got {type(item).__name__}")
        image, label = item
        if not isinstance(label, str) or not label.strip():
            raise ValueError(f"data[{i}] has label {label!r}: labels must be non-empty strings")
        pairs.append((image, label))
    return pairs


# ---- the coarse photo set ------------------------------------------------------------------------------------------
COARSE_LABELS: dict[str, str] = {
    "chelsea": "cat",
    "coffee": "drink",
    "astronaut": "person",
    "grace_hopper": "person",
    "camera": "person",
    "rocket": "rocket",
    "motorcycle": "vehicle",
    "china": "building",
    "flower": "flower",
    "coins": "money",
    "moon": "moon",
    "horse": "horse",
    "page": "text",
    "text": "text",
    "clock": "clock",
    "brick": "wall",
    "grass": "grass",
    "hubble_deep_field": "galaxy",
    "gift": "gift",
}
"""Source photo -> coarse label. None of the labels is an ImageNet class name or synonym."""


def _coarse_sources() -> dict[str, Image.Image]:
    import matplotlib
    from skimage import data

    from .images import sample_images

    photos = dict(sample_images())
    for name in ("camera", "coins", "moon", "horse", "page", "text", "clock", "brick", "grass", "hubble_deep_field"):
        try:
            photos[name] = to_pil(getattr(data, name)())
        except Exception:  # a scikit-image build without this picture (or needing a download)
            pass
    gift = Path(matplotlib.get_data_path()) / "sample_data" / "Minduka_Present_Blue_Pack.png"
    if gift.is_file():
        photos["gift"] = to_pil(gift)
    return {k: v for k, v in photos.items() if k in COARSE_LABELS}


def _views(img: Image.Image, n: int) -> list[Image.Image]:
    w, h = img.size
    views = [img, ImageOps.mirror(img)]
    for frac, (ax, ay) in ((0.75, (0.5, 0.5)), (0.8, (0.0, 0.0)), (0.8, (1.0, 1.0)), (0.6, (0.5, 0.5))):
        cw, ch = int(w * frac), int(h * frac)
        x0, y0 = int((w - cw) * ax), int((h - ch) * ay)
        views.append(img.crop((x0, y0, x0 + cw, y0 + ch)))
    return views[:n]


def coarse_photo_set(views: int = 4) -> Labelled:
    """A small labelled zero-shot set from offline photos, with coarse labels that are not ImageNet class names.

    About 19 pictures (the :func:`~nlexnb.sample_images` photos, greyscale scikit-image pictures such as a man with a
    camera, coins, the moon, a horse silhouette, a clock and a page of text, and matplotlib's gift-box drawing), each
    in ``views`` versions: the original, a mirror image, and crops (centre 75 %, top-left 80 %, bottom-right 80 %,
    centre 60 %). Labels: see :data:`COARSE_LABELS` ("cat", "drink", "person", "vehicle", "building", ...).

    Args:
        views: versions per picture, 1 to 6.

    Returns:
        ``(PIL image, label)`` pairs, grouped by picture.
    """
    if not 1 <= views <= 6:
        raise ValueError(f"views must be between 1 and 6, got {views}")
    return [(v, COARSE_LABELS[name]) for name, img in _coarse_sources().items() for v in _views(img, views)]
