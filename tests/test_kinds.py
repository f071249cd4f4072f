"""Which animal a concept names, and whether a class is of that kind: WordNet's hierarchy, packaged."""

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nlexnb.concepts import ConceptBank
from nlexnb.kinds import (
    COLOURS,
    animal_named,
    animal_part_named,
    another_animal,
    another_animals_covering,
    class_animals,
    colours_named,
    colours_said,
    covering_named,
    kinds_of,
    mentioned,
    thing_named,
    unknown_colour,
    words_of,
)
from nlexnb.labels import imagenet_class_names, singular


@pytest.mark.parametrize(
    ("text", "sense"),
    [
        ("small poodles", "poodle.n.01"),  # the head noun, singular
        ("large poodle", "large_poodle.n.01"),  # WordNet names it: the standard poodle
        ("large great ape", "great_ape.n.01"),  # a two-word animal before its last word
        ("bird", "bird.n.01"),
        ("kitten", "cat.n.01"),  # a young animal is the animal it grows into (WordNet files it under young mammals)
        ("lambs", "sheep.n.01"),
        ("striped fur", None),  # a covering, filed with the animals by WordNet, is not one
        ("white tail", None),  # a tail, not the white-tailed deer
        ("long beak", None),
        ("hot dog", None),  # no sense of these two words is an animal
        ("large teddy bear", None),
        ("rocking horse", None),
        ("smoked salmon", "salmon.n.01"),  # a fish as food is still the fish to a reader
        ("", None),
    ],
)
def test_the_animal_a_concept_names(text, sense):
    assert animal_named(text) == sense


def test_kinds_go_up_to_animal():
    assert {"dog.n.01", "carnivore.n.01", "mammal.n.01", "animal.n.01"} <= kinds_of("poodle.n.01")
    assert "cat.n.01" not in kinds_of("poodle.n.01")


def test_imagenet_classes_use_their_own_wordnet_sense_and_other_names_their_head_noun():
    names = imagenet_class_names()
    senses = class_animals(names)
    assert len(senses) == 1000 and sum(s is not None for s in senses) == 398  # ImageNet-1k's animals
    assert senses[names.index("hen")] == "hen.n.02" and senses[names.index("espresso")] is None
    assert class_animals(["tabby cat", "sports car", "crane"]) == [animal_named("tabby cat"), None, None]


def test_a_head_that_renames_a_few_imagenet_classes_keeps_the_others_senses():
    """Renaming one class switched all 1,000 to head-noun guesses: "hotdog, hot dog, red hot" became a dog, and its
    explanations refused sausage and bun as things a dog's photo does not show."""
    names = imagenet_class_names()[:999] + ["toilet paper"]
    senses = class_animals(names)
    assert senses[:999] == class_animals(imagenet_class_names())[:999]
    assert senses[names.index("hotdog, hot dog, red hot")] is None and senses[999] is None
    assert class_animals(["computer mouse", "teddy bear", "hot dog", "mouse"]) == [None, None, None, "mouse.n.01"]


def test_another_animal_unless_one_is_a_kind_of_the_other():
    ice_bear = class_animals(imagenet_class_names())[296]
    assert another_animal(animal_named("reindeer"), ice_bear)
    assert not another_animal(animal_named("very large bear"), ice_bear)  # the class is a bear
    assert not another_animal(animal_named("large poodle"), animal_named("dog"))  # a kind of the class
    assert not another_animal(None, ice_bear) and not another_animal(animal_named("reindeer"), None)


def test_bottleneck_recipes_never_use_another_animal(classifier, mapper):
    import nlexnb

    bank = ["reindeer", "large poodle", "bear", "white fur", "snow", "black nose", "ice", "paws"]
    space = nlexnb.space.ConceptSpace(classifier, mapper, bank)
    mask = space.animal_mask()
    ice_bear = classifier.class_index("ice bear")
    assert mask.shape == (1000, len(bank)) and mask[ice_bear].tolist() == [True, True] + [False] * 6
    assert not mask[classifier.class_index("espresso")].any()  # not an animal: nothing refused
    cbm = nlexnb.bottleneck.concept_bottleneck(space, n_concepts=3)
    assert not {"reindeer", "large poodle"} & set(cbm.recipe("ice bear").table["concept"])


def test_parts_only_other_animals_have_unless_the_class_text_names_them(classifier, mapper):
    import nlexnb

    bank = ["long muscular arms", "powerful limbs", "thumb", "three sharp horns", "pointed wings", "conical snout"]
    space = nlexnb.space.ConceptSpace(classifier, mapper, bank)
    gar = classifier.class_index("gar")
    assert space.other_animals(range(len(bank)), [gar]) == [True] * 5 + [False]  # a fish has none of those
    gibbon = classifier.class_index("gibbon")
    assert space.other_animals(range(len(bank)), [gibbon])[:3] == [False] * 3  # arms, limbs and thumbs: a primate's
    triceratops = classifier.class_index("triceratops")  # "huge ceratopsian dinosaur having three horns ..."
    assert space.other_animals(range(len(bank)), [triceratops]) == [True, False, True, False, True, False]  # limbs
    assert space.animal_mask()[gar].tolist() == [True] * 5 + [False]


WORDS = ConceptBank.default().texts + ["large poodle", "kitten", "great ape", "young lambs", "white tail", "dun"]


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.sampled_from(WORDS), st.text(alphabet="abcdeilnoprstuwy -", max_size=30)), st.integers(0, 999))
def test_any_text_names_at_most_one_animal_and_the_rule_is_symmetric(text, c):
    sense = animal_named(text)
    assert sense is None or "animal.n.01" in kinds_of(sense)  # an animal, never a feather or a tail
    class_sense = class_animals(imagenet_class_names())[c]
    assert another_animal(sense, class_sense) == another_animal(class_sense, sense)
    assert not another_animal(sense, sense)  # a class is never another animal than itself


def test_what_only_other_animals_have_is_another_animal_too(classifier, mapper):
    import nlexnb

    senses = class_animals(imagenet_class_names())
    cheetah, hen = senses[classifier.class_index("cheetah")], senses[classifier.class_index("hen")]
    assert covering_named("spotted plumage") == ("bird.n.01",) and covering_named("striped tail") is None
    assert another_animals_covering(covering_named("spotted plumage"), cheetah)  # a cheetah has no plumage
    assert not another_animals_covering(covering_named("brown plumage"), hen)
    assert not another_animals_covering(covering_named("spotted fur"), cheetah)
    bank = ["spotted plumage", "orange beak", "spotted fur", "spotted shell", "black tear marks"]
    space = nlexnb.space.ConceptSpace(classifier, mapper, bank)
    refused = [True, True, False, True, False]
    assert space.other_animals(range(len(bank)), [classifier.class_index("cheetah")]) == refused
    assert space.animal_mask()[classifier.class_index("cheetah")].tolist() == refused


@pytest.mark.parametrize(
    ("text", "thing"),
    [
        ("walnut", "walnut"),  # food
        ("wooden bench", "bench"),  # an object, by its head noun
        ("dark crust", "crust"),  # a landform
        ("green leaves", "leaf"),  # a plant, in the singular
        ("farmer", "farmer"),  # a person
        ("dark metal", "metal"),  # a material
        ("golden seeds", "seed"),  # a plant: WordNet's fifth sense, semen, is not what a reader thinks of
        ("white fleece", "fleece"),  # a material first; a sheep's or a llama's description names it, so it stays there
        ("curved horns", None),  # a part of an animal, though a horn is first of all an instrument
        ("gray coat", None),  # an animal's coat, though a coat is first of all a garment
        ("black stripes", None),  # a marking
        ("olive", None),  # a colour
        ("striped fur", None),
        ("white flesh", "flesh"),  # inside an animal: no photo of a living one shows it
        ("carcass", "carcass"),
        ("compact frame", "frame"),  # an object first; a body's build is a figure of speech, not what one points at
        ("", None),
    ],
)
def test_the_thing_a_concept_names(text, thing):
    assert thing_named(text) == thing


def test_a_thing_is_mentioned_by_a_word_or_the_start_of_one():
    koala = words_of(["eucalyptus branch", "tree fork", "feeds on eucalyptus leaves and bark"])
    assert mentioned("tree", koala) and mentioned("leaf", koala) and not mentioned("bench", koala)
    assert mentioned("wool", words_of(["woolly fleece"])) and mentioned("bench", words_of(["park benches"]))
    assert not mentioned("fur", words_of(["furniture"]))  # a short word only as a whole word
    # a longer word says a shorter one only through an ending: horned, spotted, feathery; a beaker has no beak
    assert mentioned("horn", words_of(["horned"])) and mentioned("spot", words_of(["spotted coat"]))
    assert mentioned("feather", words_of(["feathery"])) and not mentioned("beak", words_of(["glass beaker"]))


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.sampled_from(WORDS), st.text(alphabet="abcdeilmnoprstuwy -", max_size=30)))
def test_a_thing_is_never_an_animal_nor_an_animal_part(text):
    thing = thing_named(text)
    assert thing is None or (animal_named(text) is None and covering_named(text) is None)
    last = re.findall(r"[a-z]+", text.lower())[-1:]
    assert thing is None or thing in (last[0], singular(last[0]))  # the text's own head noun, never another word


@pytest.mark.parametrize(
    ("text", "families"),
    [
        ("dense black coat", [{"black"}]),
        ("silver tail", [{"gray"}]),  # a near colour counts as its family
        ("rusty orange fur", [{"brown", "orange", "red"}, {"orange"}]),
        ("fine stripes", [{"stripes"}]),
        ("spotted tail", [{"spots"}]),
        ("black-and-white", [{"black"}, {"white"}]),
        ("white sand", [{"white"}]),  # "sand" names a colour only in front of a noun or on its own
        ("sand", [{"brown"}]),
        ("gold ring", [{"yellow"}]),  # a ring, not a ringed pattern
        ("wooden bench", []),
        ("pale mane", []),  # pale, dark and bright say how light, not which colour
    ],
)
def test_the_colours_and_markings_a_concept_names(text, families):
    assert [set(f) for f in colours_named(text)] == families


def test_every_colour_of_the_visual_bank_has_a_family_but_the_colourless():
    from nlexnb.concepts import VISUAL_BANK_FILE

    rows = [line.split("\t") for line in VISUAL_BANK_FILE.read_text(encoding="utf-8").splitlines()[1:]]
    colours = [concept for concept, kind in rows if kind == "colour"]
    assert len(colours) > 50
    unnamed = [c for c in colours if not colours_named(c)]
    assert unnamed == ["bleach", "bone", "complementary", "pastel", "snuff-color", "snuff-colour"]
    assert thing_named("bone") == "bone"  # inside an animal, so refused for one unless its text says so
    assert [set(f) for f in colours_named("peach")] == [{"orange", "pink"}]  # a fruit first, and a colour


def test_a_class_knows_the_colours_its_text_names():
    jaguar = colours_said(["jaguar, panther", "a large spotted feline", "golden coat", "large rosettes with spots"])
    assert jaguar == {"spots", "yellow"}
    assert unknown_colour(colours_named("fine stripes"), jaguar) and unknown_colour(colours_named("pink skin"), jaguar)
    assert not unknown_colour(colours_named("spotted tail"), jaguar) and not unknown_colour((), jaguar)
    lemur = colours_said(["Madagascar cat, ring-tailed lemur", "grey fur", "black and white bands"])
    assert not unknown_colour(colours_named("silver tail"), lemur)  # grey and silver are one family
    assert not unknown_colour(colours_named("ringed tail"), lemur)  # "ring-tailed", "bands": the same marking


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.sampled_from(WORDS), st.text(alphabet="abcdegiklnoprstuwy -", max_size=30)))
def test_a_text_always_has_its_own_colours(text):
    named = colours_named(text)
    assert not unknown_colour(named, colours_said([text]))
    assert len(named) <= len(re.findall(r"[a-z]+", text.lower()))  # at most one colour per word
    assert all(f and f <= set(COLOURS) for f in named)


def test_an_animal_is_explained_only_in_colours_and_markings_it_is_known_to_have(classifier, mapper, encoder):
    import torch

    import nlexnb

    bank = ["fine stripes", "pink skin", "spotted tail", "golden coat", "glossy skin", "silver handle", "flesh"]
    space = nlexnb.space.ConceptSpace(classifier, mapper, bank)
    jaguar, tiger, hammer = (classifier.class_index(n) for n in ("jaguar", "tiger", "hammer"))
    assert space.unlisted_colours(range(len(bank)), [jaguar]) == [True, True, False, False, False, True, False]
    assert space.unlisted_colours(range(2), [jaguar, tiger]) == [False, True]  # a contrast: either class vouches
    assert not any(space.unlisted_colours(range(len(bank)), [hammer]))  # an object comes in any colour
    assert space.unlisted_things(range(len(bank)), [jaguar])[-1]  # nor the inside of an animal
    explainer = nlexnb.Explainer(space)
    assert explainer.resemblances(range(len(bank)), [jaguar])[:2] == [True, True]
    assert nlexnb.Explainer(space, unlisted_colours=True).resemblances(range(2), [jaguar]) == [False, False]
    with pytest.raises(TypeError, match="unlisted_colours must be True or False, got 'no'"):
        nlexnb.Explainer(space, unlisted_colours="no")
    # a class of your own, with no description: nothing says which colours it has, so none is refused
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 3))
    own = nlexnb.load_classifier(model, head="1", class_names=["tabby cat", "dog", "boat"], transform=lambda im: im)
    own_space = nlexnb.space.ConceptSpace(own, nlexnb.fit_mapper(own, encoder), bank)
    assert not any(own_space.unlisted_colours(range(len(bank)), [0]))


def test_an_object_is_never_explained_by_what_only_animals_have(classifier, mapper):
    import nlexnb

    assert animal_part_named("white plumage") == "plumage" and animal_part_named("silver beaks") == "beak"
    assert animal_part_named("wooden legs") is None and animal_part_named("red coat") is None  # chairs, garments
    bank = ["white plumage", "silver beak", "mottled mane", "feathers", "wooden legs", "red roof"]
    space = nlexnb.space.ConceptSpace(classifier, mapper, bank)
    palace, boa = classifier.class_index("palace"), classifier.class_index("feather boa")
    assert space.unlisted_things(range(len(bank)), [palace]) == [True, True, True, True, False, False]
    assert space.unlisted_things(range(len(bank)), [boa])[3] is False  # "a long thin fluffy scarf of feathers"
    assert not any(space.unlisted_things(range(4), [classifier.class_index("macaw")]))  # a bird's own


def test_a_mane_is_a_horses_a_lions_or_a_camels_unless_the_class_text_names_one(classifier, mapper):
    import nlexnb

    space = nlexnb.space.ConceptSpace(classifier, mapper, ["striped mane", "pale mane"])
    refused = {n: space.other_animals(range(2), [classifier.class_index(n)]) for n in ("cheetah", "wallaby", "zebra")}
    assert refused == {"cheetah": [True, True], "wallaby": [True, True], "zebra": [False, False]}
    assert space.other_animals(range(2), [classifier.class_index("Arabian camel")]) == [False, False]
    assert space.other_animals(range(2), [classifier.class_index("bison")]) == [False, False]  # "shaggy manes"


def test_coats_are_for_mammals_and_birds_and_feathered_for_birds(classifier, mapper):
    import nlexnb

    bank = ["waterproof coat", "feathered", "furry", "short glossy black coat"]
    space = nlexnb.space.ConceptSpace(classifier, mapper, bank)
    tench, meerkat, stork = (classifier.class_index(n) for n in ("tench", "meerkat", "black stork"))
    assert space.other_animals(range(4), [tench]) == [True, True, True, True]  # a fish has none of those
    assert space.other_animals(range(4), [meerkat]) == [False, True, False, False]
    assert space.other_animals(range(4), [stork]) == [False, False, True, False]


def test_words_with_accents_are_words_and_plain_colour_words_name_colours():
    """ "crème brûlée" was read as the words cr, me, br, l, e; "light beige" and "pale cyan" named no colour, so an
    animal could be explained by a colour its description does not give."""
    from nlexnb.kinds import colours_named, concept_words

    assert concept_words("Crème brûlée") == {"crème", "brûlée"}
    assert colours_named("light beige") == (frozenset({"brown"}),)
    assert colours_named("pale cyan fur") == (frozenset({"blue"}),)


def test_every_reader_of_names_splits_words_of_any_script_alike():
    """Head nouns, qualifiers and the words of a bank were read as ASCII runs: "crème brûlée" had the head "e"."""
    from nlexnb.labels import head_word, name_heads, words
    from nlexnb.space import qualifier_words

    assert words("Black-and-white 4x4 café") == ["black", "and", "white", "x", "café"]
    assert head_word("crème brûlées") == "brûlée"
    assert name_heads("crème brûlée, caramel custard") == {"brûlée", "custard"}
    assert qualifier_words("Égyptian cat") == ["égyptian"]


def test_a_single_string_where_a_list_of_texts_goes_is_refused():
    """Iterated, a string is its letters: "white bear" named no colour, "abc" was joined as "a, b and c", and a word
    was "mentioned" in any text holding its letters."""
    from nlexnb import kinds, labels

    assert kinds.colours_said(["white bear"]) == {"white"}
    for call in (
        lambda: kinds.colours_said("white bear"),
        lambda: kinds.words_of("striped fur"),
        lambda: kinds.class_animals("tabby cat"),
        lambda: kinds.mentioned("a", "fur coat"),
        lambda: labels.joined("abc"),
        lambda: labels.disambiguate("abca"),
    ):
        with pytest.raises(TypeError, match="must be a list of texts, got the single string"):
            call()
