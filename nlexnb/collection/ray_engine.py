"""Engine "ray": the same batches explained by a Ray Data actor pool, on one machine or a cluster
(``pip install nlexnb[ray]``). Each actor holds one explainer and reads, decodes and explains its batches exactly as
the local engine does; the calling process writes the rows."""

from __future__ import annotations

import json
import sys
import traceback
import warnings
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np
import torch

from ..explain import Explainer
from .batched import BatchExplainer, Explained, explain_batch
from .files import arrow
from .sources import Source, collate

if TYPE_CHECKING:
    from .run import Settings

__all__ = ["ray_stream"]


class _RayExplainer:
    """A Ray Data actor: holds one explainer (and the collection's reader), explains a batch of ids at a time."""

    def __init__(self, payload, k: int, foil: int | None) -> None:
        import ray

        explainer, dataset = ray.get(payload[0])  # a reference inside a list: fetched here, once per actor
        torch.set_num_threads(max(1, int(ray.get_runtime_context().get_assigned_resources().get("CPU", 1))))
        self.dataset = dataset
        self.run = BatchExplainer(explainer, k, foil)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        with warnings.catch_warnings(record=True) as caught:  # a worker's log does not reach the caller: its
            warnings.simplefilter("always")  # warnings ("a 1x1 image means little") travel with the batch
            try:
                decoded = collate([self.dataset[int(i)] for i in batch["id"]])
                done = explain_batch(decoded, self.run)
            except Exception as exc:  # sent back as data: raised by Ray, it came as 40 lines of another type,
                failure = _qualified(type(exc))  # and the batches in flight were dropped
                message = exc.args[0] if len(exc.args) == 1 and isinstance(exc.args[0], str) else str(exc)
                where = "".join(traceback.format_exception(exc)[-4:])  # the worker's last frames, for the note
                return _result(Explained(None, None, 0, 0, []), caught, failure, message, where)
        return _result(done, caught)


def _qualified(kind: type) -> str:
    return f"{kind.__module__}.{kind.__qualname__}"


def _named_type(qualified: str, base: type) -> type | None:
    """The class a worker named (``module.Name``), a subclass of ``base``, where it is a built-in one or one of a
    module this process has imported (nlexnb's ``UnreadableImageError``); None otherwise. Never imports."""
    import builtins

    module_name, _, name = qualified.rpartition(".")
    module = builtins if module_name == "builtins" else sys.modules.get(module_name)
    kind = getattr(module, name, None) if module is not None and "." not in name else None
    return kind if isinstance(kind, type) and issubclass(kind, base) else None


def _result(done: Explained, caught=(), failure: str = "", message: str = "", where: str = "") -> dict[str, np.ndarray]:
    """One batch's answer, as one row: its rows and errors (Arrow IPC bytes), its counts and the ids of its float
    tensors not yet normalised (JSON), the warnings it raised (``caught``: JSON of their categories and messages) and
    a worker's failure (the error's type, message and last frames; empty when none)."""
    warned = json.dumps([[_qualified(w.category), str(w.message)] for w in caught])
    return {
        "warnings": np.array([warned], dtype=object),
        "rows": np.array([_to_ipc(done.rows)], dtype=object),
        "errors": np.array([_to_ipc(done.errors)], dtype=object),
        "size": np.array([done.size]),
        "read": np.array([done.read]),
        "loose": np.array([json.dumps(done.loose)], dtype=object),
        "failure": np.array([failure], dtype=object),
        "message": np.array([message], dtype=object),
        "where": np.array([where], dtype=object),
    }


def _rebuilt(failure: str, message: str, where: str) -> Exception:
    """The error a worker caught, raised here as the local engine raises it: the same exception type (a built-in one,
    or one of a module this process has imported, such as nlexnb's ``UnreadableImageError``) with its message, and
    a RuntimeError naming the type otherwise; a note says where it was raised and shows the worker's last frames."""
    kind = _named_type(failure, Exception)
    if kind is not None:
        try:
            error = kind(message)
        except TypeError:  # one that takes other arguments (a path and a reason): the same type, with the message
            error = kind.__new__(kind)
            error.args = (message,)
    else:
        error = RuntimeError(f"{failure}: {message}")
    error.add_note("(raised in a Ray worker; the batches that reached this process before it are kept)\n" + where)
    return error


def _to_ipc(table) -> bytes:
    if table is None:
        return b""
    pa, _ = arrow()
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def _from_ipc(data: bytes):
    if not data:
        return None
    pa, _ = arrow()
    return pa.ipc.open_stream(pa.py_buffer(data)).read_all()


def ray_stream(explainer: Explainer, source: Source, remaining, settings: Settings) -> Iterator[tuple]:
    """Engine "ray": Ray Data sends the ids still to explain, in batches, to an actor pool (``settings.workers``
    actors, at least one; one GPU each when the explainer is on a GPU); each actor reads, decodes and explains its
    batch exactly as the local engine does, and this process writes the rows as they come back."""
    import ray

    if not ray.is_initialized():  # RAY_ADDRESS, when set, joins that cluster
        ray.init(include_dashboard=False, log_to_driver=False, logging_level="warning")
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False  # the collection's own bar counts images
    context.print_on_execution_start = False
    gpus = 1 if explainer.classifier.device.type == "cuda" else 0
    payload = ray.put((explainer, source.dataset))
    ids = ray.data.from_items([{"id": int(i)} for i in remaining])
    results = ids.map_batches(
        _RayExplainer,
        fn_constructor_args=([payload], settings.k, settings.foil),
        batch_size=settings.batch_size,
        batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=max(1, settings.workers)),
        num_cpus=1,
        num_gpus=gpus,
    )
    options = context.execution_options
    saved, options.preserve_order = options.preserve_order, True  # batches in the order of their ids: an error is
    try:  # raised once every batch before it is written (out of order, one came first and they were lost)
        for row in results.iter_rows():
            for category, message in json.loads(str(row["warnings"])):
                warnings.warn(f"{message} (in a Ray worker)", _named_type(category, Warning) or UserWarning, 2)
            if row["failure"]:
                raise _rebuilt(str(row["failure"]), str(row["message"]), str(row["where"]))
            yield Explained(
                _from_ipc(row["rows"]),
                _from_ipc(row["errors"]),
                int(row["size"]),
                int(row["read"]),
                json.loads(str(row["loose"])),
            )
    finally:
        options.preserve_order = saved
