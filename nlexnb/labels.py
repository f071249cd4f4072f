"""Class names: ImageNet names with their synonyms, and disambiguation of duplicates.

ImageNet-1k names carry comma-separated synonyms ("tabby, tabby cat") and two classes share a name ("crane" the bird
and "crane" the machine). nlexnb keeps synonyms (they are free training text) and makes every name unique by adding a
short gloss, because collapsing duplicates would give two different class rows the same text.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

from ._checks import SYNONYM_COMMA, not_one_string

__all__ = [
    "joined",
    "counted",
    "warn_unmatched_keys",
    "imagenet_class_names",
    "imagenet_glosses",
    "imagenet_other_senses",
    "split_synonyms",
    "bare_synonyms",
    "class_name_set",
    "imagenet_synsets",
    "disambiguate",
    "primary_name",
    "singular",
    "words",
    "head_word",
    "name_heads",
]


@lru_cache(maxsize=4)
def _imagenet_info(subset: str):
    from timm.data import ImageNetInfo

    return ImageNetInfo(subset)


def imagenet_synsets(subset: str = "imagenet-1k") -> list[str]:
    """WordNet synset ids of the ImageNet classes, in class order ("n01440764", ...; shipped with timm)."""
    info = _imagenet_info(subset)
    return [info.index_to_label_name(i) for i in range(info.num_classes())]


def imagenet_glosses(subset: str = "imagenet-1k") -> list[str]:
    """WordNet glosses of the ImageNet classes, in class order (shipped with timm; no network)."""
    info = _imagenet_info(subset)
    out = []
    for i in range(info.num_classes()):
        detailed = info.index_to_description(i, detailed=True)
        out.append(detailed.split(": ", 1)[1] if ": " in detailed else "")
    return out


def imagenet_other_senses() -> list[list[str]]:
    """For each ImageNet-1k class, in class order, the WordNet definitions of the *other* senses of its names (the
    toy kite's "plaything consisting of a light frame ... flown in the wind" for the bird kite). Written from WordNet
    3.0 by ``scripts/build_visual_bank.py`` into ``nlexnb/data/other_sense_glosses.json``; no network."""
    table = json.loads((Path(__file__).parent / "data" / "other_sense_glosses.json").read_text(encoding="utf-8"))
    return [list(table.get(wnid, [])) for wnid in imagenet_synsets()]


def imagenet_descriptions() -> list[list[str]]:
    """For each ImageNet-1k class, in class order, six short phrases of what a person can point at in a typical photo
    of it ("striped grey fur", "pointed ears", ... for the tabby), without the class's own names. Written for nlexnb
    (``nlexnb/data/class_descriptions.json``, which says how); ``fit_mapper`` fits on them by default; no network."""
    table = json.loads((Path(__file__).parent / "data" / "class_descriptions.json").read_text(encoding="utf-8"))
    return [list(table["classes"].get(wnid, [])) for wnid in imagenet_synsets()]


def imagenet_class_names(subset: str = "imagenet-1k") -> list[str]:
    """ImageNet class names with synonyms, unique: e.g. "tabby, tabby cat"; "crane (large long-necked wading bird)"."""
    info = _imagenet_info(subset)
    names = [info.index_to_description(i) for i in range(info.num_classes())]
    return disambiguate(names, imagenet_glosses(subset))


def split_synonyms(name: str) -> list[str]:
    """Split "tabby, tabby cat" into ["tabby", "tabby cat"], keeping a parenthesised gloss at the end on every
    synonym without one of its own ("crane (bird), crane (machine)" keeps each; a comma inside a number, "1,000",
    or inside a gloss, "ewer (jug, vessel)", splits nothing)."""
    match = re.fullmatch(r"(.*?)\s*(\([^()]*\))", name.strip())
    body, gloss = (match.group(1), " " + match.group(2)) if match else (name.strip(), "")
    parts = [p.strip() for p in _outside_parentheses(SYNONYM_COMMA, body) if p.strip()]
    return [p if p.endswith(")") else p + gloss for p in parts] or [name.strip()]


def _outside_parentheses(separator: re.Pattern, text: str) -> list[str]:
    """``text`` split at the matches of ``separator`` that are not inside parentheses."""
    parts, start, depth = [], 0, 0
    cuts = {m.start(): m.end() for m in separator.finditer(text)}
    for i, ch in enumerate(text):
        depth += (ch == "(") - (ch == ")")
        if depth == 0 and i in cuts:
            parts.append(text[start:i])
            start = cuts[i]
    return [*parts, text[start:]]


def bare_synonyms(name: str) -> list[str]:
    """Synonyms of a class name without a disambiguating gloss: "crane (large bird)" -> ["crane"]."""
    return [re.sub(r"\s*\([^()]*\)$", "", s).strip() for s in split_synonyms(name)]


def class_name_set(class_names: Sequence[str]) -> set[str]:
    """Every synonym of every class, lower-cased: concepts equal to one of these name a class, not evidence for it."""
    return {s.lower() for name in class_names for s in bare_synonyms(name) if s}


def singular(word: str) -> str:
    """A lower-case English noun in the singular, by suffix ("cherries" -> "cherry", "leaves" -> "leaf"). Crude on
    purpose ("glass" -> "glas"): it is only used to compare two words that both go through it, the rule
    ``scripts/build_visual_bank.py`` writes its word lists with."""
    for suffix, repl in (("ies", "y"), ("ves", "f"), ("sses", "ss"), ("shes", "sh"), ("ches", "ch"), ("s", "")):
        if word.endswith(suffix) and len(word) > len(suffix) + 2:
            return word[: -len(suffix)] + repl
    return word


def words(text: str) -> list[str]:
    """The lower-case words of ``text``, in order, letters of any script ("Black-and-white" -> black, and, white;
    "crème brûlée" -> crème, brûlée, not cr, me, br, l, e; accents kept with their letter, digits and "²" no letters).
    Every reader of names and concepts splits this way."""
    text = unicodedata.normalize("NFC", text).lower()
    kept, in_word = [], False
    for ch in text:  # a letter, or an accent on the letter before it
        in_word = ch.isalpha() or (in_word and unicodedata.combining(ch) > 0)
        kept.append(ch if in_word else " ")
    return "".join(kept).split()


def head_word(text: str) -> str:
    """The head noun of a short noun phrase: its last word, lower-case, singular ("slender wild cats" -> "cat"); ""
    when it has no word. A phrase names a kind of what its head names, so "sand cat" is a kind of cat."""
    found = words(text)
    return singular(found[-1]) if found else ""


def name_heads(name: str) -> set[str]:
    """Head nouns of a class name's synonyms of two words or more ("Arabian camel" -> {"camel"}; "tiger cat" ->
    {"cat"}); a one-word synonym is its own whole name and gives none."""
    return {head_word(s) for s in bare_synonyms(name) if len(words(s)) > 1} - {""}


def joined(items: Sequence[str]) -> str:
    """Items as a sentence lists them: "a", "a and b", "a, b and c" ("" for none)."""
    not_one_string(items, "items")
    items = list(items)
    return ", ".join(items[:-1]) + " and " + items[-1] if len(items) > 1 else "".join(items)


def counted(n: int, one: str, many: str | None = None) -> str:
    """``n`` with the word it counts, singular for one: "1 concept", "3 concepts", "1 predicted class"."""
    return f"{n} {one if n == 1 else (many or one + 's')}"


def primary_name(name: str) -> str:
    """The first synonym of a class name (with its disambiguating gloss, if any): what a sentence should say."""
    return split_synonyms(name)[0]


def disambiguate(names: Sequence[str], glosses: Sequence[str] | None = None) -> list[str]:
    """Make class names unique without losing meaning.

    A name that occurs more than once gets its gloss's first clause in parentheses when glosses are given
    ("crane (large long-necked wading bird)"), otherwise its class index ("crane (class 517)"). Each name is
    suffixed once, from its own text: where glosses collide, or a suffixed name is another class's name already,
    that class gets its index instead ("crane (class 134)"), never a second suffix.
    """
    not_one_string(names, "names")
    counts = Counter(names)
    out = list(names)
    changed = [i for i, name in enumerate(names) if counts[name] > 1]
    for i in changed:
        gloss = glosses[i] if glosses is not None and i < len(glosses) else ""
        short = " ".join(re.split(r"[;,]", gloss)[0].split()[:6]) if gloss else ""
        out[i] = f"{names[i]} ({short})" if short else f"{names[i]} (class {i})"
    again = Counter(out)
    for i in changed:  # glosses that collide, or that make another class's name: the index tells them apart
        if again[out[i]] > 1:
            out[i] = f"{names[i]} (class {i})"
    taken = Counter(out)
    for i in changed:  # a class already named "crane (class 134)": the position among the names, as a last resort
        n = 2
        while taken[out[i]] > 1:
            taken[out[i]] -= 1
            out[i] = f"{names[i]} (class {i}, {n})"
            n += 1
            taken[out[i]] += 1
    return out


def warn_unmatched_keys(keys, labels: Sequence[str], what: str) -> None:
    """Warn when labels of the images (one per image) have no entry among ``keys`` (of a ``correct=`` mapping) while
    some keys match no label ("dgo" for "dog", "Dog" for "dog"): those images silently left the judgement. A mapping
    wider than the data (the stamp photos' whole mapping for a few of its labels) leaves no label out: no warning."""
    import difflib

    from ._checks import warn_user

    counts = Counter(labels)
    missing = sorted(label for label in counts if label not in keys)
    stray = sorted(str(key) for key in keys if key not in counts)
    if not missing or not stray:
        return
    lowered = {key.lower(): key for key in stray}
    close = {
        m: [lowered[m.lower()]] if m.lower() in lowered else difflib.get_close_matches(m, stray, 1) for m in missing
    }
    hints = "; ".join(f"{k[0]!r} for {m!r}?" for m, k in close.items() if k)
    warn_user(
        f"{what}: correct= has no entry for the label(s) {missing[:8]}, so their {sum(counts[m] for m in missing)} "
        f"image(s) are not judged, and its key(s) {stray[:8]} are no label here{f' ({hints})' if hints else ''}"
    )
