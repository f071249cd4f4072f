"""Papermill reports: execute the numbered notebooks, save them with HTML copies, and read back the numbers they record.

A notebook calls :func:`record` for the values a report must show (the held-out table, faithfulness ratios, accuracy);
they are stored in the executed notebook as a JSON output that :func:`read_records` returns, so tests can assert them.
Run all notebooks with ``python -m nlexnb.reports --out reports``.

The notebooks share their first cells through this module: :func:`validate_parameters` checks the papermill
parameters, :func:`setup` loads the classifier and text encoder and the mapper notebook 01 saved (fitting and saving
one where none fits), :func:`notebook_images` gives the photos (:func:`spread` a share of a labelled set, and
:func:`fresh_output` a file for what a notebook writes), and a few table helpers keep pandas code out of the
notebooks.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import hashlib
import json
import math
import os
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._checks import SEED_LIMIT, a_device, a_seed, an_index, positive_int, yes_or_no
from ._store import atomic_write_bytes, cache_dir, cache_write

if TYPE_CHECKING:
    from .classifier import Classifier
    from .mapper import Mapper
    from .text import TextEncoder

__all__ = [
    "record",
    "read_records",
    "run_notebooks",
    "validate_parameters",
    "notebook_images",
    "spread",
    "fresh_output",
    "notebook_style",
    "setup",
    "NotebookSetup",
    "mapper_path",
    "save_mapper",
    "RECORD_MIME",
]

RECORD_MIME = "application/vnd.nlexnb.record+json"

# Parameter names shared by the notebooks, and the types they must have.
PARAMETER_TYPES: dict[str, tuple[type, ...]] = {
    **dict.fromkeys(["MODEL", "TIMM_MODEL", "TORCHVISION_MODEL", "HUB_MODEL", "LABELLED_SET"], (str,)),
    **dict.fromkeys(["PLAUSIBILITY_SET"], (str,)),
    **dict.fromkeys(["ENCODER", "DEVICE", "IMAGE_DIR", "SUBCONCEPT_LABEL", "JUDGE", "MAPPER_PATH"], (str, type(None))),
    **dict.fromkeys(["OUT_DIR"], (str, type(None))),
    **dict.fromkeys(["INTERACTIVE", "PRETRAINED"], (bool,)),
    **dict.fromkeys(["SEED", "FOLDS", "K", "MAX_IMAGES", "VIEWS", "N_RANDOM", "STEPS", "N_CLUSTERS"], (int,)),
    **dict.fromkeys(["PLAUSIBILITY_PHOTOS", "BATCH_SIZE", "MIN_IMAGES"], (int,)),
    **dict.fromkeys(["LABELS"], (list, type(None))),
    **dict.fromkeys(["N_CONCEPTS"], (int,)),
    **dict.fromkeys(["BUDGETS", "MODELS", "CLASSES"], (list,)),
}
POSITIVE = ("FOLDS", "K", "MAX_IMAGES", "VIEWS", "N_RANDOM", "STEPS", "N_CLUSTERS", "PLAUSIBILITY_PHOTOS")
POSITIVE += ("BATCH_SIZE", "MIN_IMAGES", "N_CONCEPTS")
RANGES = {
    "SEED": (0, SEED_LIMIT - 1, "a seed"),
    "FOLDS": (2, None, "held-out folds"),
    "VIEWS": (1, 6, "views per picture"),
}
"""Parameters with bounds of their own: (lowest, highest or None, what they count)."""


def _jsonable(value: Any) -> Any:
    try:
        import pandas as pd

        if isinstance(value, pd.DataFrame):
            return {"columns": list(map(str, value.columns)), "records": json.loads(value.to_json(orient="records"))}
    except ImportError:
        pass
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def record(name: str, value: Any) -> None:
    """Record a named value (number, string, list, dict or DataFrame) in the notebook's outputs."""
    from IPython.display import display

    payload = {"name": name, "value": _jsonable(value)}
    shown = value if not hasattr(value, "to_string") else f"<table {getattr(value, 'shape', '')}>"
    display({RECORD_MIME: payload, "text/plain": f"recorded {name} = {shown}"}, raw=True)


def read_records(path: str | Path) -> dict[str, Any]:
    """All values recorded by an executed notebook, by name (DataFrames come back as ``{"columns", "records"}``)."""
    import nbformat

    nb = nbformat.read(str(path), as_version=4)
    found: dict[str, Any] = {}
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if RECORD_MIME in data:
                payload = data[RECORD_MIME]
                if isinstance(payload, str):
                    payload = json.loads(payload)
                found[payload["name"]] = payload["value"]
    return found


def validate_parameters(**params: Any) -> None:
    """Check notebook parameters early, with the library's clear errors (a bad ``-p`` fails in the first cell).

    Known names are type-checked (see ``PARAMETER_TYPES``; unknown names are accepted as they are). Counts must be
    positive; ``SEED`` >= 0, ``FOLDS`` >= 2, ``VIEWS`` from 1 to 6; ``MODEL`` and every ``*_MODEL`` must name a timm
    or ``torchvision:`` model, and so must each of ``MODELS``; ``BUDGETS``, ``CLASSES`` and ``MODELS`` must not be
    empty, budgets must be positive and classes names or indices; ``IMAGE_DIR`` must be a folder holding images;
    ``ENCODER`` a packaged encoder, a folder or a hub name (a packaged name misspelt is refused); ``DEVICE`` a
    device torch knows (and this machine has); ``LABELS`` must be a list of unique, non-empty strings;
    ``LABELLED_SET`` must be a known set that is installed, or a folder, and ``SUBCONCEPT_LABEL`` one of its labels;
    ``PLAUSIBILITY_SET`` an evidence photo set that is installed; ``MAPPER_PATH`` must name a ``.safetensors`` file
    (not a folder).

    Raises:
        TypeError: a parameter of the wrong type (named, with the type wanted and the value got).
        ValueError: a value of the right type that cannot work (unknown model, missing folder, ...).
    """
    for name, value in params.items():
        expected = PARAMETER_TYPES.get(name)
        ok = expected is None or (isinstance(value, expected) and (bool in expected or not isinstance(value, bool)))
        if not ok:
            wanted = " or ".join("None" if t is type(None) else t.__name__ for t in expected)
            raise TypeError(f"Parameter {name} must be {wanted}, got {type(value).__name__} ({value!r})")
        if name in POSITIVE and value < 1:
            raise ValueError(f"Parameter {name} must be positive, got {value}")
        if name in RANGES:
            low, high, what = RANGES[name]
            if value < low or (high is not None and value > high):
                bounds = f">= {low}" if high is None else f"between {low} and {high}"
                raise ValueError(f"Parameter {name} ({what}) must be {bounds}, got {value}")
        if name in ("BUDGETS", "CLASSES", "MODELS") and not value:
            raise ValueError(f"Parameter {name} is an empty list: give at least one")
        if name == "BUDGETS" and not all(an_index(b) and b >= 1 for b in value):
            raise ValueError(f"Parameter BUDGETS must list positive numbers of concepts per class, got {value}")
        if name == "CLASSES":
            for c in value:
                if not ((isinstance(c, str) and c.strip()) or (an_index(c) and c >= 0)):
                    raise TypeError(
                        f"Parameter CLASSES must list class names or indices, e.g. ['espresso', 'tiger cat'], got "
                        f"{type(c).__name__} ({c!r})"
                    )
        if name == "MODELS":
            for model in value:
                if not isinstance(model, str):
                    raise TypeError(f"Parameter MODELS must list model names, got {type(model).__name__} ({model!r})")
                _check_model_name(model, "MODELS")
    for name, value in params.items():
        if (name == "MODEL" or name.endswith("_MODEL")) and isinstance(value, str):
            _check_model_name(value, name)
    if params.get("IMAGE_DIR") is not None:
        _check_image_dir(params["IMAGE_DIR"])
    if params.get("ENCODER") is not None:
        _check_encoder(params["ENCODER"])
    if params.get("OUT_DIR") is not None and Path(params["OUT_DIR"]).exists() and not Path(params["OUT_DIR"]).is_dir():
        raise ValueError(
            f"Parameter OUT_DIR must be a folder (it is made when missing), got the file {params['OUT_DIR']!r}"
        )
    if params.get("DEVICE") is not None:
        _check_device(params["DEVICE"])
    if params.get("MAPPER_PATH") is not None:
        _check_mapper_path(params["MAPPER_PATH"])
    if params.get("LABELLED_SET") is not None:
        labels = _labelled_set_labels(params["LABELLED_SET"])
        if params.get("SUBCONCEPT_LABEL") is not None and params["SUBCONCEPT_LABEL"] not in labels:
            raise ValueError(
                f"Parameter SUBCONCEPT_LABEL {params['SUBCONCEPT_LABEL']!r} is not a label of "
                f"LABELLED_SET {params['LABELLED_SET']!r}; its labels: {labels} (or None for every image)"
            )
    if params.get("PLAUSIBILITY_SET") is not None:
        _check_photo_set(params["PLAUSIBILITY_SET"])
    if params.get("LABELS") is not None:
        from .zeroshot import check_labels

        try:
            check_labels(params["LABELS"])
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"Parameter LABELS: {exc}") from None


def _check_image_dir(image_dir: str) -> None:
    """IMAGE_DIR is a folder holding image files ("" is not the current folder, and a folder of none fails here)."""
    from .datasets import IMAGE_EXTENSIONS, image_files

    if not image_dir.strip():
        raise ValueError("Parameter IMAGE_DIR is blank: give a folder of images, or None for the sample photos")
    if not Path(image_dir).expanduser().is_dir():
        raise ValueError(f"Parameter IMAGE_DIR must be an existing folder of images, got {image_dir!r}")
    if not image_files(Path(image_dir).expanduser(), recursive=False).images:
        raise ValueError(
            f"Parameter IMAGE_DIR {image_dir!r} holds no image files ({', '.join(IMAGE_EXTENSIONS)}; sub-folders are "
            "not read): give the folder the images are in"
        )


def _check_encoder(encoder: str) -> None:
    """ENCODER is a packaged encoder, a local folder, or reads as a hub name (which only loading can confirm)."""
    from .text import PACKAGED_ENCODERS, packaged_hint

    name = encoder.removeprefix("sentence-transformers/")
    if not encoder.strip():
        raise ValueError("Parameter ENCODER is blank: give a sentence-transformers name, or None for the default")
    if name in PACKAGED_ENCODERS or Path(encoder).expanduser().is_dir():
        return
    if not re.fullmatch(r"[\w.-]+(/[\w.-]+)?", encoder):
        raise ValueError(
            f"Parameter ENCODER {encoder!r} is neither a folder nor a hub name (owner/name, of letters, digits, "
            f"'-', '_' and '.').{packaged_hint(encoder)} Encoders that load offline: {', '.join(PACKAGED_ENCODERS)}"
        )
    hint = packaged_hint(encoder)
    if hint:  # a packaged name in other letters would go to the hub (and fail offline)
        raise ValueError(f"Parameter ENCODER {encoder!r} is not a packaged encoder.{hint}")


def _check_photo_set(photo_set: str) -> None:
    """PLAUSIBILITY_SET names an evidence photo set, and the whole photos are installed when it is "whole"."""
    from .datasets import find_gcompris_photos
    from .plausibility import PHOTO_SETS

    if photo_set not in PHOTO_SETS:
        raise ValueError(f"Parameter PLAUSIBILITY_SET must be one of {sorted(PHOTO_SETS)}, got {photo_set!r}")
    if photo_set == "whole":
        try:
            find_gcompris_photos()
        except FileNotFoundError as exc:
            raise FileNotFoundError(f"Parameter PLAUSIBILITY_SET is 'whole', but {exc}") from None


def _labelled_set_labels(source: str) -> list[str]:
    """The labels of the LABELLED_SET parameter; the stamps must also be installed."""
    from .datasets import find_stamps, labelled_set_labels

    try:
        labels = labelled_set_labels(source)
    except ValueError as exc:
        raise ValueError(f"Parameter LABELLED_SET: {exc}") from None
    if source == "stamps":
        try:
            find_stamps()
        except FileNotFoundError as exc:
            raise FileNotFoundError(f"Parameter LABELLED_SET is 'stamps', but {exc}") from None
    return labels


def _check_mapper_path(path: str) -> None:
    target = Path(path).expanduser()
    if target.suffix != ".safetensors":
        raise ValueError(f"Parameter MAPPER_PATH must name a .safetensors file, got {path!r}")
    if target.is_dir():
        raise ValueError(f"Parameter MAPPER_PATH {path!r} is a folder; give a file name ending in .safetensors")


def _check_device(device: str) -> None:
    a_device(device, "Parameter DEVICE")


def notebook_images(image_dir: str | Path | None = None, limit: int | None = None) -> dict[str, Any]:
    """The images a notebook works on: files of ``image_dir`` (by name, sorted), or the bundled sample photos.

    Args:
        image_dir: a folder of images (its image files, as :func:`nlexnb.datasets.image_files` lists them, not
            recursive); None: the sample photos of :func:`nlexnb.sample_images` (no network).
        limit: keep at most this many.

    Returns:
        Name -> RGB PIL image, in a stable order.
    """
    from .datasets import IMAGE_EXTENSIONS, image_files
    from .images import sample_images, to_pil

    limit = None if limit is None else positive_int(limit, "limit", "images")  # -1 dropped the last one
    if image_dir is None:
        photos = sample_images()
    else:
        folder = Path(image_dir)
        files = image_files(folder, recursive=False).images
        if not files:
            raise ValueError(f"No images in {str(folder)!r} (extensions {', '.join(IMAGE_EXTENSIONS)})")
        photos = {p.stem: to_pil(p) for p in files}
    names = list(photos)[:limit] if limit is not None else list(photos)
    return {name: photos[name] for name in names}


def spread(items: Sequence[Any], limit: int | None = None) -> list[Any]:
    """At most ``limit`` of ``items``, evenly spaced through them (all of them when ``limit`` is None or not smaller).

    A labelled set comes grouped by label (all the birds, then the fish, ...): its first ``limit`` pairs would be
    birds only, while an even spread keeps every label's share.
    """
    items = list(items)
    if limit is None or limit >= len(items):
        return items
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValueError(f"limit must be a positive number of items or None, got {limit!r}")
    return [items[i * len(items) // limit] for i in range(limit)]


def fresh_output(name: str, folder: str | Path | None = None) -> Path:
    """A file for what a notebook writes, ``folder/name`` (default: ``$NLEXNB_CACHE/notebooks/``), with what an earlier
    run left under that name removed, so that each run of the notebook starts afresh and one copy is kept.

    For an explanations file (:func:`nlexnb.explain_collection`) that is the file, its errors file and the parts of an
    unfinished run; nothing else in the folder is touched.
    """
    from .collection import remove_explanations

    if not isinstance(name, str) or not name or Path(name).name != name:
        raise ValueError(f"name must be a file name (no folder), got {name!r}")
    target = (Path(folder).expanduser() if folder is not None else cache_dir() / "notebooks") / name
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_explanations(target)
    return target


def _check_model_name(name: str, parameter: str = "MODEL") -> None:
    from .classifier import check_model_name

    try:
        check_model_name(name)
    except ValueError as exc:
        message = str(exc)
        raise ValueError(f"Parameter {parameter}: {message[:1].lower()}{message[1:]}") from None


# ---- the notebooks' common set-up -----------------------------------------------------------------------------------
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
    from .classifier import Classifier, load_classifier
    from .mapper import Mapper
    from .text import TextEncoder, load_text_encoder

    if not (mapper is None or mapper is False or isinstance(mapper, (str, os.PathLike, Mapper))):
        raise TypeError(
            f"mapper must be None (nlexnb's cache), a .safetensors path, a fitted Mapper or False (none), "
            f"got {type(mapper).__name__} ({mapper!r})"
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


def _setup_mapper(classifier, encoder, mapper, seed: int) -> tuple[Mapper | None, str, Path | None, str]:
    """(mapper, source, path, note) for :func:`setup`."""
    from .mapper import Mapper, fit_mapper, load_mapper

    if mapper is False:
        return None, "none", None, "no mapper loaded (mapper=False)"
    if isinstance(mapper, Mapper):
        _check_given_mapper(mapper, classifier, encoder)
        return mapper, "given", None, "given"
    explicit = mapper is not None
    path = _safetensors_path(Path(mapper).expanduser()) if explicit else mapper_path(classifier, encoder, seed=seed)
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
    from .mapper import DEFAULT_TEMPLATES

    meta = mapper.meta
    if meta.get("classifier_fingerprint") != classifier.fingerprint:
        raise ValueError(
            f"This mapper was fitted on head {meta.get('classifier_fingerprint')} ({meta.get('classifier')!r}), not "
            f"on {classifier.name!r} ({classifier.fingerprint})"
        )
    if path is None:
        if meta.get("fit_classes") is not None or tuple(mapper.templates) != DEFAULT_TEMPLATES or meta.get("hparams"):
            raise ValueError(
                "save_mapper(path=None) keeps default fits only (all classes, default templates and hyper-parameters),"
                " which setup() loads; give a path for this one"
            )
        path = mapper_path(classifier, mapper.text_encoder, method=meta["method"], seed=meta["seed"])
    extra = {"class_names_sha": _names_hash(classifier), **({"saved_by": by} if by else {})}
    return dataclasses.replace(mapper, meta={**meta, **extra}).save(_safetensors_path(Path(path).expanduser()))


def _check_given_mapper(mapper: Mapper, classifier, encoder) -> None:
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


def _other_fit(mapper: Mapper, classifier, seed: int) -> str | None:
    """Why a mapper loaded from the default path is not the fit :func:`setup` wants; None when it is."""
    from .mapper import DEFAULT_TEMPLATES

    meta = mapper.meta
    wanted = {"method": "kernel", "seed": seed, "fit_classes": None, "memorize": True, "hparams": {}}
    other = {k: meta.get(k) for k, v in wanted.items() if meta.get(k) != v}
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


def _safetensors_path(path: Path) -> Path:
    """The name :meth:`nlexnb.Mapper.save` writes for ``path`` (it adds ``.safetensors`` when missing)."""
    if path.suffix == ".safetensors":
        return path
    return path.with_suffix(path.suffix + ".safetensors") if path.suffix else path.with_suffix(".safetensors")


def _file_safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "model"


def _names_hash(classifier) -> str:
    return hashlib.sha256("\n".join(classifier.class_names).encode("utf-8")).hexdigest()[:12]


def _fit_tag(classifier) -> str:
    """8 hex digits of the class names and the source of the fitting code."""
    h = hashlib.sha256(_names_hash(classifier).encode())
    package = Path(__file__).resolve().parent
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


def run_notebooks(
    notebooks: Sequence[str | Path] | str | Path = "notebooks",
    out: str | Path = "reports",
    parameters: dict[str, Any] | None = None,
    kernel_name: str | None = None,
    html: bool = True,
) -> list[Path]:
    """Execute notebooks with papermill (in order), writing ``out/NAME.ipynb`` and ``out/NAME.html``.

    Args:
        notebooks: a folder (every ``NN_*.ipynb`` in it, sorted) or a list of notebook paths.
        out: output folder.
        parameters: papermill parameters injected into every notebook (each notebook ignores ones it lacks; a name
            none of them declares is an error, since a misspelt one would silently run on the default).
        kernel_name: Jupyter kernel; default the notebook's own.

    Returns:
        Paths of the executed notebooks. A failing notebook raises papermill's error after its partial output
        is saved (so the traceback can be read in the report).
    """
    import papermill as pm

    if isinstance(notebooks, (str, Path)) and Path(notebooks).is_dir():
        paths = sorted(Path(notebooks).glob("[0-9][0-9]_*.ipynb"))
    else:
        paths = [Path(notebooks)] if isinstance(notebooks, (str, Path)) else [Path(p) for p in notebooks]
    if not paths:
        raise FileNotFoundError(f"No numbered notebooks (NN_name.ipynb) found in {str(notebooks)!r}")
    _check_parameters(paths, parameters or {})
    html = yes_or_no(html, "html")
    out_dir = Path(out)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OSError(
            f"Cannot write reports to {str(out)!r} ({exc.strerror}): give a folder that can be created"
        ) from exc
    done = []
    for path in paths:
        target = out_dir / path.name
        tmp = out_dir / f".{path.stem}.running.ipynb"
        start = time.perf_counter()
        try:
            with _kernel_environment():
                pm.execute_notebook(
                    str(path),
                    str(tmp),
                    parameters=parameters or {},
                    kernel_name=kernel_name,
                    cwd=str(path.parent),
                    progress_bar=False,
                    report_mode=False,
                    extra_arguments=_QUIET_KERNEL if kernel_name in (None, "python3") else [],
                )
        finally:
            if tmp.exists():
                atomic_write_bytes(target, tmp.read_bytes())
                target.chmod(0o644)
                tmp.unlink()
        if html:
            _write_html(target).chmod(0o644)
        done.append(target)
        print(f"executed {path.name} -> {target} ({time.perf_counter() - start:.0f} s)", file=sys.stderr)
    return done


def _check_parameters(paths: Sequence[Path], parameters: dict[str, Any]) -> None:
    """Refuse a parameter that none of ``paths`` declares in its parameters cell (a typo would run the default)."""
    if not parameters:
        return
    import difflib

    import papermill as pm

    declared = sorted({name for path in paths for name in pm.inspect_notebook(str(path))})
    unknown = [name for name in parameters if name not in declared]
    if unknown:
        close = {name: difflib.get_close_matches(name, declared, n=1) for name in unknown}
        hints = "; ".join(f"{name!r}: did you mean {c[0]!r}?" for name, c in close.items() if c)
        raise ValueError(
            f"No notebook run here declares the parameter(s) {unknown}: they would be ignored and the notebooks run "
            f"on their defaults. {hints + ' ' if hints else ''}These notebooks take: {', '.join(declared)}"
        )


_QUIET_KERNEL = ["--IPKernelApp.log_level=ERROR"]
"""The Python kernel's own log, errors only: it warns on every start that a kernel on this machine talks to its
notebook over local TCP ports, which a report run cannot act on. What the notebook's code prints is unaffected."""


@contextlib.contextmanager
def _kernel_environment():
    """Environment for the notebook kernels: no hub/transformers progress bars (headless, a widget frozen at 0 %)."""
    saved = os.environ.get("HF_HUB_DISABLE_PROGRESS_BARS")
    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("HF_HUB_DISABLE_PROGRESS_BARS", None)
        else:
            os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = saved


def _write_html(notebook: Path) -> Path:
    import nbformat
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter().from_notebook_node(nbformat.read(str(notebook), as_version=4))
    html_path = notebook.with_suffix(".html")
    atomic_write_bytes(html_path, body.encode("utf-8"))
    return html_path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Execute nlexnb's numbered notebooks as papermill reports (executed .ipynb + .html per notebook).",
        epilog="Example: python -m nlexnb.reports --out reports --only 01 03 -p FOLDS 3 -p DEVICE cpu",
    )
    parser.add_argument("--notebooks", default="notebooks", help="folder of NN_*.ipynb notebooks")
    parser.add_argument("--out", default="reports", help="where executed notebooks and HTML go")
    parser.add_argument(
        "-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
        help="papermill parameter (VALUE parsed as YAML: 3 -> int, true -> bool, '[a, b]' -> list)",
    )  # fmt: skip
    parser.add_argument("--only", nargs="+", help="run only notebooks whose name contains one of these (01 03 ...)")
    parser.add_argument("--no-html", action="store_true", help="skip the HTML copies")
    args = parser.parse_args(argv)
    import yaml

    params = {name: yaml.safe_load(value) for name, value in args.parameter}
    every = sorted(Path(args.notebooks).glob("[0-9][0-9]_*.ipynb"))
    paths = [p for p in every if any(o in p.name for o in args.only)] if args.only else every
    if not paths:
        have = f"; it has {', '.join(p.name for p in every)}" if every else ""
        wanted = f" matching --only {' '.join(args.only)}" if args.only and every else ""
        print(f"error: no numbered notebooks (NN_name.ipynb){wanted} in {args.notebooks!r}{have}", file=sys.stderr)
        return 2
    try:
        done = run_notebooks(paths, args.out, params, html=not args.no_html)
    except (ValueError, OSError) as exc:  # what was asked cannot run: said before any notebook starts
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        from papermill.exceptions import PapermillExecutionError

        if not isinstance(exc, PapermillExecutionError):
            raise
        print(
            f"error: a notebook failed in cell {exc.exec_count}: {exc.ename}: {exc.evalue}\n"
            f"(the partly executed notebook is in {args.out}/)",
            file=sys.stderr,
        )
        return 1
    for path in done:
        print(path.with_suffix(".html") if not args.no_html else path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
