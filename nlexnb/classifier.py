"""The classifier adapter: one interface over timm models, torchvision models and any ``nn.Module`` with a linear head.

Everything nlexnb does needs four things from a classifier: its class rows (``head_weight``, ``head_bias``), its
pre-logits features ``f`` (so that ``logits = f @ W.T + b``), per-location features in the same space (for heat maps),
and its own preprocessing. :func:`nlexnb.load_classifier` (in :mod:`nlexnb.loading`) returns a :class:`Classifier`
that provides them.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from ._checks import Fixed, Setting, positive_int, warn_user
from .images import ImageInput, iter_batches
from .labels import bare_synonyms, counted, disambiguate, split_synonyms, words

__all__ = ["Classifier", "Forward", "NoFeatureMap", "Prediction", "LabelPrediction", "a_classifier", "get_submodule"]


class NoFeatureMap(ValueError):
    """The classifier gives no per-location features, so no heat map can be drawn for it; explanations without heat
    maps (``heatmaps=False``), predictions, features and zero-shot need none."""


@dataclass(frozen=True)
class Forward:
    """What one forward pass gives: ``features`` [N, d] (pre-logits, ``logits = features @ W.T + b``), ``logits``
    [N, K] and ``feature_map`` [N, h, w, d] (per-location features in the same space; None when the pass was asked
    for no map). ``out["features"]`` also works, as for the dict this used to be."""

    features: torch.Tensor
    logits: torch.Tensor
    feature_map: torch.Tensor | None

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


_BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm)
"""The batch norms: normalised by their running statistics in eval mode, by the batch's own without them."""


def check_two_classes(count: int, who: str) -> None:
    """A ValueError when a head has fewer than two outputs: nlexnb reads classes through a softmax of one logit per
    class, and the softmax of a single logit (a binary classifier's, read through a sigmoid) is 1.0 for every image."""
    if count >= 2:
        return
    raise ValueError(
        f"{who}'s head has {counted(count, 'output')}: nlexnb reads a classifier's classes through a softmax of one "
        "logit per class, and a single logit (a binary classifier's, read through a sigmoid) would give p 1.000 for "
        "every image. Give a head of 2 logits, one per class: Linear(d, 1) with weight w and bias b becomes "
        "Linear(d, 2) with rows [-w/2, w/2] and biases [-b/2, b/2], whose softmax gives the second class the "
        "sigmoid's probability"
    )


def _head_tensors(head: nn.Module) -> list[torch.Tensor]:
    return [t for t in (head.weight, getattr(head, "bias", None)) if t is not None]


def _equal(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Whether two tensors of one shape hold the same values: numpy's comparison on a CPU (0.2 ms for 1,000 x 1,280
    floats, where ``torch.equal`` takes several), torch's on a device."""
    if a.device.type == "cpu" and b.device.type == "cpu":
        return bool(np.array_equal(a.numpy(), b.numpy(), equal_nan=True))  # a NaN row is broken, not edited
    same = a == b
    return bool((same | (a.isnan() & b.isnan())).all())


def _rows(head: nn.Module) -> torch.Tensor:
    """The class rows [K, d] of a linear head, or of a 1x1 convolution applied to pooled features (BiT, DLA)."""
    return head.weight.detach().reshape(head.weight.shape[0], -1)


class Classifier:
    """A pretrained classifier seen through its linear head (an ``nn.Linear``, or a 1x1 convolution applied to the
    pooled features, as BiT's and DLA's).

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
        head: nn.Linear | nn.Conv2d,
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
        self.head_weight = _rows(head).to(device=device, dtype=torch.float32).clone()
        self.head_bias = (
            head.bias.detach().to(device=device, dtype=torch.float32).clone() if head.bias is not None else None
        )
        self._head = head
        check_two_classes(self.num_classes, name)
        if len(class_names) != self.num_classes:
            raise ValueError(f"Got {len(class_names)} class names for a head with {self.num_classes} classes")
        self._class_names = tuple(disambiguate(list(class_names)))

    class_names = Fixed(
        "the mapper, the concept spaces and every check were made for the names the classifier was loaded with; "
        "load it again with the names wanted: load_classifier(..., class_names=[...])"
    )

    batch_size = Setting(lambda value, name: positive_int(value, name, "images per forward pass"))

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

        self._check_head_unchanged()
        h = hashlib.sha256(self.head_weight.cpu().numpy().tobytes())
        if self.head_bias is not None:
            h.update(self.head_bias.cpu().numpy().tobytes())
        return h.hexdigest()[:16]

    def weights_digest(self) -> str:
        """A short hash of every weight and buffer of the model, the backbone's as well as the head's
        (:attr:`fingerprint` hashes the head alone): what a resumed collection run checks, since a backbone fine-tuned
        under a frozen head changes every row without changing the head. The same on any device and in any process;
        the names of wrappers that hold the same weights (``torch.compile``'s ``_orig_mod.``, ``DataParallel``'s
        ``module.``) are left out. Reads every weight: 20 ms for EfficientNet-Lite0 on a CPU, seconds for a model
        of a billion parameters."""
        import hashlib

        h = hashlib.blake2b(digest_size=8)
        for name, value in sorted(self.model.state_dict().items()):
            value = value.int_repr() if value.is_quantized else value
            h.update(name.replace("_orig_mod.", "").removeprefix("module.").encode("utf-8"))
            h.update(f"{value.dtype}{tuple(value.shape)}".encode())
            h.update(value.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy())
        return h.hexdigest()

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
        self._check_head_unchanged()
        try:
            out = self._forward(batch, want_map)
        except RuntimeError as exc:
            self._check_float32(exc)
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

    def _check_float32(self, exc: RuntimeError) -> None:
        """A ValueError, from the error torch raised, when part of the model was moved to another precision after
        loading (``clf.model[0].half()``): float32 images then fail in torch's words ("Input type (float) and bias type
        (c10::Half) should be the same"). The head's dtype is checked before every pass; this names the other layers.
        Any other error (a wrong channel count) is left to its own message."""
        if not any(word in str(exc) for word in ("Half", "Double", "BFloat16", "dtype", "should be the same")):
            return
        lower = [
            (name, t.dtype)
            for name, t in (*self.model.named_parameters(), *self.model.named_buffers())
            if t.is_floating_point() and t.dtype != torch.float32
        ]
        if not lower:
            return
        names = ", ".join(repr(name) for name, _ in lower[:3]) + (
            f" and {len(lower) - 3} more" if len(lower) > 3 else ""
        )
        raise ValueError(
            f"{self.name}'s weights {names} are {lower[0][1]} (part of the model was moved to another precision after "
            "it was loaded, e.g. model[0].half()), and nlexnb runs classifiers on float32 images, which those layers "
            "cannot take. Call clf.model.float() first (the weights it rounded stay rounded: load the float32 model "
            "again for the one loaded)"
        ) from exc

    def _check_eval_mode(self) -> None:
        """A ValueError when part of the model was put back in training mode after loading (``model.train()``):
        dropout would give other features at each call and batch norm would update its statistics, so explanations
        would neither repeat nor describe the model as it predicts. So is a batch norm that keeps no running statistics
        (``track_running_stats=False``): in eval mode too it normalises each batch by its own statistics, so an image's
        prediction would depend on the other images of its batch."""
        for name, module in self.model.named_modules():
            if module.training:
                which = "the model itself" if not name else f"its module {name!r}"
                raise ValueError(
                    f"{self.name} is in training mode ({which} has training=True: model.train() was called after "
                    "loading). Dropout and batch norm would change its features at every call; call "
                    "clf.model.eval() first"
                )
            if isinstance(module, _BATCH_NORMS) and module.running_mean is None:
                raise ValueError(
                    f"{self.name}'s batch norm {name!r} keeps no running statistics (track_running_stats=False), so "
                    "even in eval mode it normalises each batch by that batch's own statistics: an image's features "
                    "and prediction would depend on the other images in its batch. nlexnb cannot explain it; give "
                    "the layer running statistics (estimated on training images) or a per-image norm"
                )

    def _run(self, images: ImageInput, want_map: bool, progress: bool | None):
        self._check_eval_mode()
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
        ablation comparisons). One vector [d] gives its logits [K].

        Raises:
            ValueError: not a floating-point tensor whose last dimension is d (integer features cast the head's
            rows to integers; another width failed in torch's words)."""
        d = self.num_features
        if not isinstance(features, torch.Tensor):
            raise TypeError(
                f"features must be a tensor [N, {d}] ({self.name}'s features), got {type(features).__name__}"
            )
        if not features.ndim or features.shape[-1] != d or not features.is_floating_point():
            raise ValueError(
                f"features must be a floating-point tensor [N, {d}] ({self.name}'s features; one vector [{d}] too), "
                f"got {str(features.dtype).removeprefix('torch.')} {list(features.shape)}"
            )
        out = features @ self.head_weight.to(features.dtype).T
        return out + self.head_bias.to(features.dtype) if self.head_bias is not None else out

    def logits(self, images: ImageInput, progress: bool | None = None) -> torch.Tensor:
        """The model's own logits [N, K]."""
        return torch.cat([o[1] for o in self._run(images, False, progress)])

    def forward_all(self, images: ImageInput, progress: bool | None = None, maps: bool = True) -> Forward:
        """Features, logits and the feature map from ONE forward pass (for explanations): a :class:`Forward`.

        ``maps=False`` leaves the map out (``feature_map`` None): for explanations without heat maps, which also work
        for a classifier that gives no map (:class:`NoFeatureMap`)."""
        outs = self._run(images, maps, progress)
        return Forward(
            features=torch.cat([o[0] for o in outs]),
            logits=torch.cat([o[1] for o in outs]),
            feature_map=torch.cat([o[2] for o in outs]) if maps else None,
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

        A name as written (case too) that one class has wins: ImageNet's "cardigan" is the sweater and "Cardigan" the
        corgi. Otherwise case is ignored, and a name several classes share ("CARDIGAN", "crane") is ambiguous.

        The one check of a user's class everywhere (explanations, discovery, zero-shot, mappers, widgets).

        Raises:
            TypeError: not an index or a name. ValueError: index out of range, unknown name (close matches listed),
            or a synonym shared by several classes.
        """
        n = self.num_classes
        if isinstance(c, str):
            return self._index_of_name(c, what)
        if isinstance(c, bool) or not isinstance(c, (int, np.integer)):
            one = c.numel() == 1 if isinstance(c, torch.Tensor) else getattr(c, "size", None) == 1
            item = " holding one number: convert it with int()" if one else ""
            raise TypeError(
                f"{what} must be a class index (int in [0, {n})) or a class name, got {type(c).__name__}{item}"
            )
        if not 0 <= int(c) < n:
            raise ValueError(f"{what} {int(c)} is out of range: {self.name} has classes 0..{n - 1}")
        return int(c)

    def _index_of_name(self, name: str, what: str) -> int:
        names = self.class_names
        if name in names:
            return names.index(name)
        exact = [i for i, n in enumerate(names) if name.strip() in split_synonyms(n)]
        if len(exact) == 1:  # as written, case too: "Cardigan" is the corgi's synonym, "cardigan" the sweater's name
            return exact[0]
        wanted = name.strip().lower()
        hits = [i for i, n in enumerate(names) if wanted in (n.lower(), *(s.lower() for s in split_synonyms(n)))]
        if not hits:  # a name made unique by disambiguate ("crane (class 134)") still answers to "crane": ambiguous
            hits = [i for i, n in enumerate(names) if n.endswith(")") and wanted in map(str.lower, bare_synonyms(n))]
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            raise ValueError(f"{what} {name!r} is ambiguous: {[names[i] for i in hits]}; pass the full name or index")
        number = name.strip()
        if number.removeprefix("-").isdecimal():  # "967" from a text box: an index typed as text, not a name
            n = self.num_classes
            index = int(number)
            hint = f"pass the index as an int: {index}" if 0 <= index < n else f"class indices are ints 0..{n - 1}"
            raise ValueError(f"Unknown {what} {name!r} for {self.name}: no class has that name; {hint}")
        synonyms = {s.lower(): i for i, n in enumerate(names) for s in split_synonyms(n)}  # "SIBERIAN HUSKEY" too
        said = set(words(wanted))  # "cat": the classes whose names say it ("tabby cat", "tiger cat"), not "crate"
        saying = [i for i, n in enumerate(names) if said and said <= set(words(" ".join(bare_synonyms(n))))]
        if saying:
            listed = [names[i] for i in saying[:8]] + ([f"... {len(saying) - 8} more"] if len(saying) > 8 else [])
            raise ValueError(f"Unknown {what} {name!r} for {self.name}; the classes whose names say it: {listed}")
        close = difflib.get_close_matches(wanted, list(synonyms), n=5, cutoff=0.5)
        matches = list(dict.fromkeys(names[synonyms[s]] for s in close))  # two synonyms of one class: listed once
        hint = f"; close matches: {matches}" if close else ""
        raise ValueError(f"Unknown {what} {name!r} for {self.name}{hint}")

    def predict(self, images: ImageInput, k: int = 5) -> list[Prediction]:
        """Top-k classes with softmax probabilities, one :class:`Prediction` per image (every class, in order, where
        the head has fewer than ``k``: the default 5 works for a head of 3 classes too)."""
        k = min(positive_int(k, "k", "classes"), self.num_classes)
        probs = self.logits(images).softmax(-1)
        top = probs.topk(k, dim=-1)
        return [
            Prediction(idx.tolist(), [self.class_names[i] for i in idx.tolist()], p.tolist())
            for idx, p in zip(top.indices.cpu(), top.values.cpu())
        ]

    def _check_head_unchanged(self) -> None:
        """A ValueError when the model's head was edited in place after loading (an optimiser step, a swapped row):
        nlexnb read its class rows once, so explanations, mapper checks and fingerprints would describe the old head
        while the model outputs the new one. Moving the model to another device is not an edit. The values are compared
        at every call (0.2 ms for 1,000 classes on a CPU): an edit through ``.data`` leaves torch's write counter as it
        was."""
        if self._head.weight.dtype != torch.float32:
            raise ValueError(
                f"{self.name} was moved to {self._head.weight.dtype} after it was loaded: nlexnb runs classifiers in "
                "float32 (their rows, features and ablations), and moving it back would not restore the weights it "
                "rounded. Load the float32 model again"
            )
        now = [t.detach().to(device=self.head_weight.device, dtype=torch.float32) for t in _head_tensors(self._head)]
        now = [now[0].reshape(self.head_weight.shape)] + now[1:] if now[0].numel() == self.head_weight.numel() else now
        then = [t for t in (self.head_weight, self.head_bias) if t is not None]
        if len(now) != len(then) or not all(a.shape == b.shape and _equal(a, b) for a, b in zip(now, then)):
            raise ValueError(
                f"{self.name}'s head was changed after it was loaded (its weights were edited in place): nlexnb read "
                "its class rows when it was loaded, so it would explain the old head while the model outputs the new "
                "one. Load it again from the edited model: load_classifier(model, head=...), and fit a mapper to it"
            )

    def _check_head_is_last(self, features: torch.Tensor, logits: torch.Tensor) -> None:
        """A ValueError unless the model's output is its head applied to the head's input: a softmax or another
        layer after the head (or, in timm, a ``forward_head`` that adds more than the classifier, as VOLO's auxiliary
        head does) would make every explanation, zero-shot head and bottleneck describe ``head(f)``, which is not what
        the model outputs (and its "probabilities" would be a softmax of a softmax). It is the architecture's, so
        the first forward pass that can tell checks it, and later ones (a GPU's batches) skip it."""
        if self.__dict__.get("_head_checked"):
            return
        if features.shape[-1] != self.num_features:
            raise ValueError(
                self._not_the_head(
                    f"its pre-logits features have {features.shape[-1]} values, the head's rows {self.num_features}"
                )
            )
        expected = self.head(features)
        if logits.shape != expected.shape:
            differs = f"it outputs {list(logits.shape)}, the head {list(expected.shape)}"
        elif not logits.numel() or not bool(torch.isfinite(logits).all() & torch.isfinite(expected).all()):
            return  # nothing to compare, or NaN: _forward_checked names a model that computes NaN
        else:
            gap = float((logits - expected).abs().max())
            size = float(expected.abs().max())
            # float32 rounding of the dot products: about 1e-7 of the sum of |f_i w_i| (the logits themselves may
            # be far smaller, by cancellation); a relative gap, not one against 1 + |logits|, under which a random
            # head's logits of 1e-4 passed a second head averaged in
            rounding = float((features.abs() @ self.head_weight.abs().T.to(features.dtype)).max())
            if gap <= 1e-2 * size + 1e-5 * rounding:
                if size > 0:  # all-zero logits (a zero-initialised head) tell nothing: the next pass checks again
                    self._head_checked = True
                return
            differs = f"they differ by up to {gap:.3g}, where the logits reach {size:.3g}"
        raise ValueError(self._not_the_head(differs))

    def _not_the_head(self, differs: str) -> str:
        return (
            f"{self.name}'s logits are not its classifier's linear layer applied to its pre-logits features "
            f"({differs}): its forward_head does more than one linear layer (an MLP head, a distillation head "
            "averaged in, VOLO's auxiliary maximum). nlexnb reads the logits as W f + b, so it cannot explain this "
            "architecture faithfully; choose another model"
        )

    def __repr__(self) -> str:
        return (
            f"Classifier({self.name!r}, classes={self.num_classes}, features={self.num_features}, "
            f"weights={self.weights_source!r}, device={str(self.device)!r})"
        )


_WITHOUT_MAPS = (
    "heat maps are not available for it. Explanations without them are: explainer.explain(image, heatmaps=False) "
    "(and weigh, and a bottleneck's explain); so are predictions, features and zero-shot"
)


class TimmClassifier(Classifier):
    """A timm model, through ``forward_features`` / ``forward_head`` / ``get_classifier``."""

    def _forward(self, x, want_map):
        m = self.model
        fm = m.forward_features(x)
        f = m.forward_head(fm, pre_logits=True)
        logits = m.forward_head(fm)
        self._check_head_is_last(f.float().flatten(1), logits.float())
        loc = self._per_location(fm) if want_map else None
        return f.float(), logits.float(), loc

    def _per_location(self, fm: torch.Tensor) -> torch.Tensor:
        """Apply the head's pre-logits path to every location by presenting each one as a 1x1 map (or 1 token)."""
        m, d = self.model, self.num_features
        if not isinstance(fm, torch.Tensor):  # CoaT's forward_features gives one tensor per branch
            raise NoFeatureMap(
                f"{self.name}'s forward_features returns a {type(fm).__name__} of {len(fm)} outputs, not one feature "
                f"map, so nlexnb cannot place its features: {_WITHOUT_MAPS}"
            )
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
            if length <= 1:  # PiT's forward_features gives its class token alone: a 1 x 1 "map" of no place
                raise NoFeatureMap(
                    f"{self.name}'s forward_features returns {fm.shape[1]} token(s) and no patch tokens, so nlexnb "
                    f"cannot place its features: {_WITHOUT_MAPS}"
                )
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

    def __init__(
        self,
        model,
        head_path: str,
        feature_layer: str | None,
        feature_post: Callable | None,
        *,
        check_map: bool = True,
        **kw,
    ):
        """``check_map=False`` for a model loaded by name, whose feature layer is the known one: its map may be
        normalised per location before pooling (torchvision's ConvNeXt), and a warning about it would ask the user
        for a layer they did not choose."""
        self.head_path = head_path
        self.feature_layer = feature_layer
        self.feature_post = feature_post
        self._map_checked = not check_map
        self._head_module = get_submodule(model, head_path, want_linear=True)
        self._feature_module = get_submodule(model, feature_layer) if feature_layer else None
        super().__init__(model, self._head_module, **kw)

    def _forward(self, x, want_map):
        if want_map and self._feature_module is None:
            named = self._map_checked  # loaded by name: its family has no layer to name
            raise NoFeatureMap(
                f"{self.name} has no feature layer for per-location features"
                + (
                    " (its head reads its map through more than pooling, e.g. a flattened grid and further layers), "
                    if named
                    else " (load_classifier(module, head=..., feature_layer='<module name>') names the layer whose "
                    "output is the spatial map or token sequence pooled into the head), "
                )
                + f"so nlexnb cannot place its features: {_WITHOUT_MAPS}"
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
        if isinstance(logits, dict):  # {"logits": ...} or a Hugging Face ModelOutput
            raise TypeError(
                f"{self.name} returns a {type(logits).__name__} ({list(logits)[:5]}), not a logits tensor: wrap it in "
                "an nn.Module whose forward returns the logits [N, classes] alone (forward(self, x): return "
                "self.model(x)['logits']), and name the head inside it (head='model.<linear layer>')"
            )
        self._picked = isinstance(logits, (tuple, list))
        if self._picked:
            logits = logits[0]
        if "f" not in captured:
            raise ValueError(
                f"{self.name}'s head {self.head_path!r} was not called by its forward: name the layer that computes "
                "the logits"
            )
        if math.prod(captured["f"].shape[1:-1]) > 1:  # a Linear applied at every location, then pooled
            raise ValueError(
                f"{self.name}'s head {self.head_path!r} reads an input of shape {tuple(captured['f'].shape)}, not one "
                "feature vector per image [N, d]: nlexnb needs a head applied to pooled features (pool first, then "
                "the head: the same logits when the pooling is a mean)"
            )
        f = captured["f"].flatten(1).float()
        self._check_head_is_last(f, logits.float())
        fmap = self._arrange_map(captured["map"]) if want_map else None
        if fmap is not None and not self._map_checked:
            self._map_checked = True
            self._check_map_pools_to_features(captured["map"], fmap, f)
        return f, logits.float(), fmap

    def _check_map_pools_to_features(self, raw, fmap: torch.Tensor, features: torch.Tensor) -> None:
        """Warn, once, when a feature layer is not what the head reads: "layer4.0" of a ResNet, or a middle block of a
        ViT, has the right width but is not what is pooled into the head, and every heat map came from it without a
        word. A map is checked by its average; tokens by their average, their patch tokens' or their first (class)
        token."""
        raw = raw[0] if isinstance(raw, (tuple, list)) else raw
        if raw.ndim not in (3, 4) or not len(features):
            return
        pooled = [fmap.mean((1, 2))]
        tokens = raw if self.feature_post is None else self.feature_post(raw)  # the steps named between them, too
        if tokens.ndim == 3 and tokens.shape[-1] == features.shape[-1]:  # pooled by their mean, or a class token
            pooled += [tokens[:, 0].float(), tokens.float().mean(1)]
        gap = min(float((p - features).abs().max()) for p in pooled)
        pooling = "The average of" if raw.ndim == 4 else "Neither the average nor the first token of"
        verb = "is not" if raw.ndim == 4 else "is"
        if gap > 1e-3 * max(float(features.abs().max()), 1e-6):  # float32 pooling differs by about 1e-7 of it
            warn_user(
                f"{pooling} feature layer {self.feature_layer!r} {verb} {self.name}'s head input (they differ "
                f"by up to {gap:.3g}): heat maps show that layer, not the features the head reads. Name the layer "
                "whose output is pooled into the head (feature_post= for steps between them)"
            )

    def _not_the_head(self, differs: str) -> str:
        picked = self.__dict__.get("_picked")
        first = " (it returns a tuple: its first element was taken as the logits)" if picked else ""
        return (
            f"{self.name}'s output{first} is not its head {self.head_path!r} applied to the head's input ({differs}): "
            f"{self.head_path!r} must be the model's last step, with nothing after it (no softmax, no temperature, no "
            "second head averaged in, no other layer). Wrap a model whose forward ends in the head: nlexnb reads the "
            "logits as W f + b"
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
            side = math.isqrt(length) if math.isqrt(length) ** 2 == length else math.isqrt(length - 1)
            if side * side not in (length, length - 1):  # 33 tokens are a class token and a 4 x 8 grid, not 5 x 5
                raise ValueError(
                    f"Feature layer {self.feature_layer!r} of {self.name} gives {length} tokens, which are not a "
                    "square grid (with or without one class token first), and the grid cannot be told from their "
                    "number: pass feature_post= a function that arranges them, e.g. "
                    "feature_post=lambda t: t[:, 1:].reshape(len(t), 4, 8, -1)"
                )
            tokens = out[:, length - side * side :]
            return tokens.reshape(out.shape[0], side, side, d).float()
        raise ValueError(
            f"Feature layer {self.feature_layer!r} of {self.name} gives shape {tuple(out.shape)}, which is not a "
            f"[N,{d},H,W] map, [N,H,W,{d}] map or [N,T,{d}] token sequence in the head's {d}-dim input space, so "
            "no heat map can be drawn from it. Name a layer whose output feeds the head through pooling only; where "
            f"layers stand between the pooling and the head (a MobileNetV3's classifier: Linear, Hardswish, Dropout, "
            f"then {self.head_path!r}) there is none: pass feature_post= a function that takes the layer's output to "
            "the head's input at each position, e.g. feature_post=lambda t: model.classifier[:2](t.permute(0, 2, 3, "
            "1)) (a [N,H,W,d] map), or explain without heat maps: explainer.explain(image, heatmaps=False)"
        )


# ---- shared checks ----------------------------------------------------------------------------------------------
def a_classifier(value, who: str, then: str) -> Classifier:
    """``value`` when it is a :class:`~nlexnb.classifier.Classifier`, or a TypeError saying what ``who`` takes first
    and ``then`` what comes after it (a mapper or an encoder there would otherwise fail deep inside, in torch's or
    Python's words)."""
    if not isinstance(value, Classifier):
        raise TypeError(
            f"{who} takes a classifier first (nlexnb.load_classifier(...)), then {then}; got {type(value).__name__}"
        )
    return value


def get_submodule(model: nn.Module, path: str, want_linear: bool = False) -> nn.Module:
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
