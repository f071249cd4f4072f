"""Engine "ray": the same batches explained by a pool of Ray actors, on one machine or a cluster
(``pip install nlexnb[ray]``). Each actor holds one explainer and reads, decodes and explains its batches exactly as
the local engine does; the calling process writes the rows."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np
import torch

from ..explain import Explainer
from .batched import BatchExplainer, explain_batch
from .sources import Source, collate

if TYPE_CHECKING:
    from .run import Settings

__all__ = ["ray_stream"]

_IN_FLIGHT = 2
"""Batches sent ahead to each actor: one explained while the next waits, so an actor never idles between two."""


class _RayExplainer:
    """A Ray actor: holds one explainer (and the collection's reader), explains a batch of ids at a time."""

    def __init__(self, payload, k: int, foil: int | None) -> None:
        import ray

        explainer, dataset = payload  # Ray fetches the object once per actor, before this constructor runs
        torch.set_num_threads(max(1, int(ray.get_runtime_context().get_assigned_resources().get("CPU", 1))))
        self.dataset = dataset
        self.run = BatchExplainer(explainer, k, foil)

    def explain(self, ids: np.ndarray) -> tuple:
        """(rows, errors: Arrow tables or None, images in the batch), as :func:`explain_batch` returns them."""
        return explain_batch(collate([self.dataset[int(i)] for i in ids]), self.run)


def ray_stream(explainer: Explainer, source: Source, remaining, settings: Settings) -> Iterator[tuple]:
    """Engine "ray": ``settings.workers`` actors (at least one; one GPU each when the explainer is on a GPU) each
    receive the explainer once, then batches of the ids still to explain, in turn, at most two batches ahead; each
    reads, decodes and explains its batch exactly as the local engine does, and this process writes the rows in the
    order of the ids.

    The actors are created with ``max_restarts=0`` (Ray's own default for an actor): an actor that dies (its process
    killed, its node lost) is not restarted and its batch is not retried; the run stops with Ray's error, keeping every
    batch already written, and the same call explains the rest. (Ray Data's actor pools restart dead actors, but
    their constructor arguments live in the object store, where a restart cannot count on finding them: Ray logs an
    error for every such pool, and ``map_batches`` takes ``max_restarts`` only through its ``**ray_remote_args``,
    deprecated in Ray 2.60.)
    """
    import ray

    if not ray.is_initialized():  # RAY_ADDRESS, when set, joins that cluster
        ray.init(include_dashboard=False, log_to_driver=False, logging_level="warning")
    gpus = 1 if explainer.classifier.device.type == "cuda" else 0
    actor = ray.remote(num_cpus=1, num_gpus=gpus, max_restarts=0)(_RayExplainer)
    payload = ray.put((explainer, source.dataset))
    actors = [actor.remote(payload, settings.k, settings.foil) for _ in range(max(1, settings.workers))]
    del payload  # each actor's creation holds it until that actor has it; then the object store frees it
    size = settings.batch_size
    pending: deque = deque()
    try:
        for j, start in enumerate(range(0, len(remaining), size)):
            if len(pending) >= _IN_FLIGHT * len(actors):
                yield ray.get(pending.popleft())
            pending.append(actors[j % len(actors)].explain.remote(np.asarray(remaining[start : start + size])))
        while pending:
            yield ray.get(pending.popleft())
    finally:
        for a in actors:
            ray.kill(a)
