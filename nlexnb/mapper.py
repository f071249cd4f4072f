"""The data-free mapper: sentence embeddings of class names -> the classifier's class rows.

``fit_mapper`` needs no images: the classifier's own head gives K pairs (texts of class k, row ``W[k]``). After fitting,
``Mapper.encode`` puts any text in the classifier's feature space, where ``mapped(t) . f(x)`` is in the same units as
the classifier's logits. Bias is not modelled (a new text has no bias); the row norm is (targets are the raw rows).
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ._checks import (
    MapperMismatchWarning,
    Setting,
    a_gloss,
    a_seed,
    an_index,
    class_name_with_words,
    in_a_sentence,
    labels_with_words,
    per_class,
    photo_phrases,
    warn_user,
    yes_or_no,
)
from ._store import TensorCache, atomic_save_safetensors, safetensors_path
from .classifier import Classifier, a_classifier
from .labels import counted, imagenet_class_names, imagenet_descriptions, imagenet_glosses, joined, split_synonyms
from .maps import MAPS, LabelMemory, checked_hyper_parameters, class_means, fit_map, map_defaults
from .text import TextEncoder, check_texts, load_text_encoder

__all__ = [
    "Mapper",
    "fit_mapper",
    "load_mapper",
    "DEFAULT_TEMPLATES",
    "training_texts",
    "gloss_texts",
    "description_texts",
]

DEFAULT_TEMPLATES: tuple[str, ...] = ("a photo of a {}.", "an image of a {}.", "a {}.")
COLLAPSED = 1e-3
"""A fitted map whose outputs for the class names spread less than this share of the class rows' spread sends every
text to about one vector (an over-strong ``alpha``, a tiny ``sigma``): refused, as a NaN map is."""
FEW_CLASSES = 50
"""Fitted on fewer classes than this, a map is warned about: a kernel or ridge map sends every text to a mix of the
class rows it was fitted on, so once centred the concepts of a bank differ in at most one direction fewer than that
(none at all for two classes: every concept points the same way up to sign)."""
SPAN_BOUND_MAPS = ("kernel", "ridge")
"""The maps whose every output is a mix of the class rows they were fitted on (an MLP's is not bounded so)."""
FORMAT_VERSION = 2
"""The mapper file format written: 2 carries checksums of its header and tensors and must have them; 1 (files saved
before 2026-11-29) is still read, checked where it has them."""


def training_texts(class_names: Sequence[str], templates: Sequence[str]) -> tuple[list[str], list[int]]:
    """Every (template x synonym) text of every class, and the class index of each text."""
    texts, groups = [], []
    for k, name in enumerate(class_names):
        for synonym in split_synonyms(name):
            for template in templates:
                texts.append(template.format(synonym))
                groups.append(k)
    return texts, groups


def gloss_texts(
    class_names: Sequence[str], glosses: Sequence[str], templates: Sequence[str]
) -> tuple[list[str], list[int]]:
    """Each class's *glossed name* in the first template ("a photo of a kite, any of several small graceful hawks
    ..."), once per template so that it weighs as much as a name (the encoder sees it once: a gloss is long, and
    encoding it through every template tripled the first fit's cost for the same map); and the class index of each
    text. A class with an empty gloss has none."""
    texts, groups = [], []
    for k, (name, gloss) in enumerate(zip(class_names, glosses)):
        if gloss and gloss.strip():
            glossed = templates[0].format(f"{split_synonyms(name)[0]}, {gloss.strip()}")
            texts += [glossed] * len(templates)
            groups += [k] * len(templates)
    return texts, groups


def description_texts(descriptions: Sequence[Sequence[str]], repeats: int) -> tuple[list[str], list[int]]:
    """Each class's *visible features* in one sentence without its name ("a photo of something with striped grey
    fur, pointed ears, whiskers, green eyes, a long tail and a sofa." for the tabby), ``repeats`` times so that it
    weighs as much as a name (encoded once); and the class index of each text. A class with no phrases has none."""
    texts, groups = [], []
    for k, phrases in enumerate(descriptions):
        phrases = [p.strip() for p in phrases if p.strip()]
        if phrases:
            texts += [f"a photo of something with {joined(phrases)}."] * repeats
            groups += [k] * repeats
    return texts, groups


def _per_class(value, classifier: Classifier, arg: str, what: str, imagenet, check_one) -> list | None:
    """``fit_mapper(glosses=...)`` and ``fit_mapper(descriptions=...)``: None (ImageNet-1k's for a classifier with its
    class names, else none), False (none), True (ImageNet-1k's, required) or one entry per class, each passing
    ``check_one``."""
    if value is False:
        return None
    imagenet_names = list(classifier.class_names) == imagenet_class_names()
    if value is None:
        return imagenet() if imagenet_names else None
    if value is True:
        if not imagenet_names:
            raise ValueError(
                f"{arg}=True reads ImageNet-1k's {what}, but {classifier.name!r} has other class names: pass "
                f"{classifier.num_classes} of your own, one per class, each {check_one.__doc__}"
            )
        return imagenet()
    return per_class(value, classifier.class_names, arg, check_one, accepted="None, True, False or a list")


def name_embeddings(text_encoder: TextEncoder, names: Sequence[str], templates: Sequence[str]) -> torch.Tensor:
    """Unit text embedding per name: its (synonym x template) prompts, averaged. The text-space side of baselines."""
    texts, groups = training_texts(names, templates)
    return F.normalize(class_means(text_encoder.encode(texts), torch.tensor(groups), len(names)), dim=1)


def label_vectors(mapped: torch.Tensor, groups: torch.Tensor, num_labels: int) -> torch.Tensor:
    """One vector per label from its mapped prompt texts: the mean unit direction, scaled by the mean norm.

    Averaging directions (not raw vectors) keeps one long prompt from dominating; the mean norm keeps the result in
    the classifier's logit units.
    """
    norms = mapped.norm(dim=1, keepdim=True)
    directions = class_means(mapped / norms.clamp_min(1e-12), groups, num_labels)
    return F.normalize(directions, dim=1) * class_means(norms, groups, num_labels)


@dataclass
class Mapper:
    """A fitted text -> classifier-space map.

    Attributes:
        net: the map itself, ``[*, text_dim] -> [*, feature_dim]``.
        text_encoder: the encoder whose embeddings ``net`` reads.
        templates: prompt templates used for training and by :meth:`encode_labels` (checked when set, as
            :func:`check_templates` checks them).
        meta: identity of the classifier and encoder, hyper-parameters, fit time, versions (saved with the mapper).
        memory: optional :class:`~nlexnb.maps.LabelMemory` that :meth:`encode_labels` adds, so the fitted class
            names reproduce their rows exactly (``fit_mapper(memorize=True)``); free text is never affected.
    """

    net: nn.Module
    text_encoder: TextEncoder
    templates: tuple[str, ...]
    meta: dict = field(default_factory=dict)
    memory: LabelMemory | None = None

    def state_dict(self) -> dict[str, torch.Tensor]:
        """All tensors of the mapper, as saved: ``net.*`` and ``memory.*``."""
        out = {f"net.{k}": v for k, v in self.net.state_dict().items()}
        if self.memory is not None:
            out.update({f"memory.{k}": v for k, v in self.memory.state_dict().items()})
        return out

    # what other modules read of ``meta``, typed (``meta`` itself is what is saved with the mapper)
    @property
    def method(self) -> str:
        """The map's name in ``nlexnb.maps.MAPS`` ("kernel", "ridge", "mlp")."""
        return str(self.meta.get("method", type(self.net).__name__))

    @property
    def feature_dim(self) -> int:
        """Width of the classifier space it maps into."""
        return int(self.meta["feature_dim"])

    @property
    def classifier_name(self) -> str | None:
        """Name of the classifier it was fitted on."""
        return self.meta.get("classifier")

    @property
    def classifier_fingerprint(self) -> str | None:
        """Fingerprint of the head it was fitted on (:attr:`nlexnb.Classifier.fingerprint`)."""
        return self.meta.get("classifier_fingerprint")

    @property
    def seen_penalty(self) -> float:
        """Generalized zero-shot seen-class penalty chosen when fitting (0 when not calibrated)."""
        return float(self.meta.get("seen_penalty", 0.0))

    @property
    def concept_directions(self) -> int | None:
        """How many directions concepts can differ in once centred on a bank's mean (as explanations and discovery
        use them): at most K - 1 for a kernel or ridge map fitted on K class rows, since it sends every text to a
        mix of them, and never more than the feature width. 1 (two classes): every concept points the same way up
        to sign. None where it is not bounded so (an MLP map, a mapper that does not say what it was fitted on)."""
        fitted, width = self.meta.get("num_fit_classes"), self.meta.get("feature_dim")
        if self.method not in SPAN_BOUND_MAPS or not isinstance(fitted, int) or not isinstance(width, int):
            return None
        return min(fitted - 1, width)

    @property
    def device(self) -> torch.device:
        return next(iter(self.net.state_dict().values())).device

    @property
    def fingerprint(self) -> str:
        """Hash of the map's tensors and templates and of its text encoder's identity (a text's vector depends on
        both): keys the mapped-vector caches, the concept spaces and what saved results were made with."""
        h = hashlib.sha256(json.dumps([list(self.templates), self.text_encoder.identity]).encode())
        for key, value in sorted(self.state_dict().items()):
            h.update(key.encode())
            h.update(value.detach().float().cpu().numpy().tobytes())
        return h.hexdigest()[:16]

    def map_embeddings(self, embeddings: torch.Tensor) -> torch.Tensor:
        """Map text embeddings [n, m] (from ``text_encoder``) to classifier space [n, d]."""
        with torch.inference_mode():
            return self.net(embeddings.to(self.device)).float()

    def _check_encoder(self) -> None:
        """A ValueError when the text encoder was edited after the fit (new weights, a shorter token limit): the map
        was fitted on the embeddings it gave then, and would place the new ones wrongly without a word."""
        fitted = self.meta.get("encoder_identity")
        now = self.text_encoder.identity
        if fitted is not None and fitted != now:
            what = (
                "its weights or settings were changed after the fit"
                if same_encoder_model(fitted, now)
                else "it is another text encoder than the one the map was fitted on"
            )
            raise ValueError(
                f"The mapper was fitted on {fitted!r} embeddings, but its text encoder is now {now!r}: {what}. Fit "
                "the mapper again: fit_mapper(classifier, encoder)"
            )

    def encode(self, texts: Sequence[str] | str, cache: bool = False, progress: bool | None = None) -> torch.Tensor:
        """Map texts exactly as given to classifier space [n, d] (on the mapper's device).

        Args:
            texts: a string or a list of strings; empty list -> [0, d].
            cache: keep the mapped vectors on disk, keyed by this mapper's fingerprint (for large concept banks).
        """
        items = check_texts(texts, blank=False)
        self._check_encoder()
        if not cache:
            return self.map_embeddings(self.text_encoder.encode(items, progress=progress))
        store = TensorCache(f"mapped/{self.fingerprint}")
        d = self.feature_dim
        out = store.get_or_compute(
            items, lambda todo: self.map_embeddings(self.text_encoder.encode(todo, progress=progress)).cpu(), d
        )
        return out.to(self.device)

    def encode_labels(self, names: Sequence[str] | str, templates: Sequence[str] | None = None) -> torch.Tensor:
        """Map label names with the prompt ensemble [n, d]: each synonym x template, averaged per name.

        This is how zero-shot heads and held-out evaluation turn a label into a class row.
        """
        items = check_texts(names, "names", blank=False)
        labels_with_words(items, "names")  # ",": no synonym for a template, mapped as the template's text alone
        self._check_encoder()
        temps = self.templates if templates is None else check_templates(templates)
        if not items:
            return torch.empty(0, self.feature_dim, device=self.device)
        texts, groups = training_texts(items, temps)
        embeddings = self.text_encoder.encode(texts).to(self.device)
        index = torch.tensor(groups, device=self.device)
        vectors = label_vectors(self.map_embeddings(embeddings), index, len(items))
        if self.memory is not None and sorted(temps) == sorted(self.templates):  # a mean: their order is no matter
            with torch.inference_mode():
                vectors = vectors + self.memory(class_means(embeddings, index, len(items)))
        return vectors

    def save(self, path: str | Path) -> Path:
        """Write the mapper as one safetensors file (tensors + JSON metadata), atomically."""
        path = safetensors_path(path, "mapper")
        state = self.state_dict()
        meta = {**self.meta, "templates": list(self.templates), "format": FORMAT_VERSION}
        text = json.dumps(meta)
        header = {"nlexnb": text, "tensors_sha256": tensors_digest(state), "nlexnb_sha256": _text_digest(text)}
        atomic_save_safetensors(path, state, header)
        return path

    def __repr__(self) -> str:
        m = self.meta
        return (
            f"Mapper(method={m.get('method')!r}, classifier={m.get('classifier')!r}, encoder={m.get('encoder')!r}, "
            f"classes={m.get('num_fit_classes')}, fit {m.get('fit_seconds', float('nan')):.1f}s)"
        )


def same_encoder_model(fitted: str, now: str) -> bool:
    """Whether two text encoder identities ("<model name>-<hash of its weights and settings>") name the same model:
    then its weights or settings changed; else it is another encoder altogether, and the messages say which."""
    return fitted.rsplit("-", 1)[0] == now.rsplit("-", 1)[0]


def check_templates(templates: Sequence[str]) -> tuple[str, ...]:
    """Validate prompt templates: a non-empty list of strings, each with exactly one ``{}`` where the name goes.

    Raises:
        TypeError: a single string, or an item that is not a string.
        ValueError: an empty list, or a template without exactly one ``{}`` (or with other ``{...}`` fields).
    """
    if isinstance(templates, str):
        raise TypeError(f"templates must be a list of strings, got the single string {templates!r}; wrap it in a list")
    if isinstance(templates, (Mapping, set, frozenset)):  # a dict's keys, a set's order: other prompts each run
        raise TypeError(f"templates must be a list of strings, got a {type(templates).__name__}")
    items = list(templates)
    if not items:
        raise ValueError("templates is empty: give at least one, e.g. ['a photo of a {}.']")
    if len(set(items)) != len(items):
        twice = next(t for t in items if items.count(t) > 1)
        raise ValueError(f"Template {twice!r} is given twice: it would count twice in the average of the prompts")
    for t in items:
        if not isinstance(t, str):
            raise TypeError(f"Each template must be a string, got {type(t).__name__} ({t!r})")
        try:
            filled = t.format("X")
        except (IndexError, KeyError, ValueError) as exc:
            raise ValueError(
                f"Template {t!r} must hold exactly one '{{}}' (where the name goes) and no other braces: {exc}"
            ) from None
        if t.count("{}") != 1 or filled.count("X") <= t.count("X"):
            raise ValueError(f"Template {t!r} must hold exactly one '{{}}' placeholder, e.g. 'a photo of a {{}}.'")
    return tuple(items)


# Set after the dataclass is made, so that it stays a required field: ``mapper.templates = "a photo of a {}."`` was
# stored as given, and each character of it was used as a template ("Single '{' encountered in format string");
# every assignment, the constructor's too, now goes through check_templates.
Mapper.templates = Setting(lambda value, name: check_templates(value))  # type: ignore[assignment]
Mapper.templates.__set_name__(Mapper, "templates")


def is_mapper(value: Any) -> bool:
    """Whether ``value`` is a fitted mapper (or quacks like one: ``meta`` and ``encode``), the test every function
    that takes ``(classifier, mapper, ...)`` applies before it reads the second argument as one."""
    return hasattr(value, "meta") and hasattr(value, "encode")


def check_fits(mapper: Mapper, classifier: Classifier, who: str) -> None:
    """The mapper must map into this classifier's feature space (error), and should have been fitted on its head
    (warning: results are then not faithful to this classifier)."""
    if not is_mapper(mapper):
        raise TypeError(
            f"{who} needs a fitted mapper (nlexnb.fit_mapper(classifier, encoder) or nlexnb.load_mapper(path)), got "
            f"{type(mapper).__name__} {mapper!r}"
        )
    width = int(mapper.meta.get("feature_dim", classifier.num_features))  # a hand-made Mapper may not say
    if width != classifier.num_features:
        raise ValueError(
            f"{who}: the mapper maps into {width} dimensions ({mapper.classifier_name!r}), but "
            f"{classifier.name!r} has {classifier.num_features}-dimensional features; fit a mapper on this classifier"
        )
    fitted_on = mapper.classifier_fingerprint
    if fitted_on is not None and fitted_on != classifier.fingerprint:
        warn_user(
            f"{who}: the mapper was fitted on head {fitted_on} ({mapper.classifier_name!r}), not on this "
            f"classifier's head {classifier.fingerprint}: results will not be faithful to this classifier",
            MapperMismatchWarning,
        )
    elif fitted_under_other_names(mapper.meta, classifier):
        warn_user(
            f"{who}: the mapper was fitted on this head under other class names: each name was mapped to the row "
            "it named then, which this classifier calls otherwise. Fit a mapper with these names",
            MapperMismatchWarning,
        )


def fitted_under_other_names(meta: dict, classifier: Classifier) -> bool:
    """Whether a mapper's metadata records class names other than ``classifier``'s (files of earlier versions record
    none: no answer, False)."""
    saved = meta.get("class_names")
    return saved is not None and saved != _digest(list(classifier.class_names))


def fit_mapper(
    classifier: Classifier,
    text_encoder: TextEncoder,
    *,
    classes: Sequence[int] | None = None,
    method: str = "kernel",
    seed: int = 0,
    templates: Sequence[str] | None = None,
    calibrate: bool = True,
    memorize: bool = True,
    glosses: Sequence[str] | bool | None = None,
    descriptions: Sequence[Sequence[str]] | bool | None = None,
    **hparams,
) -> Mapper:
    """Fit a mapper from class-name embeddings to the classifier's class rows (no images).

    Args:
        classifier: gives class names and head rows.
        text_encoder: embeds the training texts (synonym x template per class).
        classes: optional subset of class indices to fit on (held-out evaluation); default all.
        method: one of ``nlexnb.maps.MAPS``: "kernel" (default: cosine-RBF kernel ridge, chosen by the held-out
            numbers in benchmarks/RESULTS.md), "mlp" (the papers' MLP, slower and less accurate here), "ridge" (the
            closed-form linear baseline).
        seed: makes the fit deterministic.
        templates: prompt templates; default ``DEFAULT_TEMPLATES``.
        calibrate: also choose the generalized-zero-shot seen-class penalty (``meta["seen_penalty"]``, cosine
            units) on pseudo-unseen splits of the training classes (two extra fits on 90% of them).
        memorize: add a :class:`~nlexnb.maps.LabelMemory` so the fitted class names map exactly onto their rows
            (the mapped-name head then reproduces the real one); new labels and free text are unaffected.
        glosses: also fit on each class's *glossed name* ("a photo of a kite, any of several small graceful hawks
            ..."), so that a text lands near the classes whose meaning it shares and not only those whose names it
            resembles. None (the default): ImageNet-1k's WordNet glosses when the classifier's class names are
            ImageNet-1k's, else none; True: ImageNet-1k's (an error for other class names); False: none; or one
            short definition per class ('' for none). Labels are still mapped from their names alone. Measured with
            the default classifier and encoder (``benchmarks/RESULTS.md``), against ``glosses=False``: held-out ZSL
            top-1 0.553 -> 0.588; named concepts read as visible in the photo 0.156 -> 0.212 (with the
            explainer's other-sense test), carrying 43% of the margin instead of 41%; stamp zero-shot accuracy
            0.569 -> 0.552 (inside the noise); the first fit on a machine encodes 1,000 glosses more (15 s instead
            of 8 on two CPU cores, then cached).
        descriptions: also fit on each class's *visible features*, without its name ("a photo of something with
            striped grey fur, pointed ears, ... and a sofa." -> the tabby's row), so that a description of what one
            sees lands near the classes that look that way. None (the default): ImageNet-1k's six phrases per class
            (:func:`nlexnb.labels.imagenet_descriptions`) when the classifier's class names are ImageNet-1k's, else
            none; True: ImageNet-1k's (an error for other class names); False: none; or one list of short phrases
            per class ([] for none). Each class's sentence weighs as much as a name. Measured with the default
            classifier and encoder (``benchmarks/RESULTS.md``), against ``descriptions=False``: named concepts read
            as visible in their photo 0.212 -> 0.224 (0.338 -> 0.388 on the photos whose predicted class is in
            them), contrasts 0.147 -> 0.170, 46% of the margin instead of 43%, leak rate 3.6% -> 3.2%;
            free-text descriptions find their class first 0.73 -> 0.77 (top-5 0.86 -> 1.00); held-out ZSL
            unchanged (0.585 against 0.588); the first fit on a machine encodes 1,000 sentences more.
        **hparams: method hyper-parameters (see ``nlexnb.maps``); unknown names raise TypeError.
    """
    if not isinstance(method, str):  # a list failed as "unhashable type: 'list'"
        raise TypeError(
            f"method must be the name of one map, one of {sorted(MAPS)}, got {type(method).__name__} {method!r}"
            + (
                "; to compare maps, run nlexnb.evaluate.heldout(classifier, encoder, methods=[...])"
                if isinstance(method, (list, tuple))
                else ""
            )
        )
    if method not in MAPS:
        raise ValueError(f"Unknown mapper method {method!r}; choose one of {sorted(MAPS)}")
    seed = a_seed(seed)
    calibrate, memorize = yes_or_no(calibrate, "calibrate"), yes_or_no(memorize, "memorize")  # "no" would be true
    a_classifier(classifier, "fit_mapper", "its text encoder")
    if isinstance(text_encoder, str):
        raise TypeError(
            f"text_encoder must be a loaded encoder, got the name {text_encoder!r}: "
            f"fit_mapper(classifier, nlexnb.load_text_encoder({text_encoder!r}))"
        )
    if not isinstance(text_encoder, TextEncoder):
        raise TypeError(
            f"text_encoder must be a TextEncoder (nlexnb.load_text_encoder()), got {type(text_encoder).__name__}"
            + (": a mapper holds its encoder as mapper.text_encoder" if isinstance(text_encoder, Mapper) else "")
        )
    if classifier.num_classes < 2 and classes is None:
        raise ValueError(f"{classifier.name!r} has {classifier.num_classes} class: a map needs at least two class rows")
    hparams = checked_hyper_parameters(hparams)
    temps = DEFAULT_TEMPLATES if templates is None else check_templates(templates)
    index = _check_classes(classes, classifier.num_classes)
    _names_with_words(classifier, index)
    _rows_to_map(classifier, index)
    if len(index) < FEW_CLASSES and method in SPAN_BOUND_MAPS:
        _warn_few_classes(classifier, method, len(index))
    all_glosses = _per_class(glosses, classifier, "glosses", "WordNet glosses", imagenet_glosses, a_gloss)
    all_descriptions = _per_class(
        descriptions, classifier, "descriptions", "class descriptions", imagenet_descriptions, photo_phrases
    )
    start = time.perf_counter()
    names = [classifier.class_names[k] for k in index]
    texts, groups = training_texts(names, temps)
    plain = len(texts)  # the names' own texts come first; glossed names and descriptions (if any) after them
    if all_glosses is not None:
        more, more_groups = gloss_texts(names, [all_glosses[k] for k in index], temps)
        texts, groups = texts + more, groups + more_groups
    if all_descriptions is not None:
        more, more_groups = description_texts([all_descriptions[k] for k in index], len(temps))
        texts, groups = texts + more, groups + more_groups
    x = text_encoder.encode(texts)
    encode_seconds = time.perf_counter() - start
    targets = classifier.head_weight[index].float()
    x, group_index = x.to(classifier.device), torch.tensor(groups, device=classifier.device)
    net = fit_map(method, x, group_index, targets, seed, hparams)
    with torch.inference_mode():
        mapped = net.eval()(x[:plain])
        if not bool(torch.isfinite(mapped).all()):
            raise ValueError(
                f"The {method} map fitted with {hparams or 'the default hyper-parameters'} sends the class names to "
                "NaN or infinite vectors: nothing mapped through it would mean anything. Try other hyper-parameters"
            )
        spread = float(mapped.std(0).norm() / targets.std(0).norm().clamp_min(1e-12)) if len(mapped) > 1 else 1.0
        if spread < COLLAPSED:  # alpha=1e6, sigma=1e-4 or 1e6: every text landed on one vector, every answer alike
            raise ValueError(
                f"The {method} map fitted with {hparams or 'the default hyper-parameters'} sends every class name to "
                f"about the same vector (their spread is {spread:.1e} of the class rows'): any text would score alike "
                f"against every class. {_collapse_advice(method, hparams)}"
            )
    # labels are mapped from their names alone: the penalty and the memory are set on the names' own texts
    names_x, names_groups = x[:plain], group_index[:plain]
    penalty = (
        calibrate_seen_penalty(method, x, group_index, targets, seed, hparams, queries=plain) if calibrate else 0.0
    )
    memory = None
    if memorize:
        with torch.inference_mode():
            fitted = label_vectors(net.eval()(names_x), names_groups, len(index))
        memory = LabelMemory.fit(class_means(names_x, names_groups, len(index)), targets - fitted)
    meta = {
        "method": method,
        "hparams": hparams,
        "seed": seed,
        "classifier": classifier.name,
        "classifier_fingerprint": classifier.fingerprint,
        "class_names": _digest(list(classifier.class_names)),  # the same head under other names: other classes
        "num_classes": classifier.num_classes,
        "num_fit_classes": len(index),
        "fit_classes": index if classes is not None else None,
        "encoder": text_encoder.name,
        "encoder_identity": text_encoder.identity,
        "text_dim": text_encoder.dim,
        "feature_dim": classifier.num_features,
        "seen_penalty": penalty,
        "memorize": memorize,
        "calibrate": calibrate,
        "glosses": _digest(all_glosses),
        "descriptions": _digest(all_descriptions),
        "fit_seconds": time.perf_counter() - start,
        "encode_seconds": encode_seconds,
        "versions": _versions(),
    }
    return Mapper(net=net.eval(), text_encoder=text_encoder, templates=temps, meta=meta, memory=memory)


def _names_with_words(classifier: Classifier, index: Sequence[int]) -> None:
    """A ValueError, once and before any fit, for a class name of punctuation only ("?"), which a classifier built
    without :func:`nlexnb.load_classifier` (where it is refused) may have."""
    for k in index:
        class_name_with_words(
            classifier.class_names[k],
            k,
            "a mapper learns each class from its name. Load the classifier with a name in words for it: "
            "load_classifier(..., class_names=[...])",
        )


def _rows_to_map(classifier: Classifier, index: Sequence[int]) -> None:
    """A ValueError when the class rows to fit on are all zero or all the same (a freshly initialised head): there is
    nothing to map class names to, and the fit failed later blaming its hyper-parameters."""
    rows = classifier.head_weight[list(index)].float()
    if bool((rows == 0).all()):
        what = "are all zero"
    elif bool((rows == rows[0]).all()):
        what = "are all the same"
    else:
        return
    raise ValueError(
        f"{classifier.name}'s head rows (its class weights) {what}, as in a head just initialised: the head does "
        "not tell its classes apart, so there is nothing to map class names to. Train the head or load its weights "
        "first, then fit the mapper"
    )


def _warn_few_classes(classifier: Classifier, method: str, num: int) -> None:
    """The warning for a kernel or ridge map fitted on few classes: it sends every text to a mix of those ``num``
    class rows, so concepts (centred on a bank's mean, as explanations use them) differ in at most ``num - 1``
    directions; two classes leave one, along which every concept points the same way up to sign. Nothing is said
    where that bound is no bound (``num - 1`` at least the feature width)."""
    width = classifier.num_features
    head = (
        f"fit_mapper: fitted on {counted(num, 'class', 'classes')}: a {method} map sends every text to a mix of "
        f"those {num} class rows"
    )
    if num == 2:
        warn_user(
            f"{head}, so once centred on a bank's mean every concept maps to the same direction up to sign (the "
            "difference of the two rows): explanations and discovery cannot tell concepts apart; zero-shot still "
            "ranks labels, along that one direction. Fit the mapper on a head of more classes to explain with "
            "concepts"
        )
    elif num - 1 < width:
        warn_user(
            f"{head}, so once centred on a bank's mean (as explanations and discovery use them) concepts differ in "
            f"at most {num - 1} of the {width} directions of {classifier.name}'s features: explanations and "
            "zero-shot heads can tell apart only what those rows tell apart. Trust them less than on a head of "
            "hundreds of classes"
        )


def _collapse_advice(method: str, hparams: Mapping[str, float]) -> str:
    """What to try when a fitted map sends every class name to one vector, from the hyper-parameters given and the
    side of their defaults they lie on: a larger ``alpha`` flattens the map, and so does a kernel width ``sigma``
    far from the default on either side (too narrow: every text is far from every class; too wide: every text is
    as near to all of them)."""
    defaults = map_defaults(method)
    advice = []
    sigma, default_sigma = hparams.get("sigma"), defaults.get("sigma")
    if sigma is not None and default_sigma is not None and sigma < default_sigma:
        advice.append(f"a wider sigma (the default is {default_sigma})")
    elif sigma is not None and default_sigma is not None and sigma > default_sigma:
        advice.append(f"a narrower sigma (the default is {default_sigma})")
    alpha, default_alpha = hparams.get("alpha"), defaults.get("alpha")
    if alpha is not None and default_alpha is not None and alpha > default_alpha:
        advice.append(f"a smaller alpha (the default is {default_alpha})")
    if advice:
        return f"Try {' and '.join(advice)}"
    shown = ", ".join(f"{name}={value}" for name, value in defaults.items())
    return f"Try other hyper-parameters of the {method} map (its defaults: {shown})"


def default_text_digests(classifier: Classifier) -> dict[str, str | None]:
    """What a fit with the default ``glosses`` and ``descriptions`` records of them for ``classifier`` (ImageNet-1k's
    for its class names, else none): how a saved mapper is told to be the default fit or another."""
    glosses = _per_class(None, classifier, "glosses", "WordNet glosses", imagenet_glosses, a_gloss)
    descriptions = _per_class(
        None, classifier, "descriptions", "class descriptions", imagenet_descriptions, photo_phrases
    )
    return {"glosses": _digest(glosses), "descriptions": _digest(descriptions)}


def _digest(entries: list | None) -> str | None:
    """A short fingerprint of per-class texts (None: none), kept in the mapper's metadata."""
    if entries is None:
        return None
    return hashlib.sha256(json.dumps(entries, ensure_ascii=False).encode()).hexdigest()[:16]


def load_mapper(
    path: str | Path, classifier: Classifier | None = None, text_encoder: TextEncoder | None = None
) -> Mapper:
    """Load a mapper saved with :meth:`Mapper.save`.

    Args:
        path: the ``.safetensors`` file.
        classifier: if given, the mapper must have been fitted on exactly this head (weights fingerprint); the
            mapper is moved to its device.
        text_encoder: the encoder to use; default: load the one named in the file. Its identity must match.

    Raises:
        FileNotFoundError, ValueError: missing, damaged or foreign file; a mapper for different head weights or a
            different text encoder.
    """
    from safetensors import safe_open

    if not isinstance(path, (str, Path)):
        raise TypeError(f"path must be the mapper's file (str or Path), got {type(path).__name__}")
    if classifier is not None and not isinstance(classifier, Classifier):  # swapped arguments: AttributeErrors
        raise TypeError(
            f"load_mapper(path, classifier, text_encoder): classifier must be a Classifier (nlexnb.load_classifier), "
            f"got {type(classifier).__name__}"
        )
    if text_encoder is not None and not isinstance(text_encoder, TextEncoder):
        raise TypeError(
            "load_mapper(path, classifier, text_encoder): text_encoder must be a TextEncoder "
            f"(nlexnb.load_text_encoder), got {type(text_encoder).__name__}"
        )
    path = Path(path).expanduser()
    if not path.is_file() and path.suffix != ".safetensors" and path.with_name(path.name + ".safetensors").is_file():
        path = path.with_name(path.name + ".safetensors")  # what Mapper.save("m") wrote
    if path.is_dir():  # it said "Mapper file not found" of a folder that is there
        raise ValueError(_a_folder(path))
    if not path.is_file():
        raise FileNotFoundError(f"Mapper file not found: {str(path)!r}")
    try:
        with safe_open(str(path), framework="pt") as fh:
            header = fh.metadata() or {}
            tensors = {k: fh.get_tensor(k).clone() for k in fh.keys()}  # aligned: the sums of a fit, bit for bit
    except Exception as exc:
        raise _unreadable(path, exc) from exc
    if header.get("nlexnb") == "bottleneck":  # ConceptBottleneck.save's mark: it failed as "Expecting value"
        raise ValueError(
            f"{str(path)!r} is a saved concept bottleneck, not a mapper: load it with "
            "nlexnb.bottleneck.load_bottleneck(path, classifier, mapper), giving the mapper it was made with"
        )
    if "nlexnb" not in header:  # "KeyError: 'nlexnb'" said nothing of what the file is
        raise ValueError(
            f"{str(path)!r} is a safetensors file but not an nlexnb mapper: it has no nlexnb header (its tensors: "
            f"{sorted(tensors)[:5]}). Give a file written by Mapper.save, or fit the mapper again"
        )
    try:
        meta = json.loads(header["nlexnb"])
        if not isinstance(meta, dict):
            raise ValueError(f"its nlexnb header is a {type(meta).__name__}, not a JSON object")
        missing = [key for key in _REQUIRED_META if key not in meta]
        if missing:
            raise ValueError(f"its nlexnb header lacks {missing}")
        if meta.get("format") == FORMAT_VERSION and not {"nlexnb_sha256", "tensors_sha256"} <= set(header):
            raise ValueError("its checksums are missing (a file of this format always has them)")
        if "nlexnb_sha256" in header and header["nlexnb_sha256"] != _text_digest(header["nlexnb"]):
            raise ValueError("its nlexnb header is not the one it was saved with (its checksum differs)")
    except Exception as exc:
        raise _unreadable(path, exc) from exc
    if meta.get("format") not in (1, FORMAT_VERSION) or meta.get("method") not in MAPS:
        raise ValueError(f"{str(path)!r} has mapper format {meta.get('format')!r}/{meta.get('method')!r}, unsupported")
    if classifier is not None and classifier.fingerprint != meta["classifier_fingerprint"]:
        raise ValueError(
            f"Mapper {str(path)!r} was fitted on {meta['classifier']!r} with head fingerprint "
            f"{meta['classifier_fingerprint']}, but this classifier ({classifier.name!r}) has "
            f"{classifier.fingerprint}: its class rows differ. Fit a new mapper with fit_mapper()."
        )
    if classifier is not None and fitted_under_other_names(meta, classifier):
        raise ValueError(
            f"Mapper {str(path)!r} was fitted on this head ({meta['classifier']!r}) under other class names: it maps "
            "each name to the row it named then, which this classifier calls otherwise. Fit a new mapper with "
            "fit_mapper()"
        )
    encoder = text_encoder or load_text_encoder(meta["encoder"], device="cpu")
    if encoder.identity != meta["encoder_identity"] and not same_encoder_model(
        meta["encoder_identity"], encoder.identity
    ):
        raise ValueError(
            f"Mapper {str(path)!r} reads embeddings of {meta['encoder_identity']!r}, but the text encoder given is "
            f"{encoder.identity!r}: it is another text encoder than the one the map was fitted on. Load the mapper "
            f"with that one (leave text_encoder out, or give nlexnb.load_text_encoder({meta['encoder']!r})), or fit "
            "the mapper again with this encoder"
        )
    if encoder.identity != meta["encoder_identity"]:
        raise ValueError(
            f"Mapper {str(path)!r} reads embeddings of {meta['encoder_identity']!r}, but the text encoder given is "
            f"{encoder.identity!r} (other weights or settings, or a file saved before an encoder's identity covered "
            "all of its weights): fit the mapper again with this encoder"
        )
    if "tensors_sha256" in header and header["tensors_sha256"] != tensors_digest(tensors):
        raise ValueError(
            f"{str(path)!r} holds other tensors than the ones it was saved with (their checksum differs): the file is "
            "damaged. Save or fit the mapper again"
        )
    bad = [k for k, v in tensors.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if bad:
        raise ValueError(f"{str(path)!r} holds NaN or infinite values in {bad}: the file is damaged; refit the mapper")
    other = {k: str(v.dtype).removeprefix("torch.") for k, v in tensors.items() if v.dtype != torch.float32}
    if other:  # a half-precision mapper loaded, then failed at its first text in torch's words
        raise ValueError(
            f"{str(path)!r} holds tensors that are not float32 ({other}); nlexnb's mappers are float32: convert the "
            "mapper with mapper.net.float() before saving it, or fit it again"
        )
    penalty = meta.get("seen_penalty", 0.0)
    if isinstance(penalty, bool) or not isinstance(penalty, (int, float)) or not math.isfinite(penalty):
        raise ValueError(  # "high" or NaN loaded, and failed (or ranked every seen class anyhow) at zero-shot time
            f"{str(path)!r} has seen_penalty {penalty!r} in its header, not a finite number: the file is damaged; "
            "save or fit the mapper again"
        )
    templates = check_templates(meta.pop("templates"))
    meta.pop("format", None)
    has_memory = any(name.startswith("memory.") for name in tensors)
    if bool(meta.get("memorize")) != has_memory:  # the label memory would be dropped, or looked for in vain
        said = "memorize" if meta.get("memorize") else "no label memory"
        raise ValueError(
            f"{str(path)!r} says {said} but {'holds' if has_memory else 'lacks'} the label memory's tensors: the file "
            "is damaged. Save or fit the mapper again"
        )
    try:
        net = MAPS[meta["method"]].from_state(_strip(tensors, "net."))
        memory = LabelMemory.from_state(_strip(tensors, "memory.")) if meta.get("memorize") else None
        with torch.no_grad():  # one text through the map: its tensors fit the encoder and the classifier's width
            probe = net(torch.zeros(1, encoder.dim))
    except (KeyError, RuntimeError) as exc:
        raise ValueError(f"{str(path)!r} is missing or has mis-shaped mapper tensors: {exc}") from exc
    width = meta.get("feature_dim")
    if width is not None and tuple(probe.shape) != (1, width):
        raise ValueError(
            f"{str(path)!r} has mis-shaped mapper tensors: they map a text to {probe.shape[-1]} numbers, but its "
            f"header says the classifier's features are {width} wide. The file is damaged; save or fit it again"
        )
    device = classifier.device if classifier is not None else torch.device("cpu")
    memory = memory.to(device) if memory is not None else None
    return Mapper(net=net.to(device).eval(), text_encoder=encoder, templates=templates, meta=meta, memory=memory)


def _a_folder(path: Path) -> str:
    """The message for a folder given as the mapper's file: which ``.safetensors`` files it holds, if any."""
    held = sorted(p.name for p in path.glob("*.safetensors") if p.is_file())
    shown = ", ".join(repr(name) for name in held[:5]) + (f" and {len(held) - 5} more" if len(held) > 5 else "")
    inside = f"; it holds {shown}" if held else "; it holds no .safetensors file"
    return (
        f"{str(path)!r} is a folder, not a mapper file: give the mapper's .safetensors file in it, as Mapper.save "
        f"wrote it{inside}"
    )


def _unreadable(path: Path, exc: Exception) -> ValueError:
    """The error for a mapper file that cannot be read as one, saying why."""
    return ValueError(
        f"{str(path)!r} is not a readable nlexnb mapper file (damaged, truncated or another format): "
        f"{in_a_sentence(exc)}. "
        "Expected a complete safetensors file written by Mapper.save; save or fit the mapper again"
    )


def tensors_digest(tensors: dict[str, torch.Tensor]) -> str:
    """SHA-256 of named tensors (names, dtypes, shapes and bytes, in name order): a flipped byte in a saved file's
    data would otherwise load as a mapper with other numbers (files saved before it was kept load unchecked)."""
    digest = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].detach().to("cpu").contiguous()
        digest.update(f"{name}|{t.dtype}|{list(t.shape)}|".encode())
        digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return digest.hexdigest()


_REQUIRED_META = (  # the format and method have a check and a message of their own
    "classifier",
    "classifier_fingerprint",
    "encoder",
    "encoder_identity",
    "templates",
)


def _text_digest(text: str) -> str:
    """SHA-256 of a saved file's JSON header: templates, the seen-class penalty and the memory switch change what a
    mapper answers, and live there rather than in its tensors."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _strip(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}


def calibrate_seen_penalty(
    method: str,
    x: torch.Tensor,
    groups: torch.Tensor,
    targets: torch.Tensor,
    seed: int,
    hparams: dict,
    splits: int = 2,
    held_fraction: float = 0.1,
    queries: int | None = None,
) -> float:
    """Seen-class penalty for generalized zero-shot, chosen without any held-out class.

    Mapped names of unseen classes land nearer to related seen rows than to their own. Subtracting a constant
    ``gamma`` from the cosine of every seen row (calibrated stacking) fixes that. ``gamma`` is chosen on pseudo-unseen
    splits of the training classes: refit on the rest, and maximise the harmonic mean of pseudo-unseen top-1 and
    pseudo-seen top-1 (so seen classes are not given away). ``queries``: only the first this many texts stand for a
    class when it is scored (its names; the rest, glossed names, are fitted on but are not what a label looks like).
    """
    num = targets.shape[0]
    held = max(1, int(round(num * held_fraction)))
    if num - held < 2:
        return 0.0
    rows = F.normalize(targets.float(), dim=1)
    gammas = torch.arange(0.0, 1.0, 0.01, device=rows.device)
    total = torch.zeros_like(gammas)
    for split in range(splits):
        perm = torch.randperm(num, generator=torch.Generator().manual_seed(seed + 1000 + split)).to(rows.device)
        unseen, seen = perm[:held], perm[held:]
        position = torch.full((num,), -1, dtype=torch.long, device=rows.device)
        position[seen] = torch.arange(len(seen), device=rows.device)
        in_seen = position[groups] >= 0
        net = fit_map(method, x[in_seen], position[groups[in_seen]], targets[seen], seed, hparams).eval()
        with torch.inference_mode():
            labels = F.normalize(label_vectors(net(x[:queries]), groups[:queries], num), dim=1)
        scores = labels @ rows.T  # [num queries, num rows]
        seen_mask = torch.zeros(num, device=rows.device)
        seen_mask[seen] = 1.0
        true = scores.diagonal()
        # the true row is top-1 under penalty g when no row j has s_j - g*seen_j > s_true - g*seen_true
        top1 = torch.stack(
            [((scores - g * seen_mask) > (true - g * seen_mask).unsqueeze(1)).sum(1) == 0 for g in gammas]
        )  # [gammas, queries]
        acc_unseen = top1[:, unseen].float().mean(1)
        acc_seen = top1[:, seen].float().mean(1)
        total += 2 * acc_unseen * acc_seen / (acc_unseen + acc_seen).clamp_min(1e-12)
    return float(gammas[int(total.argmax())])


def _check_classes(classes: Sequence[int] | None, num_classes: int) -> list[int]:
    if classes is None:
        return list(range(num_classes))
    if isinstance(classes, (str, bytes)) or not isinstance(classes, Sequence) or not all(an_index(k) for k in classes):
        shown = list(classes)[:5] if isinstance(classes, Sequence) else classes
        raise TypeError(f"classes must be a list of integer class indices, got {shown!r}")
    index = [int(k) for k in classes]
    bad = [k for k in index if not 0 <= k < num_classes]
    if bad:
        raise ValueError(f"classes must be indices in [0, {num_classes}); got {bad[:5]}")
    if len(set(index)) != len(index):
        raise ValueError("classes contains duplicate indices")
    if len(index) < 2:
        raise ValueError("fit_mapper needs at least 2 classes")
    return index


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in ("nlexnb", "torch", "timm", "sentence-transformers"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "unknown"
    return out
