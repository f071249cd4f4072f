"""Writing an explanations file safely: part files renamed into place, what a resumed run has done, the final merge,
and one run at a time per file.

Rows go to part files in ``<out>.partial/``, each written under a temporary name and renamed into place (an error or
Ctrl-C keeps every finished batch; a killed process loses at most ``checkpoint_every`` images). The final file
appears, by an atomic rename, only when every image is done.
"""

from __future__ import annotations

import ctypes
import functools
import json
import os
import shutil
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from .._checks import warn_user
from .files import arrow, error_schema, errors_path, partial_dir, row_schema, start_again
from .sources import file_stamp, fingerprint

__all__ = ["Parts", "existing_files", "done_ids", "same_images", "finish", "locked", "trim_memory"]

LOCK_GRACE_S = 60.0
"""Seconds an empty or unreadable lock file is taken as a run still writing it; older, as left by a killed run."""

SAMPLED = 8
"""Written images a resumed run reads again to check they are still the collection's (spread over the ids)."""


@functools.lru_cache(maxsize=1)
def _malloc_trim():
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc: nothing to do
        return None


def trim_memory() -> None:
    """Give the heap memory freed since the last call back to the system (glibc; elsewhere a no-op). Without it glibc
    kept the scattered buffers of the classifier's CPU forward passes: resident memory grew from 1.2 to 3.2 GB over
    2,900 images in some runs, and stays at 1.2-1.3 GB with it (``benchmarks/bench_collection.py``)."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def _fsync(path: str | Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Parts:
    """This run's rows and errors, written as part files in the partial folder: each under a temporary name, renamed
    into place (errors first) every ``every`` images, when the run ends and when it is interrupted."""

    def __init__(self, folder: Path, metadata: dict[bytes, bytes], every: int) -> None:
        self.folder, self.every = folder, every
        self.token = f"{time.time_ns():x}-{os.getpid()}"
        self.schemas = {
            "rows": row_schema().with_metadata(metadata),
            "errors": error_schema().with_metadata(metadata),
        }
        self.writers: dict[str, Any] = {}
        self.tmp: dict[str, Path] = {}
        self.count = 0
        self.pending = 0

    def write(self, kind: str, table) -> None:
        _, pq = arrow()
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
        trim_memory()

    def abort(self) -> None:
        for kind, writer in list(self.writers.items()):
            try:
                writer.close()
            except Exception:
                pass
            self.tmp[kind].unlink(missing_ok=True)
        self.writers.clear()


def existing_files(out: Path) -> tuple[list[Path], list[Path]]:
    """Files already holding rows and errors of this output (final files first, then parts); stale temporary files of
    a killed run are removed, and unreadable parts are removed with a warning (their images are explained again)."""
    _, pq = arrow()
    rows = [out] if out.is_file() else []
    errors = [errors_path(out)] if errors_path(out).is_file() else []
    folder = partial_dir(out)
    if folder.is_dir():
        for tmp in folder.glob(".*.tmp"):
            tmp.unlink(missing_ok=True)
        for part in sorted(folder.glob("*.parquet")):
            try:
                pq.read_metadata(part)
            except Exception as exc:
                warn_user(f"Removing unreadable part {str(part)!r} ({exc}); its images are explained again")
                part.unlink(missing_ok=True)
                continue
            (rows if part.name.startswith("rows-") else errors).append(part)
    return rows, errors


def done_ids(
    files: list[Path],
    paths: list[str | None] | None,
    labels: list[str | None] | None,
    size: int | None,
    out: Path,
) -> np.ndarray:
    """Ids written in ``files`` as a bitmap; refuses a file whose ids, paths or labels do not match the collection's
    (``paths`` and ``labels``: what the collection gives before any image is read, or None where it is not known)."""
    _, pq = arrow()
    done = np.zeros(size or 0, dtype=bool)
    for file in files:
        table = pq.read_table(file, columns=["id", "path", "label"])
        ids = table.column("id").to_numpy()
        if not len(ids):
            continue
        if size is not None and ids.max() >= size:
            raise ValueError(
                f"{str(file)!r} holds image id {int(ids.max())}, but the collection has {size} images: it was written "
                f"for another collection. {start_again(out)}"
            )
        checks = [
            (paths, "path", "is {!r} there and {!r} here"),
            (labels, "label", "is labelled {!r} there and {!r} here"),
        ]
        for given, column, differ in checks:
            if given is None:
                continue
            for i, value in zip(ids.tolist(), table.column(column).to_pylist()):
                if value != given[i]:
                    raise ValueError(
                        f"{str(file)!r} was written for another collection: image id {i} "
                        f"{differ.format(value, given[i])}. {start_again(out)}"
                    )
        if ids.max() >= len(done):
            done = np.concatenate([done, np.zeros(int(ids.max()) + 1 - len(done), dtype=bool)])
        done[ids] = True
    return done


def same_images(files: list[Path], done: np.ndarray, dataset, out: Path, paths: list[str | None] | None = None) -> None:
    """Read again the written images (the ids in ``done``) that may have changed since their rows were written, and
    refuse the file when one's fingerprint or label differs from what is written: in-memory images replaced by
    others, files edited or replaced under the same names, or labels changed would otherwise keep their stale rows.

    Read again through ``dataset`` (the collection's map-style reader: item ``i`` -> :class:`~.sources.Item`): every
    in-memory image (no entry in ``paths``: cheap to prepare again), every file whose size or modification time is
    not what its row says (one ``os.stat`` per written file; a file only touched passes on its fingerprint), and
    :data:`SAMPLED` others spread over the ids (a Dataset's items that are no files, or whose own transform changed,
    are found only this way)."""
    _, pq = arrow()
    ids = np.flatnonzero(done)
    if not len(ids):
        return
    picked = set(ids[np.unique(np.linspace(0, len(ids) - 1, min(SAMPLED, len(ids))).round().astype(int))].tolist())
    if paths is not None:
        picked |= {i for i in ids.tolist() if i < len(paths) and paths[i] is None}
    columns = ["id", "path", "label", "fingerprint", "file_size", "file_mtime_ns"]
    written: dict[int, tuple[Path, str | None, str | None, str | None]] = {}
    for file in files:
        table = pq.read_table(file, columns=columns)
        for i, path, label, mark, size, mtime in zip(*(table.column(c).to_pylist() for c in columns)):
            if i in written or not done[i]:
                continue
            if size is not None and path is not None and file_stamp(path) != (size, mtime):
                picked.add(i)  # edited, replaced or gone since its row was written
            if i in picked:
                written[i] = (file, path, label, mark)
    redo = (
        "Its row is about the image as it was. To explain the collection as it is now, start again with "
        f"nlexnb.collection.remove_explanations({str(out)!r}) (every image is explained again), or write to another "
        "out="
    )
    for i in sorted(written):
        file, path, label, mark = written[i]
        item = dataset[i]
        image = f"image {i}" if path is None else f"image {i} ({path!r})"
        if item.x is None:
            raise ValueError(
                f"{str(file)!r} was written for another collection: {image} is not the image it holds now (it cannot "
                f"be read now: {item.reason}). {redo}"
            )
        if mark is not None and fingerprint(item.x) != mark:
            raise ValueError(
                f"{str(file)!r} was written for another collection: {image} is not the image it holds now (its "
                f"pixels differ: edited or replaced since its row was written?). {redo}"
            )
        if label != item.label:
            raise ValueError(
                f"{str(file)!r} was written for another collection: image id {i} is labelled {label!r} there and "
                f"{item.label!r} here. {start_again(out)}"
            )


def _merge(sources: list[Path], target: Path, schema, skip: np.ndarray | None = None) -> tuple[int, np.ndarray]:
    """Stream the rows of ``sources`` (one row group at a time, each id once, ids marked in ``skip`` left out) into
    ``target``, atomically. Returns the rows written and the bitmap of their ids."""
    _, pq = arrow()
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


def finish(out: Path, metadata: dict[bytes, bytes]) -> tuple[int, int]:
    """Merge the final files and the parts into new final files (errors first, then rows: atomic renames), then remove
    the partial folder. A crash in between is harmless: the next run merges again and keeps each id once."""
    rows_files, error_files = existing_files(out)
    ok_rows, written = _merge(rows_files, out.with_name(f".{out.name}.rows"), row_schema().with_metadata(metadata))
    tmp_rows = out.with_name(f".{out.name}.rows")
    try:
        n_errors, _ = _merge(error_files, errors_path(out), error_schema().with_metadata(metadata), skip=written)
        os.replace(tmp_rows, out)
    finally:
        tmp_rows.unlink(missing_ok=True)
    shutil.rmtree(partial_dir(out), ignore_errors=True)
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
def locked(out: Path) -> Iterator[None]:
    """One run at a time per output: a lock file beside it holds the writer's host and pid; the lock of a process
    that no longer runs (killed) is taken over, and so is an empty or unreadable one older than
    :data:`LOCK_GRACE_S` (a run killed between creating it and writing it; a younger one is a run starting)."""
    lock = out.with_name(f".{out.name}.lock")
    me = {"host": socket.gethostname(), "pid": os.getpid()}
    lock.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            try:
                holder = json.loads(lock.read_text())
                age = time.time() - lock.stat().st_mtime
            except FileNotFoundError:  # released meanwhile
                continue
            except (OSError, ValueError):
                holder, age = {}, _age(lock)
            if not isinstance(holder, dict) or not isinstance(holder.get("pid"), int) or "host" not in holder:
                if age is None:  # released meanwhile
                    continue
                if age > LOCK_GRACE_S:  # left by a run killed before it wrote its pid
                    lock.unlink(missing_ok=True)
                    continue
                raise RuntimeError(
                    f"Another explain_collection run is starting to write {str(out)!r}: its lock file {str(lock)!r} "
                    f"is {age:.0f} s old and not yet written. Wait for it to finish (a lock left empty is taken over "
                    f"after {LOCK_GRACE_S:.0f} s), or delete {str(lock)!r} if no run is"
                ) from None
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
    else:
        raise RuntimeError(
            f"Could not take the lock file {str(lock)!r} for {str(out)!r}: another run took it first; try again"
        )
    try:
        yield
    finally:
        lock.unlink(missing_ok=True)


def _age(path: Path) -> float | None:
    """Seconds since ``path`` was last written, or None when it is gone."""
    try:
        return time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return None
