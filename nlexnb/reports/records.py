"""Values a notebook records in its outputs (:func:`record`), read back from the executed notebook by tests and
reports (:func:`read_records`)."""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path
from typing import Any

RECORD_MIME = "application/vnd.nlexnb.record+json"


def _jsonable(value: Any) -> Any:
    """``value`` as JSON: a DataFrame as ``{"columns", "records"}`` with an index that says something (names, or a
    named one: class indices as ``df.rename_axis("class")``) kept as its first column, a Series as a dict by its
    index, numpy values as Python ones, NaN as null (missing) wherever it sits, an infinity by its name ("inf": null
    would read as missing), a set sorted, a path as its text. Keys that would read the same as text (1 and "1", an
    index label twice) are refused: one of their values would be dropped without a word."""
    try:
        import pandas as pd

        if isinstance(value, pd.DataFrame):
            # an index of names, or a named one, is kept; integers are row numbers (sorted, filtered or
            # concatenated, they are still no data): name the index to keep class indices
            telling = value.index.name is not None or not pd.api.types.is_integer_dtype(value.index)
            named = [n for n in value.index.names if n is not None]
            if telling and set(named) & set(map(str, value.columns)):  # pandas' "cannot insert ..., already exists"
                raise ValueError(
                    f"a recorded table's index is named like one of its columns ({sorted(set(named))}): rename the "
                    "index (frame.rename_axis('...')) or drop it (frame.reset_index(drop=True))"
                )
            frame = value.reset_index() if telling else value
            columns = _distinct_keys(frame.columns, "a recorded table's columns")
            records = [dict(zip(columns, map(_jsonable, row))) for row in frame.itertuples(index=False, name=None)]
            return {"columns": columns, "records": records}
        if isinstance(value, pd.Series):
            return dict(zip(_distinct_keys(value.index, "a recorded Series' index"), map(_jsonable, value.tolist())))
    except ImportError:
        pass
    if hasattr(value, "tolist"):
        return _jsonable(value.tolist())  # a numpy scalar or array, then as the Python value it is
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else str(value)
    if isinstance(value, dict):
        return dict(zip(_distinct_keys(value, "a recorded dict's keys"), map(_jsonable, value.values())))
    if isinstance(value, (set, frozenset)):
        return [_jsonable(v) for v in sorted(value, key=str)]
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def _distinct_keys(keys, what: str) -> list[str]:
    """``keys`` as text, or a ValueError naming those that read the same (JSON keys are text)."""
    text = [str(k.tolist() if hasattr(k, "tolist") else k) for k in keys]
    twice = sorted(t for t, n in Counter(text).items() if n > 1)
    if twice:
        raise ValueError(
            f"record: {what} {twice[:5]} each stand for more than one entry once written as text, so all but one "
            "would be lost; give them distinct names"
        )
    return text


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
