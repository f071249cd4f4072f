"""Values a notebook records in its outputs (:func:`record`), read back from the executed notebook by tests and
reports (:func:`read_records`)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

RECORD_MIME = "application/vnd.nlexnb.record+json"


def _jsonable(value: Any) -> Any:
    """``value`` as JSON: a DataFrame as ``{"columns", "records"}`` with an index of names (or a named one) kept as
    its first column (class names were dropped), a Series as a dict by its index, numpy values as Python ones, a
    non-finite number as its name ("inf", not null, which reads as missing), a set sorted, a path as its text."""
    try:
        import pandas as pd

        if isinstance(value, pd.DataFrame):
            # an index that says something (class names, a named one) is kept; row numbers are not
            telling = value.index.name is not None or not pd.api.types.is_integer_dtype(value.index)
            frame = value.reset_index() if telling else value
            records = [{str(k): _cell(v) for k, v in row.items()} for row in frame.to_dict(orient="records")]
            return {"columns": list(map(str, frame.columns)), "records": records}
        if isinstance(value, pd.Series):
            return {str(k): _jsonable(v) for k, v in value.items()}
    except ImportError:
        pass
    if hasattr(value, "tolist"):
        return _jsonable(value.tolist())  # a numpy scalar or array, then as the Python value it is
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (set, frozenset)):
        return [_jsonable(v) for v in sorted(value, key=str)]
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def _cell(value: Any) -> Any:
    """One cell of a recorded table: missing values (NaN, None) as null, as tables have always read; infinities by
    name."""
    value = value.tolist() if hasattr(value, "tolist") else value
    if isinstance(value, float) and math.isnan(value):
        return None
    return _jsonable(value)


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
