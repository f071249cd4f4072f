"""One call explains a whole collection: :func:`explain_collection` checks its arguments, locks the output, skips
what an earlier run wrote, streams the batches of an engine (this process, or Ray) into part files and merges them."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from .._checks import UnnormalisedWarning, positive_int, warn_user, yes_no_or_none
from ..explain import Explainer
from ..images import ImageLike, normalisation
from ..labels import counted
from .batched import BatchExplainer, explain_batch
from .files import (
    arrow,
    errors_path,
    file_metadata,
    partial_dir,
    read_errors,
    read_explanations,
    read_identity,
    refuse_if_different,
    remove_explanations,
    run_identity,
    run_info,
)
from .parts import Parts, done_ids, existing_files, finish, locked, same_images, trim_memory
from .ray_engine import ray_stream
from .sources import Source, as_source, data_loader

__all__ = ["explain_collection", "CollectionRun", "ENGINES", "Settings"]

ENGINES: dict[str, str] = {
    "local": "this process: a DataLoader decodes in workers, the classifier's device explains batch by batch",
    "ray": "Ray Data: an actor pool holds one explainer per CPU or GPU slot, on one machine or a cluster "
    "(pip install nlexnb[ray])",
}
"""Ways to run :func:`explain_collection`, by name."""


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
            f"CollectionRun({str(self.path)!r}: {counted(self.rows, 'explanation')}, {self.written} new, "
            f"{self.resumed} resumed, "
            f"{self.errors} skipped, {self.seconds:.1f} s)"
        )


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
            ``(image, label)`` (a float tensor [3, H, W] is taken as already preprocessed, so a transform of the
            Dataset's own must normalise as ``explainer.classifier.transform`` does; an int label is named by the
            dataset's ``classes`` when it has them; torchvision's ``ImageFolder`` works as is, and so does a
            ``Subset`` of one, as ``random_split`` gives). An ``IterableDataset`` is numbered in the order it yields.
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
            killed (an exception or Ctrl-C keeps every finished batch; with Ray, an error in a worker is raised
            here, as the local engine raises it, once the batches before it are written; its warnings are given
            here too, marked "(in a Ray worker)").
        progress: show a progress bar: True, False, or None (the default: shown).

    Returns:
        A :class:`CollectionRun` (``.read()`` gives the DataFrame, ``.read_errors()`` the skipped images).

    Raises:
        TypeError / ValueError / FileNotFoundError: a wrong argument (the message names it and what is accepted), or
            ``out`` written by another explainer or settings, or for another collection (the message says what
            differs; :func:`remove_explanations` starts again). ValueError: no image of the collection could be read
            (the first reasons are named, and nothing is written), or a float tensor that cannot be a preprocessed
            image (pixel values 0-255, channels last: the item is named).
        ImportError: ``engine="ray"`` without Ray installed.
        RuntimeError: another run is writing ``out`` (a lock file beside it names its process).

    **A resumed run checks it is the same collection.** Paths and the labels of ``(image, label)`` pairs are compared
    with the file's for every written id. Then these are read again, and their fingerprints (a hash of the preprocessed
    image, column ``fingerprint``) and labels compared with the file's: every written in-memory image; every file
    whose size or modification time is not what its row records (``file_size``, ``file_mtime_ns``: one ``os.stat`` a
    file); and 8 written items spread over the ids. So in-memory images replaced by others, files edited or replaced
    under the same names, or a Dataset whose labels changed are refused rather than kept as stale rows; a file only
    touched (same pixels) resumes. A file replaced by one of the same size and modification time (``cp -p``,
    ``rsync -t``) is found only among the 8; paths are compared as written, so resume from the same working folder.
    A Dataset's items that are not files are checked through the 8 only. Images skipped before are tried again (a
    damaged file may have been repaired); when they fail again the finished files are left as they are. An
    ``IterableDataset`` cannot be read by position: its written rows are not checked (resume it only with the same
    stream). A Dataset that draws random augmentations gives other pixels each time, so it cannot be resumed. A file
    of an earlier format is refused (``read_explanations`` still reads it).

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
    progress = yes_no_or_none(progress, "progress", "the default: shown")  # "no" is a true string: a bar
    if isinstance(num_workers, bool) or not isinstance(num_workers, (int, np.integer)) or num_workers < 0:
        raise ValueError(f"num_workers must be a number of worker processes (0 or more), got {num_workers!r}")
    if not isinstance(out, (str, os.PathLike)):
        raise TypeError(f"out must be a file path (str or Path), got {type(out).__name__}")
    out = Path(out)
    if out.is_dir():
        raise ValueError(
            f"out is a folder ({str(out)!r}); give a file path such as {str(out / 'explanations.parquet')!r}"
        )
    if out.suffix != ".parquet":  # "explanations.csv" would be a Parquet file under a CSV's name
        raise ValueError(
            f"out must be a .parquet file (explain_collection writes Parquet), got {str(out)!r}; for a CSV, "
            f"write {str(out.with_suffix('.parquet'))!r} and read_explanations(...).to_csv(...)"
        )
    source = as_source(images, explainer.classifier.transform, 0 if engine == "ray" else int(num_workers))
    if engine == "ray" and source.dataset is None:
        raise ValueError(
            "engine='ray' needs a collection whose images can be read by position (a folder, a list or a map-style "
            "Dataset), not an IterableDataset; use engine='local' for it"
        )
    settings = Settings(k, foil_index, batch_size, int(num_workers), engine)
    with locked(out):
        return _run(explainer, source, out, settings, checkpoint_every, progress)


@dataclass(frozen=True)
class Settings:
    """What every batch of a run is explained with, once :func:`explain_collection` has checked it."""

    k: int
    foil: int | None
    batch_size: int
    workers: int
    engine: str


def _run(explainer, source: Source, out: Path, settings: Settings, checkpoint_every: int, progress):
    """:func:`explain_collection` once its arguments are checked and ``out`` is locked."""
    started = time.perf_counter()
    k, foil_index = settings.k, settings.foil
    identity, info = run_identity(explainer, k, foil_index), run_info(explainer, foil_index)
    metadata = file_metadata(identity, info)
    rows_files, error_files = existing_files(out)
    for file in rows_files + error_files:
        refuse_if_different(file, read_identity(file), identity, out)
    done_rows = done_ids(rows_files, source.paths, source.labels, source.size, out)
    done_ids(error_files, source.paths, source.labels, source.size, out)  # checked; its images are tried again
    done = done_rows  # an image skipped before (a damaged file since repaired) gets its row now if it can
    if source.dataset is not None:  # an IterableDataset cannot be read again by position
        same_images(rows_files, done_rows, source.dataset, out, source.paths)
    resumed = int(done_rows.sum())
    if source.size is not None:
        done = np.pad(done, (0, max(0, source.size - len(done))))
        remaining = np.flatnonzero(~done[: source.size])
    partial = partial_dir(out).is_dir()
    complete = not partial and out.is_file()  # a finished run: only its skipped images may be left to try
    if source.size is not None and not len(remaining) and complete:
        return _summary(out, source.size, 0, resumed, started)  # nothing to do: the file is complete

    todo = remaining if source.size is not None else None
    if settings.engine == "ray":
        stream = ray_stream(explainer, source, todo, settings)
    else:
        stream = _local_stream(explainer, source, done, todo, settings)
    parts = Parts(partial_dir(out), metadata, checkpoint_every)
    written = skipped = batches = read = 0
    reasons: list[tuple[int, str | None, str]] = []  # the first few images that could not be read, and why
    loose: list[int] = []  # float tensors whose every value is in [0, 1]: warned of once, at the end
    from tqdm.auto import tqdm

    bar = tqdm(
        total=source.size,
        initial=int(done[: source.size or len(done)].sum()),
        disable=progress is False,
        desc="explain_collection",
        unit="img",
    )
    try:
        for batch in stream:
            table, errors = batch.rows, batch.errors
            if table is not None and table.num_rows:
                parts.write("rows", table)
                written += table.num_rows
            if errors is not None and errors.num_rows:
                parts.write("errors", errors)
                skipped += errors.num_rows
                if len(reasons) < _REASONS_SHOWN:
                    listed = zip(*(errors.column(c).to_pylist() for c in ("id", "path", "reason")))
                    reasons += list(listed)[: _REASONS_SHOWN - len(reasons)]
                bar.set_postfix(skipped=skipped)
            read += batch.read
            loose += batch.loose
            bar.update(batch.size)
            parts.images_done(batch.size)
            batches += 1
            if batches % 16 == 0:
                trim_memory()
    except BaseException:
        try:
            parts.commit()  # every finished batch is kept: the rerun starts after it
        except Exception:
            parts.abort()
        raise
    finally:
        bar.close()
    if not batches and not done.any():  # an IterableDataset that yielded nothing: no file is written
        raise ValueError(
            f"images is an empty IterableDataset: it yielded no item, so there is nothing to explain ({str(out)!r} was "
            "not written); give at least one image"
        )
    if loose:
        _warn_unnormalised(loose, explainer.classifier.transform)
    if not read and not done_rows.any():  # every image failed to be read: a mistake common to all, not a run
        parts.abort()
        remove_explanations(out)  # only error rows: a corrected rerun starts afresh, not "another collection"
        raise ValueError(_nothing_read(skipped, reasons, out))
    if complete and not written:  # the skipped images failed again: the finished files stay as they are
        parts.abort()
        shutil.rmtree(partial_dir(out), ignore_errors=True)
    else:
        parts.commit()
        finish(out, metadata)
    if skipped:
        warn_user(
            f"explain_collection skipped {skipped} image(s) (listed with the reason in {str(errors_path(out))!r}, "
            "read_errors)"
        )
    return _summary(out, source.size, written, resumed, started)


_REASONS_SHOWN = 3
"""Images named, with the reason, when no image of a collection could be read."""


def _nothing_read(skipped: int, reasons: list[tuple[int, str | None, str]], out: Path) -> str:
    """Why a run explained nothing: the first images that could not be read and why, and what may be common to all."""
    shown = "; ".join(f"images[{i}]{'' if p is None else f' ({p!r})'}: {reason}" for i, p, reason in reasons)
    more = f"; and {skipped - len(reasons)} more" if skipped > len(reasons) else ""
    hint = ""
    if any(p is not None and "FileNotFound" in reason and not os.path.isabs(p) for _, p, reason in reasons):
        hint = f" Relative paths are read from the working folder {os.getcwd()!r}: give them from there, or absolute."
    which = "its one image" if skipped == 1 else f"any of the {skipped} images"
    return (
        f"explain_collection could not read {which}, so nothing was explained and nothing was written to "
        f"{str(out)!r}: {shown}{more}. A mistake common to every image?{hint} Fix it and run again"
    )


def _warn_unnormalised(ids: list[int], transform) -> None:
    """One warning for every float tensor of a run whose values all lie in [0, 1] (a Dataset of ToTensor() output
    without Normalize gave one per image: 50,000 for 50,000 images)."""
    norm = normalisation(transform)
    how = ""
    if norm is not None:
        mean, std = ([round(float(v), 3) for v in values] for values in norm)
        how = f" (Normalize(mean={mean}, std={std}))"
    named = ", ".join(f"images[{i}]" for i in sorted(ids)[:3]) + (f" and {len(ids) - 3} more" if len(ids) > 3 else "")
    hold, look, were = ("holds", "it looks", "was") if len(ids) == 1 else ("hold", "they look", "were")
    warn_user(
        f"{counted(len(ids), 'float tensor')} taken as preprocessed ({named}) {hold} only values in [0, 1]: {look} "
        f"like ToTensor() output without Normalize, which this classifier's preprocessing applies{how}, and {were} "
        "explained as they are. Return PIL images or paths from the Dataset (preprocessed for you), or give it "
        "transform=explainer.classifier.transform. (A very bright, washed-out photo that was normalised can also "
        "lie there: then this warning does not apply.)",
        UnnormalisedWarning,
    )


def _local_stream(explainer: Explainer, source: Source, done, remaining, settings: Settings) -> Iterator[tuple]:
    """Engine "local": a DataLoader decodes (in workers), this process explains batch by batch."""
    pin = explainer.classifier.device.type == "cuda"
    loader = data_loader(source, done, remaining, settings.batch_size, settings.workers, pin)
    run = BatchExplainer(explainer, settings.k, settings.foil)
    for batch in loader:
        yield explain_batch(batch, run)


def _summary(out: Path, size: int | None, written: int, resumed: int, started: float) -> CollectionRun:
    _, pq = arrow()
    rows = pq.read_metadata(out).num_rows
    errs = pq.read_metadata(errors_path(out)).num_rows if errors_path(out).is_file() else 0
    return CollectionRun(out, errors_path(out), size, rows, written, resumed, errs, time.perf_counter() - started)
