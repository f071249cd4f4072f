"""The notebooks' papermill parameters, checked in their first cell (:func:`validate_parameters`): a bad ``-p``
fails there, with the parameter named, not minutes later in the cell that uses it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from .._checks import SEED_LIMIT, a_device, an_index

# Parameter names shared by the notebooks, and the types they must have.
PARAMETER_TYPES: dict[str, tuple[type, ...]] = {
    **dict.fromkeys(["MODEL", "TIMM_MODEL", "TORCHVISION_MODEL", "HUB_MODEL", "LABELLED_SET"], (str,)),
    **dict.fromkeys(["CLASS", "CLASS_A", "CLASS_B"], (str, int)),  # a class name or index
    **dict.fromkeys(["PLAUSIBILITY_SET"], (str,)),
    **dict.fromkeys(["ENCODER", "DEVICE", "IMAGE_DIR", "SUBCONCEPT_LABEL", "JUDGE", "MAPPER_PATH"], (str, type(None))),
    **dict.fromkeys(["OUT_DIR"], (str, type(None))),
    **dict.fromkeys(["INTERACTIVE", "PRETRAINED"], (bool,)),
    **dict.fromkeys(["SEED", "FOLDS", "K", "MAX_IMAGES", "VIEWS", "N_RANDOM", "STEPS", "N_CLUSTERS"], (int,)),
    **dict.fromkeys(["PLAUSIBILITY_PHOTOS", "BATCH_SIZE", "MIN_IMAGES"], (int,)),
    **dict.fromkeys(["LABELS"], (list, type(None))),
    **dict.fromkeys(["N_CONCEPTS"], (int,)),
    **dict.fromkeys(["BUDGETS", "MODELS", "CLASSES"], (list,)),
}
POSITIVE = ("FOLDS", "K", "MAX_IMAGES", "VIEWS", "N_RANDOM", "STEPS", "N_CLUSTERS", "PLAUSIBILITY_PHOTOS")
POSITIVE += ("BATCH_SIZE", "MIN_IMAGES", "N_CONCEPTS")
RANGES = {
    "SEED": (0, SEED_LIMIT - 1, "a seed"),
    "FOLDS": (2, None, "held-out folds"),
    "VIEWS": (1, 6, "views per picture"),
}
"""Parameters with bounds of their own: (lowest, highest or None, what they count)."""


def validate_parameters(**params: Any) -> None:
    """Check notebook parameters early, with the library's clear errors (a bad ``-p`` fails in the first cell).

    Known names are type-checked (see ``PARAMETER_TYPES``; unknown names are accepted as they are). Counts must be
    positive; ``SEED`` >= 0, ``FOLDS`` >= 2, ``VIEWS`` from 1 to 6; ``MODEL`` and every ``*_MODEL`` must name a timm
    or ``torchvision:`` model, and so must each of ``MODELS``; ``BUDGETS``, ``CLASSES`` and ``MODELS`` must not be
    empty, budgets must be positive and classes names or indices; ``IMAGE_DIR`` must be a folder holding images;
    ``ENCODER`` a packaged encoder, a folder or a hub name (a packaged name misspelt is refused); ``DEVICE`` a
    device torch knows (and this machine has); ``LABELS`` must be a list of unique, non-empty strings;
    ``LABELLED_SET`` must be a known set that is installed, or a folder, and ``SUBCONCEPT_LABEL`` one of its labels;
    ``PLAUSIBILITY_SET`` an evidence photo set that is installed; ``MAPPER_PATH`` must name a ``.safetensors`` file
    (not a folder).

    Raises:
        TypeError: a parameter of the wrong type (named, with the type wanted and the value got).
        ValueError: a value of the right type that cannot work (unknown model, missing folder, ...).
    """
    for name, value in params.items():
        expected = PARAMETER_TYPES.get(name)
        ok = expected is None or (isinstance(value, expected) and (bool in expected or not isinstance(value, bool)))
        if not ok:
            wanted = " or ".join("None" if t is type(None) else t.__name__ for t in expected)
            raise TypeError(f"Parameter {name} must be {wanted}, got {type(value).__name__} ({value!r})")
        if name in POSITIVE and value < 1:
            raise ValueError(f"Parameter {name} must be positive, got {value}")
        if name in RANGES:
            low, high, what = RANGES[name]
            if value < low or (high is not None and value > high):
                bounds = f">= {low}" if high is None else f"between {low} and {high}"
                raise ValueError(f"Parameter {name} ({what}) must be {bounds}, got {value}")
        if name in ("BUDGETS", "CLASSES", "MODELS") and not value:
            raise ValueError(f"Parameter {name} is an empty list: give at least one")
        if name == "BUDGETS" and not all(an_index(b) and b >= 1 for b in value):
            raise ValueError(f"Parameter BUDGETS must list positive numbers of concepts per class, got {value}")
        if name == "CLASSES":
            for c in value:
                if not ((isinstance(c, str) and c.strip()) or (an_index(c) and c >= 0)):
                    raise TypeError(
                        f"Parameter CLASSES must list class names or indices, e.g. ['espresso', 'tiger cat'], got "
                        f"{type(c).__name__} ({c!r})"
                    )
        if name == "MODELS":
            for model in value:
                if not isinstance(model, str):
                    raise TypeError(f"Parameter MODELS must list model names, got {type(model).__name__} ({model!r})")
                _check_model_name(model, "MODELS")
    for name, value in params.items():
        if (name == "MODEL" or name.endswith("_MODEL")) and isinstance(value, str):
            _check_model_name(value, name)
    if params.get("IMAGE_DIR") is not None:
        _check_image_dir(params["IMAGE_DIR"])
    if params.get("ENCODER") is not None:
        _check_encoder(params["ENCODER"])
    if params.get("JUDGE") is not None:
        _check_encoder(params["JUDGE"], "JUDGE")
        _check_judge(params["JUDGE"], params.get("ENCODER"))
    if params.get("OUT_DIR") is not None and not params["OUT_DIR"].strip():  # "" wrote into the current folder
        raise ValueError("Parameter OUT_DIR is blank: give a folder for the outputs, or None for the default")
    if params.get("OUT_DIR") is not None and Path(params["OUT_DIR"]).exists() and not Path(params["OUT_DIR"]).is_dir():
        raise ValueError(
            f"Parameter OUT_DIR must be a folder (it is made when missing), got the file {params['OUT_DIR']!r}"
        )
    if params.get("DEVICE") is not None:
        _check_device(params["DEVICE"])
    if params.get("MAPPER_PATH") is not None:
        _check_mapper_path(params["MAPPER_PATH"])
    if params.get("LABELLED_SET") is not None:
        labels = _labelled_set_labels(params["LABELLED_SET"])
        if params.get("SUBCONCEPT_LABEL") is not None and params["SUBCONCEPT_LABEL"] not in labels:
            raise ValueError(
                f"Parameter SUBCONCEPT_LABEL {params['SUBCONCEPT_LABEL']!r} is not a label of "
                f"LABELLED_SET {params['LABELLED_SET']!r}; its labels: {labels} (or None for every image)"
            )
    if params.get("PLAUSIBILITY_SET") is not None:
        _check_photo_set(params["PLAUSIBILITY_SET"])
    if params.get("LABELS") is not None:
        from ..zeroshot import check_labels

        try:
            check_labels(params["LABELS"])
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"Parameter LABELS: {exc}") from None


def _check_image_dir(image_dir: str) -> None:
    """IMAGE_DIR is a folder holding image files ("" is not the current folder, and a folder of none fails here)."""
    from ..datasets import IMAGE_EXTENSIONS, image_files

    if not image_dir.strip():
        raise ValueError("Parameter IMAGE_DIR is blank: give a folder of images, or None for the sample photos")
    if not Path(image_dir).expanduser().is_dir():
        raise ValueError(f"Parameter IMAGE_DIR must be an existing folder of images, got {image_dir!r}")
    if not image_files(Path(image_dir).expanduser(), recursive=False).images:
        raise ValueError(
            f"Parameter IMAGE_DIR {image_dir!r} holds no image files ({', '.join(IMAGE_EXTENSIONS)}; sub-folders are "
            "not read): give the folder the images are in"
        )


def _check_encoder(encoder: str, parameter: str = "ENCODER") -> None:
    """ENCODER (or JUDGE) is a packaged encoder, a local folder, or reads as a hub name (which only loading can
    confirm)."""
    from ..text import PACKAGED_ENCODERS, packaged_hint

    name = encoder.removeprefix("sentence-transformers/")
    if not encoder.strip():
        raise ValueError(f"Parameter {parameter} is blank: give a sentence-transformers name, or None for the default")
    if name in PACKAGED_ENCODERS or Path(encoder).expanduser().is_dir():
        return
    if not re.fullmatch(r"[\w.-]+(/[\w.-]+)?", encoder):
        raise ValueError(
            f"Parameter {parameter} {encoder!r} is neither a folder nor a hub name (owner/name, of letters, digits, "
            f"'-', '_' and '.').{packaged_hint(encoder)} Encoders that load offline: {', '.join(PACKAGED_ENCODERS)}"
        )
    hint = packaged_hint(encoder)
    if hint:  # a packaged name in other letters would go to the hub (and fail offline)
        raise ValueError(f"Parameter {parameter} {encoder!r} is not a packaged encoder.{hint}")


def _check_judge(judge: str, encoder: str | None) -> None:
    """JUDGE is not the explaining encoder: an encoder that grades the concepts it chose itself finds them fitting."""
    from ..text import DEFAULT_ENCODER

    explaining = (encoder or DEFAULT_ENCODER).removeprefix("sentence-transformers/")
    if judge.removeprefix("sentence-transformers/") == explaining:
        raise ValueError(
            f"Parameter JUDGE {judge!r} is the explaining encoder (ENCODER): it would grade the concepts it chose "
            "itself. Give another encoder, or None for the packaged one that is not ENCODER"
        )


def _check_photo_set(photo_set: str) -> None:
    """PLAUSIBILITY_SET names an evidence photo set, and the whole photos are installed when it is "whole"."""
    from ..datasets import find_gcompris_photos
    from ..plausibility import PHOTO_SETS

    if photo_set not in PHOTO_SETS:
        raise ValueError(f"Parameter PLAUSIBILITY_SET must be one of {sorted(PHOTO_SETS)}, got {photo_set!r}")
    if photo_set == "whole":
        try:
            find_gcompris_photos()
        except FileNotFoundError as exc:
            raise FileNotFoundError(f"Parameter PLAUSIBILITY_SET is 'whole', but {exc}") from None


def _labelled_set_labels(source: str) -> list[str]:
    """The labels of the LABELLED_SET parameter; the stamps must also be installed."""
    from ..datasets import find_stamps, labelled_set_labels

    if not source.strip():  # "" read the notebooks' own folder as a labelled set
        raise ValueError(
            "Parameter LABELLED_SET is blank: give 'stamps', 'photos' or an ImageFolder path (one sub-folder per label)"
        )
    try:
        labels = labelled_set_labels(source)
    except ValueError as exc:
        raise ValueError(f"Parameter LABELLED_SET: {exc}") from None
    if source == "stamps":
        try:
            find_stamps()
        except FileNotFoundError as exc:
            raise FileNotFoundError(f"Parameter LABELLED_SET is 'stamps', but {exc}") from None
    return labels


def _check_mapper_path(path: str) -> None:
    target = Path(path).expanduser()
    if target.suffix != ".safetensors":
        raise ValueError(f"Parameter MAPPER_PATH must name a .safetensors file, got {path!r}")
    if target.is_dir():
        raise ValueError(f"Parameter MAPPER_PATH {path!r} is a folder; give a file name ending in .safetensors")


def _check_device(device: str) -> None:
    a_device(device, "Parameter DEVICE")


def _check_model_name(name: str, parameter: str = "MODEL") -> None:
    from ..loading import check_model_name

    try:
        check_model_name(name)
    except ValueError as exc:
        message = str(exc)
        raise ValueError(f"Parameter {parameter}: {message[:1].lower()}{message[1:]}") from None
