"""The notebooks' common set-up (:func:`setup`): the classifier, the text encoder, and the mapper notebook 01 saved,
kept in nlexnb's cache under a name that fingerprints the head, the encoder and the fitting code."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .._checks import a_seed, yes_or_no
from .._store import cache_dir, cache_write, safetensors_path

if TYPE_CHECKING:
    from ..classifier import Classifier
    from ..mapper import Mapper
    from ..text import TextEncoder


MAPPER_SOURCES = ("loaded", "fitted", "given", "none")
"""How :func:`setup` got the mapper (``NotebookSetup.mapper_source``)."""

_FIT_CODE = ("maps.py", "mapper.py", "labels.py")  # the code a fit runs: a change of it makes saved fits stale


def notebook_style() -> None:
    """The notebooks' display settings: seaborn's white-grid theme and three decimals in pandas tables.

    (``%matplotlib inline`` is an IPython magic and stays in the notebook.)
    """
    import pandas as pd
    import seaborn as sns

    sns.set_theme(style="whitegrid")
    pd.set_option("display.precision", 3)


@dataclass(repr=False)
class NotebookSetup:
    """What a notebook works with and how it got each part: the result of :func:`setup`.

    Its ``repr`` (the set-up cell's output) says it in one line, then one line per part.

    Attributes:
        classifier: the classifier.
        encoder: the text encoder.
        mapper: the mapper of this classifier and encoder; None after ``setup(mapper=False)``.
        mapper_source: one of :data:`MAPPER_SOURCES`: ``"loaded"`` (a saved mapper of exactly this head, encoder and
            fit), ``"fitted"`` (none usable was saved: fitted now, and saved at ``mapper_path`` unless the classifier
            has random weights), ``"given"`` (passed in) or ``"none"``.
        mapper_path: the file the mapper was loaded from or saved to; None when it was neither.
        notes: how each part was obtained: ``"classifier"`` and ``"encoder"``: "loaded" or "given"; ``"mapper"``: a
            phrase (where from, and why a new fit when there was one).
        seconds: how long each part took.
    """

    classifier: Classifier
    encoder: TextEncoder
    mapper: Mapper | None
    mapper_source: str
    mapper_path: Path | None = None
    notes: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def summary(self) -> str:
        """One line: the models and what happened to the mapper, e.g. ``tf_efficientnet_lite0 + all-MiniLM-L6-v2,
        mapper loaded from ~/.cache/nlexnb/mappers/... (fitted by notebook 01, 2 min ago) in 0.4 s``."""
        head = f"{self.classifier.name} + {self.encoder.name}"
        if self.mapper_source == "none":
            return f"{head}, {self.notes['mapper']}"
        return f"{head}, mapper {self.notes['mapper']} in {_seconds(self.seconds.get('mapper', 0.0))}"

    def __repr__(self) -> str:
        lines = [self.summary]
        parts = {"classifier": self.classifier, "encoder": self.encoder, "mapper": self.mapper}
        verbs = {"classifier": self.notes.get("classifier"), "encoder": self.notes.get("encoder")}
        for part, obj in parts.items():
            if obj is None:
                continue
            verb = verbs.get(part, self.mapper_source)
            took = "" if verb == "given" else f" in {_seconds(self.seconds.get(part, 0.0))}"
            lines.append(f"  {part + ':':<11} {obj!r}, {verb}{took}")
        return "\n".join(lines)


def setup(
    model: str | Classifier = "tf_efficientnet_lite0",
    encoder: str | TextEncoder | None = None,
    device: str | None = None,
    *,
    mapper: str | os.PathLike | Mapper | bool | None = None,
    seed: int = 0,
    style: bool = True,
) -> NotebookSetup:
    """The notebooks' set-up in one step: the classifier, the text encoder, and the mapper notebook 01 saved.

    The mapper is loaded from its file when one was saved for exactly this classifier head (and class names), text
    encoder and fit (method, seed, version of the fitting code); otherwise a new one is fitted and saved there (in one
    atomic write), so the next notebook loads it. A saved mapper of another classifier or encoder is never used: the
    file name holds their fingerprints, and :func:`nlexnb.load_mapper` checks them again. The result says which
    happened.

    Args:
        model: a model name for :func:`nlexnb.load_classifier`, or a classifier already loaded.
        encoder: a text-encoder name for :func:`nlexnb.load_text_encoder` (None: the default), or an encoder.
        device: where models loaded by name go (None: CUDA when available).
        mapper: None: the mapper saved at :func:`mapper_path` in nlexnb's cache (where notebook 01 saves it), fitted
            and saved there when none usable is; a path (the notebooks' ``MAPPER_PATH``): the mapper saved in that
            ``.safetensors`` file, fitted and saved there when the file does not exist (a file that holds another
            classifier's or encoder's mapper, or cannot be read, is an error: it is never overwritten); a fitted
            :class:`~nlexnb.Mapper`: used as it is, after checking it belongs to this classifier and encoder; False:
            no mapper (notebook 01 fits its own).
        seed: the fit's seed (:func:`nlexnb.fit_mapper`), part of the default file name.
        style: apply :func:`notebook_style`.

    Returns:
        A :class:`NotebookSetup`: ``.classifier``, ``.encoder``, ``.mapper``, how each was obtained and in how long.

    Raises:
        ValueError: a mapper given (object or file) that belongs to another classifier or encoder, or a file that
            is not a readable mapper.
        TypeError: ``mapper`` of another type.
    """
    from ..classifier import Classifier
    from ..loading import load_classifier
    from ..mapper import Mapper
    from ..text import TextEncoder, load_text_encoder

    if not (mapper is None or mapper is False or isinstance(mapper, (str, os.PathLike, Mapper))):
        raise TypeError(
            f"mapper must be None (nlexnb's cache), a .safetensors path, a fitted Mapper or False (none), "
            f"got {type(mapper).__name__} ({mapper!r})"
        )
    if isinstance(mapper, (str, os.PathLike)) and (
        Path(mapper).suffix in CHECKPOINT_SUFFIXES or (Path(mapper).is_file() and Path(mapper).suffix != ".safetensors")
    ):  # "mine.pt" was ignored: a mapper was fitted and saved beside it, as "mine.pt.safetensors"
        raise ValueError(
            f"mapper must name a .safetensors file written by Mapper.save (which adds .safetensors to a name without "
            f"it), got {str(mapper)!r}, a file of another kind"
        )
    style = yes_or_no(style, "style")  # "no" applied the style
    if device is not None:  # it was ignored for a model given as an object, which stays where it is
        import torch

        from .._checks import a_device

        wanted = a_device(device)
        for part, value in (("classifier", model), ("encoder", encoder)):
            there = getattr(value, "device", None)
            if isinstance(value, (Classifier, TextEncoder)) and torch.device(there).type != wanted.type:
                raise ValueError(
                    f"device={device!r} is for models loaded by name; the {part} given is on {there}. Leave device "
                    "out, or load it there"
                )
    if style:
        notebook_style()
    notes, seconds = {}, {}

    def given_or_loaded(part: str, value, kind: type, load):
        start = time.perf_counter()
        result, notes[part] = (value, "given") if isinstance(value, kind) else (load(value, device=device), "loaded")
        seconds[part] = time.perf_counter() - start
        return result

    classifier = given_or_loaded("classifier", model, Classifier, load_classifier)
    text_encoder = given_or_loaded("encoder", encoder, TextEncoder, load_text_encoder)
    start = time.perf_counter()
    fitted, source, path, notes["mapper"] = _setup_mapper(classifier, text_encoder, mapper, a_seed(seed))
    seconds["mapper"] = time.perf_counter() - start
    return NotebookSetup(classifier, text_encoder, fitted, source, path, notes, seconds)


CHECKPOINT_SUFFIXES = (".pt", ".pth", ".ckpt", ".bin", ".pkl", ".pickle", ".npz", ".npy", ".h5", ".onnx", ".json")
"""Suffixes of files that are not nlexnb mappers: a mapper path ending in one is refused rather than taken as a name to
which Mapper.save adds ".safetensors" ("mapper.v2" is such a name)."""


def _setup_mapper(classifier, encoder, mapper, seed: int) -> tuple[Mapper | None, str, Path | None, str]:
    """(mapper, source, path, note) for :func:`setup`."""
    from ..mapper import Mapper, fit_mapper, load_mapper

    if mapper is False:
        return None, "none", None, "no mapper loaded (mapper=False)"
    if isinstance(mapper, Mapper):
        _check_given_mapper(mapper, classifier, encoder)
        return mapper, "given", None, "given"
    explicit = mapper is not None
    if explicit:
        path = safetensors_path(Path(mapper).expanduser(), "mapper")
    else:
        path = mapper_path(classifier, encoder, seed=seed)
    if path.is_file():
        try:
            loaded = load_mapper(path, classifier, encoder)
        except ValueError as exc:
            if explicit:
                raise ValueError(
                    f"The mapper file {str(path)!r} cannot be used with {classifier.name!r} + {encoder.name!r} (and is "
                    f"not overwritten): {str(exc).rstrip('.')}. Give another path, None for the cache, or delete it"
                ) from None
            why = f"the file saved there could not be used: {exc}"
        else:
            why = None if explicit else _other_fit(loaded, classifier, seed)
            if why is None:
                return loaded, "loaded", path, f"loaded from {_short(path)} ({_provenance(loaded, path)})"
    else:
        why = "none was saved there"
    fitted = fit_mapper(classifier, encoder, seed=seed)
    if classifier.weights_source == "random":
        return fitted, "fitted", None, "fitted, not saved (random weights differ at every load: no one could reuse it)"
    if explicit:
        save_mapper(fitted, classifier, path, by="nlexnb.reports.setup")
    elif not cache_write(lambda: save_mapper(fitted, classifier, path, by="nlexnb.reports.setup"), path.parent):
        return fitted, "fitted", None, f"fitted ({why}; the cache cannot be written, so it was not saved)"
    return fitted, "fitted", path, f"fitted and saved to {_short(path)} for the next notebooks ({why})"


def mapper_path(classifier: Classifier, encoder: TextEncoder, *, method: str = "kernel", seed: int = 0) -> Path:
    """Where :func:`setup` and notebook 01 keep the default mapper of a classifier and text encoder.

    ``$NLEXNB_CACHE/mappers/<classifier>-<head fingerprint>/<encoder identity>-<method>-seed<seed>-<tag>.safetensors``,
    where the tag hashes the class names and the fitting code (so an edited fit, or renamed classes, never reads an
    older file).
    """
    folder = f"{_file_safe(classifier.name)}-{classifier.fingerprint}"
    name = f"{_file_safe(encoder.identity)}-{method}-seed{seed}-{_fit_tag(classifier)}.safetensors"
    return cache_dir() / "mappers" / folder / name


def save_mapper(
    mapper: Mapper, classifier: Classifier, path: str | os.PathLike | None = None, *, by: str | None = None
) -> Path:
    """Save a fitted mapper where :func:`setup` finds it (atomically): ``path``, or :func:`mapper_path` by default.

    Args:
        mapper: fitted on ``classifier``'s head.
        classifier: the classifier it was fitted on (its class names are recorded, and name the default file).
        path: a ``.safetensors`` file; None: :func:`mapper_path` (then the mapper must be a default fit, on all
            classes with the default templates, as :func:`setup` would make it).
        by: who fitted it ("notebook 01"), shown when :func:`setup` loads it.

    Returns:
        The path written.
    """

    meta = mapper.meta
    if meta.get("classifier_fingerprint") != classifier.fingerprint:
        raise ValueError(
            f"This mapper was fitted on head {meta.get('classifier_fingerprint')} ({meta.get('classifier')!r}), not "
            f"on {classifier.name!r} ({classifier.fingerprint})"
        )
    if path is None:
        if _other_fit(mapper, classifier, meta.get("seed", 0), method=meta.get("method")):
            raise ValueError(
                "save_mapper(path=None) keeps default fits only (all classes, default templates, hyper-parameters, "
                "glosses, descriptions and seen-class penalty), which setup() loads; give a path for this one"
            )
        path = mapper_path(classifier, mapper.text_encoder, method=meta["method"], seed=meta["seed"])
    extra = {"class_names_sha": _names_hash(classifier), **({"saved_by": by} if by else {})}
    return dataclasses.replace(mapper, meta={**meta, **extra}).save(safetensors_path(Path(path).expanduser(), "mapper"))


def _check_given_mapper(mapper: Mapper, classifier, encoder) -> None:
    from ..mapper import fitted_under_other_names

    fitted_on = mapper.meta.get("classifier_fingerprint")
    if fitted_on != classifier.fingerprint:
        raise ValueError(
            f"The mapper given was fitted on head {fitted_on} ({mapper.meta.get('classifier')!r}), not on "
            f"{classifier.name!r} ({classifier.fingerprint}); fit one with nlexnb.fit_mapper, or pass mapper=None"
        )
    if mapper.text_encoder.identity != encoder.identity:
        raise ValueError(
            f"The mapper given reads {mapper.text_encoder.identity!r} embeddings, not {encoder.identity!r}'s; "
            "pass its encoder, or mapper=None"
        )
    if fitted_under_other_names(mapper.meta, classifier):  # as load_mapper refuses it
        raise ValueError(
            f"The mapper given was fitted on this head ({mapper.meta.get('classifier')!r}) under other class names: "
            "it maps each name to the row it named then, which this classifier calls otherwise. Fit one with these "
            "names (nlexnb.fit_mapper), or pass mapper=None"
        )


def _other_fit(mapper: Mapper, classifier, seed: int, method: str | None = "kernel") -> str | None:
    """Why a mapper loaded from the default path is not the fit :func:`setup` wants; None when it is. Files of
    earlier versions that do not record whether the penalty was calibrated are taken as calibrated."""
    from ..mapper import DEFAULT_TEMPLATES, default_text_digests

    meta = mapper.meta
    wanted = {"method": method, "seed": seed, "fit_classes": None, "memorize": True, "hparams": {}}
    wanted |= default_text_digests(classifier)  # glosses and descriptions as a default fit reads them
    other = {k: meta.get(k) for k, v in wanted.items() if meta.get(k) != v}
    if meta.get("calibrate", True) is not True:
        other["calibrate"] = meta["calibrate"]
    if tuple(mapper.templates) != DEFAULT_TEMPLATES:
        other["templates"] = list(mapper.templates)
    if meta.get("class_names_sha") not in (None, _names_hash(classifier)):
        other["class names"] = "others"
    return f"the file saved there is another fit ({other})" if other else None


def _provenance(mapper: Mapper, path: Path) -> str:
    """'fitted by notebook 01, 2 min ago' from the mapper's metadata and the file's time."""
    by = mapper.meta.get("saved_by")
    age = _ago(time.time() - path.stat().st_mtime)
    return f"fitted by {by}, {age}" if by else f"saved {age}"


def _seconds(seconds: float) -> str:
    return f"{seconds:.2f} s" if seconds < 1 else f"{seconds:.1f} s"


def _ago(seconds: float) -> str:
    for unit, size in (("day", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            n = int(seconds // size)
            return f"{n} {unit}{'s' if unit == 'day' and n > 1 else ''} ago"
    return "just now"


def _short(path: Path) -> str:
    """The path with the home folder written ``~``."""
    home = Path.home()
    return f"~/{path.relative_to(home)}" if path.is_relative_to(home) else str(path)


def _file_safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "model"


def _names_hash(classifier) -> str:
    return hashlib.sha256("\n".join(classifier.class_names).encode("utf-8")).hexdigest()[:12]


def _fit_tag(classifier) -> str:
    """8 hex digits of the class names and the source of the fitting code."""
    h = hashlib.sha256(_names_hash(classifier).encode())
    package = Path(__file__).resolve().parent.parent  # nlexnb/
    for name in _FIT_CODE:
        try:
            h.update((package / name).read_bytes())
        except OSError:  # installed without sources: the package version stands for the code
            from importlib.metadata import PackageNotFoundError, version

            try:
                h.update(version("nlexnb").encode())
            except PackageNotFoundError:
                pass
    return h.hexdigest()[:8]
