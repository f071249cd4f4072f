"""Plausibility: would a person looking at the photo accept the named concepts as evidence?

Faithfulness (:mod:`nlexnb.metrics`) proves that named concepts carry the logit; it cannot tell evidence from an echo
of the class name ("baboon because gaboon viper"). This module measures what a reader sees:

- **read share**: where the (photo, concept) pair was read by looking at the photo
  (``nlexnb/data/plausibility_labels.json``, about 3,800 pairs), the share read as visible in the photo;
- **plausible share**: each named concept is compared, by a *judge* text encoder that is not the one explaining,
  with an evidence list written by looking at its photo ("red cup", "brown foam", "wooden table": the data file
  ``nlexnb/data/plausibility_evidence.json``, 50 cut-out photos, and ``plausibility_whole_photos.json``, 35 whole
  photos); a concept counts as plausible when its best match reaches :data:`JUDGE_THRESHOLD`, a cosine calibrated
  against those readings;
- **leak rate**: named concepts that are spelling neighbours of the explained class's (or foil's) names ("gaboon"
  for "baboon"), say a word that qualifies them ("blunt face" for face powder), or words of another sense of them
  ("wind" or "paper" for the bird kite, from the other WordNet synsets that share the name). The tests read letters
  and WordNet, never an encoder, so they are independent of the explainer's own filters (the qualifying words
  count every repeat, also where the class's photos show the thing: an upper bound);
- **peoples**: concepts that contain a word naming a people, nationality, ethnic or religious group (must be zero).

:func:`plausibility_report` runs the explainer on the evidence photos and puts its numbers beside baselines measured
in the same run: random bank concepts, the most frequent named concepts, and the class's nearest concepts in text
space.
"""

from __future__ import annotations

import difflib
import json
import random
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import torch.nn.functional as F

from ._checks import Setting, a_seed, number, positive_int, spelled_alike, warn_user, yes_or_no
from .concepts import names_a_people
from .kinds import words_of
from .labels import bare_synonyms, primary_name, singular, words
from .space import qualifier_words

__all__ = [
    "EVIDENCE_FILE",
    "PHOTO_SETS",
    "JUDGE_THRESHOLD",
    "evidence",
    "read_labels",
    "evidence_photos",
    "photo_ids",
    "judge_for",
    "Judge",
    "class_evidence",
    "leak_kind",
    "names_a_people",
    "plausibility_report",
    "PlausibilityReport",
]

DATA = Path(__file__).parent / "data"
EVIDENCE_FILE = DATA / "plausibility_evidence.json"
WHOLE_EVIDENCE_FILE = DATA / "plausibility_whole_photos.json"
PHOTO_SETS = {"cutouts": EVIDENCE_FILE, "whole": WHOLE_EVIDENCE_FILE}
"""The evidence photo sets: ``cutouts``, the 8 sample photos and 42 Tux Paint stamps (cut-out photos on white; the
model is wrong on two thirds of them), and ``whole``, 35 uncut photos from GCompris (animals in their surroundings,
tools, a castle, a dam) whose class lite0 gets right, as photos a user brings usually are."""
CLASS_EVIDENCE_FILE = EVIDENCE_FILE.with_name("class_evidence.json")
LABELS_FILE = DATA / "plausibility_labels.json"
JUDGE_THRESHOLD = 0.65
"""Judge cosine (all-mpnet-base-v2) from which a concept matches an evidence item. Calibrated by reading, first on 762
(photo, concept) pairs labelled by looking at each photo (8.5% visible; F1 best at 0.65-0.70, 0.50). Against the
labels of today (``LABELS_FILE``: 3,473 pairs on photos with evidence lists, 16.5% visible) the F1 is 0.550 at 0.60
and 0.541 at 0.65, where the judged share (0.19) is closest to the read share (0.165); MiniLM judging mpnet's
explanations is best at 0.65 too (0.554). At 0.5 it passes loose associations ("espadrille" ~ "espresso" 0.43,
"avocado" ~ "fruit" 0.61 for a strawberry)."""

_STOP = set(
    "a an the of and or in on at to for with by from as is are be its it this that any one two some such other "
    "used having made small large kind type various usually often very genus family species especially".split()
)


def read_labels() -> dict[str, dict[str, int]]:
    """Photo id -> {concept: 1 if it is visible in the photo, else 0} (about 3,800 pairs, read by looking at each)."""
    return json.loads(LABELS_FILE.read_text(encoding="utf-8"))["labels"]


def evidence(photo_set: str | None = "cutouts") -> dict[str, list[str]]:
    """Photo id -> evidence list ("sample:coffee" -> ["coffee", "red cup", "saucer", ...]) for one of
    :data:`PHOTO_SETS` (None: both)."""
    if photo_set is None:
        return {k: v for name in PHOTO_SETS for k, v in evidence(name).items()}
    if photo_set not in PHOTO_SETS:
        raise ValueError(f"Unknown photo set {photo_set!r}: expected one of {sorted(PHOTO_SETS)} or None for both")
    return json.loads(PHOTO_SETS[photo_set].read_text(encoding="utf-8"))["photos"]


def class_evidence() -> dict[str, list[str]]:
    """Class name -> what a person can point at in a typical photo of it (20 classes across ImageNet's hierarchy):
    the evidence bottleneck recipes are judged against (``benchmarks/bench_bottleneck.py``)."""
    return json.loads(CLASS_EVIDENCE_FILE.read_text(encoding="utf-8"))["classes"]


def evidence_photos(ids: Sequence[str] | None = None, photo_set: str = "cutouts") -> dict:
    """The evidence photos as images, by id (default: every photo of ``photo_set``): ``sample:NAME`` from
    :func:`nlexnb.sample_images`, ``stamps:PATH`` from the Tux Paint stamps (:func:`nlexnb.datasets.find_stamps`),
    ``gcompris:PATH`` from GCompris's photos (:func:`nlexnb.datasets.find_gcompris_photos`); each of the two says
    how to install its photos when they are missing."""
    from .datasets import find_gcompris_photos, find_stamps
    from .images import sample_images, to_pil

    if isinstance(ids, str):  # its letters would be the ids
        raise TypeError(f"ids must be a list of evidence photo ids, got the single string {ids!r}; wrap it in a list")
    ids = list(evidence(photo_set)) if ids is None else list(ids)
    twice = sorted({i for i in ids if ids.count(i) > 1})
    if twice:  # a dict keeps one: the photo would be judged once, and the count of photos be short without a word
        raise ValueError(f"ids names {twice[:3]} more than once: give each evidence photo once")
    samples = sample_images() if any(i.startswith("sample:") for i in ids) else {}
    folders = {
        source: find() if any(i.startswith(source + ":") for i in ids) else None
        for source, find in (("stamps", find_stamps), ("gcompris", find_gcompris_photos))
    }
    out = {}
    for photo in ids:
        source, _, name = photo.partition(":")
        if source == "sample":
            if name not in samples:
                close = difflib.get_close_matches(name, list(samples), n=3)
                raise ValueError(f"Unknown sample photo {photo!r}: the samples are {sorted(samples)}, close: {close}")
            out[photo] = samples[name]
        elif source in folders:
            out[photo] = to_pil(folders[source] / name)
        else:
            raise ValueError(
                f"Unknown evidence photo id {photo!r}: expected 'sample:NAME', 'stamps:PATH' or 'gcompris:PATH'"
            )
    return out


def photo_ids(n: int | None = None, photo_set: str = "cutouts") -> list[str]:
    """Ids of the evidence photos of ``photo_set`` that can be read here, ``n`` of them spread evenly over the list
    (None: all).

    The stamp photos need Tux Paint's stamps (:func:`nlexnb.datasets.find_stamps`); without them only the sample
    photos are returned, with a warning saying so. The whole photos need GCompris's
    (:func:`nlexnb.datasets.find_gcompris_photos`), and raise its FileNotFoundError without them.
    """

    from .datasets import find_gcompris_photos, find_stamps

    ids = list(evidence(photo_set))
    if photo_set == "whole":
        find_gcompris_photos()
    else:
        try:
            find_stamps()
        except FileNotFoundError as exc:
            warn_user(f"Plausibility on the 8 sample photos only: {exc}")
            ids = [i for i in ids if i.startswith("sample:")]
    n = None if n is None else positive_int(n, "n", "photos")
    if n is None or n >= len(ids):
        return ids
    return [ids[int(j * len(ids) / n)] for j in range(n)]


def judge_for(encoder) -> str:
    """The packaged encoder that is *not* ``encoder``, to judge its explanations: mpnet for MiniLM, else MiniLM."""
    name = getattr(encoder, "name", encoder) or ""
    return "all-mpnet-base-v2" if "minilm" in str(name).lower() else "all-MiniLM-L6-v2"


# ---- the judge -------------------------------------------------------------------------------------------------------
class Judge:
    """Scores concepts against evidence lists with a text encoder other than the explainer's.

    Args:
        encoder: a :class:`nlexnb.TextEncoder` (or its name). Choose one the explanations were *not* made with.
        threshold: the cosine from which a concept matches an evidence item.
    """

    threshold = Setting(
        lambda value, name: number(
            value, name, -1, 1, open_low=True, what="a cosine", note=f"default {JUDGE_THRESHOLD}"
        )
    )

    def __init__(self, encoder, threshold: float = JUDGE_THRESHOLD) -> None:
        from .text import TextEncoder, load_text_encoder

        self.threshold = threshold
        self.encoder = encoder if isinstance(encoder, TextEncoder) else load_text_encoder(encoder)

    def best_match(self, concepts: Sequence[str], items: Sequence[str]) -> tuple[np.ndarray, list[str]]:
        """For each concept, its best cosine with an evidence item, and that item."""
        for name, texts in (("concepts", concepts), ("items", items)):
            if isinstance(texts, str) or not isinstance(texts, Sequence):  # a string would be judged letter by letter
                raise TypeError(f"{name} must be a list of texts, got {texts!r:.60}; wrap one text in a list")
        if not items:
            raise ValueError("items is empty: give what a person sees in the photo, e.g. ['red cup', 'saucer']")
        if not concepts:
            return np.zeros(0), []
        a = F.normalize(self.encoder.encode(list(concepts)).float(), dim=1)
        b = F.normalize(self.encoder.encode(list(items)).float(), dim=1)
        sims = a @ b.T
        best = sims.max(1)
        return best.values.cpu().numpy(), [items[i] for i in best.indices.tolist()]

    def plausible(self, concepts: Sequence[str], items: Sequence[str]) -> np.ndarray:
        """Boolean per concept: does it match something a person sees in the photo?"""
        return self.best_match(concepts, items)[0] >= self.threshold


# ---- leaks and peoples -----------------------------------------------------------------------------------------------
def _spelling_neighbours(a: str, b: str) -> bool:
    """Two different words that look alike: one contains the other (4+ letters), or, both of 5 letters or more, their
    letters match >= 75% ("gaboon" ~ "baboon"). Two words of four letters share three in order too often to say so
    ("skin" and "wing" against "king", "bark" against "bear")."""
    if a == b or min(len(a), len(b)) < 4:
        return False
    if a in b or b in a:
        return True
    return min(len(a), len(b)) >= 5 and difflib.SequenceMatcher(None, a, b).ratio() >= 0.75


@lru_cache(maxsize=1)
def _imagenet_wnids() -> dict[str, str]:
    """ImageNet-1k class name (as nlexnb writes it, and each bare synonym) -> its WordNet synset id."""
    from .labels import imagenet_class_names, imagenet_synsets

    out: dict[str, str] = {}
    for name, wnid in zip(imagenet_class_names(), imagenet_synsets()):
        out[name.lower()] = wnid
        for synonym in bare_synonyms(name):
            out.setdefault(synonym.lower(), wnid)
    return out


@lru_cache(maxsize=1)
def _other_senses() -> dict[str, str]:
    return json.loads((DATA / "other_senses.json").read_text(encoding="utf-8"))


@lru_cache(maxsize=2048)
def _sense_vocabulary(class_name: str) -> frozenset[str]:
    """Words of the *other* WordNet senses of an ImageNet-1k class's names (``nlexnb/data/other_senses.json``, written
    from WordNet 3.0 by ``scripts/build_visual_bank.py``); empty for a class that is not an ImageNet-1k class."""
    wnid = _imagenet_wnids().get(class_name.lower())
    return frozenset(_other_senses().get(wnid, "").split()) if wnid else frozenset()


@lru_cache(maxsize=1)
def _gloss_words() -> dict[str, frozenset[str]]:
    """ImageNet-1k WordNet id -> the words of its own gloss, as written, in the singular and their beginnings of four
    letters or more (:func:`nlexnb.kinds.words_of`: "two-winged insects" holds "wing")."""
    from .labels import imagenet_glosses, imagenet_synsets

    return {wnid: words_of([g]) for wnid, g in zip(imagenet_synsets(), imagenet_glosses())}


def _own_gloss_words(class_name: str) -> frozenset[str]:
    """Words of an ImageNet-1k class's own WordNet gloss (:func:`_gloss_words`); empty for another class."""
    wnid = _imagenet_wnids().get(class_name.lower())
    return _gloss_words()[wnid] if wnid is not None else frozenset()


def leak_kind(concept: str, class_names: Sequence[str]) -> str | None:
    """``"spelling"``, ``"qualifier"`` or ``"sense"`` when ``concept`` echoes one of ``class_names`` rather than
    showing evidence, else None. Spelling: a word of the concept looks like a word of a class name ("gaboon" ~
    "baboon", "espadrille" is not: letters 44% alike). Qualifier: a word of the concept is one that qualifies the
    class's name (:func:`nlexnb.space.qualifier_words`: "kangaroo" for a koala, a kangaroo bear; "face" for face
    powder, "wall" for wall clock); the same word as a name's head is a kind of the class ("large crab" for a rock
    crab), and a qualifier that says what one sees ("golden" retriever, "black" stork) is no qualifier word. Every
    repeat counts, also where the class's photos show the thing ("coffee" for coffee mug, "snow" for snow leopard): no
    literal rule tells those apart from the echoes, so this kind is an upper bound. Sense: a word of the
    concept comes from another WordNet sense of a class-name word ("wind" for the bird kite: the toy kite is "flown in
    wind"); other senses are the WordNet synsets named by one of the class's names, other than its own, less the
    words of the own glosses of ``class_names`` (in a contrast of the giant panda with the red panda each is the
    other's other sense of "panda": "white face" is the giant panda's own colour, not an echo)."""
    if not isinstance(concept, str):
        raise TypeError(f"concept must be a text, got {type(concept).__name__} {concept!r:.60}")
    if isinstance(class_names, str) or not all(isinstance(n, str) for n in class_names):
        raise TypeError(f"class_names must be a list of class names (str), got {class_names!r:.60}")
    said = [w for w in words(concept) if w not in _STOP]
    for name in class_names:
        name_words = {w for s in bare_synonyms(name) for w in words(s)} - _STOP
        if any(_spelling_neighbours(w, n) for w in said for n in name_words):
            return "spelling"
        qualifiers = set(qualifier_words(name))  # "kangaroo" of kangaroo bear (a koala), "wall" of wall clock
        if any(w in qualifiers or singular(w) in qualifiers for w in said):
            return "qualifier"
    own = frozenset().union(*(_own_gloss_words(name) for name in class_names))
    for name in class_names:
        if any(singular(w) in _sense_vocabulary(name) - own for w in said):
            return "sense"
    return None


@lru_cache(maxsize=1)
def _read_labels() -> dict[str, dict[str, int]]:
    return read_labels()


# ---- the report ------------------------------------------------------------------------------------------------------
@dataclass
class PlausibilityReport:
    """Named concepts of every method on every evidence photo, judged.

    Attributes:
        concepts: one row per (method, photo, concept): ``plausible`` (by the judge), ``judge`` (best cosine),
            ``matched`` (the evidence item), ``leak`` (None, "spelling", "qualifier" or "sense"), ``peoples``
            (bool), ``read`` (the reading of the pair, 1/0, where one was recorded, else None), ``explained`` (class
            names).
        summary: one row per method: plausible share (judge), the same on the photos whose predicted class the judge
            finds in the photo's evidence (explaining a wrong prediction rarely names what is in the photo; the judge
            decides, so a general word there can let a wrong one in: "fruit" for a tomato taken for a strawberry),
            read share
            (mean reading over the read pairs) and read coverage, leak rate, peoples count, concepts named.
    """

    concepts: pd.DataFrame
    summary: pd.DataFrame

    def _repr_html_(self) -> str:
        return self.summary.to_html(float_format=lambda v: f"{v:.3f}", border=0)

    def plot(self):
        """Read share (with the share of pairs read), judged share and leak rate per method, as bars; returns the
        Figure."""
        from .plots import plausibility_figure

        return plausibility_figure(self.summary)


def plausibility_report(
    explainer,
    judge: Judge | str,
    *,
    k: int = 5,
    photos: dict | None = None,
    contrast: bool = True,
    seed: int = 0,
    extra: dict | None = None,
) -> PlausibilityReport:
    """The explainer's named concepts on the evidence photos, judged, beside baselines from the same run.

    Methods: ``explainer`` (factual: the predicted class), ``explainer, contrastive`` (predicted vs the runner-up
    class), and three baselines on the same photos and bank, each naming ``k`` concepts: ``random`` (random bank
    concepts), ``most frequent`` (the ``k`` concepts the explainer names most often, on every photo) and ``text
    neighbours`` (the bank concepts nearest the predicted class's name in the explainer's text space, class names
    left out as the explainer does). ``extra`` maps more method names to other explainers of the same classifier
    (other banks or settings, compared the same way).
    """
    judge = judge if isinstance(judge, Judge) else Judge(judge)
    k = positive_int(k, "k", "concepts")
    contrast = yes_or_no(contrast, "contrast")
    table = evidence(None)
    photos = evidence_photos() if photos is None else photos
    if not isinstance(photos, Mapping):
        raise TypeError(
            f"photos must be a dict of evidence photo id -> image (evidence_photos()), got {type(photos).__name__}"
        )
    ids = list(photos)
    unknown = [i for i in ids if i not in table]
    if unknown or not ids:  # a photo is judged against what a person wrote it shows: without that list, nothing
        raise ValueError(
            f"photos must map evidence photo ids to their images (plausibility.evidence_photos()); "
            f"{unknown[:3] if unknown else 'none'} {'have' if unknown else 'were given'} no evidence list. "
            f"Ids look like {next(iter(table))!r}"
        )
    seed = a_seed(seed)  # before the explanations, not after them
    extra = {} if extra is None else extra
    if not isinstance(extra, Mapping):
        raise TypeError(f"extra must be a dict of method name -> explainer, got {type(extra).__name__}")
    if "explainer" in extra:  # it would have replaced the explainer judged
        raise ValueError(
            f"extra must map other names than 'explainer' (the explainer judged) to explainers, got {list(extra)}"
        )
    explainers = {"explainer": explainer, **extra}
    from .explain import Explainer

    wrong = {label: ex for label, ex in explainers.items() if not isinstance(ex, Explainer)}
    if wrong:
        label, ex = next(iter(wrong.items()))
        raise TypeError(f"{label!r} must be an nlexnb.Explainer, got {type(ex).__name__}")
    main = explainer.classifier
    other = [
        label
        for label, ex in extra.items()
        if ex.classifier is not main
        and (ex.classifier.fingerprint != main.fingerprint or ex.classifier.class_names != main.class_names)
    ]
    if other:  # the contrasts' foils are the main classifier's runner-up classes
        raise ValueError(
            f"extra explainers must explain the main explainer's classifier ({explainer.classifier.name}); "
            f"{other[:3]} explain another: compare other classifiers in reports of their own"
        )
    if judge.encoder.identity == explainer.mapper.text_encoder.identity:
        warn_user(
            f"The judge is the explaining encoder ({judge.encoder.name}): each method's concepts are judged in the "
            "space the explainer picked them in, and the text neighbours most of all. Judge with another: "
            "plausibility.judge_for(explainer)"
        )
    rows = []
    named_by_main: dict[str, list[str]] = {}
    carried: Counter = Counter()  # the main explainer's total contribution per concept: ties of the frequent baseline
    predicted: dict[str, list[str]] = {}
    images = [photos[i] for i in ids]
    # the contrast class: each photo's runner-up (one forward pass; every explainer shares the classifier)
    runner_up = explainer.classifier.logits(images).topk(2).indices[:, 1].tolist() if contrast else []
    for label, ex in explainers.items():
        results = ex.explain(images, k=k, heatmaps=False)
        for photo, result in zip(ids, results):
            concepts = list(result.concepts["concept"])
            if label == "explainer":
                named_by_main[photo] = concepts
                predicted[photo] = [result.target_name]  # from the result: a photo may name no concept
                carried.update(dict(zip(concepts, result.concepts["contribution"].tolist())))
            rows += _judged(label, photo, concepts, [result.target_name], judge, table[photo])
        if contrast:
            for photo, result, foil in zip(ids, results, runner_up):
                res = ex.explain(photos[photo], target=result.target, foil=foil, k=k, heatmaps=False)
                rows += _judged(
                    f"{label}, contrastive",
                    photo,
                    list(res.concepts["concept"]),
                    [res.target_name, res.foil_name],
                    judge,
                    table[photo],
                )
    # baselines, same photos and bank as the main explainer
    rng = random.Random(seed)
    bank = explainer.bank.texts
    # the k concepts named most often; ties (most are named once or twice) go to the larger total contribution, then
    # to the bank's order, never to the photos' order
    counts = Counter(c for cs in named_by_main.values() for c in cs)
    position = {c: i for i, c in enumerate(bank)}
    frequent = sorted(counts, key=lambda c: (-counts[c], -carried[c], position.get(c, len(bank))))[:k]
    for photo in ids:
        explained = predicted[photo]
        rows += _judged("random", photo, rng.sample(bank, min(k, len(bank))), explained, judge, table[photo])
        rows += _judged("most frequent", photo, frequent, explained, judge, table[photo])
        rows += _judged(
            "text neighbours", photo, explainer.text_neighbours(explained[0], k), explained, judge, table[photo]
        )
    frame = pd.DataFrame(rows)
    # is the explained class itself something a person sees in the photo? (a wrong prediction's explanation rarely is)
    visible = {photo: bool(judge.plausible([primary_name(predicted[photo][0])], table[photo])[0]) for photo in ids}
    frame["prediction visible"] = frame["photo"].map(visible)
    summary = (
        frame.groupby("method", sort=False)
        .agg(
            **{
                "plausible share": ("plausible", "mean"),
                "plausible share, prediction visible": (
                    "judge",
                    lambda s: float((s[frame.loc[s.index, "prediction visible"].eq(True)] >= judge.threshold).mean()),
                ),
                "read share": ("read", "mean"),
                "read coverage": ("read", lambda s: float(s.notna().mean())),
                "leak rate": ("leak", lambda s: float(s.notna().mean())),
                "peoples": ("peoples", "sum"),
                "concepts": ("concept", "size"),
                "photos": ("photo", "nunique"),
            }
        )
        .reset_index()
    )
    return PlausibilityReport(frame, summary)


@lru_cache(maxsize=1)
def _readings() -> dict[str, dict[str, int]]:
    """The readings with each concept as it is looked up (:func:`~nlexnb._checks.spelled_alike`: "Dark Eye Stripes"
    is the reading of "dark eye stripes")."""
    return {photo: {spelled_alike(c): v for c, v in read.items()} for photo, read in _read_labels().items()}


def _judged(method, photo, concepts, explained, judge, items) -> list[dict]:
    # an item naming the explained class ("koala") would pass its echoes ("kangaroo", 0.74): what a concept is judged
    # against is what the photo shows besides the class's name
    names = {n.lower() for name in explained for n in bare_synonyms(name)}
    items = [item for item in items if item.lower() not in names] or list(items)
    scores, matched = judge.best_match(concepts, items)
    read = _readings().get(photo, {})
    return [
        {
            "method": method,
            "photo": photo,
            "explained": list(explained),
            "concept": c,
            "plausible": bool(s >= judge.threshold),
            "judge": float(s),
            "matched": m,
            "leak": leak_kind(c, explained),
            "peoples": names_a_people(c),
            "read": read.get(spelled_alike(c)),
        }
        for c, s, m in zip(concepts, scores, matched)
    ]
