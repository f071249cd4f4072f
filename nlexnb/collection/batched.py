"""The batched explanation: a batch of images explained at once on the classifier's device, as Arrow rows.

The default greedy selection is computed for the whole batch (candidates, shortlist and Gram-Schmidt greedy as
``[B, S, d]`` tensors; a few host synchronisations per batch and one per greedy step, none per image, stopping once
every image is done) and gives the concepts and contributions
:meth:`nlexnb.Explainer.explain` gives for each image. Another selection method runs per image through
:meth:`nlexnb.Explainer.select`; the rest of the batch stays batched.
"""

from __future__ import annotations

import warnings
from typing import Any, NamedTuple

import numpy as np
import torch

from .._checks import UnnormalisedWarning
from ..explain import Explainer
from ..labels import bare_synonyms
from ..selection import GreedySelector
from .files import arrow, error_schema, row_schema
from .sources import Batch, fingerprint

__all__ = ["BatchExplainer", "Explained", "explain_batch"]


class BatchExplainer:
    """Explains a batch of preprocessed images at once, exactly as :meth:`Explainer.explain` does one by one."""

    def __init__(self, explainer: Explainer, k: int, foil: int | None) -> None:
        self.explainer, self.k, self.foil = explainer, k, foil
        space = explainer.space
        self.space, self.clf = space, space.classifier
        self.directions = space.directions
        self.device = self.directions.device
        t = len(space)
        self.size = max(explainer.shortlist, k)
        self.first = min(max(4 * self.size, self.size + 64), t)  # Explainer.candidates looks at this many, then filters
        self.batched = type(explainer.selector) is GreedySelector
        # per class seen: which concepts name it, echo it, fit another sense of its names, name another animal or a
        # thing not expected with it (the per-class filters of Explainer.candidates), one row
        # each in ``table``; ``slot[c]`` is class c's row (-1 until seen). Grows with the classes, not [K, T] upfront
        self.slot = torch.full((self.clf.num_classes,), -1, dtype=torch.long, device=self.device)
        self.table = torch.zeros(0, t, dtype=torch.bool, device=self.device)
        self.known: dict[int, int] = {}
        pa, _ = arrow()
        self.texts, self.names = pa.array(space.texts), pa.array(self.clf.class_names)
        if explainer.echo_margin is not None or explainer.sense_margin is not None or explainer.relevance != 0:
            _encode_class_texts(space)

    def _block(self, classes: list[int]) -> None:
        new = [c for c in dict.fromkeys(classes) if c not in self.known]
        if not new:
            return
        everything = range(len(self.space))
        rows = []
        for c in new:
            row = torch.tensor(self.space.mentions(everything, [c]), dtype=torch.bool, device=self.device)
            row |= self.explainer.refused(everything, c).to(self.device)  # echoes and other senses
            # a foil refuses only its words, echoes and other senses, as in Explainer.candidates (images predicted as
            # the foil are not explained)
            if c != self.foil:
                row |= torch.tensor(self.explainer.resemblances(everything, [c]), dtype=torch.bool, device=self.device)
            rows.append(row)
            self.known[c] = len(self.known)
        self.table = torch.cat([self.table, torch.stack(rows)])
        self.slot[torch.tensor(new, device=self.device)] = torch.tensor(
            [self.known[c] for c in new], device=self.device
        )

    def blocked(self, classes: torch.Tensor) -> torch.Tensor:
        """[B, T]: the concepts that name, echo, fit another sense of, name another animal than, or name a thing not
        expected with each of ``classes`` [B] (all of them seen by :meth:`_block`)."""
        return self.table[self.slot[classes]]

    def __call__(self, x: torch.Tensor) -> dict[str, np.ndarray]:
        with torch.inference_mode():
            return self._explain(x)

    def _explain(self, x: torch.Tensor) -> dict[str, np.ndarray]:
        clf, foil = self.clf, self.foil
        with warnings.catch_warnings():  # each image was checked as it was read, and the run warns once for them all
            warnings.filterwarnings("ignore", category=UnnormalisedWarning)
            f = clf.features(x.to(clf.device, non_blocking=True), progress=False)
        logits = clf.head(f)
        predicted = logits.argmax(1)
        probability = logits.softmax(-1).gather(1, predicted[:, None])[:, 0]
        w = clf.head_weight[predicted]
        if foil is not None:
            w = w - clf.head_weight[foil]  # zero where the image is predicted as the foil: nothing is selected
        labels = predicted.tolist()  # the one sync before the end
        classes = list(dict.fromkeys(labels)) + ([foil] if foil is not None else [])
        self._block(classes)
        unit_w = w / w.norm(dim=1, keepdim=True).clamp_min(1e-30)
        n = f.shape[0]
        projections = self.directions @ torch.cat([f, unit_w]).T  # [T, 2B], as Explainer.explain computes them
        if self.batched:
            presence, alignment = projections[:, :n].T, projections[:, n:].T
            if foil is None:
                candidates = self._shortlist(presence, alignment, self.blocked(predicted))
            else:
                candidates = self._contrast(presence, alignment, predicted, f)
            chosen = self._greedy(candidates, f, w, self._prior(candidates, labels))
        else:
            chosen = self._select_each(f, predicted, projections)
        # only the columns up to the last concept an image names: k=1000 named 82, and the gains cost O(columns^2)
        chosen = chosen[:, : int((chosen >= 0).sum(1).max())]
        gains, basis = _marginal_gains(self.directions, chosen, f, w)
        value = self._value(f.double(), predicted)
        ablated = (f.double() - torch.einsum("bk,bkd->bd", torch.einsum("bkd,bd->bk", basis, f.double()), basis)).to(
            f.dtype
        )  # float32, as nlexnb.explain.project_out returns it
        measured = value - self._value(ablated.double(), predicted)
        keep = chosen >= 0
        measured = torch.where(keep.any(1), measured, torch.zeros_like(measured))
        out = {
            "predicted": predicted,
            "probability": probability.double(),
            "chosen": chosen,
            "gains": gains,
            "explained": value,
            "measured": measured,
        }
        return {key: v.cpu().numpy() for key, v in out.items()}

    def _shortlist(self, presence: torch.Tensor, alignment: torch.Tensor, blocked: torch.Tensor) -> torch.Tensor:
        """The shortlist of every image [B, S] (bank indices, -1 where shorter) by ``presence * alignment`` [B, T],
        without ``blocked`` [B, T] concepts, as ``Explainer._shortlist``."""
        ex = self.explainer
        single = (presence * alignment).masked_fill(
            self.space.excluded | (alignment > ex.max_alignment) | (presence <= 0) | (alignment <= 0), -torch.inf
        )
        top = single.topk(self.first, dim=1)
        valid = (top.values > -torch.inf) & ~blocked.gather(1, top.indices)
        rank = valid.cumsum(1) - 1
        keep = valid & (rank < self.size)
        slot = torch.where(keep, rank, torch.full_like(rank, self.size))
        out = torch.full((len(single), self.size + 1), -1, dtype=torch.long, device=single.device)
        out.scatter_(1, slot, torch.where(keep, top.indices, torch.full_like(top.indices, -1)))
        return out[:, : self.size]

    def _contrast(
        self, presence: torch.Tensor, alignment: torch.Tensor, predicted: torch.Tensor, f: torch.Tensor
    ) -> torch.Tensor:
        """A contrast's shortlist [B, S], as :meth:`Explainer.candidates`: among each image's evidence for its
        predicted class (the factual shortlist), the concepts aligned with the gap, ranked by their contribution to
        it, without the foil's words and echoes and without kinds of either class."""
        rows = self.clf.head_weight[predicted]
        row_alignment = (self.directions @ (rows / rows.norm(dim=1, keepdim=True)).T).T  # [B, T]
        evidence = self._shortlist(presence, row_alignment, self.blocked(predicted))
        at = evidence.clamp_min(0)
        naming = self.space.naming_mask()
        refused = naming[predicted] | naming[self.foil] | self.table[self.known[self.foil]]
        gap, here = alignment.gather(1, at), presence.gather(1, at)
        ok = (evidence >= 0) & (here > 0) & (gap > 0) & (gap <= self.explainer.max_alignment) & ~refused.gather(1, at)
        score = torch.where(ok, here * gap, torch.full_like(gap, -torch.inf))
        order = score.sort(dim=1, descending=True, stable=True)
        return torch.where(order.values > -torch.inf, evidence.gather(1, order.indices), torch.full_like(evidence, -1))

    def _prior(self, candidates: torch.Tensor, predicted: list[int]) -> torch.Tensor | None:
        """[B, S]: :meth:`Explainer.prior` of each image's candidates (their relevance to its predicted class)."""
        power = self.explainer.relevance
        if power == 0:
            return None
        rows = torch.stack([self.space.relevance(c) for c in predicted])  # cached per class
        return rows.gather(1, candidates.clamp_min(0)) ** power

    def _greedy(
        self, candidates: torch.Tensor, f: torch.Tensor, w: torch.Tensor, prior: torch.Tensor | None = None
    ) -> torch.Tensor:
        """:class:`~nlexnb.selection.GreedySelector` for the whole batch: bank indices [B, k], -1 after the last.
        Stops once no image has a concept left to add (a large ``k`` names far fewer: the steps after it changed
        nothing, over [B, S, d] each)."""
        b, s = candidates.shape
        residual = self.directions[candidates.clamp_min(0)].double()  # [B, S, d]
        fd, wd = f.double(), w.double()
        alive = candidates >= 0
        active = torch.ones(b, dtype=torch.bool, device=f.device)
        chosen = torch.full((b, self.k), -1, dtype=torch.long, device=f.device)
        rows = torch.arange(b, device=f.device)
        for step in range(min(self.k, s)):
            norms = residual.norm(dim=2)
            unit = residual / norms.clamp_min(1e-12).unsqueeze(2)
            gain = torch.einsum("bsd,bd->bs", unit, fd) * torch.einsum("bsd,bd->bs", unit, wd)
            usable = alive & (norms > 1e-6) & (gain > 0)
            score = gain if prior is None else gain * prior.double()
            best = score.masked_fill(~usable, -torch.inf).argmax(1)
            active = active & usable[rows, best]
            chosen[:, step] = torch.where(active, candidates[rows, best], -1)
            if not bool(active.any()):  # one sync a step: every image is finished
                break
            alive[rows, best] &= ~active
            q = unit[rows, best] * active.unsqueeze(1)  # zero for finished images: their residual stays
            residual = residual - torch.einsum("bsd,bd->bs", residual, q).unsqueeze(2) * q.unsqueeze(1)
        return chosen

    def _select_each(self, f: torch.Tensor, predicted: torch.Tensor, projections: torch.Tensor) -> torch.Tensor:
        """Any other selection method: :meth:`Explainer.select` per image."""
        n = f.shape[0]
        chosen = torch.full((n, self.k), -1, dtype=torch.long, device=f.device)
        for i, c in enumerate(predicted.tolist()):
            if c == self.foil:
                continue
            picked, _ = self.explainer.select(f[i], c, self.k, self.foil, projections=projections[:, [i, n + i]])
            chosen[i, : len(picked)] = torch.tensor(picked, dtype=torch.long, device=f.device)
        return chosen

    def _value(self, features: torch.Tensor, predicted: torch.Tensor) -> torch.Tensor:
        """The explained quantity from float64 features [B, d], re-running the head (``Target.value``)."""
        logits = self.clf.head(features)
        value = logits.gather(1, predicted[:, None])[:, 0]
        return value - logits[:, self.foil] if self.foil is not None else value


def _marginal_gains(
    directions: torch.Tensor, chosen: torch.Tensor, f: torch.Tensor, w: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`nlexnb.selection.marginal_gains` for a batch: gains [B, k] (0 where none) and the orthonormal basis
    [B, k, d] of each image's named directions (zero rows where a direction adds nothing)."""
    b, k = chosen.shape
    dirs = directions[chosen.clamp_min(0)].double()
    fd, wd = f.double(), w.double()
    basis = torch.zeros_like(dirs)
    gains = torch.zeros(b, k, dtype=torch.float64, device=dirs.device)
    for j in range(k):
        v = dirs[:, j]
        for i in range(j):
            q = basis[:, i]
            v = v - (v * q).sum(1, keepdim=True) * q
        norm = v.norm(dim=1)
        ok = (chosen[:, j] >= 0) & (norm > 1e-8)
        q = torch.where(ok.unsqueeze(1), v / norm.clamp_min(1e-30).unsqueeze(1), torch.zeros_like(v))
        basis[:, j] = q
        gains[:, j] = (q * fd).sum(1) * (q * wd).sum(1)
    return gains, basis


class Explained(NamedTuple):
    """One batch explained: its rows and its errors (Arrow tables, or None), how many images it held, how many of
    them could be read (explained, or predicted as the foil), and the ids of the float tensors that look like
    ``ToTensor()`` output without ``Normalize`` (the run warns once for them all)."""

    rows: Any
    errors: Any
    size: int
    read: int
    loose: list[int]


def explain_batch(batch: Batch, run: BatchExplainer) -> Explained:
    """One decoded batch -> its :class:`Explained`."""
    errors = list(batch.errors)
    table = None
    if batch.x is not None:
        table, foiled = _rows(batch, run(batch.x), run)
        errors += foiled
    read = 0 if batch.x is None else len(batch.x)
    return Explained(table, _error_table(errors) if errors else None, batch.size, read, list(batch.loose))


def _rows(batch: Batch, result: dict[str, np.ndarray], run: BatchExplainer):
    """The Arrow table of a batch's explanations, and the images predicted as the foil (errors)."""
    pa, _ = arrow()
    explainer, foil = run.explainer, run.foil
    predicted = result["predicted"]
    ok = np.ones(len(predicted), dtype=bool) if foil is None else predicted != foil
    foiled = [
        (batch.ids[i], batch.paths[i], batch.labels[i], _foil_reason(explainer, foil))
        for i in np.flatnonzero(~ok).tolist()
    ]
    chosen, gains = result["chosen"][ok], result["gains"][ok]
    explained = result["explained"][ok]
    named = chosen >= 0
    offsets = pa.array(np.concatenate([[0], np.cumsum(named.sum(1))]).astype(np.int32))
    with np.errstate(divide="ignore", invalid="ignore"):
        shares = np.where(explained[:, None] > 0, gains / explained[:, None], np.nan)  # as Explainer's shares
    kept = np.flatnonzero(ok).tolist()
    table = pa.Table.from_arrays(
        [
            pa.array([batch.ids[i] for i in kept], pa.int64()),
            pa.array([batch.paths[i] for i in kept], pa.string()),
            pa.array([batch.labels[i] for i in kept], pa.string()),
            pa.array(predicted[ok].astype(np.int64)),
            run.names.take(pa.array(predicted[ok].astype(np.int64))),
            pa.array(result["probability"][ok]),
            pa.ListArray.from_arrays(offsets, run.texts.take(pa.array(chosen[named]))),
            pa.ListArray.from_arrays(offsets, pa.array(gains[named])),
            pa.ListArray.from_arrays(offsets, pa.array(shares[named])),
            pa.array(np.where(named, gains, 0.0).sum(1)),
            pa.array(result["measured"][ok]),
            pa.array(explained),
            pa.array([fingerprint(batch.x[i]) for i in kept], pa.string()),
            pa.array([None if batch.stamps[i] is None else batch.stamps[i][0] for i in kept], pa.int64()),
            pa.array([None if batch.stamps[i] is None else batch.stamps[i][1] for i in kept], pa.int64()),
        ],
        schema=row_schema(),
    )
    return table, foiled


def _foil_reason(explainer: Explainer, foil: int | None) -> str:
    name = explainer.classifier.class_names[foil]
    return f"predicted as the foil {foil} ({name!r}): there is no gap to explain"


def _error_table(errors: list[tuple]):
    pa, _ = arrow()
    ids, paths, labels, reasons = zip(*errors)
    return pa.Table.from_arrays(
        [pa.array(ids, pa.int64()), pa.array(paths, pa.string()), pa.array(labels, pa.string()), pa.array(reasons)],
        schema=error_schema(),
    )


def _encode_class_texts(space) -> None:
    """Encode, in one call before the first batch, the texts of every class that the echo and other-sense filters and
    the relevance prior read (its bare names, its gloss, the definitions of its names' other senses), so that the text
    encoder's cache holds them all before the run: a look-up when they are there (about 4,600 texts with the default
    classifier), one encoder pass and one cache file when some are not (the first run on a machine).

    Left to each class as the run first predicted it, a class missing from the cache ran the text encoder mid-run (its
    first pass keeps about 45 MB) and wrote a cache file of its own, and every 32 such files the cache was merged
    while a second copy of it was held (about 50 MB more): a larger collection, meeting more new classes, peaked
    higher than a small one (``benchmarks/bench_collection.py``, memory runs)."""
    names, glosses = space.classifier.class_names, space.glosses
    texts = [s for name in names for s in bare_synonyms(name) if s]
    texts += [g for g in glosses or () if g]
    texts += [d for senses in space.other_senses or () for d in senses]  # what the other-sense test reads
    space.mapper.text_encoder.encode(list(dict.fromkeys(texts)))
