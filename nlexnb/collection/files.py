"""The explanations file: its columns, what wrote it, where its parts wait, and reading it back.

One row per image (:data:`COLUMNS`) in ``out``, the skipped images in ``<out stem>.errors.parquet``
(:func:`errors_path`), the parts of an unfinished run in ``<out>.partial/``. Every file records which classifier,
mapper, bank and settings wrote it (:func:`run_identity`), so that a resumed run never mixes rows of two.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from .._checks import settings_of, yes_or_no
from ..explain import Explainer

__all__ = [
    "FORMAT",
    "COLUMNS",
    "arrow",
    "row_schema",
    "error_schema",
    "errors_path",
    "partial_dir",
    "remove_explanations",
    "start_again",
    "run_identity",
    "run_info",
    "file_metadata",
    "read_identity",
    "refuse_if_different",
    "read_explanations",
    "read_errors",
]

FORMAT = 4
"""Version of the file layout below; part of every file's identity (2: the ``fingerprint`` column; 3: ``file_size``
and ``file_mtime_ns``; 4: the whole model's weights in the identity, :meth:`~nlexnb.Classifier.weights_digest`). A
run refuses to resume a file of another format; :func:`read_explanations` reads them all."""

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
    "fingerprint": "16 hex digits of the SHA-1 of the image as the classifier received it (the preprocessed tensor): "
    "a resumed run reads written images again and refuses a collection whose images changed",
    "file_size": "the image file's size in bytes when it was read, or null for an in-memory image",
    "file_mtime_ns": "its modification time (nanoseconds since the epoch) when it was read, or null: a resumed run "
    "reads again every file whose size or time differs",
}
"""The columns of an explanations file, in order, with what each holds."""

_META_IDENTITY = b"nlexnb.identity"
_META_INFO = b"nlexnb.info"


# ---- Arrow schemas (pyarrow is imported when first used) -------------------------------------------------------------
def arrow():
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as exc:  # pragma: no cover - pyarrow is a dependency
        raise ImportError("explain_collection writes Parquet with pyarrow: pip install 'pyarrow>=14'") from exc
    return pa, pq


def row_schema():
    pa, _ = arrow()
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
            ("fingerprint", pa.string()),
            ("file_size", pa.int64()),
            ("file_mtime_ns", pa.int64()),
        ]
    )


def error_schema():
    pa, _ = arrow()
    return pa.schema([("id", pa.int64()), ("path", pa.string()), ("label", pa.string()), ("reason", pa.string())])


# ---- where things are written ----------------------------------------------------------------------------------------
def errors_path(out: str | os.PathLike) -> Path:
    """The errors file beside an explanations file: ``x.parquet`` -> ``x.errors.parquet``."""
    out = Path(out)
    stem = out.stem if out.suffix == ".parquet" else out.name
    return out.with_name(f"{stem}.errors.parquet")


def partial_dir(out: Path) -> Path:
    return out.with_name(out.name + ".partial")


def remove_explanations(out: str | os.PathLike) -> None:
    """Remove an explanations file, its errors file and the parts of an unfinished run written to ``out`` (nothing
    else), so that the next :func:`explain_collection` starts afresh."""
    out = _a_path(out, "remove_explanations", "out")
    files = (out, errors_path(out))
    for file in files:  # every file checked before any is removed: it deleted a CSV or a photo given by mistake
        if file.is_dir():
            raise ValueError(
                f"remove_explanations: {str(file)!r} is a folder, not an explanations file; nothing removed"
            )
        if file.exists():
            try:
                read_identity(file)
            except ValueError:
                raise ValueError(
                    f"remove_explanations: {str(file)!r} was not written by explain_collection (it is not a Parquet "
                    "file with nlexnb's metadata), and only such files are removed; nothing removed. Delete it "
                    "yourself if you mean to"
                ) from None
    folder = partial_dir(out)
    parts = sorted(folder.iterdir()) if folder.is_dir() else []
    others = [p for p in parts if not _PART.fullmatch(p.name)]
    if others:  # a folder of the user's under that name: theirs, not a run's parts
        raise ValueError(
            f"remove_explanations: {str(folder)!r} holds files explain_collection did not write (e.g. "
            f"{others[0].name!r}), so it is not the parts folder of a run; nothing removed"
        )
    for file in files:
        file.unlink(missing_ok=True)
    for part in parts:
        part.unlink(missing_ok=True)
    if folder.is_dir():
        folder.rmdir()


def start_again(out: Path) -> str:
    """What a refused run's message ends with: how to start ``out`` afresh (:func:`remove_explanations`, which removes
    only what a run wrote there, however far it got) or keep it (another ``out=``)."""
    return (
        f"Write to another out=, or start again with nlexnb.collection.remove_explanations({str(out)!r}) (it removes "
        "the explanations, their errors file and an unfinished run's parts)"
    )


_PART = re.compile(r"\.?(rows|errors)-[0-9a-zA-Z_.-]+-\d{5,}\.parquet(\.tmp)?")
"""The name of a part file an unfinished run writes, or its temporary: what :class:`nlexnb.collection.parts.Parts`
names ``{kind}-{token}-{count:05d}.parquet`` (keep the two together)."""


# ---- identity of a run -----------------------------------------------------------------------------------------------
def _digest(texts: Sequence[str]) -> str:
    return hashlib.blake2b("\n".join(texts).encode("utf-8"), digest_size=12).hexdigest()


def run_identity(explainer: Explainer, k: int, foil: int | None) -> dict[str, Any]:
    """What makes two runs' rows comparable: the models, the bank and every setting that changes a row."""
    import nlexnb

    space, clf = explainer.space, explainer.classifier
    settings = settings_of(explainer)  # every option, so that an option added later cannot be left out here
    settings["selector"] = selector_identity(explainer.selector)
    senses = None if space.other_senses is None else _digest(["\t".join(s) for s in space.other_senses])
    return {
        "format": FORMAT,
        "nlexnb_version": nlexnb.__version__,
        "classifier": clf.name,
        "classifier_fingerprint": clf.fingerprint,
        "classifier_weights": clf.weights_digest(),  # the backbone too: a fine-tuned one under a frozen head
        "mapper_fingerprint": explainer.mapper.fingerprint,
        "bank_digest": _digest(space.texts),
        "k": k,
        "foil": foil,
        **settings,
        "weakest": space.weakest,
        "glosses_digest": None if space.glosses is None else _digest(space.glosses),
        "other_senses_digest": senses,
    }


def selector_identity(selector) -> dict[str, Any]:
    """What tells two selectors' choices apart: the class (two subclasses both called "selector" are two methods)
    and its public attributes, settings included (``NonNegativeSelector(steps=1)`` is not ``steps=400``): plain
    values as they are, tensors and arrays by a digest of their values, other objects by their type."""
    return {  # a Setting keeps its value in the instance's __dict__ under its own name
        "class": f"{type(selector).__module__}.{type(selector).__qualname__}",
        "name": selector.name,
        **{k: _plain(v) for k, v in sorted(vars(selector).items()) if not k.startswith("_")},
    }


def _plain(value: Any) -> Any:
    """``value`` as JSON that is the same for equal values: a plain value, a digest of an array's, or a type name."""
    if isinstance(value, (str, int, float, bool, type(None))):
        return value
    if isinstance(value, (torch.Tensor, np.ndarray)):
        data = value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else value
        return f"{data.dtype}{list(data.shape)}:{hashlib.sha256(np.ascontiguousarray(data).tobytes()).hexdigest()[:16]}"
    return type(value).__qualname__


def run_info(explainer: Explainer, foil: int | None) -> dict[str, Any]:
    clf = explainer.classifier
    return {
        "mapper": explainer.mapper.method,
        "bank": explainer.bank.name,
        "bank_size": len(explainer.bank),
        "foil_name": None if foil is None else clf.class_names[foil],
        "class_names": list(clf.class_names),  # what discover.error_concepts checks the names of correct= against
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "columns": COLUMNS,
    }


def file_metadata(identity: dict, info: dict) -> dict[bytes, bytes]:
    return {_META_IDENTITY: json.dumps(identity).encode(), _META_INFO: json.dumps(info).encode()}


def read_identity(path: Path) -> dict[str, Any]:
    """The identity stored in an nlexnb Parquet file; a ValueError when it is not one."""
    _, pq = arrow()
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


def refuse_if_different(path: Path, found: dict, wanted: dict, out: Path) -> None:
    """A ValueError saying what differs when ``path`` was written by another explainer, settings or file format."""
    if found.get("format") != wanted.get("format"):
        raise ValueError(
            f"{str(path)!r} was written in explanations file format {found.get('format')!r} (nlexnb "
            f"{found.get('nlexnb_version')}); this version writes format {wanted.get('format')!r} (whose "
            "'fingerprint', 'file_size' and 'file_mtime_ns' columns and model weights' digest let a resumed run check "
            "its images and model) and will not add rows to a file of another format. "
            f"read_explanations still reads it. {start_again(out)}"
        )
    keys = sorted(set(found) | set(wanted), key=lambda key: list(wanted).index(key) if key in wanted else 99)
    differ = [key for key in keys if found.get(key) != wanted.get(key)]
    if differ:
        what = "; ".join(f"{key}: {found.get(key)!r} there, {wanted.get(key)!r} now" for key in differ)
        raise ValueError(
            f"{str(path)!r} holds explanations from a different classifier, mapper, bank or settings ({what}). "
            f"Rows from both would be mixed in one file. {start_again(out)}"
        )


# ---- reading back ----------------------------------------------------------------------------------------------------
def _a_path(path: Any, call: str, name: str = "path") -> Path:
    """``path`` as a Path, or a TypeError saying what ``call`` takes (None or a list would fail in pathlib's words)."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(
            f"{call}({name}): {name} must be the explanations file given to explain_collection as out= (a str or "
            f"Path), got {type(path).__name__} {path!r:.80}"
        )
    return Path(path)


def _explanations_beside(path: Path) -> Path:
    """The explanations file an errors file belongs to: ``x.errors.parquet`` -> ``x.parquet``."""
    name = path.name
    return path.with_name(name[: -len(".errors.parquet")] + ".parquet") if name.endswith(".errors.parquet") else path


def _check_ours(path: Path, call: str) -> None:
    """Refuse, before reading, a file that explain_collection did not write as explanations: its errors file (the
    images it skipped, which would read as an empty or wrong table) or a Parquet file of someone else's."""
    pa, pq = arrow()
    if not path.is_file():
        return
    try:
        schema = pq.read_schema(path)
    except (pa.ArrowInvalid, OSError):
        return  # _read_parquet names a damaged or non-Parquet file
    meta = schema.metadata or {}
    if "reason" in schema.names and "predicted" not in schema.names and _META_IDENTITY in meta:
        explanations = _explanations_beside(path)
        also = (
            "read_errors finds the errors file beside it"
            if call == "read_errors"
            else f"and read_errors({str(explanations)!r}) for the skipped images"
        )
        raise ValueError(
            f"{str(path)!r} is the errors file of an explain_collection run (the images it skipped), not its "
            f"explanations: pass the explanations file, {call}({str(explanations)!r}) ({also})"
        )
    if _META_IDENTITY not in meta:
        raise ValueError(
            f"{str(path)!r} was not written by explain_collection (no nlexnb metadata): {call} reads the explanations "
            "files it writes; read another Parquet file with pandas.read_parquet"
        )


def _read_table(path: Path, kind: str, partial: bool):
    pa, pq = arrow()
    final = path if kind == "rows" else errors_path(path)
    files = [final] if final.is_file() else []
    folder = partial_dir(path)
    if partial and folder.is_dir():
        files += sorted(folder.glob(f"{kind}-*.parquet"))
    if not files:
        if kind == "errors" and path.is_file():
            return error_schema().empty_table()
        if folder.is_dir():
            raise FileNotFoundError(
                f"{str(path)!r} is not finished: an interrupted run left {str(folder)!r}. Run explain_collection again "
                "with the same arguments to finish it, or pass partial=True to read what is done"
            )
        raise FileNotFoundError(f"No explanations file at {str(path)!r} (explain_collection writes it)")
    tables = [_read_parquet(pa, pq, f) for f in files]
    meta = tables[0].schema.metadata
    table = pa.concat_tables([t.replace_schema_metadata(None) for t in tables])
    return table.replace_schema_metadata(meta)


def _read_parquet(pa, pq, path: Path):
    """One Parquet file, or an error naming it when it is damaged or not Parquet at all."""
    try:
        return pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise ValueError(
            f"{str(path)!r} cannot be read as an explanations file: it is damaged or not a Parquet file ({exc}). "
            "explain_collection writes explanations files; run it again to write this one"
        ) from exc


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
    wrote the file (classifier and mapper fingerprints, bank digest, k, foil, version, the class names, ...). Files of
    an earlier format are read too (format 1 has no ``fingerprint``, format 2 no ``file_size`` or ``file_mtime_ns``).

    Raises:
        TypeError: ``path`` is not a str or Path. FileNotFoundError: no file there (or an unfinished run, without
            ``partial``). ValueError: a damaged file, the errors file instead of the explanations, or a Parquet file
            explain_collection did not write.

    Args:
        path: the file given as ``out=``.
        partial: also read the parts of an unfinished run (otherwise an unfinished run is an error saying so).
    """
    path = _a_path(path, "read_explanations")
    partial = yes_or_no(partial, "partial")
    _check_ours(path, "read_explanations")
    return _frame(_read_table(path, "rows", partial))


def read_errors(path: str | os.PathLike, *, partial: bool = False) -> pd.DataFrame:
    """The images an :func:`explain_collection` run skipped: ``id``, ``path``, ``label`` and ``reason``.

    Args:
        path: the explanations file (``out=``), not the errors file itself.
        partial: also read the parts of an unfinished run.
    """
    path = _a_path(path, "read_errors")
    partial = yes_or_no(partial, "partial")
    _check_ours(path, "read_errors")
    return _frame(_read_table(path, "errors", partial))
