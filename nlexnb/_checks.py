"""Validation shared by every module that takes counts or per-class texts from a user (k, steps, glosses, ...), and
the categories of the warnings one module raises and another silences where the user has heard it already."""

from __future__ import annotations

import inspect
import math
import re
import unicodedata
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import tqdm

_PACKAGE = str(Path(__file__).resolve().parent)
_SKIPPED = (_PACKAGE, str(Path(tqdm.__file__).resolve().parent))  # tqdm: a progress bar iterating nlexnb's work


def an_index(value) -> bool:
    """Whether ``value`` is an integer (Python or numpy), not a bool: what may stand for a class or a position."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


SEED_LIMIT = 2**32
"""Seeds are below this (numpy's and scikit-learn's limit; torch fails on numbers above 2**63 in its own words)."""


def a_seed(value, name: str = "seed") -> int:
    """``value`` as an int seed, or an error naming the parameter: a whole number from 0 to 2**32 - 1 (a TypeError for
    another type, a ValueError for a number out of that range). A string would seed Python's ``random`` with other
    draws than the number it spells, and numpy and torch refuse it in their words."""
    if not an_index(value):
        raise TypeError(f"{name} must be a whole number >= 0 (e.g. 0), got {value!r}")
    if not 0 <= value < SEED_LIMIT:
        raise ValueError(f"{name} must be a whole number from 0 to {SEED_LIMIT - 1} (e.g. 0), got {value!r}")
    return int(value)


def a_number(value) -> bool:
    """Whether ``value`` is a plain number (an integer or a float), not a bool: what a misplaced ``k=8`` looks like
    where an object was expected."""
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def positive_int(value, name: str, what: str) -> int:
    """``value`` as an int, or a ValueError naming the parameter: ``name`` must be a positive number of ``what``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        one = getattr(value, "ndim", None) == 0 and not isinstance(value, np.integer)  # tensor(3): positive, yet no int
        hint = f" (a {type(value).__name__} holding one number: convert it with int())" if one else ""
        raise ValueError(f"{name} must be a positive number of {what}, got {value!r}{hint}")
    return int(value)


def yes_or_no(value, name: str) -> bool:
    """``value`` when it is True or False, or a TypeError naming the parameter (1, "yes" and None are refused: a
    switch that silently took them would hide a misplaced argument)."""
    if isinstance(value, np.bool_):  # a flag read from an array or a frame
        return bool(value)
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return value


def yes_no_or_none(value, name: str, default: str) -> bool | None:
    """``value`` when it is True, False or None (``default`` says what None does), or a TypeError naming the
    parameter: ``zs.predict_proba(images, 2)`` would have read the 2 as "show a bar", "no" likewise."""
    if isinstance(value, np.bool_):
        return bool(value)
    if value is not None and not isinstance(value, bool):
        raise TypeError(f"{name} must be True, False or None ({default}), got {value!r}")
    return value


def number(
    value,
    name: str,
    low: float = -math.inf,
    high: float = math.inf,
    *,
    open_low: bool = False,
    open_high: bool = False,
    what: str = "a number",
    note: str = "",
) -> float:
    """``value`` as a float, or a ValueError naming the parameter, the numbers it takes and ``note`` (what the value
    means, its default). Never a bool, a string, NaN or an infinity: a NaN threshold compares False with everything
    and would silently turn a test off."""
    real = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))
    try:  # a float first: a float32 compared with the largest float64 warned of an overflow in its cast
        as_float = float(value) if real else math.nan
    except OverflowError:  # 10**400 has no float: out of range
        as_float = math.nan
    inside = real and math.isfinite(as_float)
    inside = inside and (as_float > low if open_low else as_float >= low)
    inside = inside and (as_float < high if open_high else as_float <= high)
    if not inside:
        if math.isinf(low) and math.isinf(high):
            allowed = f"a finite {what.removeprefix('a ')}" if what.startswith("a ") else f"finite {what}"
        elif math.isinf(high):
            allowed = f"{what} {'>' if open_low else '>='} {low:g}"
        elif math.isinf(low):
            allowed = f"{what} {'<' if open_high else '<='} {high:g}"
        else:
            allowed = f"{what} in {'(' if open_low else '['}{low:g}, {high:g}{')' if open_high else ']'}"
        raise ValueError(f"{name} must be {allowed}{f' ({note})' if note else ''}, got {value!r}")
    return as_float


def writes(tensor: torch.Tensor) -> int | None:
    """How many times ``tensor`` was written in place (torch's version counter): what tells a model edited after it
    was read (an optimiser step, a swapped row); None for a tensor made under ``inference_mode``, which keeps none."""
    try:  # torch's own counter, which it exposes only under this name (no private name of nlexnb's)
        return getattr(tensor, "_version")  # noqa: B009
    except RuntimeError:
        return None


def folded(text: str, case: bool = True) -> str:
    """``text`` as compared for sameness: one Unicode form (NFKC: "cafe\u0301" is "café", full-width "ｃａｔ" is
    "cat"), without invisible format characters (a zero-width space pasted from the web), case folded unless
    ``case=False`` (where case tells classes apart: ImageNet's "Cardigan" corgi and "cardigan" sweater)."""
    text = "".join(ch for ch in unicodedata.normalize("NFKC", text) if unicodedata.category(ch) != "Cf")
    return text.casefold() if case else text


def spelled_alike(text: str, case: bool = True) -> str:
    """``text`` as :func:`folded`, with its spaces single and none at its ends: the one key under which two names or
    labels written differently ("cat " and "Cat", "café" typed and from a macOS folder) are the same."""
    return " ".join(folded(text, case).split())


SYNONYM_COMMA = re.compile(r",(?!\d)|(?<!\d),")
"""A comma that separates synonyms: any but one between two digits ("a 1,000 piece jigsaw puzzle" is one name)."""


def synonym_keys(name: str) -> list[str]:
    """The comma-separated synonyms of a label or class name as compared for duplicates: case folded, inner spaces
    single, in one Unicode form without invisible characters (:func:`folded`), without the spaces and punctuation
    around them ("Cat." -> "cat"); in order, once each. None at all: the name is punctuation only ("?", "!!!")."""
    keys = []
    for part in SYNONYM_COMMA.split(folded(name)):
        key = " ".join(part.split())
        start, end = 0, len(key)
        while start < end and unicodedata.category(key[start]).startswith("P"):
            start += 1
        while end > start and unicodedata.category(key[end - 1]).startswith("P"):
            end -= 1
        key = key[start:end].strip()
        if key and key not in keys:
            keys.append(key)
    return keys


def labels_with_words(labels: Sequence[str], name: str) -> list[list[str]]:
    """The :func:`synonym_keys` of each label, or a ValueError naming the first of punctuation only (","), as
    ``name[i]``: it has no synonym to put in a prompt template, and was mapped as the text of its template alone."""
    keys = [synonym_keys(label) for label in labels]
    for i, (label, said) in enumerate(zip(labels, keys)):
        if not said:
            raise ValueError(f"{name}[{i}] {label!r} is empty once its punctuation is left out; a label needs words")
    return keys


def class_name_with_words(name: str, index: int, advice: str) -> str:
    """``name``, the class name at ``index``, or a ValueError ending in ``advice`` (how to give a name in words) when
    it is punctuation only ("?"): it was fitted on as "a photo of a ?." and failed later, inside zero-shot and
    held-out evaluation, under another index than its own. The test is the one zero-shot applies to labels."""
    if not synonym_keys(name):
        raise ValueError(f"class_names[{index}] {name!r} has no words to map (it is punctuation only): {advice}")
    return name


def with_words(text: str, name: str, example: str = "e.g. 'striped fur'") -> str:
    """``text`` (a string) without its surrounding whitespace, or a ValueError naming ``name``: a blank text (a
    zero-width space too) or one of punctuation only ("!!!"). Such a text maps somewhere too, and what it lands near
    or carries means nothing; zero-shot refuses such a label in the same words (:func:`labels_with_words`)."""
    if not folded(text).strip():
        raise ValueError(f"{name} is empty or blank ({text!r}): give a concept, {example}")
    if not synonym_keys(text):
        raise ValueError(f"{name} {text!r} is empty once its punctuation is left out; a text needs words, {example}")
    return text.strip()


def not_one_string(value, name: str) -> None:
    """A TypeError when ``value``, meant as a list of texts, is one string: iterated, it is a list of letters
    ("white bear" named no colour; a class list of "tabby cat" was nine classes)."""
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{name} must be a list of texts, got the single string {value!r}; wrap it in a list")


def text_list(value, name: str, what: str, one: str, example: str) -> list[str]:
    """``value`` as a list of texts without their surrounding whitespace ("cat\\r" from a pasted list is "cat"), or an
    error naming what was wrong: a single string, something not a list, an empty list, an item that is not a string
    or is blank, or two items that differ only in case, whitespace or Unicode form (they would split one answer in
    two). ``what`` names the items ("label names"), ``one`` one of them ("label"), ``example`` a good value
    ("['cat', 'dog']")."""
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{name} must be a list of {what}, got the single string {value!r}; wrap it in a list")
    if not hasattr(value, "__iter__"):
        raise TypeError(f"{name} must be a list of strings, got {type(value).__name__}")
    if isinstance(value, Mapping):  # its keys alone would be taken, its values dropped without a word
        kind = type(value).__name__
        raise TypeError(f"{name} must be a list of {what}, got a {kind}; pass list({name}) for its keys")
    if isinstance(value, (set, frozenset)):  # no order: the results' order would change from run to run
        raise TypeError(f"{name} must be a list of {what}, got a set (no order); pass sorted({name})")
    items = list(value)
    if not items:
        raise ValueError(f"{name} is empty: give at least one {one}, e.g. {example}")
    for i, item in enumerate(items):
        if not isinstance(item, str):
            kind = type(item).__name__
            raise TypeError(f"{name}[{i}] is {kind} {item!r}, not a string; every {one} must be a string")
        if not folded(item).strip():  # a zero-width space alone is blank too
            raise ValueError(f"{name}[{i}] is empty or blank; every {one} needs some text")
    seen: dict[str, int] = {}
    duplicates = []
    for i, item in enumerate(items):
        key = spelled_alike(item)
        if key in seen:
            twin = items[seen[key]]  # "'Cat' (positions 0 and 1)" did not say the other was 'cat'
            if twin == item:
                said = f"{item!r}"
            elif folded(twin, case=False).strip() == folded(item, case=False).strip():  # they look the same
                said = f"{twin!r}, written two ways ({ascii(twin)} and {ascii(item)})"
            else:
                said = f"{twin!r} and {item!r}"
            duplicates.append(f"{said} (positions {seen[key]} and {i})")
        seen.setdefault(key, i)
    if duplicates:
        raise ValueError(f"Duplicate {name}: {', '.join(duplicates[:5])}; each {one} must be unique")
    return [item.strip() for item in items]


def frame_with_columns(frame, columns: Sequence[str], name: str, expected: str) -> pd.DataFrame:
    """``frame``, or a TypeError when it is no DataFrame and a ValueError naming the ``columns`` it lacks (and the
    ones it has): another table failed in pandas' or seaborn's words ("Could not interpret value", KeyError
    'metric'). ``name`` is the parameter, ``expected`` the table it takes ("the frame of
    nlexnb.metrics.faithfulness")."""
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"{name} must be {expected} (a DataFrame), got {type(frame).__name__}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        has = ", ".join(map(repr, map(str, frame.columns[:8])))
        has += f", ... ({len(frame.columns)} in all)" if len(frame.columns) > 8 else ""  # 300 columns listed whole
        raise ValueError(
            f"{name} must be {expected}, with columns {', '.join(map(repr, columns))}; it lacks "
            f"{', '.join(map(repr, missing))} (its columns: {has})"
        )
    return frame


def per_class(value, class_names: Sequence[str], arg: str, check_one: Callable, accepted: str = "a list") -> list:
    """``value`` as a list with one entry per class, each passing ``check_one`` (whose docstring says what an entry
    must be, in the error). Each entry is read once, so generators of phrases arrive whole. ``accepted`` says what
    ``arg`` may be besides, for the error when it is not a list."""
    if isinstance(value, str) or not hasattr(value, "__iter__"):
        raise TypeError(f"{arg} must be {accepted} with one entry per class, got {value!r:.80}")
    value = [e if isinstance(e, str) or not hasattr(e, "__iter__") else list(e) for e in value]
    if len(value) != len(class_names):
        raise ValueError(f"{arg} must give one entry per class ({len(class_names)}), got {len(value)}")
    for k, entry in enumerate(value):
        if not check_one(entry):
            raise TypeError(f"{arg}[{k}] (class {class_names[k]!r}) must be {check_one.__doc__}, got {entry!r:.80}")
    return value


def a_gloss(entry) -> bool:
    """one short definition (a string, '' where there is none)"""
    return isinstance(entry, str)


def photo_phrases(entry) -> bool:
    """a list of short phrases of what one sees in a photo of the class (strings; [] for none)"""
    return (
        not isinstance(entry, str)
        and hasattr(entry, "__iter__")
        and all(isinstance(p, str) and p.strip() for p in entry)
    )


def definitions(entry) -> bool:
    """a list of the definitions of other senses of the class's names (strings; [] for none)"""
    return not isinstance(entry, str) and hasattr(entry, "__iter__") and all(isinstance(t, str) for t in entry)


class InputWarning(UserWarning):
    """An image nlexnb takes but doubts: so small it means little, or a float tensor that looks not normalised."""


class UnnormalisedWarning(InputWarning):
    """A float tensor taken as preprocessed with every value in [0, 1]: ``ToTensor()`` output without ``Normalize``?"""


class MapperMismatchWarning(UserWarning):
    """A mapper fitted on another head, or on this head under other class names: results are not faithful to it."""


class OneLabelWarning(UserWarning):
    """A zero-shot head of a single label: every image gets probability 1.0."""


def warn_user(message: str, category: type[Warning] = UserWarning) -> None:
    """``warnings.warn`` pointing at the first caller outside nlexnb, however deep inside the package it is raised
    (a bank cleaned by ``Explainer(...)`` names the user's line, not nlexnb's)."""
    here = inspect.currentframe()
    level, frame = 2, here.f_back if here is not None else None  # stacklevel 2 is the caller of warn_user
    while frame is not None and str(Path(frame.f_code.co_filename).resolve()).startswith(_SKIPPED):
        level, frame = level + 1, frame.f_back
    warnings.warn(message, category, stacklevel=level)


def in_a_sentence(exc: BaseException) -> str:
    """What an exception says, without the full stop it may end in, to quote inside a sentence of our own."""
    return str(exc).rstrip().rstrip(".")


def a_device(device, name: str = "device") -> torch.device:
    """``device`` as a torch.device this machine has (None: CUDA when available, else the CPU), or a ValueError saying
    what it may be. A name torch does not know ("gpu") or a device this machine lacks ("cuda" with no GPU, "cuda:3"
    with two) would otherwise fail in torch's words, at the first tensor moved there."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        allowed = "'cpu', 'cuda', 'cuda:N', 'mps' or None (CUDA when available)"
        raise ValueError(f"{name} must be {allowed}, got {device!r}") from None
    if dev.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ValueError(f"{name}={device!r}, but torch sees no CUDA GPU on this machine; use 'cpu' or None")
        if dev.index is not None and dev.index >= count:
            raise ValueError(f"{name}={device!r}, but this machine has {count} CUDA GPU(s): cuda:0 to cuda:{count - 1}")
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"{name}={device!r}, but torch has no MPS (Apple GPU) here; use 'cpu' or None")
    return dev


class Setting:
    """A public option checked wherever it is set, in the constructor and on any later assignment.

    ``explainer.relevance = 'high'`` used to be stored as given and fail (or silently do something else) at the next
    explanation; with ``relevance = Setting(check)`` on the class, it is refused as ``Explainer(relevance='high')``
    is. ``check(value, name)`` returns the value to store or raises. The value lives in the instance's ``__dict__``
    under the same name (a data descriptor is looked up first, so every read and write goes through this one).
    """

    def __init__(self, check: Callable[[object, str], object]) -> None:
        self.check = check

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj, owner: type | None = None):
        return self if obj is None else obj.__dict__[self.name]

    def __set__(self, obj, value) -> None:
        obj.__dict__[self.name] = self.check(value, self.name)


def settings_of(obj: object) -> dict[str, object]:
    """Every :class:`Setting` of ``obj`` by name, in the order its classes declare them: what a record of how a
    result was made must hold (an option added later joins such records by being a Setting)."""
    names = dict.fromkeys(
        name for cls in reversed(type(obj).__mro__) for name, attr in vars(cls).items() if isinstance(attr, Setting)
    )
    return {name: getattr(obj, name) for name in names}


class Fixed:
    """A public value set once, in the constructor, and read-only after: what other state was derived from.

    ``space.weakest = 0.3`` after the space was built changed the number shown and not the concepts it refuses (the
    refused set is computed in the constructor); it is now refused with ``advice``, which says how to get the value
    wanted (usually: build a new object with it). The constructor sets ``self._<name>``.
    """

    def __init__(self, advice: str) -> None:
        self.advice = advice

    def __set_name__(self, owner: type, name: str) -> None:
        self.name, self.slot, self.owner = name, f"_{name}", owner.__name__

    def __get__(self, obj, owner: type | None = None):
        return self if obj is None else getattr(obj, self.slot)

    def __set__(self, obj, value) -> None:
        raise AttributeError(f"{self.owner}.{self.name} is fixed when the object is built: {self.advice}")
