"""What a notebook works on and writes: its photos (:func:`notebook_images`), a spread of a labelled set
(:func:`spread`) and a fresh output file (:func:`fresh_output`)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .._checks import positive_int
from .._store import cache_dir


def notebook_images(image_dir: str | Path | None = None, limit: int | None = None) -> dict[str, Any]:
    """The images a notebook works on: files of ``image_dir`` (by name, sorted), or the bundled sample photos.

    Args:
        image_dir: a folder of images (its image files, as :func:`nlexnb.datasets.image_files` lists them, not
            recursive); None: the sample photos of :func:`nlexnb.sample_images` (no network).
        limit: keep at most this many.

    Returns:
        Name -> RGB PIL image, in a stable order.
    """
    from ..datasets import IMAGE_EXTENSIONS, image_files
    from ..images import sample_images, to_pil

    limit = None if limit is None else positive_int(limit, "limit", "images")  # -1 dropped the last one
    if image_dir is None:
        photos = sample_images()
    else:
        folder = Path(image_dir).expanduser()  # the first cell's check reads "~/photos" so
        files = image_files(folder, recursive=False).images
        if not files:
            raise ValueError(f"No images in {str(folder)!r} (extensions {', '.join(IMAGE_EXTENSIONS)})")
        stems = Counter(p.stem for p in files)  # "cat.jpg" and "cat.png" are two photos, each named by its file
        photos = {p.stem if stems[p.stem] == 1 else p.name: to_pil(p) for p in files}
    names = list(photos)[:limit] if limit is not None else list(photos)
    return {name: photos[name] for name in names}


def spread(items: Sequence[Any], limit: int | None = None) -> list[Any]:
    """At most ``limit`` of ``items``, evenly spaced through them (all of them when ``limit`` is None or not smaller).

    A labelled set comes grouped by label (all the birds, then the fish, ...): its first ``limit`` pairs would be
    birds only, while an even spread keeps every label's share.
    """
    items = list(items)
    if limit is not None:  # checked before it is compared: "3" failed in Python's words, True was 1
        limit = positive_int(limit, "limit", "items (or None)")
    if limit is None or limit >= len(items):
        return items
    return [items[i * len(items) // limit] for i in range(limit)]


def fresh_output(name: str, folder: str | Path | None = None) -> Path:
    """A file for what a notebook writes, ``folder/name`` (default: ``$NLEXNB_CACHE/notebooks/``), with what an earlier
    run left under that name removed, so that each run of the notebook starts afresh and one copy is kept.

    For an explanations file (:func:`nlexnb.explain_collection`) that is the file, its errors file and the parts of an
    unfinished run; nothing else in the folder is touched. In a folder of the user's, only files explain_collection
    wrote are removed (:func:`nlexnb.collection.remove_explanations`); in nlexnb's cache, whatever holds those names.
    """
    import shutil

    from ..collection import errors_path, remove_explanations
    from ..collection.files import partial_dir

    if not isinstance(name, str) or not name.strip() or Path(name).name != name or name in (".", ".."):
        raise ValueError(f"name must be a file name (no folder), got {name!r}")
    target = (Path(folder).expanduser() if folder is not None else cache_dir() / "notebooks") / name
    if target.is_dir():
        raise IsADirectoryError(f"{str(target)!r} is a folder: name a file to write, e.g. 'explanations.parquet'")
    target.parent.mkdir(parents=True, exist_ok=True)
    if folder is not None:
        remove_explanations(target)
    else:  # nlexnb's own folder: a damaged file left there is nlexnb's too
        for file in (target, errors_path(target)):
            file.unlink(missing_ok=True)
        shutil.rmtree(partial_dir(target), ignore_errors=True)
    return target
