"""Small on-disk helpers: the cache folder, atomic writes, and a content-addressed tensor cache.

Files are written to a temporary name in the same folder and moved into place with ``os.replace``, so a crash never
leaves a half-written file under the real name. Cache files are safetensors (no pickle), and a damaged file is
deleted (skipped, with a warning, where the cache is read-only) and recomputed, never trusted.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from ._checks import warn_user

__all__ = [
    "cache_dir",
    "data_dir",
    "safe_extract",
    "atomic_write_bytes",
    "atomic_save_safetensors",
    "safetensors_path",
    "TensorCache",
    "text_key",
    "remove_damaged",
]


def folder_from_env(variable: str) -> Path | None:
    """The folder an environment variable names, or None when it is unset or empty. ``~`` is expanded ("~/nlx" made
    a folder named "~" in the working directory) and a relative folder is taken from the working directory as it is
    when read, so that a later ``os.chdir`` does not move the folder under a running program."""
    value = os.environ.get(variable)
    return Path(os.path.abspath(os.path.expanduser(value))) if value else None


def cache_dir() -> Path:
    """Root of nlexnb's caches: ``$NLEXNB_CACHE`` if set (``~`` expanded; a relative folder is taken relative to the
    working directory), else ``~/.cache/nlexnb``."""
    return folder_from_env("NLEXNB_CACHE") or Path(os.path.expanduser("~"), ".cache", "nlexnb")


def data_dir() -> Path:
    """Root of the data sets nlexnb unpacks (the stamp photos), kept apart from the cache so that clearing or
    redirecting the cache does not lose them: ``$NLEXNB_DATA`` (``~`` expanded; a relative folder is taken relative
    to the working directory), else ``$XDG_DATA_HOME/nlexnb``, else ``~/.local/share/nlexnb``."""
    folder = folder_from_env("NLEXNB_DATA")
    if folder is not None:
        return folder
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "nlexnb"


def safe_extract(archive, folder: Path) -> None:
    """Extract a ``zipfile.ZipFile`` into ``folder``, refusing any member that would land outside it."""
    root = folder.resolve()
    for member in archive.namelist():
        if not (root / member).resolve().is_relative_to(root):
            raise RuntimeError(f"Refusing zip member {member!r}: it would land outside {str(folder)!r}")
    archive.extractall(folder)


def _atomic(path: Path, write: Callable[[str], None]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as exc:  # "[Errno 17] File exists" named neither the file nor the fix
        blocking = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
        if blocking is None:
            raise
        raise NotADirectoryError(
            f"Cannot write {str(path)!r}: {str(blocking)!r} is a file, not a folder. Give a path in a folder"
        ) from exc
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException as exc:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(exc, OSError) and exc.errno is not None and exc.filename == tmp:
            # "[Errno 21] Is a directory: '.m.safetensors.x1b2.tmp' -> 'm.safetensors'" named a file the user never saw
            raise OSError(exc.errno, exc.strerror, str(path)) from exc
        raise


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write bytes to ``path`` atomically."""

    def write(tmp: str) -> None:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())

    _atomic(Path(path), write)


def safetensors_path(path, example: str) -> Path:
    """The file a ``save(path)`` writes: ``path`` with ``.safetensors`` added when it lacks it. A folder is refused
    (``save("results/")`` wrote ``results.safetensors`` beside it), and so is anything but a path; ``example`` names
    a file in it for the message."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a file path (str or Path), got {type(path).__name__}")
    folder = isinstance(path, str) and path.endswith(("/", os.sep))  # a folder that does not exist yet
    path = Path(path).expanduser()  # "~/m" wrote a folder named "~" in the working directory
    if folder or path.is_dir():
        raise ValueError(f"path is a folder ({str(path)!r}); give a file path such as {str(path / example)!r}")
    written = path if path.suffix == ".safetensors" else path.with_name(path.name + ".safetensors")
    if written.is_dir():  # the write failed naming a hidden temporary file beside it
        raise ValueError(
            f"path {str(path)!r} is saved as {str(written)!r}, which is a folder; give another file name, or a file "
            f"path in that folder such as {str(written / example)!r}"
        )
    return written


def atomic_save_safetensors(path: str | Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> None:
    """Save tensors + string metadata as a safetensors file, atomically."""
    from safetensors.torch import save_file

    clean = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    _atomic(Path(path), lambda tmp: _save_file(save_file, clean, tmp, metadata))


def _save_file(save_file: Callable, tensors: dict[str, torch.Tensor], tmp: str, metadata: dict[str, str]) -> None:
    """safetensors' ``save_file``, its I/O errors raised as the OSError they are: it raises them as a SafetensorError
    ("Error while serializing: I/O error: No space left on device (os error 28)"), which a full disk's cache write
    then did not catch (the run crashed and lost its result) and which named no file."""
    from safetensors import SafetensorError

    try:
        save_file(tensors, tmp, metadata=metadata)
    except SafetensorError as exc:
        if "I/O error" not in str(exc):
            raise
        found = re.search(r"\(os error (\d+)\)", str(exc))
        code = int(found.group(1)) if found else errno.EIO
        raise OSError(code, os.strerror(code) if found else str(exc), tmp) from exc


_UNWRITABLE_WARNED: set[str] = set()


def cache_write(write: Callable[[], None], where: Path) -> bool:
    """Run a cache write; where the cache cannot be written (read-only, full, no permission), warn once per folder
    and go on without caching: a cache only saves time, never changes a result. Returns whether it was written."""
    try:
        write()
        return True
    except OSError as exc:
        folder = str(where)
        if folder not in _UNWRITABLE_WARNED:
            _UNWRITABLE_WARNED.add(folder)
            warn_user(
                f"nlexnb's cache {folder!r} cannot be written ({exc.strerror or exc}); results are computed but not "
                "cached. Set NLEXNB_CACHE to a writable folder to keep them"
            )
        return False


def remove_damaged(path: Path) -> str:
    """Delete a cache file that must not be used; returns '' when it is gone, else why it could not be deleted (a
    read-only cache): the caller then skips it and says so, rather than failing on a file it only wanted gone."""
    try:
        path.unlink(missing_ok=True)
    except OSError as exc:
        return exc.strerror or str(exc)
    return ""


def text_key(text: str) -> bytes:
    """16-byte content key of one text."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()


class TensorCache:
    """A per-namespace cache of one vector per text, stored as safetensors shards under ``cache_dir()/namespace``.

    Shards hold ``keys`` [n,16] uint8 and ``values`` [n,dim] float32. Each call that computes new vectors writes one new
    shard; when there are many shards they are merged into one. Unreadable or inconsistent shards are removed.
    """

    max_shards = 32

    def __init__(self, namespace: str, enabled: bool = True) -> None:
        self.folder = cache_dir() / namespace
        self.enabled = enabled
        self._index: dict[bytes, torch.Tensor] | None = None

    def __getstate__(self) -> dict:
        """Pickled (sent to a worker process or a Ray actor) without the in-memory index: it is read again from disk
        there (each row is a view of a whole shard, so pickling them would copy every shard once per row)."""
        return {**self.__dict__, "_index": None}

    def _load(self, dim: int | None = None) -> dict[bytes, torch.Tensor]:
        """Every cached vector by key; a shard that is damaged, of another width than ``dim`` or dtype, or not
        finite is removed (another process's compaction removing a shard while this one reads is no damage)."""
        if self._index is not None:
            return self._index
        index: dict[bytes, torch.Tensor] = {}
        if self.enabled and self.folder.is_dir():
            from safetensors.torch import load_file

            for shard in sorted(self.folder.glob("shard-*.safetensors")):
                try:
                    data = load_file(str(shard))
                    keys, values = data["keys"].clone(), data["values"].clone()  # in memory, not mapped from the file
                    if keys.ndim != 2 or keys.shape[1] != 16 or values.ndim != 2 or values.shape[0] != keys.shape[0]:
                        raise ValueError("inconsistent shapes")
                    if dim is not None and values.shape[1] != dim:  # rows of another width failed in torch.stack
                        raise ValueError(f"vectors of width {values.shape[1]}, not {dim}")
                    if keys.dtype != torch.uint8 or values.dtype != torch.float32:
                        raise ValueError(f"dtypes {keys.dtype} and {values.dtype}, not uint8 and float32")
                    if not torch.isfinite(values).all():
                        raise ValueError("non-finite values")
                except FileNotFoundError:  # compacted away by another process meanwhile: its rows are in shard-all
                    continue
                except Exception as exc:  # damaged shard: never trust it
                    _drop_damaged(shard, exc)
                    continue
                for key, row in zip(keys.numpy(), values):
                    index[key.tobytes()] = row
        self._index = index
        return index

    def get_or_compute(
        self, texts: Sequence[str], compute: Callable[[list[str]], torch.Tensor], dim: int
    ) -> torch.Tensor:
        """Vectors for ``texts`` [n, dim] (float32, CPU), computing only the ones not cached."""
        if not texts:
            return torch.empty(0, dim)
        index = self._load(dim)
        keys = [text_key(t) for t in texts]
        missing: dict[bytes, str] = {}
        for k, t in zip(keys, texts):
            if k not in index and k not in missing:
                missing[k] = t
        if missing:
            fresh = compute(list(missing.values())).detach().to("cpu", torch.float32)
            for k, row in zip(missing, fresh):
                index[k] = row
            if self.enabled:
                cache_write(lambda: self._write_shard(list(missing), fresh), self.folder)
        return torch.stack([index[k] for k in keys])

    def _write_shard(self, keys: list[bytes], values: torch.Tensor) -> None:
        import numpy as np

        key_tensor = torch.from_numpy(np.frombuffer(b"".join(keys), dtype=np.uint8).reshape(-1, 16).copy())
        name = hashlib.blake2b(b"".join(keys), digest_size=8).hexdigest()
        atomic_save_safetensors(self.folder / f"shard-{name}.safetensors", {"keys": key_tensor, "values": values}, {})
        shards = sorted(self.folder.glob("shard-*.safetensors"))
        if len(shards) > self.max_shards:
            self._compact(shards)

    def _compact(self, shards: list[Path]) -> None:
        index = self._load()
        import numpy as np

        keys = list(index)
        key_tensor = torch.from_numpy(np.frombuffer(b"".join(keys), dtype=np.uint8).reshape(-1, 16).copy())
        values = torch.stack([index[k] for k in keys])
        atomic_save_safetensors(self.folder / "shard-all.safetensors", {"keys": key_tensor, "values": values}, {})
        for shard in shards:
            if shard.name != "shard-all.safetensors":
                shard.unlink(missing_ok=True)


def _drop_damaged(shard: Path, problem: Exception) -> None:
    """Remove a damaged cache shard, with a warning; one that cannot be removed (a read-only cache) is skipped, and
    the warning says so."""
    why_kept = remove_damaged(shard)
    if not why_kept:
        warn_user(f"Removing damaged cache file {shard} ({problem}); its entries will be recomputed")
    else:
        warn_user(
            f"Skipping damaged cache file {shard} ({problem}); its entries will be recomputed. It could not be "
            f"removed ({why_kept}): delete it, or set NLEXNB_CACHE to a writable folder"
        )
