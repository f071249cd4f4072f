"""Papermill reports: execute the numbered notebooks, save them with HTML copies, and read back the numbers they record.

A notebook calls :func:`record` for the values a report must show (the held-out table, faithfulness ratios, accuracy);
they are stored in the executed notebook as a JSON output that :func:`read_records` returns, so tests can assert them.
Run all notebooks with ``python -m nlexnb.reports --out reports``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ._store import atomic_write_bytes

__all__ = ["record", "read_records", "run_notebooks", "validate_parameters", "notebook_images", "RECORD_MIME"]

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
    "LABELS": (list, type(None)),
    "VIEWS": (int,),
    "N_RANDOM": (int,),
    "STEPS": (int,),
    "N_CLUSTERS": (int,),
    "TIMM_MODEL": (str,),
    "TORCHVISION_MODEL": (str,),
    "HUB_MODEL": (str,),
    "PRETRAINED": (bool,),
    "LABELLED_SET": (str,),
    "SUBCONCEPT_LABEL": (str, type(None)),
    "PLAUSIBILITY_PHOTOS": (int,),
    "JUDGE": (str, type(None)),
}
POSITIVE = ("FOLDS", "K", "MAX_IMAGES", "VIEWS", "N_RANDOM", "STEPS", "N_CLUSTERS", "PLAUSIBILITY_PHOTOS")


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
    positive; ``MODEL`` and every ``*_MODEL`` must name a timm or ``torchvision:`` model; ``IMAGE_DIR`` must be an
    existing folder; ``DEVICE`` must be a device torch knows (and CUDA must be there when asked for); ``LABELS``
    must be a list of unique, non-empty strings; ``LABELLED_SET`` must be a known set that is installed, or a folder,
    and ``SUBCONCEPT_LABEL`` one of its labels.

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
    for name, value in params.items():
        if (name == "MODEL" or name.endswith("_MODEL")) and isinstance(value, str):
            _check_model_name(value, name)
    if params.get("IMAGE_DIR") is not None and not Path(params["IMAGE_DIR"]).is_dir():
        raise ValueError(f"Parameter IMAGE_DIR must be an existing folder of images, got {params['IMAGE_DIR']!r}")
    if params.get("DEVICE") is not None:
        _check_device(params["DEVICE"])
    if params.get("LABELLED_SET") is not None:
        labels = _labelled_set_labels(params["LABELLED_SET"])
        if params.get("SUBCONCEPT_LABEL") is not None and params["SUBCONCEPT_LABEL"] not in labels:
            raise ValueError(
                f"Parameter SUBCONCEPT_LABEL {params['SUBCONCEPT_LABEL']!r} is not a label of "
                f"LABELLED_SET {params['LABELLED_SET']!r}; its labels: {labels} (or None for every image)"
            )
    if params.get("LABELS") is not None:
        from .zeroshot import check_labels

        try:
            check_labels(params["LABELS"])
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"Parameter LABELS: {exc}") from None


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


def _check_device(device: str) -> None:
    import torch

    try:
        dev = torch.device(device)
    except RuntimeError as exc:
        raise ValueError(f"Parameter DEVICE {device!r} is not a torch device ('cpu', 'cuda', ...): {exc}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"Parameter DEVICE is {device!r} but CUDA is not available here; use 'cpu' or None (auto)")


def notebook_images(image_dir: str | Path | None = None, limit: int | None = None) -> dict[str, Any]:
    """The images a notebook works on: files of ``image_dir`` (by name, sorted), or the bundled sample photos.

    Args:
        image_dir: a folder of images (every file with an image extension, not recursive); None: the sample photos
            of :func:`nlexnb.sample_images` (no network).
        limit: keep at most this many.

    Returns:
        Name -> RGB PIL image, in a stable order.
    """
    from .datasets import IMAGE_EXTENSIONS
    from .images import sample_images, to_pil

    if image_dir is None:
        photos = sample_images()
    else:
        folder = Path(image_dir)
        if not folder.is_dir():
            raise FileNotFoundError(f"Image folder not found (or not a directory): {str(folder)!r}")
        files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
        if not files:
            raise ValueError(f"No images in {str(folder)!r} (extensions {', '.join(IMAGE_EXTENSIONS)})")
        photos = {p.stem: to_pil(p) for p in files}
    names = list(photos)[:limit] if limit is not None else list(photos)
    return {name: photos[name] for name in names}


def _check_model_name(name: str, parameter: str = "MODEL") -> None:
    from .classifier import check_model_name

    try:
        check_model_name(name)
    except ValueError as exc:
        message = str(exc)
        raise ValueError(f"Parameter {parameter}: {message[:1].lower()}{message[1:]}") from None


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
    parser.add_argument("--only", nargs="*", help="run only notebooks whose name contains one of these")
    parser.add_argument("--no-html", action="store_true", help="skip the HTML copies")
    args = parser.parse_args(argv)
    import yaml

    params = {name: yaml.safe_load(value) for name, value in args.parameter}
    paths = sorted(Path(args.notebooks).glob("[0-9][0-9]_*.ipynb"))
    if args.only:
        paths = [p for p in paths if any(o in p.name for o in args.only)]
    if not paths:
        print(f"No numbered notebooks (NN_name.ipynb) to run in {args.notebooks!r}", file=sys.stderr)
        return 2
    try:
        done = run_notebooks(paths, args.out, params, html=not args.no_html)
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
