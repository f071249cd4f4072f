"""The concept space: a classifier, a mapper fitted on its head, and a concept bank, in one object.

Everything that reads concepts in the classifier's space goes through a :class:`ConceptSpace`: explanations, discovery,
metrics, zero-shot and the widgets. It owns the one definition of a concept's *direction* (its mapped vector minus
the bank's mean mapped vector, which every mapped text shares and which says "some concept" rather than which one,
scaled to unit length), which concepts may never explain anything (any class name of the classifier, names of
peoples, and the concepts the map places least firmly), which concepts mention or echo a given class, and the disk
caches behind them.
"""

from __future__ import annotations

import bisect
import os
import re
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from functools import lru_cache
from itertools import accumulate

import torch
import torch.nn.functional as F

from ._checks import (
    Fixed,
    a_gloss,
    a_number,
    an_index,
    definitions,
    number,
    per_class,
    positive_int,
    warn_user,
    yes_no_or_none,
)
from .classifier import Classifier
from .concepts import BANKS, ConceptBank, load_concepts, names_a_people
from .images import ImageInput, preprocessed
from .kinds import (
    animal_named,
    animal_part_named,
    another_animal,
    another_animals_covering,
    class_animals,
    colours_named,
    colours_said,
    covering_named,
    mentioned,
    thing_named,
    unknown_colour,
    words_of,
)
from .labels import (
    bare_synonyms,
    class_name_set,
    counted,
    head_word,
    imagenet_class_names,
    imagenet_descriptions,
    imagenet_glosses,
    imagenet_other_senses,
    name_heads,
    words,
)
from .mapper import Mapper, check_fits

__all__ = ["ConceptSpace", "concept_space", "WEAKEST", "WEAK_MIN_BANK"]

WEAKEST = 0.15
"""The default share of a bank never named because the map places those concepts least firmly (see
:attr:`ConceptSpace.strength`)."""

WEAK_MIN_BANK = 200
"""Banks shorter than this keep every concept whatever its strength: a short list is a user's own choice of words."""

OWN_MEAN_FROM = 16
"""Banks of fewer concepts are centred on the default visual bank's mean (mapped by the same mapper), not their own:
directions measured from the mean of n concepts lean away from each other by 1/(n - 1) on average, and a bank of two
gave two exactly opposite directions ("striped fur" and "rocket": whichever was named took the other's credit).
The first such bank of a mapper maps the visual bank once (seconds on a CPU; cached on disk like any bank)."""

QUALIFIER_MARGIN, QUALIFIER_FLOOR = 0.1, 0.35
"""What :meth:`ConceptSpace.qualifier_echoes` (and the bottleneck's :meth:`ConceptSpace.qualifier_mask`) refuse: a
concept at least the floor close to a qualifying word and closer to it than to the class by more than the margin."""

SEEN_KINDS = frozenset({"colour", "material", "shape", "attribute"})
"""Kinds of the visual bank whose words say what one sees: a class name qualified by one ("golden retriever", "steel
arch bridge") is described by it, so concepts near it are not echoes (:meth:`ConceptSpace.qualifier_echoes`)."""


@lru_cache(maxsize=1)
def _seen_words() -> frozenset[str]:
    bank = ConceptBank.visual()
    return frozenset(t.lower() for t, kind in zip(bank.texts, bank.sources) if kind in SEEN_KINDS)


def qualifier_words(name: str) -> list[str]:
    """The words that qualify a class name's head in its synonyms of two words or more, of four letters or more and
    not a colour, material, shape or attribute of the visual bank: "Egyptian" in Egyptian cat, "fire" in fire engine,
    "Siberian" in Siberian husky, "police" in German police dog; none in golden retriever ("golden" is what one sees),
    in "tabby", or where the word heads another of the names ("shepherd" in German shepherd dog: German shepherd)."""
    synonyms = [words(s) for s in bare_synonyms(name)]
    heads = {said[-1] for said in synonyms if said}  # "shepherd" in "German shepherd dog" is a head elsewhere
    qualifiers = [w for said in synonyms for w in said[:-1] if len(w) >= 4 and w not in heads]
    return list(dict.fromkeys(w for w in qualifiers if w not in _seen_words()))


DISK_CACHE_FROM = 256
"""Lists of more texts than this are mapped through the mapper's disk cache by :meth:`ConceptSpace.encode`."""


class ConceptSpace:
    """A classifier, a mapper and a bank of concepts mapped into the classifier's feature space.

    Args:
        classifier: the model whose space it is.
        mapper: a mapper fitted on this classifier's head (a mapper of another width is refused, one fitted on
            another head warns).
        concepts: a :class:`~nlexnb.ConceptBank`, a list of strings, a text file, a built-in name, or None (the
            default visual bank); encoded once and cached on disk.
        glosses: one short definition per class (the echo test compares a concept with a class's names and its
            gloss); default ImageNet's WordNet glosses when the class names are ImageNet-1k's.
        other_senses: for each class, the definitions of the *other* senses of its names (for the bird kite, the toy
            "flown in wind at end of a string"), read by :meth:`other_sense`; default WordNet's when the class names
            are ImageNet-1k's, else none.
        weakest: the share of the bank, the concepts the map places least firmly (lowest :attr:`strength`), that is
            never named (default 0.15; 0 keeps all). A text far from everything the map was fitted on barely moves
            from the bank's mean, and its direction then points wherever its few nearest class names do: "nutshell"
            and "hazel" for Siberian husky (via "husk" and "Siberian"), "baba" for baboon, "dynamite" for fire
            engine. Measured on the plausibility photos, refusing the weakest 15% lifts the share of named concepts
            read as visible in the photo from 0.241 to 0.272 at the same faithfulness (``benchmarks/RESULTS.md``).
            Applied to banks of at least 200 concepts (:data:`WEAK_MIN_BANK`); a shorter list is kept whole.
        progress: show a progress bar while encoding the bank (default: for large banks).

    Attributes:
        vectors: raw mapped vectors [T, d] (``vectors @ f`` is in logit units).
        offset: the bank's mean mapped vector [d] (the default visual bank's for a bank of fewer than
            :data:`OWN_MEAN_FROM` concepts).
        directions: unit concept directions [T, d] (``vectors - offset``, normalised): what explanations select
            and ablate and what discovery ranks.
        strength: [T] how firmly the map places each concept: the length of its mapped vector minus the bank's mean,
            relative to the bank's median length (1 = a typical concept).
        weak: [T] bool, the concepts too weakly placed to be named (the ``weakest`` share of the bank).
        excluded: [T] bool, concepts that never explain anything (any class name of the classifier, peoples, weak
            concepts).
    """

    weakest = Fixed(
        "give it when building, Explainer(clf, mapper, weakest=0.3) or ConceptSpace(..., weakest=0.3); "
        "the concepts it leaves out are chosen from it then"
    )

    def __init__(
        self,
        classifier: Classifier,
        mapper: Mapper,
        concepts: ConceptBank | Sequence[str] | str | None = None,
        *,
        glosses: Sequence[str] | None = None,
        other_senses: Sequence[Sequence[str]] | None = None,
        weakest: float = WEAKEST,
        progress: bool | None = None,
    ) -> None:
        check_fits(mapper, classifier, "ConceptSpace")
        note = f"0 names every concept; default {WEAKEST}"
        self._weakest = number(weakest, "weakest", 0, 1, open_high=True, what="a share of the bank", note=note)
        self.classifier = classifier
        self.mapper = mapper
        self.bank = load_concepts(concepts)
        device = classifier.device
        progress = yes_no_or_none(progress, "progress", "the default: a bar for large banks")
        self.vectors = self.bank.encode(mapper, progress=progress).to(device, torch.float32)
        self.offset = self._reference_mean(mapper, progress) if len(self.bank) < OWN_MEAN_FROM else self.vectors.mean(0)
        centred = self.vectors - self.offset
        lengths = centred.norm(dim=1, keepdim=True)
        self.strength = (lengths / lengths.median().clamp_min(1e-12)).squeeze(1)
        self.directions = centred.div_(lengths.clamp_min_(1e-12))
        self.weak = torch.zeros(len(self.bank), dtype=torch.bool, device=device)
        if self.weakest > 0 and len(self.bank) >= WEAK_MIN_BANK:
            self.weak = self.strength < torch.quantile(self.strength, self.weakest)
        names = class_name_set(classifier.class_names)
        peoples = [names_a_people(t) for t in self.bank.texts]
        self.excluded = self.weak | torch.tensor(
            [t.lower() in names or p for t, p in zip(self.bank.texts, peoples)], dtype=torch.bool, device=device
        )
        if any(peoples) and self.bank.name not in BANKS:  # a user's own words, dropped: say which
            _say_peoples_left_out([t for t, p in zip(self.bank.texts, peoples) if p])
        imagenet = self._imagenet = list(classifier.class_names) == imagenet_class_names()
        if glosses is None and imagenet:
            glosses = imagenet_glosses()
        self.glosses = None if glosses is None else per_class(glosses, classifier.class_names, "glosses", a_gloss)
        if other_senses is None and imagenet:
            other_senses = imagenet_other_senses()
        self.other_senses = None
        if other_senses is not None:
            checked = per_class(other_senses, classifier.class_names, "other_senses", definitions)
            self.other_senses = [[t for t in texts if t.strip()] for texts in checked]
        self._lower = [t.lower() for t in self.bank.texts]
        self._patterns: dict[int, re.Pattern] = {}
        self._heads = [head_word(t) for t in self.bank.texts]
        self._class_heads: dict[int, set[str]] = {}
        self._naming: torch.Tensor | None = None
        self._text_matrix: torch.Tensor | None = None
        self._class_text: dict[int, tuple[torch.Tensor, torch.Tensor | None]] = {}
        self._other_text: dict[int, torch.Tensor | None] = {}
        self._qualifiers: dict[int, tuple[torch.Tensor | None, torch.Tensor]] = {}
        self._descriptions: list[list[str]] | None = None
        self._qualifier_mask: torch.Tensor | None = None
        self._words: set[str] | None = None
        self._concept_words: list[frozenset[str]] | None = None
        self._with_part: dict[str, set[str]] | None = None
        self._look_alike_rows: dict[int, torch.Tensor] = {}
        self._compound_cache: dict[int, set[str]] = {}
        self._relevance: dict[int, torch.Tensor] = {}
        self._name_similarity: torch.Tensor | None = None
        self._animals: list[str | None] | None = None
        self._class_animals: list[str | None] = []
        self._coverings: list[tuple[str, ...] | None] = []
        self._animal_mask: torch.Tensor | None = None
        self._things: list[str | None] = []
        self._animal_parts: list[str | None] = []
        self._said: dict[int, frozenset[str]] = {}
        self._colours: list[tuple[frozenset[str], ...]] = []
        self._palettes: dict[int, frozenset[str] | None] = {}

    def _reference_mean(self, mapper: Mapper, progress: bool | None) -> torch.Tensor:
        """The mean mapped vector of the default visual bank: what a bank too short to have a mean of its own
        (:data:`OWN_MEAN_FROM`) is centred on, so that its concepts point where they do in the default's space."""
        reference = ConceptBank.visual().encode(mapper, progress=progress)
        return reference.to(self.vectors.device, torch.float32).mean(0)

    def __len__(self) -> int:
        return len(self.bank)

    def __repr__(self) -> str:
        weak = int(self.weak.sum())
        left_out = f", the {weak} placed least firmly never named (weakest={self.weakest:g})" if weak else ""
        return (
            f"ConceptSpace({self.classifier.name!r}, {len(self.bank)} concepts from {self.bank.name!r}{left_out}, "
            f"mapper={self.mapper.method})"
        )

    @property
    def texts(self) -> list[str]:
        return self.bank.texts

    @property
    def heads(self) -> list[str]:
        """Each concept's head noun ("long fine tail" -> "tail"), in bank order: what a concept is a kind of."""
        return self._heads

    # ---- inputs ----------------------------------------------------------------------------------------------------
    def class_index(self, c: int | str, what: str = "class") -> int:
        """A class index from an index or a name (see :meth:`nlexnb.Classifier.class_index`)."""
        return self.classifier.class_index(c, what)

    def preprocess(self, images: ImageInput, name: str = "image") -> torch.Tensor:
        """Images -> the classifier's input batch [N, 3, H, W] (one image becomes a batch of one); errors call the
        argument ``name``."""
        return preprocessed(images, self.classifier.transform, name)

    def preprocess_one(self, image: ImageInput, name: str = "image") -> torch.Tensor:
        """One image -> a batch of one [1, 3, H, W]; a list or batch of several is an error naming ``name``."""
        x = self.preprocess(image, name)
        if x.shape[0] != 1:
            raise ValueError(f"{name} must be one image, got {x.shape[0]}: call once per image")
        return x

    def check_k(self, k: int, default: int | None = None) -> int:
        """``k`` concepts to name: a positive int, capped at the bank's size, with a warning unless ``k`` is the
        caller's ``default`` (a bank of three concepts warned at every explanation the user asked nothing of)."""
        k = positive_int(k, "k", "concepts")
        if k > len(self.bank):
            if k != default:
                warn_user(f"k={k} is larger than the {len(self.bank)} concepts in the bank; using k={len(self.bank)}")
            return len(self.bank)
        return k

    def encode(self, texts: Sequence[str] | str) -> torch.Tensor:
        """Raw mapped vectors [n, d] of any texts, on the classifier's device. Long lists (over :data:`DISK_CACHE_FROM`
        texts) go through the mapper's disk cache; a few texts (a typed text, a person's list to weigh) are mapped
        directly, which takes under a millisecond once the text encoder has seen them, where opening the disk cache
        takes about 35 ms."""
        many = isinstance(texts, (list, tuple)) and len(texts) > DISK_CACHE_FROM
        return self.mapper.encode(texts, cache=many).to(self.classifier.device, torch.float32)

    def direction(self, text: str) -> torch.Tensor:
        """The unit direction [d] of any text, defined as for the bank's concepts (relative to the bank's mean)."""
        return self.directions_of(self.encode([text]))[0]

    def directions_of(self, vectors: torch.Tensor) -> torch.Tensor:
        """Unit directions [n, d] of mapped vectors [n, d] (from :meth:`encode`), defined as for the bank's concepts:
        relative to the bank's mean, scaled to unit length."""
        return F.normalize(vectors - self.offset, dim=1)

    # ---- which concepts may explain a class --------------------------------------------------------------------------
    def mentions(self, indices: Sequence[int], classes: Sequence[int], kinds: bool = False) -> list[bool]:
        """Whether each bank concept (by index) names one of ``classes`` in whole words ("tabby cats" for tabby).

        With ``kinds``, also a kind of the same thing: a concept whose head noun is the head of one of the class's
        names of two words or more ("sand cat" and "slender wild cat" for tiger cat, "camel" for Arabian camel). Such
        a concept says the class again in other words; "cat whiskers" (head "whisker") is evidence and stays.
        Bottleneck recipes (:meth:`naming_mask`) and contrasts (:meth:`nlexnb.Explainer.candidates`) refuse kinds.
        Factual explanations do not: there the joint selection would remove 38% of the margin instead of 41% on the
        plausibility photos, below the 40% kept for faithfulness, for no clear gain in plausibility
        (``benchmarks/RESULTS.md``)."""
        indices, classes = self.positions(indices), self.class_list(classes)
        patterns = [self._pattern(c) for c in classes]
        heads = set().union(*(self._heads_of(c) for c in classes)) if kinds and classes else set()
        return [self._heads[i] in heads or any(p.search(self._lower[i]) for p in patterns) for i in indices]

    def other_animals(self, indices: Sequence[int], classes: Sequence[int]) -> list[bool]:
        """Whether each bank concept (by index) names an animal that none of ``classes`` is a kind of, nor a kind of
        it: "large poodle" or "compact rodent" for a gorilla, "reindeer" for a polar bear; not "bird" for a hen nor
        "very large bear" for a polar bear (:mod:`nlexnb.kinds`); nor what only other animals have ("spotted
        plumage" for a cheetah, "long muscular arms" for a gar, "thick horns" for a wallaby:
        :data:`nlexnb.kinds.COVERINGS`) unless the class's names, gloss or descriptions mention it
        (:meth:`what_class_is`: the triceratops has "three horns"). Classes that are not animals refuse
        nothing."""
        indices, classes = self.positions(indices), self.class_list(classes)
        self._read_animals()
        animals = [c for c in classes if self._class_animals[c] is not None]
        if not animals:
            return [False] * len(indices)
        return [self._other_animal(i, animals) for i in indices]

    def _read_animals(self) -> None:
        """What animal (or animal's covering) each concept names, and each class's animal sense; read once."""
        if self._animals is None:
            self._animals = [animal_named(t) for t in self.bank.texts]
            self._coverings = [covering_named(t) for t in self.bank.texts]
            self._things = [thing_named(t) for t in self.bank.texts]
            self._animal_parts = [animal_part_named(t) for t in self.bank.texts]
            self._colours = [colours_named(t) for t in self.bank.texts]
            self._class_animals = class_animals(self.classifier.class_names)

    def _other_animal(self, i: int, animals: Sequence[int]) -> bool:
        senses = [self._class_animals[c] for c in animals]
        if self._animals[i] is not None:
            return all(another_animal(self._animals[i], s) for s in senses)
        owners = self._coverings[i]
        if owners is None or not all(another_animals_covering(owners, s) for s in senses):
            return False
        return not any(mentioned(self._heads[i], self._class_words(c)) for c in animals)

    def animal_mask(self) -> torch.Tensor:
        """[K, T] bool: ``[c, i]`` when concept ``i`` names another animal than class ``c`` (:meth:`other_animals`),
        for every class at once. Computed once."""
        if self._animal_mask is None:
            self._read_animals()
            concepts = [i for i, sense in enumerate(self._animals) if sense is not None or self._coverings[i]]
            mask = torch.zeros(self.classifier.num_classes, len(self.bank), dtype=torch.bool)
            for c, sense in enumerate(self._class_animals):
                if sense is not None and concepts:
                    mask[c, concepts] = torch.tensor([self._other_animal(i, [c]) for i in concepts])
            self._animal_mask = mask.to(self.directions.device)
        return self._animal_mask

    def unlisted_things(self, indices: Sequence[int], classes: Sequence[int]) -> list[bool]:
        """Whether each bank concept (by index) names a thing that no photo of ``classes`` is expected to show, unless
        the class's names, gloss or descriptions mention it (:meth:`what_class_is`). For a class that is an animal: a
        concept whose head noun is first of all an object, food, plant, person, shape, landform or material
        (:func:`nlexnb.kinds.thing_named`: "walnut", "brace", "bench" for a koala; "bamboo" stays for a giant panda,
        "tree" for a koala, whose description says "tree fork"); parts, coverings, markings and colours of animals are
        never things ("curved horns", "gray coat", "black stripes"). For any other class: an animal ("nightingale" for
        a palace, "worm" for a Petri dish; "dogs" stay for a dog sled, "a sled pulled by dogs"), or what only animals
        have (:data:`nlexnb.kinds.ANIMALS_ONLY`: "white plumage" for a palace, "silver beak" for a Petri dish).
        Refused when every one of ``classes`` refuses it."""
        indices, classes = self.positions(indices), self.class_list(classes)
        self._read_animals()
        if not classes:
            return [False] * len(indices)
        return [all(self._unlisted(i, c) for c in classes) for i in indices]

    def _unlisted(self, i: int, c: int) -> bool:
        if self._class_animals[c] is not None:
            head = self._things[i]  # for an animal, a thing
        elif self._animals[i] is not None:
            head = self._heads[i]  # for anything else, an animal ...
        else:
            head = self._animal_parts[i]  # ... or what only animals have
        return head is not None and not mentioned(head, self._class_words(c))

    def unlisted_colours(self, indices: Sequence[int], classes: Sequence[int]) -> list[bool]:
        """Whether each bank concept (by index) names a colour or marking that no class of ``classes`` is known to
        have. For a class that is an animal and has a description (ImageNet-1k's: :meth:`what_class_is`): a colour
        or marking none of whose family (:data:`nlexnb.kinds.COLOURS`) its names, gloss or description mention, so
        a jaguar ("golden coat", "large rosettes with spots") refuses "fine stripes" and "pink skin" and keeps
        "spotted tail", and a polar bear ("white bear", "black nose") refuses "golden fur". Classes that are not
        animals, or whose colours nothing says, refuse nothing: an object comes in any colour. Refused when every
        one of ``classes`` refuses it."""
        indices, classes = self.positions(indices), self.class_list(classes)
        self._read_animals()
        if not classes:
            return [False] * len(indices)
        palettes = [self._palette(c) for c in classes]
        return [
            bool(self._colours[i]) and all(p is not None and unknown_colour(self._colours[i], p) for p in palettes)
            for i in indices
        ]

    def _palette(self, c: int) -> frozenset[str] | None:
        """Class ``c``'s known colours and markings (:func:`nlexnb.kinds.colours_said`), or None where nothing is
        known: a class that is not an animal, or has no description."""
        if c not in self._palettes:
            known = self._class_animals[c] is not None and self._descriptions_of(c)
            self._palettes[c] = colours_said(self.what_class_is(c)) if known else None
        return self._palettes[c]

    def _class_words(self, c: int) -> frozenset[str]:
        if c not in self._said:
            self._said[c] = words_of(self.what_class_is(c))
        return self._said[c]

    def look_alikes(self, indices: Sequence[int], c: int) -> list[bool]:
        """Which bank concepts (by index) class ``c``'s row holds because of words or resemblances rather than what
        its photos show: echoes of a word that qualifies its name (:meth:`qualifier_echoes`), other animals, things
        its photos are not expected to show, colours and markings it is not known to have. What discovery leaves out
        (the other-sense test of explanations is not applied: across a whole row it refuses what the class is,
        "stripes" and "kitten" for tabby, "wing" and "flying" for the bird kite)."""
        return self.look_alike_row(c)[self.positions(indices)].tolist()

    def look_alike_row(self, c: int | str) -> torch.Tensor:
        """[T] bool: :meth:`look_alikes` of class ``c`` over the whole bank, computed once per class (a table of
        photos of 150 classes tested each class's whole bank again at every call)."""
        c = self.class_index(c)
        if c not in self._look_alike_rows:
            every = range(len(self.bank))
            echo = self.qualifier_echoes(every, c).tolist()
            other, thing = self.other_animals(every, [c]), self.unlisted_things(every, [c])
            colour = self.unlisted_colours(every, [c])
            alike = [e or o or t or u for e, o, t, u in zip(echo, other, thing, colour)]
            self._look_alike_rows[c] = torch.tensor(alike, dtype=torch.bool, device=self.excluded.device)
        return self._look_alike_rows[c]

    def what_class_is(self, c: int | str) -> list[str]:
        """Class ``c``'s (an index or a name) names, gloss and descriptions (ImageNet-1k's when the class names are
        ImageNet-1k's), as text: what says which things its photos show (:meth:`unlisted_things`)."""
        c = self.class_index(c)
        texts = [self.classifier.class_names[c]]
        if self.glosses is not None and self.glosses[c]:
            texts.append(self.glosses[c])
        return texts + self._descriptions_of(c)

    def _descriptions_of(self, c: int) -> list[str]:
        """Class ``c``'s visible-feature descriptions (ImageNet-1k's when the class names are its own, else none)."""
        if self._descriptions is None:
            self._descriptions = imagenet_descriptions() if self._imagenet else []
        return list(self._descriptions[c]) if c < len(self._descriptions) else []

    def naming_mask(self) -> torch.Tensor:
        """[K, T] bool: ``[c, i]`` when concept ``i`` names class ``c`` or a kind of it (:meth:`mentions` with
        ``kinds=True``) or is made of a compound part of its names (:meth:`compounds`: "fireplace" for fire engine),
        for every class at once: what a class's bottleneck recipe may not use. Computed once."""
        if self._naming is None:
            by_head: dict[str, list[int]] = {}
            for i, head in enumerate(self._heads):
                by_head.setdefault(head, []).append(i)
            text = "\n".join(self._lower)  # one search per class over every concept, positions -> concept index
            starts = list(accumulate(len(t) + 1 for t in self._lower))
            by_word: dict[str, list[int]] = {}
            for i, words in enumerate(self._words_of()):
                for w in words:
                    by_word.setdefault(w, []).append(i)
            mask = torch.zeros(self.classifier.num_classes, len(self.bank), dtype=torch.bool)
            for c in range(self.classifier.num_classes):
                hits = [i for head in self._heads_of(c) for i in by_head.get(head, ())]
                hits += [bisect.bisect_right(starts, m.start()) for m in self._pattern(c).finditer(text)]
                hits += [i for w in self._compound_words(c) for i in by_word.get(w, ())]  # "fireplace", fire engine
                mask[c, hits] = True
            self._naming = mask.to(self.directions.device)
        return self._naming

    def _heads_of(self, c: int) -> set[str]:
        if c not in self._class_heads:
            self._class_heads[c] = name_heads(self.classifier.class_names[c])
        return self._class_heads[c]

    def _pattern(self, c: int) -> re.Pattern:
        if c not in self._patterns:
            synonyms = sorted(
                {s.lower() for s in bare_synonyms(self.classifier.class_names[c]) if s}, key=len, reverse=True
            )
            self._patterns[c] = re.compile(rf"(?<!\w)(?:{'|'.join(re.escape(s) for s in synonyms)})(?:s|es)?(?!\w)")
        return self._patterns[c]

    def text_embeddings(self) -> torch.Tensor:
        """Unit text embeddings of the bank [T, m] (the encoder's disk cache makes this a load after the first run)."""
        if self._text_matrix is None:
            emb = self.mapper.text_encoder.encode(self.bank.texts).float()
            self._text_matrix = F.normalize(emb, dim=1).to(self.directions.device)
        return self._text_matrix

    def _names_and_gloss(self, c: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        if c not in self._class_text:
            encoder = self.mapper.text_encoder
            names = [s for s in bare_synonyms(self.classifier.class_names[c]) if s]
            vectors = F.normalize(encoder.encode(names).float(), dim=1).to(self.directions.device)
            gloss = None
            if self.glosses is not None and self.glosses[c]:
                gloss = F.normalize(encoder.encode([self.glosses[c]]).float(), dim=1)[0].to(self.directions.device)
            self._class_text[c] = (vectors, gloss)
        return self._class_text[c]

    def class_list(self, classes: Sequence[int]) -> list[int]:
        """``classes`` as a list of class indices, each checked (:meth:`class_index`: -1 is not the last class)."""
        if isinstance(classes, (str, bytes)) or an_index(classes) or not hasattr(classes, "__iter__"):
            raise TypeError(f"classes must be a list of classes (indices or names), got {classes!r:.60}")
        return [self.class_index(c, "classes") for c in classes]

    def positions(self, indices: Sequence[int]) -> list[int]:
        """``indices`` as a list of bank positions, or an error naming the first that is not one (a class name or a
        number beyond the bank failed in list's or torch's words; -1 would have been the last concept)."""
        if isinstance(indices, (str, bytes)) or not isinstance(indices, (Sequence, torch.Tensor)):
            raise TypeError(f"indices must be a list of bank positions (ints), got {indices!r:.60}")
        items = indices.tolist() if isinstance(indices, torch.Tensor) else indices
        out = [int(i) if an_index(i) else i for i in items]
        bad = [i for i in out if not an_index(i) or not 0 <= i < len(self.texts)]
        if bad:
            raise ValueError(f"indices must be positions in the bank (0 to {len(self.texts) - 1}), got {bad[0]!r}")
        return out

    def relevance(self, c: int) -> torch.Tensor:
        """How well each bank concept's text fits class ``c``'s definition [T]: the text encoder's cosine between the
        concept and the class's gloss (its bare names' mean when there is no gloss), floored at 0.01.

        The map sends any text near a class row when the *text* is near the class's name, so "payload" or "gulf" can
        carry a missile's logit; preferring concepts that fit what the class is keeps the explanation to things a
        person expects to see in such a photo."""
        c = self.class_index(c)
        if c not in self._relevance:
            names, gloss = self._names_and_gloss(c)
            reference = gloss if gloss is not None else F.normalize(names.mean(0), dim=0)
            self._relevance[c] = (self.text_embeddings() @ reference).clamp_min(0.01)
        return self._relevance[c]

    def echoes(self, indices: Sequence[int], c: int, margin: float = 0.1, floor: float = 0.35) -> torch.Tensor:
        """Which bank concepts (by index) echo class ``c``'s name rather than describe it: in the text encoder's own
        space, at least ``floor`` close to one of its bare names and closer to the names than to the class's gloss by
        more than ``margin`` ("gaboon viper" for baboon; without a gloss: at least ``floor + margin`` close), or made of
        a compound part of its names (:meth:`compounds`: "tall upright pole" for flagpole)."""
        indices, c = self.positions(indices), self.class_index(c)
        texts = self.text_embeddings()[indices]
        names, gloss = self._names_and_gloss(c)
        to_name = (texts @ names.T).max(1).values
        parts = torch.tensor(self.compounds(indices, c), dtype=torch.bool, device=texts.device)
        if gloss is None:
            return (to_name >= floor + margin) | parts
        return ((to_name >= floor) & (to_name > texts @ gloss + margin)) | parts

    def compounds(self, indices: Sequence[int], c: int) -> list[bool]:
        """Whether each bank concept (by index) is made of a compound part of class ``c``'s names: one of its words is
        a word of the names plus another word ("fireplace" for fire engine, "softball" for ping-pong ball), or the
        names' word is one of its words plus another ("tall upright pole" for flagpole, "white head" for headland).
        Parts have at least four letters, the other word at least three and known (:meth:`_vocabulary`); a part
        ending in "ing" is a suffix more often than a word ("shopping" is not "shop" + "ping"); "golden fur" for
        golden retriever (the same word) stays."""
        indices, c = self.positions(indices), self.class_index(c)
        related = self._compound_words(c)
        said = self._words_of()
        return [not related.isdisjoint(said[i]) for i in indices]

    def _compound_words(self, c: int) -> set[str]:
        """The bank's words that share a compound part with class ``c``'s names (see :meth:`compounds`)."""
        if c not in self._compound_cache:
            vocabulary = self._vocabulary()
            if self._with_part is None:  # part -> the bank's words made of it and another word
                self._with_part = {}
                for word in set().union(*self._words_of()):
                    for part in _parts(word, vocabulary):
                        self._with_part.setdefault(part, set()).add(word)
            names = {w for s in bare_synonyms(self.classifier.class_names[c]) for w in words(s)}
            related: set[str] = set()
            for name in names:
                related |= _parts(name, vocabulary) | self._with_part.get(name, set())
            self._compound_cache[c] = related
        return self._compound_cache[c]

    def _vocabulary(self) -> set[str]:
        """The words :meth:`compounds` knows: the default visual bank's, this bank's and the class names'."""
        if self._words is None:
            names = [s.lower() for name in self.classifier.class_names for s in bare_synonyms(name)]
            texts = [t.lower() for t in ConceptBank.visual().texts] + names
            self._words = {w for t in texts for w in words(t)}.union(*self._words_of())
        return self._words

    def _words_of(self) -> list[frozenset[str]]:
        """The words of each bank concept (lower case), split once for :meth:`compounds` and :meth:`naming_mask`."""
        if self._concept_words is None:
            self._concept_words = [frozenset(words(t)) for t in self._lower]
        return self._concept_words

    def other_sense(self, indices: Sequence[int], c: int, margin: float = 0.05, floor: float = 0.3) -> torch.Tensor:
        """Which bank concepts (by index) fit *another* sense of class ``c``'s names better than the class itself: in
        the text encoder's own space, at least ``floor`` close to the definition of one of those senses and closer to
        it than to the class's gloss by more than ``margin`` ("wind" for the bird kite: the toy kite is "flown in
        wind"; "glue" for a ring binder, whose other sense is a binding agent). All False without other senses or a
        gloss for ``c``."""
        indices, c = self.positions(indices), self.class_index(c)
        out = torch.zeros(len(indices), dtype=torch.bool, device=self.directions.device)
        others = self._other_senses_of(c)
        _, gloss = self._names_and_gloss(c)
        if others is None or gloss is None or not len(indices):
            return out
        texts = self.text_embeddings()[list(indices)]
        to_other = (texts @ others.T).max(1).values
        return (to_other >= floor) & (to_other > texts @ gloss + margin)

    def qualifier_echoes(
        self, indices: Sequence[int], c: int, margin: float = QUALIFIER_MARGIN, floor: float = QUALIFIER_FLOOR
    ) -> torch.Tensor:
        """Which bank concepts (by index) echo a word that *qualifies* class ``c``'s name rather than the class: in the
        text encoder's own space, at least ``floor`` close to one such word (:func:`qualifier_words`) and closer to it
        than to the class's gloss and to each of its descriptions (ImageNet classes; its names where it has neither)
        by more than ``margin``: "pyramid" for Egyptian cat, "fireplace" and "burning" for fire engine, "classroom"
        for school bus, "stadium" for football helmet. "golden" in golden retriever says what one sees, so "golden
        coat" stays. A description can shield an echo: "reindeer" stays for Siberian husky, whose description
        says "snow", and "chimney" for fire engine ("ladder on top"). All False for names of one word."""
        indices, c = self.positions(indices), self.class_index(c)  # -715 was class 285, a name failed in list's words
        if not len(indices) or self._qualifier_text(c)[0] is None:
            return torch.zeros(len(indices), dtype=torch.bool, device=self.directions.device)
        return self._echoes_qualifier(self.text_embeddings()[indices], c, margin, floor)

    def _echoes_qualifier(self, texts: torch.Tensor, c: int, margin: float, floor: float) -> torch.Tensor:
        """:meth:`qualifier_echoes` for unit text embeddings ``texts`` [N, m] of concepts (a class with qualifiers)."""
        qualifiers, references = self._qualifier_text(c)
        to_qualifier = (texts @ qualifiers.T).max(1).values
        return (to_qualifier >= floor) & (to_qualifier > (texts @ references.T).max(1).values + margin)

    def qualifier_mask(self) -> torch.Tensor:
        """[K, T] bool: ``[c, i]`` when concept ``i`` echoes a word that qualifies class ``c``'s name
        (:meth:`qualifier_echoes`), for every class at once: what a bottleneck recipe may not use. Computed once."""
        if self._qualifier_mask is None:
            texts = self.text_embeddings()  # the whole bank, not a copy per class
            mask = torch.zeros(self.classifier.num_classes, len(self.bank), dtype=torch.bool, device=texts.device)
            for c in range(self.classifier.num_classes):
                if self._qualifier_text(c)[0] is not None:
                    mask[c] = self._echoes_qualifier(texts, c, QUALIFIER_MARGIN, QUALIFIER_FLOOR)
            self._qualifier_mask = mask
        return self._qualifier_mask

    def _qualifier_text(self, c: int) -> tuple[torch.Tensor | None, torch.Tensor]:
        """Class ``c``'s qualifier words and what the class is (gloss and descriptions; its names where it has
        neither), encoded once (unit rows); (None, empty) when no word qualifies its name."""
        if c not in self._qualifiers:
            qualifiers = qualifier_words(self.classifier.class_names[c])
            if not qualifiers:  # most names: nothing to encode
                self._qualifiers[c] = (None, torch.zeros(0))
                return self._qualifiers[c]
            names, gloss = self._names_and_gloss(c)
            references = [] if gloss is None else [gloss[None]]
            encoder = self.mapper.text_encoder
            descriptions = self._descriptions_of(c)
            if descriptions:
                phrases = F.normalize(encoder.encode(descriptions).float(), dim=1)
                references.append(phrases.to(self.directions.device))
            if not references:  # neither gloss nor descriptions: what the class is, is only its names
                references.append(names)
            vectors = F.normalize(encoder.encode(qualifiers).float(), dim=1).to(self.directions.device)
            self._qualifiers[c] = (vectors, torch.cat(references))
        return self._qualifiers[c]

    def _other_senses_of(self, c: int) -> torch.Tensor | None:
        if c not in self._other_text:
            texts = [] if self.other_senses is None else self.other_senses[c]
            vectors = None
            if texts:
                vectors = F.normalize(self.mapper.text_encoder.encode(texts).float(), dim=1).to(self.directions.device)
            self._other_text[c] = vectors
        return self._other_text[c]

    def name_similarity(self) -> torch.Tensor:
        """[K, T]: each bank concept's text cosine with the nearest of each class's bare names, for every class from
        one encoder call (what :meth:`text_neighbours` ranks by)."""
        if self._name_similarity is None:
            groups = [[s for s in bare_synonyms(name) if s] or [name] for name in self.classifier.class_names]
            flat = [s for group in groups for s in group]
            vectors = F.normalize(self.mapper.text_encoder.encode(flat).float(), dim=1).to(self.directions.device)
            cosines = self.text_embeddings() @ vectors.T  # [T, all names]
            ends = list(accumulate(len(group) for group in groups))
            starts = [0, *ends[:-1]]
            self._name_similarity = torch.stack([cosines[:, a:b].max(1).values for a, b in zip(starts, ends)])
        return self._name_similarity

    def text_neighbour_indices(self, c: int | str, k: int = 5) -> list[int]:
        """Bank indices of the ``k`` concepts nearest class ``c``'s names in text space, nearest first: neither class
        names nor peoples, nor concepts that name the class in other words ("tabby cats" for tabby)."""
        index = self.class_index(c)
        k = positive_int(k, "k", "concepts")
        score = self.name_similarity()[index].masked_fill(self.excluded, -torch.inf)
        keep: list[int] = []
        for i in score.argsort(descending=True).tolist():
            if len(keep) == k or score[i] == -torch.inf:
                break
            if not self.mentions([i], [index])[0]:
                keep.append(i)
        return keep

    def text_neighbours(self, c: int | str, k: int = 5) -> list[str]:
        """The ``k`` bank concepts nearest class ``c``'s names in text space (:meth:`text_neighbour_indices`): what a
        text encoder alone would say about the class, a baseline for plausibility."""
        return [self.bank.texts[i] for i in self.text_neighbour_indices(c, k)]


def _parts(word: str, vocabulary: set[str]) -> set[str]:
    """The compound parts of ``word``: ``word`` is a part (at least four letters, not ending in "ing") followed or
    preceded by a known word of at least three letters ("fireplace" -> {"fire"}, "flagpole" -> {"flag", "pole"})."""
    out = set()
    for k in range(3, len(word) - 2):
        left, right = word[:k], word[k:]
        if len(left) >= 4 and not left.endswith("ing") and right in vocabulary:
            out.add(left)
        if len(right) >= 4 and not right.endswith("ing") and left in vocabulary:
            out.add(right)
    return out


_SPACES: OrderedDict[tuple, ConceptSpace] = OrderedDict()


def _say_peoples_left_out(texts: list[str]) -> None:
    """Warn that a user's bank holds concepts explanations never name, as naming a people, nationality, religion or
    group: the rule reads WordNet's first sense, which is sometimes a group for a word one sees ("church", "badger":
    a Wisconsinite), and a concept left out without a word would look like one the model never uses."""
    shown = ", ".join(repr(t) for t in texts[:5]) + (f" and {len(texts) - 5} more" if len(texts) > 5 else "")
    one = len(texts) == 1
    warn_user(
        f"{counted(len(texts), 'concept')} of the bank {'is' if one else 'are'} never named by explanations or "
        f"discovery: a word of {'it' if one else 'each'} is first of all a people, nationality, religion or group in "
        f"WordNet ({shown}; nlexnb.concepts.names_a_people)"
    )


def concept_space(classifier: Classifier | ConceptSpace, mapper: Mapper | None = None, concepts=None) -> ConceptSpace:
    """The concept space of (classifier, mapper, bank), reused across calls (the last four are kept), or ``classifier``
    itself when it already is one. Lets functions take ``(classifier, mapper, bank)`` or a space alike."""
    if isinstance(classifier, ConceptSpace):
        if mapper is not None or concepts is not None:
            given = next(v for v in (mapper, concepts) if v is not None)
            hint = (
                f"; numbers go in by keyword: n_concepts={given} for a bottleneck, k={given} for discovery"
                if a_number(given)
                else ""
            )
            raise ValueError(
                f"Pass a ConceptSpace alone, or a classifier with a mapper and a bank; got a ConceptSpace and "
                f"{type(given).__name__} {given!r}{hint}"
            )
        return classifier
    if a_number(mapper):
        raise TypeError(
            f"Got the number {mapper!r} where the mapper goes: pass (classifier, mapper, concepts) or a ConceptSpace, "
            "and numbers as keyword arguments (n_concepts=..., k=...)"
        )
    if mapper is None:
        raise TypeError("A concept space needs a mapper: concept_space(classifier, mapper, concepts)")
    if isinstance(concepts, Iterator):
        concepts = list(concepts)  # a generator, once: the key below would use it up and leave the bank empty
    if isinstance(concepts, os.PathLike) or (isinstance(concepts, str) and concepts not in BANKS):
        concepts = load_concepts(concepts)  # a file: what it holds now, wherever it is (an edited file is new texts)
        bank_key = ("file", concepts.name, tuple(concepts.texts))
    elif isinstance(concepts, ConceptBank):
        bank_key = ("bank", id(concepts))
    elif concepts is None or isinstance(concepts, str):
        bank_key = ("name", concepts)
    else:
        bank_key = ("texts", tuple(getattr(concepts, "texts", concepts)))
    key = (id(classifier), id(mapper), mapper.fingerprint, bank_key)
    if key not in _SPACES:
        plain = concepts is None or isinstance(concepts, (str, ConceptBank))
        _SPACES[key] = ConceptSpace(
            classifier, mapper, concepts if plain else list(getattr(concepts, "texts", concepts))
        )
        while len(_SPACES) > 4:
            _SPACES.popitem(last=False)
    _SPACES.move_to_end(key)
    return _SPACES[key]
