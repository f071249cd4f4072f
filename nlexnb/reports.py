"""Papermill reports: execute the numbered notebooks, save them with HTML copies, and read back the numbers they record.

A notebook calls :func:`record` for the values a report must show (the held-out table, faithfulness ratios, accuracy);
they are stored in the executed notebook as a JSON output that :func:`read_records` returns, so tests can assert them.
Run all notebooks with ``python -m nlexnb.reports --out reports``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ._store import atomic_write_bytes

__all__ = ["record", "read_records", "run_notebooks", "validate_parameters", "RECORD_MIME"]

RECORD_MIME = "application/vnd.nlexnb.record+json"

# Parameter names shared by the notebooks, and the types they must have.
PARAMETER_TYPES: dict[str, tuple[type, ...]] = {
    "MODEL": (str,),
    "ENCODER": (str, type(None)),
    "DEVICE": (str, type(None)),
    "INTERACTIVE": (bool,),
    "FOLDS": (int,),
    "SEED": (int,),
    "K": (int,),
    "IMAGE_DIR": (str, type(None)),
    "MAX_IMAGES": (int,),
}


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

    Known names are type-checked (see ``PARAMETER_TYPES``); ``MODEL`` must name a timm or ``torchvision:`` model.
    """
    for name, value in params.items():
        expected = PARAMETER_TYPES.get(name)
        ok = expected is None or (isinstance(value, expected) and (bool in expected or not isinstance(value, bool)))
        if not ok:
            wanted = " or ".join("None" if t is type(None) else t.__name__ for t in expected)
            raise TypeError(f"Parameter {name} must be {wanted}, got {type(value).__name__} ({value!r})")
        if name in ("FOLDS", "K", "MAX_IMAGES") and value < 1:
            raise ValueError(f"Parameter {name} must be positive, got {value}")
    model = params.get("MODEL")
    if model is not None:
        _check_model_name(model)


def _check_model_name(name: str) -> None:
    import difflib

    import timm

    if name.startswith("torchvision:"):
        from .classifier import _torchvision_names

        names = _torchvision_names()
        arch = name.split(":", 1)[1]
        if arch not in names:
            raise ValueError(f"Unknown torchvision model {arch!r}; close: {difflib.get_close_matches(arch, names)}")
        return
    arch = name.split(".", 1)[0]
    if not timm.is_model(arch):
        close = difflib.get_close_matches(arch, timm.list_models(), n=5, cutoff=0.6)
        raise ValueError(f"Unknown model name {name!r}: not a timm model. Did you mean one of {close}?")


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
        parameters: papermill parameters injected into every notebook (each notebook ignores ones it lacks).
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
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    done = []
    for path in paths:
        target = out_dir / path.name
        tmp = out_dir / f".{path.stem}.running.ipynb"
        try:
            pm.execute_notebook(
                str(path),
                str(tmp),
                parameters=parameters or {},
                kernel_name=kernel_name,
                cwd=str(path.parent),
                progress_bar=False,
                report_mode=False,
            )
        finally:
            if tmp.exists():
                atomic_write_bytes(target, tmp.read_bytes())
                tmp.unlink()
        if html:
            _write_html(target)
        done.append(target)
        print(f"executed {path.name} -> {target}", file=sys.stderr)
    return done


def _write_html(notebook: Path) -> Path:
    import nbformat
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter().from_notebook_node(nbformat.read(str(notebook), as_version=4))
    html_path = notebook.with_suffix(".html")
    atomic_write_bytes(html_path, body.encode("utf-8"))
    return html_path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Execute nlexnb's numbered notebooks as papermill reports.")
    parser.add_argument("--notebooks", default="notebooks", help="folder of NN_*.ipynb notebooks")
    parser.add_argument("--out", default="reports", help="where executed notebooks and HTML go")
    parser.add_argument(
        "-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
        help="papermill parameter (VALUE parsed as YAML: 3 -> int, true -> bool)",
    )  # fmt: skip
    parser.add_argument("--only", nargs="*", help="run only notebooks whose name contains one of these")
    args = parser.parse_args(argv)
    import yaml

    params = {name: yaml.safe_load(value) for name, value in args.parameter}
    paths = sorted(Path(args.notebooks).glob("[0-9][0-9]_*.ipynb"))
    if args.only:
        paths = [p for p in paths if any(o in p.name for o in args.only)]
    for path in run_notebooks(paths, args.out, params):
        print(path.with_suffix(".html"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
