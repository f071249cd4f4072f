"""Which animal a concept names, and whether a class is of that kind (WordNet, read once from packaged data).

A concept direction is an interpolation of the class rows whose names it resembles, so a photo "shows" another
animal's name as soon as it looks a little like that animal: explained by their scores alone, a gorilla is a "large
poodle", a polar bear a "reindeer", a penguin a "large pheasant". No person would point at those in the photo. So
an explanation of a class that is an animal names an animal only where one of the two is a kind of the other: "bird"
or "brown hen" for a hen, "very large bear" for a polar bear, "large poodle" for the class "dog"; never a different
animal. Nor does it name what only other animals have ("spotted plumage" for a cheetah), nor a thing its photos do
not show: an object, food, plant, person, shape, landform or material that the class's own names, gloss and
descriptions do not mention ("walnut", "brace" and "bench" for a koala; "bamboo" stays for a giant panda). Built by
``scripts/build_visual_bank.py`` into ``data/animal_kinds.json``; nothing here needs WordNet.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cache
from importlib.resources import files

from ._checks import not_one_string
from .labels import bare_synonyms, imagenet_class_names, singular
from .labels import words as _words

KINDS_FILE = "animal_kinds.json"
_LIMBED = ("amphibian.n.03", "reptile.n.01", "bird.n.01", "mammal.n.01", "arthropod.n.01")
COVERINGS: dict[str, tuple[str, ...]] = {
    "feather": ("bird.n.01",),
    "plumage": ("bird.n.01",),
    "beak": ("bird.n.01",),
    "talon": ("bird.n.01",),
    "comb": ("bird.n.01",),
    "wing": ("bird.n.01", "insect.n.01", "bat.n.01"),
    "fur": ("mammal.n.01",),
    "furry": ("mammal.n.01",),
    "coat": ("mammal.n.01", "bird.n.01"),
    "feathered": ("bird.n.01",),
    "ear": ("mammal.n.01",),
    "muzzle": ("mammal.n.01",),
    "snout": ("mammal.n.01", "reptile.n.01", "fish.n.01", "amphibian.n.03"),
    "beard": ("goat.n.01",),
    "mane": ("equine.n.01", "lion.n.01", "camel.n.01"),
    "rump": ("deer.n.01", "antelope.n.01", "equine.n.01", "baboon.n.01"),
    "paw": ("mammal.n.01",),
    "thumb": ("mammal.n.01",),
    "arm": ("mammal.n.01", "cephalopod.n.01", "echinoderm.n.01"),
    "leg": _LIMBED,
    "limb": _LIMBED,
    "claw": ("reptile.n.01", "bird.n.01", "mammal.n.01", "arthropod.n.01"),
    "hoof": ("ungulate.n.01",),
    "horn": ("bovid.n.01", "rhinoceros.n.01", "giraffe.n.01"),
    "antler": ("deer.n.01",),
    "tusk": ("proboscidean.n.01", "walrus.n.01", "swine.n.01", "narwhal.n.01"),
    "fin": ("fish.n.01", "cetacean.n.01"),
    "shell": ("chelonian.n.01", "mollusk.n.01", "arthropod.n.01"),
    "antenna": ("arthropod.n.01",),
    "antennae": ("arthropod.n.01",),
    "tentacle": ("cephalopod.n.01", "coelenterate.n.01"),
}
"""What only some animals have, by the head noun (or adjective) that names it, and the kinds that have it: a cheetah
has no "spotted plumage", a goldfish no "orange beak", a gar no "long muscular arms" nor "powerful limbs", a wallaby
no "thick horns", a jaguar no "glossy wings", a tench no "waterproof coat", a meerkat is not "feathered", a penguin
has no "broad rounded snout" nor "short ears"; a mane is a horse's, a lion's or a camel's (not a cheetah's
"striped mane"); a beard is a goat's (a polar bear has no "full beard"), a rump one
points at a deer's, an antelope's, a horse's or a baboon's (not a llama's "pale rump"). A reader's knowledge,
written here because WordNet's part-of links are too sparse to say it (no animal holds a beak there). A class whose
own names, gloss or descriptions mention the part keeps it (the triceratops's "three horns", a ray's "wings", a
bison's "beard": :meth:`nlexnb.space.ConceptSpace.other_animals`)."""


@cache
def _table() -> dict:
    return json.loads(files("nlexnb").joinpath("data", KINDS_FILE).read_text(encoding="utf-8"))


def animal_named(text: str) -> str | None:
    """The WordNet sense of the animal a concept or name ends in ("small poodles" -> "poodle.n.01", "large great ape"
    -> "great_ape.n.01"), or None when its head noun is not first of all an animal ("striped fur", "crane") or its
    last two words name something else ("hot dog", "teddy bear", "rocking horse": no sense of them is an animal)."""
    words = _words(text)
    if not words:
        return None
    words[-1] = singular(words[-1])
    lemmas = _table()["lemmas"]
    head = lemmas.get(words[-1])
    if head is not None and len(words) > 1:  # "great ape", "wading bird"; not "white tail" (a tail, not a deer)
        pair = f"{words[-2]} {words[-1]}"
        return None if pair in _not_animals() else lemmas.get(pair, head)  # "hot dog", "teddy bear": no animal
    return head


@cache
def _not_animals() -> frozenset[str]:
    return frozenset(_table()["not_animals"])


def covering_named(text: str) -> tuple[str, ...] | None:
    """The kinds of animal that have what a concept ends in (:data:`COVERINGS`: "spotted plumage" -> birds), or
    None when its head noun is not one of those."""
    words = _words(text)
    return COVERINGS.get(singular(words[-1])) if words else None


INSIDE = frozenset(
    "flesh muscle bone skeleton skull blood organ heart brain liver stomach gut intestine lung kidney marrow vein "
    "artery nerve tissue entrails innards carcass".split()
)
"""What is inside an animal, or left of a dead one: no photo of a living animal shows it, and WordNet files these
under the body, which keeps them out of the things of ``data/animal_kinds.json``. Read on the plausibility photos,
"flesh" named for an animal was never visible ("white flesh" for a polar bear, "golden flesh" for a jaguar). They
count as things (:func:`thing_named`), so a class whose text mentions one keeps it."""


ANIMALS_ONLY = frozenset("mane plumage feather beak talon snout hoof antler tusk paw whisker".split())
"""What only animals have: an object's explanation names one only where the object's own text does (a feather boa's
feathers). Read on the plausibility photos, such concepts named for objects were never visible ("white plumage" for
a palace, "silver beak" for a Petri dish, "mottled mane" for a moped). A muzzle, a coat, fur, legs, arms, wings,
horns, tails and shells are left out: guns, garments, chairs, aircraft, cars and boxes have them too."""


def animal_part_named(text: str) -> str | None:
    """The head noun of a concept when it is what only animals have (:data:`ANIMALS_ONLY`: "white plumage" ->
    "plumage", "silver beak" -> "beak"), else None ("wooden legs", "red coat")."""
    words = _words(text)
    head = singular(words[-1]) if words else None
    return head if head in ANIMALS_ONLY else None


@cache
def _things() -> dict[str, str]:
    table = {word: kind for kind, words in _table()["things"].items() for word in words}
    return table | {word: "inside" for word in INSIDE}


def thing_named(text: str) -> str | None:
    """The head noun of a concept when it is first of all a thing an animal's photo seldom shows: an object, food,
    plant, person, shape, landform or material ("dark crust" -> "crust", "walnut", "wooden bench" -> "bench", "dark
    metal" -> "metal"), or what is inside an animal (:data:`INSIDE`: "white flesh" -> "flesh"); None for any other
    ("gray fur", "curved horns", "black stripes", "olive": parts, coverings, markings and colours of animals; see
    ``THINGS`` in ``scripts/build_visual_bank.py``)."""
    words = _words(text)
    if not words:
        return None
    table = _things()
    for word in dict.fromkeys((singular(words[-1]), words[-1])):
        if word in table:
            return word
    return None


_ENDINGS = frozenset({"s", "es", "ed", "d", "y", "ly", "ey", "ing", "ish", "less"})
"""What may follow a word for a longer word to still say it: "horned", "woolly", "spotted" (the consonant doubled),
"feathery"; not "beaker" (a beak?), "furniture", "cowl"."""


def words_of(texts: Sequence[str]) -> frozenset[str]:
    """The words of ``texts``, lower case, each as written and in the singular, and their beginnings of four letters
    or more that only an ending of :data:`_ENDINGS` follows: what :func:`mentioned` looks a word up in ("feeds on
    leaves" -> feeds, feed, on, leaves, leaf, leav; "horned" -> horn; "beaker" gives no "beak")."""
    not_one_string(texts, "texts")
    words = set()
    for text in texts:
        for w in _words(text):
            for form in (w, singular(w)):
                words.add(form)
                for n in range(4, len(form)):
                    rest = form[n:]
                    if rest in _ENDINGS or (rest[0] == form[n - 1] and rest[1:] in _ENDINGS):
                        words.add(form[:n])
    return frozenset(words)


_SPELLINGS = {"grey": "gray", "colour": "color"}  # "iron-grey" is "iron-gray" said again
_FUNCTION_WORDS = frozenset("a an the of and or with in on at to for by from very".split())


def concept_words(text: str) -> frozenset[str]:
    """The words a concept says, in all their forms (:func:`words_of`: "stripes" and "striped" both say "stripe"),
    one spelling each ("grey" is "gray"), without function words ("with", "very"): what a discovery table says once,
    and what a concept may not repeat of a free direction's label."""
    if not isinstance(text, str):  # a list would be read as one text, None fail deep inside
        raise TypeError(
            f"concept_words takes one concept text (a str, such as 'striped fur'), got {type(text).__name__} "
            f"{text!r:.80}; for a list, call it once per text"
        )
    return frozenset(_SPELLINGS.get(w, w) for w in words_of([text])) - _FUNCTION_WORDS


def mentioned(word: str, words: frozenset[str]) -> bool:
    """Whether ``word`` is one of ``words`` (:func:`words_of`), or begins one with an ending and has four letters or
    more: "tree" in "tree fork", "leaf" in "feeds on leaves", "wool" in "woolly fleece"; not "fur" in "furniture",
    nor "beak" in "beaker"."""
    not_one_string(words, "words")  # a string matched any of its substrings
    return word in words


@cache
def kinds_of(sense: str) -> frozenset[str]:
    """``sense`` and every sense above it ("poodle.n.01" -> poodle, dog, canine, carnivore, ..., animal)."""
    parents = _table()["parents"]
    out, todo = set(), [sense]
    while todo:
        s = todo.pop()
        if s not in out:
            out.add(s)
            todo.extend(parents.get(s, ()))
    return frozenset(out)


def class_animals(class_names: Sequence[str]) -> list[str | None]:
    """Each class's animal sense, in class order: ImageNet-1k's from its WordNet id for a name that is an ImageNet-1k
    class's, else the first synonym whose head noun names an animal ("tabby cat" -> "cat.n.01"; not "hot dog" nor
    "teddy bear": :func:`animal_named`); None for a class that is not an animal (an explanation of it names an
    animal only where its text does: a dog sled's dogs)."""
    not_one_string(class_names, "class_names")
    imagenet = imagenet_class_names()
    if list(class_names) == imagenet:
        return list(_table()["imagenet"])
    known = dict(zip(imagenet, _table()["imagenet"]))  # a head that renamed a few classes keeps the others' senses
    return [known[name] if name in known else _first_animal(name) for name in class_names]


def _first_animal(name: str) -> str | None:
    return next(filter(None, (animal_named(s) for s in bare_synonyms(name))), None)


def another_animal(concept_sense: str | None, class_sense: str | None) -> bool:
    """True when a concept names an animal that the class is not a kind of, nor a kind of the class."""
    if concept_sense is None or class_sense is None:
        return False
    return concept_sense not in kinds_of(class_sense) and class_sense not in kinds_of(concept_sense)


def another_animals_covering(owners: Sequence[str] | None, class_sense: str | None) -> bool:
    """True when a concept names what only other animals have (``owners``, from :func:`covering_named`): plumage
    for a cheetah."""
    if not owners or class_sense is None:
        return False
    return not set(owners) & kinds_of(class_sense)


COLOURS: dict[str, tuple[str, ...]] = {
    family: tuple(words.split())
    for family, words in {
        "gray": "gray grey grayish greyish silver silvery ash ashen slate charcoal pewter",
        "white": "white whitish whiteness snowy snow cream creamy ivory pearl pearly milky chalk",
        "black": "black blackish blackness ebony jet inky sooty charcoal",
        "brown": "brown brownish tan tawny chestnut fawn buff beige sandy sand dun hazel chocolate bronze rust rusty "
        "coffee umber sepia mahogany cinnamon caramel khaki drab wheat",
        "yellow": "yellow yellowish gold golden amber blond blonde canary lemon mustard tawny saffron maize wheat "
        "straw",
        "orange": "orange orangish orangey ginger tangerine rust rusty copper amber apricot peach saffron",
        "red": "red reddish ruddy scarlet crimson ruby cardinal maroon burgundy cherry rust rusty brick vermilion wine",
        "pink": "pink pinkish rose rosy salmon coral magenta fuchsia peach heather",
        "purple": "purple purplish violet lavender lilac magenta mauve plum heather wine",
        "blue": "blue bluish azure navy sapphire teal aqua turquoise cobalt indigo cyan",
        "green": "green greenish olive jade emerald lime teal khaki",
        "stripes": "striped stripes stripe stripy banded bands barred streaked streaks ringed rings ring",
        "spots": "spotted spots spot speckled dotted dots rosettes rosette mottled dappled blotched blotches flecked "
        "freckled",
    }.items()
}
"""Colours and markings, by family, and the words that name them. An animal's explanation names a colour or marking
only where the class's own description has one of the same family (:func:`colours_said`): a jaguar ("golden coat",
"large rosettes with spots") is not explained by "fine stripes" nor "pink skin", a macaw ("bright red feathers",
"blue and yellow wings") keeps "golden plumage" and loses "gray plumage". Near colours share a family ("silver" is
a gray, "rusty" a brown, an orange and a red), so a description's wording does not decide. Words that are first of
all things ("sand", "salmon", "ring") name a colour only as the first words of a concept or on their own
(:func:`colours_named`): "pink salmon" is a pink, "white sand" a white and not a brown. Every colour of the visual
bank is in a family but the colourless ("pastel", "complementary", "bleach") and "bone", which is inside an animal
(:data:`INSIDE`), so a colour word that is also a thing ("peach", "heather", "wheat") cannot pass as neither."""

_ADJECTIVES = frozenset(
    "gray grey grayish greyish silvery ashen white whitish snowy creamy pearly milky black blackish inky sooty brown "
    "brownish tawny sandy rusty yellow yellowish golden blond blonde orange orangish orangey red reddish ruddy scarlet "
    "crimson maroon pink pinkish rosy magenta fuchsia purple purplish violet lavender mauve blue bluish azure green "
    "greenish striped stripes stripe stripy banded bands barred streaked streaks ringed rings spotted spots speckled "
    "dotted dots rosettes rosette mottled dappled blotched blotches flecked freckled beige cyan".split()
)  # colour words that are not first of all things: they name a colour or marking wherever they stand
_FAMILIES: dict[str, frozenset[str]] = {}
for _family, _members in COLOURS.items():
    for _word in _members:
        _FAMILIES[_word] = _FAMILIES.get(_word, frozenset()) | {_family}


def colours_named(text: str) -> tuple[frozenset[str], ...]:
    """The colours and markings a concept names, each as the families of :data:`COLOURS` its word belongs to
    ("dense black coat" -> ({"black"},), "rusty orange fur" -> ({"brown", "orange", "red"}, {"orange"}), "white
    sand" -> ({"white"},), "wooden bench" -> ())."""
    words = _words(text)
    return tuple(
        _FAMILIES[w]
        for n, w in enumerate(words)
        if w in _FAMILIES and (w in _ADJECTIVES or n < len(words) - 1 or len(words) == 1)
    )


def colours_said(texts: Sequence[str]) -> frozenset[str]:
    """Every family of :data:`COLOURS` that ``texts`` name a word of, wherever it stands: a class's known colours
    and markings, from its names, gloss and description ("white bear of Arctic regions", "thick white fur", "black
    nose" -> {"white", "black"})."""
    not_one_string(texts, "texts")
    return frozenset(f for text in texts for w in _words(text) for f in _FAMILIES.get(w, ()))


def unknown_colour(named: Sequence[frozenset[str]], known: frozenset[str]) -> bool:
    """True when one of the colours or markings a concept names (:func:`colours_named`) shares no family with a
    class's known ones (:func:`colours_said`)."""
    return any(not families & known for families in named)
