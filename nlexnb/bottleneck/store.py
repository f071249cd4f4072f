"""Loading a saved bottleneck, refused with the reason when it was made for another classifier or bank."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch

from .._checks import a_number, warn_user
from ..space import concept_space
from .model import ConceptBottleneck, sidecar_digest, sidecar_path


def load_bottleneck(path: str | Path, classifier, mapper=None, concepts=None) -> ConceptBottleneck:
    """Load a bottleneck saved with :meth:`ConceptBottleneck.save` into the space of (classifier, mapper, bank).

    Raises:
        FileNotFoundError: no such file, or its JSON sidecar is missing.
        ValueError: a damaged file, a sidecar of another save, or a bottleneck made for another classifier (name,
            head weights, classes, feature width) or another bank (name, size, texts), each named with what was found.
    """
    from safetensors import safe_open

    _check_arguments(classifier, mapper, concepts)
    path = Path(path).expanduser()  # "~/cbm.safetensors", as ConceptBottleneck.save and load_mapper read it
    if path.suffix == ".json" and path.is_file():  # the sidecar for the bottleneck: "not readable ..." said nothing
        raise ValueError(
            f"{str(path)!r} is a bottleneck's JSON sidecar, not the bottleneck: pass its .safetensors file, "
            f"{str(path.with_suffix('.safetensors'))!r} (the sidecar beside it is read too)"
        )
    if path.suffix != ".safetensors" and not path.is_file():
        path = path.with_name(path.name + ".safetensors")
    if not path.is_file():
        raise FileNotFoundError(f"Bottleneck file not found: {str(path)!r}")
    if _is_a_mapper(path):  # "has no sidecar ...: save it again" sent the user to save a mapper as a bottleneck
        raise ValueError(
            f"{str(path)!r} is an nlexnb mapper, not a bottleneck: load it with nlexnb.load_mapper(path, classifier, "
            "encoder), and a bottleneck from the .safetensors file ConceptBottleneck.save wrote"
        )
    if not sidecar_path(path).is_file():
        raise FileNotFoundError(
            f"{str(path)!r} has no sidecar {str(sidecar_path(path))!r}: a bottleneck is saved as both; save it again"
        )
    try:
        saved = json.loads(sidecar_path(path).read_text(encoding="utf-8"))
        if not isinstance(saved, dict):
            raise ValueError(
                f"its sidecar holds a JSON {type(saved).__name__}, not the object ConceptBottleneck.save writes"
            )
        with safe_open(str(path), framework="pt") as fh:
            tensors = {k: fh.get_tensor(k).clone() for k in fh.keys()}  # aligned: the sums of a fit, bit for bit
        weights, residual = tensors["weights"], tensors["residual"]
    except Exception as exc:
        raise ValueError(
            f"{str(path)!r} is not a readable nlexnb bottleneck (damaged, truncated or another format): {exc}"
        ) from exc
    if saved.get("tensors_sha256") != hashlib.sha256(path.read_bytes()).hexdigest():
        raise ValueError(
            f"{str(path)!r} does not hold the tensors its sidecar {str(sidecar_path(path))!r} describes (their hash "
            "differs): the file was changed or damaged after it was saved, or the sidecar belongs to another save. "
            "Save the bottleneck again"
        )
    space = concept_space(classifier, mapper, concepts)
    here = ConceptBottleneck(space, weights, int(saved.get("n_concepts", 0)), residual).identity()
    if saved.get("format") not in (1, 2):
        raise ValueError(f"{str(path)!r} has bottleneck format {saved.get('format')!r}; this version reads 1 and 2")
    if saved.get("format") == 2 and saved.get("sidecar_sha256") != sidecar_digest(saved):
        raise ValueError(
            f"The sidecar {str(sidecar_path(path))!r} of {str(path)!r} was changed after it was saved (its fields do "
            "not hash to the sidecar_sha256 it carries): its budget or settings cannot be trusted. Save the "
            "bottleneck again"
        )
    checks = [
        ("classifier", "classifier", "made for another classifier"),
        ("classifier_fingerprint", "classifier", "made for other head weights"),
        ("num_classes", "classifier", "made for another number of classes"),
        ("num_features", "classifier", "made for another feature width"),
        ("class_names_sha256", "classifier", "made for other class names"),
        ("bank_size", "bank", "made with a bank of another size"),
        ("bank_sha256", "bank", "made with other concept texts"),
    ]
    for key, part, reason in checks:
        if saved.get(key) != here[key]:
            found = here["classifier"] if part == "classifier" else _bank(here["bank"], here["bank_size"])
            made = saved.get("classifier") if part == "classifier" else _bank(saved.get("bank"), saved.get("bank_size"))
            which = f": it was fitted for {made}, not {found}" if made != found else ""  # same name: say no more
            values = "" if which and key == part else f" ({key}: saved {saved.get(key)!r}, here {here[key]!r})"
            raise ValueError(
                f"{str(path)!r} was {reason}{values}{which}. Load it with the {part} it was made for, or fit a new one"
            )
    if tuple(weights.shape) != (here["num_classes"], here["bank_size"]) or residual.shape != (here["num_classes"],):
        raise ValueError(f"{str(path)!r} holds tensors of the wrong shape {list(weights.shape)}: the file is damaged")
    if not (torch.isfinite(weights).all() and (weights >= 0).all() and torch.isfinite(residual).all()):
        raise ValueError(f"{str(path)!r} holds negative, NaN or infinite weights: the file is damaged; save it again")
    if saved.get("mapper_fingerprint") != here["mapper_fingerprint"]:
        warn_user(
            f"{str(path)!r} was fitted with another mapper (fingerprint {saved.get('mapper_fingerprint')}, here "
            f"{here['mapper_fingerprint']}): its recipes name the same concepts, but their directions differ here, "
            "so its logits will not be those it was judged by"
        )
    device = space.directions.device
    default_fit = saved.get("default_fit") is True
    return ConceptBottleneck(space, weights.to(device), int(saved["n_concepts"]), residual.to(device), default_fit)


def _check_arguments(classifier, mapper, concepts) -> None:
    """A TypeError for what :func:`load_bottleneck` cannot load into: a bottleneck where its space goes, or a budget
    (the file keeps its own) where the mapper or the bank goes ("'int' object is not iterable")."""
    if isinstance(classifier, ConceptBottleneck):
        raise TypeError(
            "load_bottleneck takes a classifier (with a mapper) or a ConceptSpace, got a ConceptBottleneck: pass its "
            "space, load_bottleneck(path, cbm.space)"
        )
    for value, where in ((mapper, "mapper"), (concepts, "bank")):
        if a_number(value):
            raise TypeError(
                f"{value!r} was read as the {where} (the argument after the "
                f"{'classifier' if where == 'mapper' else 'mapper'}): a saved bottleneck keeps its own budget, so "
                "load_bottleneck takes none; leave the number out: load_bottleneck(path, classifier, mapper)"
            )


def _is_a_mapper(path: Path) -> bool:
    """Whether ``path`` is a mapper :meth:`nlexnb.Mapper.save` wrote: its safetensors header's ``nlexnb`` entry is the
    mapper's JSON settings, where a bottleneck's says ``"bottleneck"``. A file that cannot be read says no."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as fh:
            mark = (fh.metadata() or {}).get("nlexnb")
        settings = json.loads(mark) if isinstance(mark, str) and mark != "bottleneck" else None
    except Exception:  # damaged or another format: the checks that follow name it
        return False
    return isinstance(settings, dict) and "method" in settings


def _bank(name, size) -> str:
    """A bank as a refusal names it: a built-in one by its name, a list of one's own as such (its name, "user", was
    never typed by the user)."""
    return f"a bank of your own ({size} concepts)" if name == "user" else f"{name!r} ({size} concepts)"
