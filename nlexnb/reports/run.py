"""Execute the numbered notebooks with papermill (:func:`run_notebooks`, and the command line of
``python -m nlexnb.reports``), writing executed notebooks and HTML copies atomically."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .._checks import yes_or_no
from .._store import atomic_write_bytes


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
        Paths of the executed notebooks. A failing (or interrupted) notebook raises papermill's error after its
        partial output is saved as ``out/NAME.failed.ipynb`` (and ``.html``), so the traceback can be read; the
        report of an earlier successful run stays as it was, and a success removes an earlier failure's copies.
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
    for path in paths:  # the report of a notebook written over the notebook: its injected parameters ran ever after
        if (out_dir / path.name).resolve() == path.resolve():
            raise ValueError(
                f"--out {str(out)!r} is the folder of the notebooks themselves: the executed copies would replace "
                f"{path.name} and the others. Give another folder, e.g. 'reports'"
            )
    done = []
    for path in paths:
        target = out_dir / path.name
        failed = out_dir / f"{path.stem}.failed.ipynb"
        tmp = out_dir / f".{path.stem}.running.ipynb"
        start = time.perf_counter()
        for stale in (failed, failed.with_suffix(".html")):  # an earlier run's failure is not this run's
            stale.unlink(missing_ok=True)
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
        except BaseException:  # a failure or an interrupt: its partial output beside the last good report
            if tmp.exists():
                with contextlib.suppress(Exception):  # the notebook's own error is the one to raise
                    _publish(tmp, failed, html)
            raise
        _publish(tmp, target, html)
        done.append(target)
        print(f"executed {path.name} -> {target} ({time.perf_counter() - start:.0f} s)", file=sys.stderr)
    return done


def _publish(executed: Path, target: Path, html: bool) -> None:
    """Move an executed notebook to ``target`` atomically, with its HTML copy beside it when ``html``."""
    atomic_write_bytes(target, executed.read_bytes())
    target.chmod(0o644)
    executed.unlink()
    if html:
        _write_html(target).chmod(0o644)
    else:  # an HTML copy of an earlier run no longer shows what the notebook beside it holds
        target.with_suffix(".html").unlink(missing_ok=True)


def parameter_value(name: str, text: str) -> Any:
    """A ``-p NAME VALUE`` value read as YAML (``3`` -> int, ``1e-3`` -> float, ``true`` -> bool, ``[a, b]`` -> list),
    refusing what YAML 1.1 reads as a number other than the decimal one written: ``010`` is 8 there (octal),
    ``1:30`` is 90 (base 60) and ``0x1F`` is 31, which would run the notebook on a number nobody typed."""
    import math
    import re

    import yaml

    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0]
        raise ValueError(
            f"-p {name} {text!r} is not valid YAML ({first}); write lists as '[a, b]' and quote text with ':' or "
            "brackets"
        ) from exc
    decimal = r"[-+]?(0|[1-9][0-9]*)(\.[0-9]*)?([eE][-+]?[0-9]+)?|[-+]?\.[0-9]+([eE][-+]?[0-9]+)?"
    written = text.strip().replace("_", "")  # "1_000" is a decimal number with separators, as YAML reads it
    if isinstance(value, str) and re.fullmatch(decimal, written):
        value = float(written)  # YAML 1.1 reads "1e-3" as text: a number was meant
    special = written.lower().lstrip("+-") in (".inf", ".nan")
    if isinstance(value, (int, float)) and not isinstance(value, bool) and not special:
        if not re.fullmatch(decimal, written):
            raise ValueError(
                f"-p {name} {text!r} reads as {value!r} in YAML (octal, base 60, hexadecimal or binary): write the "
                f"number in decimal, or quote it ('\"{text}\"') for text"
            )
        if not math.isfinite(value):  # "1e400" read as inf
            raise ValueError(f"-p {name} {text!r} is too large for a number: it reads as {value!r}")
    return value


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


class _Terminated(KeyboardInterrupt):
    """SIGTERM (``kill``, ``timeout``, a batch scheduler's limit) raised as an interrupt, so a notebook stopped that
    way leaves its partial output as NAME.failed.ipynb, as Ctrl-C does, instead of a hidden running copy."""


@contextlib.contextmanager
def _terminate_as_interrupt():
    """Within the command line only: SIGTERM raises :class:`_Terminated` (the previous handler is restored after)."""

    def handler(signum, frame):
        raise _Terminated()

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m nlexnb.reports",
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
    names = [name for name, _ in args.parameter]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        print(f"error: -p {', '.join(twice)} given more than once: give each parameter once", file=sys.stderr)
        return 2
    try:
        params = {name: parameter_value(name, value) for name, value in args.parameter}
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    every = sorted(Path(args.notebooks).glob("[0-9][0-9]_*.ipynb"))
    paths = [p for p in every if any(o in p.name for o in args.only)] if args.only else every
    if not paths:
        have = f"; it has {', '.join(p.name for p in every)}" if every else ""
        wanted = f" matching --only {' '.join(args.only)}" if args.only and every else ""
        print(f"error: no numbered notebooks (NN_name.ipynb){wanted} in {args.notebooks!r}{have}", file=sys.stderr)
        return 2
    try:
        with _terminate_as_interrupt():
            done = run_notebooks(paths, args.out, params, html=not args.no_html)
    except _Terminated:
        print(
            f"error: stopped by a termination signal; the notebook that was running is in {args.out}/ as "
            "NAME.failed.ipynb, with the cells it had executed",
            file=sys.stderr,
        )
        return 128 + signal.SIGTERM
    except (ValueError, OSError) as exc:  # what was asked cannot run: said before any notebook starts
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        from papermill.exceptions import PapermillExecutionError

        if not isinstance(exc, PapermillExecutionError):
            raise
        print(
            f"error: a notebook failed in cell {exc.exec_count}: {exc.ename}: {exc.evalue}\n"
            f"(the partly executed notebook is in {args.out}/, as NAME.failed.ipynb)",
            file=sys.stderr,
        )
        return 1
    for path in done:
        print(path.with_suffix(".html") if not args.no_html else path)
    return 0
