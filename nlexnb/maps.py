"""The maps a mapper can be: each is an ``nn.Module`` from text embeddings [*, m] to class-row space [*, d].

Each map class has ``fit(x, groups, targets, seed, **hp)`` (x: text embeddings [n, m], one per training text; groups:
class position of each text [n]; targets: class rows [K, d]) and ``from_state(tensors)`` (rebuild from a saved state
dict, shapes only). ``MAPS`` names them for ``fit_mapper(method=...)``.
"""

from __future__ import annotations

import inspect
import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["MAPS", "fit_map", "map_defaults", "KernelMap", "RidgeMap", "MLPMap", "LabelMemory", "class_means"]


def class_means(x: torch.Tensor, groups: torch.Tensor, num_groups: int) -> torch.Tensor:
    """Mean of the rows of ``x`` per group [num_groups, m]."""
    sums = torch.zeros(num_groups, x.shape[1], device=x.device, dtype=x.dtype).index_add_(0, groups, x)
    return sums / torch.bincount(groups, minlength=num_groups).clamp_min(1).unsqueeze(1).to(x.dtype)


class KernelMap(nn.Module):
    """Kernel ridge regression with a cosine-RBF kernel on class-mean text embeddings (the default map).

    ``k(x, a) = exp((cos(x, a) - 1) / sigma)`` against one anchor per training class (its mean text embedding). It
    predicts each class's unit row direction and its relative norm, so a training class name maps back onto its own
    row (norm included) while a new text lands between the rows of the classes whose names it resembles; a text far
    from every anchor maps to the mean direction. Closed form: fits in about a second for 1000 classes.
    """

    def __init__(self, anchors: torch.Tensor, coef: torch.Tensor, offset: torch.Tensor, sigma, scale) -> None:
        super().__init__()
        self.register_buffer("anchors", anchors)
        self.register_buffer("coef", coef)
        self.register_buffer("offset", offset)
        self.register_buffer("sigma", torch.as_tensor(sigma, dtype=torch.float32).reshape(()))
        self.register_buffer("scale", torch.as_tensor(scale, dtype=torch.float32).reshape(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k = torch.exp((F.normalize(x, dim=-1) @ self.anchors.T - 1.0) / self.sigma)
        out = k @ self.coef + self.offset
        return out[..., :-1] * (self.scale * (1.0 + out[..., -1:]))

    @classmethod
    def fit(cls, x, groups, targets, seed=0, *, sigma: float = 0.3, alpha: float = 0.03) -> KernelMap:
        """Solve ``(K + alpha I) coef = T - mean(T)`` in float64; T = [unit rows, norm / mean norm - 1]."""
        num = targets.shape[0]
        anchors = F.normalize(class_means(x.double(), groups, num), dim=1)
        norms = targets.double().norm(dim=1, keepdim=True)
        scale = norms.mean()
        t = torch.cat([targets.double() / norms.clamp_min(1e-12), norms / scale - 1.0], dim=1)
        offset = t.mean(0)
        gram = torch.exp((anchors @ anchors.T - 1.0) / sigma)
        eye = torch.eye(num, dtype=gram.dtype, device=gram.device)
        coef = torch.linalg.solve(gram + alpha * eye, t - offset)  # column-major: made contiguous, as a file reads it
        return cls(anchors.float(), coef.float().contiguous(), offset.float(), sigma, scale.float())

    @classmethod
    def from_state(cls, state: dict[str, torch.Tensor]) -> KernelMap:
        return cls(state["anchors"], state["coef"], state["offset"], state["sigma"], state["scale"])


class RidgeMap(nn.Module):
    """Closed-form ridge regression, y = x @ weight.T + bias: the baseline and a fast path."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor) -> None:
        super().__init__()
        self.weight = nn.Parameter(weight, requires_grad=False)
        self.bias = nn.Parameter(bias, requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.weight.T + self.bias

    @classmethod
    def fit(cls, x, groups, targets, seed=0, *, alpha: float = 1.0) -> RidgeMap:
        """Ridge from every training text to its class row (centred, penalty ``alpha``)."""
        y = targets[groups]
        x_mean, y_mean = x.mean(0), y.mean(0)
        xc, yc = x - x_mean, y - y_mean
        gram = xc.T @ xc + alpha * torch.eye(x.shape[1], device=x.device, dtype=x.dtype)
        weight = torch.linalg.solve(gram, xc.T @ yc).T.contiguous()  # as a file reads it: the same sums, bit for bit
        return cls(weight, y_mean - x_mean @ weight.T)

    @classmethod
    def from_state(cls, state: dict[str, torch.Tensor]) -> RidgeMap:
        return cls(state["weight"], state["bias"])


class MLPMap(nn.Module):
    """An MLP, m -> hidden -> hidden -> d, with LayerNorm, GELU and dropout (the later papers' shape)."""

    def __init__(self, text_dim: int, hidden: int, feature_dim: int, dropout: float = 0.5) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(text_dim, hidden),
            nn.LayerNorm(hidden),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, hidden),
            nn.LayerNorm(hidden),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, feature_dim),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)

    @classmethod
    def fit(
        cls,
        x,
        groups,
        targets,
        seed=0,
        *,
        hidden: int = 512,
        dropout: float = 0.5,
        epochs: int = 150,
        lr: float = 1e-3,
        weight_decay: float = 1e-4,
        temperature: float = 0.05,
        contrastive_weight: float = 1.0,
    ) -> MLPMap:
        """Full-batch Adam with cosine decay on cosine + scale-aware MSE + retrieval cross-entropy to all rows."""
        torch.manual_seed(seed)
        net = cls(x.shape[1], hidden, targets.shape[1], dropout).to(x.device)
        opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=weight_decay)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
        y = targets[groups]
        scale = targets.norm(dim=1).mean()
        rows = F.normalize(targets, dim=1)
        net.train()
        for _ in range(epochs):
            out = net(x)
            cos = 1 - F.cosine_similarity(out, y, dim=1).mean()
            mse = F.mse_loss(out / scale, y / scale) * targets.shape[1] / 10
            ce = F.cross_entropy(F.normalize(out, dim=1) @ rows.T / temperature, groups)
            loss = cos + mse + contrastive_weight * ce
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        return net.eval()

    @classmethod
    def from_state(cls, state: dict[str, torch.Tensor]) -> MLPMap:
        hidden, text_dim = state["layers.0.weight"].shape
        net = cls(text_dim, hidden, state["layers.8.weight"].shape[0])
        net.load_state_dict(state)
        return net


class LabelMemory(nn.Module):
    """A narrow-kernel residual that puts the fitted class names exactly on their own rows.

    Any smooth map leaves a small residual on its training classes (rows reproduced at cosine ~0.985), enough to flip
    near-tied predictions when the mapped names replace the real head. This adds
    ``sum_k exp((cos(e, a_k) - 1) / sigma) coef_k`` to a label vector, where ``e`` is the label's mean prompt
    embedding and ``a_k`` the training classes' ones, with ``coef`` solved so the training names land exactly on
    their rows. With ``sigma = 0.02`` a label whose prompts are not nearly identical to a training class's gets
    almost nothing (cosine 0.9 -> weight 0.007), so new labels are mapped by the smooth map alone.
    """

    def __init__(self, anchors: torch.Tensor, coef: torch.Tensor, sigma) -> None:
        super().__init__()
        self.register_buffer("anchors", anchors)
        self.register_buffer("coef", coef)
        self.register_buffer("sigma", torch.as_tensor(sigma, dtype=torch.float32).reshape(()))

    def forward(self, mean_embeddings: torch.Tensor) -> torch.Tensor:
        k = torch.exp((F.normalize(mean_embeddings, dim=-1) @ self.anchors.T - 1.0) / self.sigma)
        return k @ self.coef

    @classmethod
    def fit(cls, anchors: torch.Tensor, residual: torch.Tensor, sigma: float = 0.02) -> LabelMemory:
        a = F.normalize(anchors.double(), dim=1)
        gram = torch.exp((a @ a.T - 1.0) / sigma)
        eye = torch.eye(len(a), dtype=gram.dtype, device=gram.device)
        coef = torch.linalg.solve(gram + 1e-6 * eye, residual.double())
        return cls(a.float(), coef.float().contiguous(), sigma)  # as a file reads it: the same sums, bit for bit

    @classmethod
    def from_state(cls, state: dict[str, torch.Tensor]) -> LabelMemory:
        return cls(state["anchors"], state["coef"], state["sigma"])


MAPS: dict[str, type[nn.Module]] = {"kernel": KernelMap, "mlp": MLPMap, "ridge": RidgeMap}


def fit_map(
    method: str, x: torch.Tensor, groups: torch.Tensor, targets: torch.Tensor, seed: int, hparams: dict
) -> nn.Module:
    """Fit ``MAPS[method]`` with ``hparams``.

    Raises:
        ValueError: an unknown method (the message lists them), or a hyper-parameter value no map can be fitted with
            (see :func:`checked_hyper_parameters`).
        TypeError: an unknown hyper-parameter name (the message lists the valid ones), or a value that is not a
            number.
    """
    if not isinstance(method, str) or method not in MAPS:
        raise ValueError(f"Unknown mapper method {method!r}; choose one of {sorted(MAPS)}")
    valid = list(map_defaults(method))
    unknown = sorted(set(hparams) - set(valid))
    if unknown:
        raise TypeError(f"Unknown hyper-parameter(s) {unknown} for method {method!r}; valid: {valid}")
    hparams = checked_hyper_parameters(hparams)
    with torch.enable_grad():
        return MAPS[method].fit(x.float(), groups.long(), targets.float(), seed, **hparams)


def map_defaults(method: str) -> dict[str, float]:
    """The hyper-parameters of the map ``MAPS[method]`` and their defaults, read from its ``fit``: what it accepts,
    and what advice on a failed fit compares the values given with."""
    parameters = inspect.signature(MAPS[method].fit).parameters.values()
    return {p.name: p.default for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY}


WHOLE_HYPER_PARAMETERS = ("hidden", "epochs")
"""Hyper-parameters that count something (the MLP's width and its epochs): whole numbers."""


def checked_hyper_parameters(hparams: dict) -> dict:
    """``hparams`` with numpy and one-element torch numbers made Python numbers, each checked to be a positive finite
    number (a whole one for :data:`WHOLE_HYPER_PARAMETERS`): ``sigma=np.float32('nan')`` slipped past a check of
    Python floats and gave a map whose every output was NaN, which zero-shot heads then ranked as "cat"."""
    out = {}
    for name, value in hparams.items():
        if isinstance(value, torch.Tensor) and value.numel() == 1:
            value = value.item()
        if hasattr(value, "item") and not isinstance(value, torch.Tensor) and getattr(value, "shape", None) == ():
            value = value.item()  # a numpy scalar
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"Hyper-parameter {name} must be a number, got {type(value).__name__} {value!r}")
        if name == "dropout":  # a probability: 0 is none, 1 drops everything (torch's words beyond it)
            if not (math.isfinite(value) and 0 <= value < 1):
                raise ValueError(f"Hyper-parameter dropout must be a probability in [0, 1), got {value!r}")
            out[name] = float(value)
            continue
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"Hyper-parameter {name} must be a positive finite number, got {value!r}")
        if name in WHOLE_HYPER_PARAMETERS and value != int(value):
            raise ValueError(f"Hyper-parameter {name} must be a whole number, got {value!r}")
        out[name] = int(value) if name in WHOLE_HYPER_PARAMETERS else value
    return out
