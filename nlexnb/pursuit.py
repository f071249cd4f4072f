"""Sparse non-negative pursuit: rows written as a few non-negative combinations of directions.

Generic (no concepts, no classifier): :mod:`nlexnb.bottleneck` uses it to write each class row of a head as a few
concept directions (unit length). Orthogonal matching pursuit for every row at once: each step adds, per row, the
allowed direction most correlated with what is left of the row (its cosine, so a long direction is not preferred for
its length), then refits the row's weights on its support with non-negative least squares. Greedy, so one pursuit to
the largest budget gives every smaller budget too.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ._checks import positive_int

__all__ = [
    "sparse_nonnegative_fit",
    "sparse_nonnegative_path",
    "largest_budget",
    "check_budget_memory",
    "GRAM_LIMIT",
    "SUPPORT_MEMORY_LIMIT",
]


def sparse_nonnegative_fit(
    rows: torch.Tensor,
    directions: torch.Tensor,
    n: int,
    *,
    allowed: torch.Tensor | None = None,
    steps: int = 100,
) -> torch.Tensor:
    """Non-negative orthogonal matching pursuit for every row at once: weights ``A`` [R, T] >= 0 with at most ``n``
    non-zeros per row such that ``A @ directions`` approximates ``rows`` [R, d] in least squares.

    Each step adds, per row, the allowed direction (``allowed``: [T] bool, or [R, T] for each row its own; default
    all) with the largest positive correlation with the row's residual, divided by the direction's length (a
    direction 60 times longer than another was picked for its length, not its fit), then refits the row's weights on
    its support: exact least squares where that has no negative weight, else projected gradient descent (``steps``
    iterations, non-negative). A row stops growing when no direction correlates positively with what is left of it
    (beyond rounding: :data:`WRITTEN`). See
    :func:`sparse_nonnegative_path` for several budgets from one pursuit."""
    n = positive_int(n, "n", "concepts per row")
    return sparse_nonnegative_path(rows, directions, (n,), allowed=allowed, steps=steps)[n]


GRAM_LIMIT = 8_192
"""Banks up to this many concepts keep every pair's cosine ([T, T], float64: 0.5 GB at the limit) during a fit:
each step is then a sparse product instead of a pass over the features."""

SUPPORT_MEMORY_LIMIT = 2**30
"""The most bytes the Gram matrices of a pursuit's supports ([R, n, n] float64 for R rows at a budget of n) may
take: 1 GiB, which the refits copy a few times over. ImageNet's 1000 classes at a budget of 2500 asked for 50 GB and
crashed; the limit allows 366 concepts per class for them (a pursuit's time grows faster than the square of the
budget: 128 concepts for 1000 classes took minutes on two CPU cores)."""


def largest_budget(rows: int) -> int:
    """The largest budget a pursuit of ``rows`` rows at once may take (:data:`SUPPORT_MEMORY_LIMIT`)."""
    return max(1, int((SUPPORT_MEMORY_LIMIT / (8 * max(rows, 1))) ** 0.5))


def check_budget_memory(rows: int, n: int, what: str = "rows", unit: str = "directions per row") -> None:
    """A ValueError when a pursuit of ``rows`` rows to ``n`` directions each would take more memory than
    :data:`SUPPORT_MEMORY_LIMIT`, saying how much and the largest budget that fits (``what`` names the rows and
    ``unit`` the budget in the caller's words)."""
    if n <= largest_budget(rows):
        return
    need = 8 * rows * n * n
    raise ValueError(
        f"A budget of {n} {unit} needs {need / 2**30:.1f} GiB for the Gram matrices of the directions each of the "
        f"{rows} {what} chooses ([{rows}, {n}, {n}] float64), more than the {SUPPORT_MEMORY_LIMIT / 2**30:g} GiB a "
        f"pursuit may take: give at most {largest_budget(rows)} {unit}"
    )


def sparse_nonnegative_path(
    rows: torch.Tensor,
    directions: torch.Tensor,
    budgets: Sequence[int],
    *,
    allowed: torch.Tensor | None = None,
    steps: int = 100,
) -> dict[int, torch.Tensor]:
    """:func:`sparse_nonnegative_fit` for several budgets at once: ``{n: A}`` for each ``n`` in ``budgets``.

    The pursuit is greedy, so the first ``n`` concepts a row picks are the same whatever the final budget: one
    pursuit to the largest budget gives every smaller one (each with its own refitted weights). Residual
    correlations are kept in the bank's coordinates (``rows @ V.T`` minus the fitted weights times the bank's
    cosines), so a step costs a sparse product, not a pass over every row's features."""
    steps = positive_int(steps, "steps", "descent steps per refit")  # 0, -5 and 2.5 were taken
    _check_inputs(rows, directions, allowed)
    if not isinstance(budgets, (list, tuple, range, set, frozenset)):  # one number iterated failed in Python's words
        raise TypeError(f"budgets must be a list of numbers of concepts per row, e.g. (8,) or [8, 16], got {budgets!r}")
    budgets = sorted({positive_int(b, "budgets", "concepts per row") for b in budgets})
    if not budgets:
        raise ValueError("budgets is empty: give at least one number of concepts per row")
    r, t = rows.shape[0], directions.shape[0]
    n = min(budgets[-1], t)
    check_budget_memory(r, n)  # before any allocation: 1000 rows at 2500 asked for 50 GB
    device = directions.device
    v = directions.double()
    allowed = torch.ones(t, dtype=torch.bool, device=device) if allowed is None else allowed.to(device)
    length = v.norm(dim=1)
    # a direction's correlation over its length is its cosine with the residual (times the residual's length): unit
    # directions (the bank's, within float32 rounding) keep their correlation as it is, bit for bit
    scale = torch.where((length - 1).abs() <= UNIT_TOLERANCE, 1.0, length)
    all_unit = bool((scale == 1).all())
    blocked_directions = ~allowed | (length == 0)  # a zero direction writes nothing
    cosines = v @ v.T if t <= GRAM_LIMIT else None
    correlation = rows.to(device, torch.float64) @ v.T  # [R, T]
    # what is left of a row written exactly is rounding (float32 inputs): a direction correlating less than this
    # with it adds a weight of 1e-9 and writes nothing, so the row stops growing there
    floor = WRITTEN * rows.to(device, torch.float64).norm(dim=1)
    support = torch.zeros(r, n, dtype=torch.long, device=device)
    coef = torch.zeros(r, n, dtype=torch.float64, device=device)  # unused slots keep weight 0 on direction 0
    gram = torch.zeros(r, n, n, dtype=torch.float64, device=device)
    target = torch.zeros(r, n, dtype=torch.float64, device=device)
    blocked = blocked_directions.expand(r, t).clone()  # not allowed, of length 0, or already in the row's support
    row_ids = torch.arange(r, device=device)
    path: dict[int, torch.Tensor] = {}

    def weights() -> torch.Tensor:
        return torch.zeros(r, t, dtype=torch.float64, device=device).scatter_add_(1, support, coef)

    for s in range(n):
        fitted = torch.sparse_coo_tensor(
            torch.stack([row_ids.repeat_interleave(s), support[:, :s].flatten()]),
            coef[:, :s].flatten(),
            (r, t),
            check_invariants=False,
        )
        if cosines is not None:
            score = correlation - torch.sparse.mm(fitted, cosines)
        else:
            score = correlation - torch.sparse.mm(fitted, v) @ v.T
        if not all_unit:
            score = score / scale
        best = score.masked_fill_(blocked, -torch.inf).max(1)
        live = torch.nonzero(best.values > floor).flatten()
        if not len(live):
            break
        pick = best.indices[live]
        blocked[live, pick] = True
        support[live, s] = pick
        cross = cosines[pick] if cosines is not None else v[pick] @ v.T  # [L, T]
        gram[live, s, : s + 1] = cross.gather(1, support[live, : s + 1])
        gram[live, :s, s] = gram[live, s, :s]
        target[live, s] = correlation[live, pick]
        coef[live, : s + 1] = _nonnegative_refit(
            gram[live, : s + 1, : s + 1], target[live, : s + 1], coef[live, : s + 1], steps
        )
        if s + 1 in budgets:
            path[s + 1] = weights()
    for b in budgets:  # budgets past where every row stopped growing
        path.setdefault(b, weights())
    return path


WRITTEN = 1e-6
"""A row stops growing when no direction correlates with what is left of it by more than this share of the row's
length: the rest is rounding. Rows written exactly by 2 directions were given 12 at a budget of 12, the other 10
with weights of 1e-9 to 1e-16."""

UNIT_TOLERANCE = 1e-6
"""A direction whose length is within this of 1 is taken as a unit one (float32 rounding of a normalised vector)."""


def _check_inputs(rows, directions, allowed) -> None:
    """Rows [R, d] and directions [T, d] as finite tensors of one width, and ``allowed`` a bool mask [T] or [R, T]:
    a NaN row was written with no concept at all, a float mask failed in "~", and other shapes in torch's words."""
    for name, value in (("rows", rows), ("directions", directions)):
        if not isinstance(value, torch.Tensor) or value.ndim != 2:
            shape = tuple(value.shape) if hasattr(value, "shape") else ()
            kind = "tensor" if isinstance(value, torch.Tensor) else type(value).__name__
            convert = "" if isinstance(value, torch.Tensor) else " (torch.as_tensor converts an array)"
            raise TypeError(f"{name} must be a 2-D torch tensor ({name} by width), got {kind} {shape}{convert}")
        if not torch.isfinite(value).all():
            raise ValueError(f"{name} hold NaN or infinite values: no concept can write them")
    if rows.shape[1] != directions.shape[1]:
        raise ValueError(f"rows are {rows.shape[1]} wide but directions {directions.shape[1]}: give one width")
    if allowed is not None:
        if not isinstance(allowed, torch.Tensor) or allowed.dtype != torch.bool:
            raise TypeError(f"allowed must be a bool tensor (True where a direction may be used), got {allowed!r:.60}")
        if tuple(allowed.shape) not in ((directions.shape[0],), (rows.shape[0], directions.shape[0])):
            raise ValueError(
                f"allowed must be [{directions.shape[0]}] or [{rows.shape[0]}, {directions.shape[0]}] (per row), "
                f"got {list(allowed.shape)}"
            )


def _nonnegative_refit(gram: torch.Tensor, target: torch.Tensor, coef: torch.Tensor, steps: int) -> torch.Tensor:
    """Least squares weights on each row's support (``gram`` [L, s, s], ``target`` [L, s]), kept non-negative: the
    exact solution where it has no negative weight, else ``steps`` of projected gradient descent from ``coef``, then
    the exact solution on the weights the descent kept positive (where that has no negative weight)."""
    eye = torch.eye(gram.shape[1], dtype=gram.dtype, device=gram.device)
    exact = torch.linalg.solve(gram + 1e-10 * eye, target)
    negative = (exact < 0).any(1)
    coef = torch.where(negative[:, None], coef, exact)
    if bool(negative.any()):
        g, t, c = gram[negative], target[negative], coef[negative]
        step = 1.0 / torch.linalg.eigvalsh(g)[:, -1].clamp_min(1e-12)
        todo = torch.arange(len(c), device=c.device)
        for _ in range(REFIT_ROUNDS):  # until the optimality conditions hold: two near-opposite directions
            gt, tt, ct, st = g[todo], t[todo], c[todo], step[todo]  # took far more than 100 steps
            for _ in range(steps):
                ct = (ct + st[:, None] * (tt - (gt @ ct[:, :, None])[..., 0])).clamp_min(0)
            ct = _polish(gt, tt, ct, eye)
            c[todo] = ct
            todo = todo[_optimality_gap(gt, tt, ct) > REFIT_TOLERANCE]
            if not len(todo):
                break
        coef[negative] = c
    return coef


REFIT_ROUNDS = 40
"""At most this many rounds of ``steps`` projected-gradient steps for a row whose non-negative refit has not met the
optimality conditions (weights 5 times too small were returned after 100 steps, when two directions of a support
had a cosine of -0.96)."""
REFIT_TOLERANCE = 1e-6
"""How far from the non-negative least-squares optimum a refit may stop (:func:`_optimality_gap`)."""


def _polish(g: torch.Tensor, t: torch.Tensor, c: torch.Tensor, eye: torch.Tensor) -> torch.Tensor:
    """Exact least squares on the weights a descent kept positive, for each row where that stays non-negative."""
    keep = c > 0
    both = keep[:, :, None] & keep[:, None, :]
    g_kept = torch.where(both, g, torch.diag_embed((~keep).to(g.dtype)))
    polished = torch.linalg.solve(g_kept + 1e-10 * eye, torch.where(keep, t, 0.0))
    good = (polished >= 0).all(1)
    c = c.clone()
    c[good] = polished[good]
    return c


def _optimality_gap(g: torch.Tensor, t: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """Per row, how far non-negative weights ``c`` are from the conditions of the least-squares optimum under
    ``c >= 0``: the gradient ``t - g c`` is 0 where a weight is positive and at most 0 where it is 0 (relative to
    the largest target)."""
    gradient = t - (g @ c[:, :, None])[..., 0]
    violation = torch.where(c > 0, gradient.abs(), gradient.clamp_min(0))
    return violation.max(1).values / t.abs().max(1).values.clamp_min(1e-12)
