"""How the named concepts are chosen: a public interface, two methods, one way to score them.

A selection method gets the candidate concepts' unit directions ``V`` [n, d], an image's features ``f`` [d], the
target's direction ``w`` [d] (see :mod:`nlexnb.targets`) and, optionally, a ``prior`` [n] in (0, 1] (how much to
prefer each candidate: the explainer passes how well its text fits the explained class, see
``Explainer(relevance=)``), and returns up to ``k`` candidate positions, in order. What a choice is worth is
computed once for every method by :func:`marginal_gains`: concept ``i`` carries ``w . (P_{S_i} - P_{S_{i-1}}) f``,
the drop it adds when its direction joins the span of those before it, so the contributions of any method add up to
the drop measured when all named directions are removed at once, and methods are compared by the same metrics
(``nlexnb.metrics``).

A new method is one class with a ``name`` and a ``choose`` method; register it in :data:`SELECTORS` to pick it by
name (``Explainer(selector="nonnegative")``). A ``choose`` without a ``prior`` argument is called without one.
"""

from __future__ import annotations

import functools
import inspect

import torch

from ._checks import Setting, positive_int

__all__ = [
    "Selector",
    "GreedySelector",
    "NonNegativeSelector",
    "SELECTORS",
    "marginal_gains",
    "get_selector",
    "takes_prior",
]


class Selector:
    """Base class of selection methods."""

    name = "selector"
    description = ""
    """One line for listings (``nlexnb.available("selectors")``)."""

    def choose(
        self,
        directions: torch.Tensor,
        features: torch.Tensor,
        weight: torch.Tensor,
        k: int,
        prior: torch.Tensor | None = None,
    ) -> list[int]:
        """Positions (into ``directions`` [n, d]) of at most ``k`` concepts, most important first. ``prior`` [n]: how
        much to prefer each candidate (None: all alike)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class GreedySelector(Selector):
    """Joint greedy selection (orthogonal matching pursuit on the explained quantity): each step adds the concept
    whose direction, made orthogonal to those already chosen, adds most to ``w . P_S f`` (times its ``prior`` when
    one is given); stops when none adds anything. The default."""

    name = "greedy"
    description = "joint greedy: each step adds the concept that adds most to the explained quantity (the default)"

    def choose(self, directions, features, weight, k, prior=None):
        residual = directions.double()
        f, w = features.double(), weight.double()
        chosen: list[int] = []
        alive = torch.ones(len(residual), dtype=torch.bool, device=residual.device)
        for _ in range(min(k, len(residual))):
            norms = residual.norm(dim=1)
            unit = residual / norms.clamp_min(1e-12).unsqueeze(1)
            gain = (unit @ f) * (unit @ w)
            usable = alive & (norms > 1e-6) & (gain > 0)
            score = gain if prior is None else gain * prior.double()
            score = torch.where(usable, score, torch.full_like(score, -torch.inf))
            best = int(score.argmax())
            if not usable[best]:
                break
            chosen.append(best)
            alive[best] = False
            q = unit[best]
            residual = residual - (residual @ q).unsqueeze(1) * q
        return chosen


class NonNegativeSelector(Selector):
    """Sparse non-negative decomposition of the image: ``f ~ sum_j a_j v_j`` with ``a >= 0`` (projected gradient on the
    candidates), then the ``k`` concepts whose part of ``f`` carries most of the target (``a_j (w . v_j)``), in that
    order. Concepts are credited for what the image is made of rather than for what adds most once earlier choices
    are removed."""

    name = "nonnegative"
    description = "sparse non-negative decomposition of the image, ranked by the target each part carries"

    steps = Setting(lambda value, name: positive_int(value, name, "iterations"))

    def __init__(self, steps: int = 200) -> None:
        self.steps = steps  # 0 chose nothing: "no concept carries this"

    def choose(self, directions, features, weight, k, prior=None):
        v, f, w = directions.double(), features.double(), weight.double()
        gram = v @ v.T
        step = 1.0 / float(torch.linalg.eigvalsh(gram)[-1].clamp_min(1e-12))
        target = v @ f
        a = torch.zeros(len(v), dtype=torch.float64, device=v.device)
        for _ in range(self.steps):
            a = (a + step * (target - gram @ a)).clamp_min(0)
        worth = a * (v @ w)
        if prior is not None:
            worth = worth * prior.double()
        order = worth.argsort(descending=True)[: min(k, len(v))]
        return [int(i) for i in order if worth[i] > 0]


SELECTORS: dict[str, type[Selector]] = {"greedy": GreedySelector, "nonnegative": NonNegativeSelector}
"""Selection methods by name."""


def takes_prior(selector: Selector) -> bool:
    """Whether ``selector.choose`` accepts a ``prior`` (methods written without one are called without it)."""
    return _takes_prior(type(selector))


@functools.cache
def _takes_prior(kind: type) -> bool:
    parameters = inspect.signature(kind.choose).parameters
    return "prior" in parameters or any(p.kind is p.VAR_KEYWORD for p in parameters.values())


def get_selector(selector: Selector | str) -> Selector:
    """A selection method from its name (see :data:`SELECTORS`) or an instance."""
    if isinstance(selector, Selector):
        return selector
    if isinstance(selector, type) and issubclass(selector, Selector):
        raise TypeError(f"selector is the class {selector.__name__}: pass an instance, {selector.__name__}()")
    if not isinstance(selector, str):  # a list failed as "unhashable"
        raise TypeError(
            f"selector must be a name ({sorted(SELECTORS)}) or a Selector, got {type(selector).__name__} {selector!r}"
        )
    if selector not in SELECTORS:
        raise ValueError(f"Unknown selector {selector!r}; choose one of {sorted(SELECTORS)} or pass a Selector")
    return SELECTORS[selector]()


def marginal_gains(directions: torch.Tensor, features: torch.Tensor, weight: torch.Tensor) -> list[float]:
    """What each direction (rows of [k, d], in order) adds to ``w . P_S f`` when it joins those before it (float64
    Gram-Schmidt; a direction already in the span adds 0). The gains sum to ``w . P f`` for the whole span."""
    f, w = features.double(), weight.double()
    basis: list[torch.Tensor] = []
    gains = []
    for d in directions.double():
        for q in basis:
            d = d - (d @ q) * q
        norm = d.norm()
        if norm <= 1e-8:
            gains.append(0.0)
            continue
        q = d / norm
        basis.append(q)
        gains.append(float((q @ f) * (q @ w)))
    return gains
