"""What class rows encode: one class (:func:`class_concepts`), two against each other (:func:`contrast`), and
the classes a free text lands nearest (:func:`nearest_classes`)."""

from __future__ import annotations

import pandas as pd
import torch
import torch.nn.functional as F

from .._checks import positive_int, warn_user, with_words, yes_or_no
from ..labels import primary_name
from ..space import ConceptSpace
from ._args import (
    WIDE,
    bind_arguments,
    chance_band,
    look_alike_mask,
    naming,
    once_per_word,
    per_word_limit,
    ranked,
    say_if_fewer,
    the_next,
)
from .table import ConceptTable

LEAN_FLOOR = 0.1
"""A contrast lists a concept only when it leans at least this share as far as the strongest concept of either side:
"kitten", at cosines 0.420 and 0.414 with tiger cat and Egyptian cat, read as a reason for Egyptian cat."""


# ---- rows ------------------------------------------------------------------------------------------------------------
def class_concepts(*args, **kwargs) -> ConceptTable:
    """What class ``c``'s row encodes: concepts ranked by the cosine of their direction with ``W[c]``.

    ``class_concepts(space, c, k=10, echoes=False, per_word=1)`` or ``class_concepts(classifier, mapper, c,
    bank=None, k=10, ...)``.

    A concept's direction comes from the class names its text resembles, so a row also encodes the associations of
    the words that qualify its name ("pyramid" for Egyptian cat, "fireplace" for fire engine:
    :meth:`~nlexnb.space.ConceptSpace.qualifier_echoes`), the animals the class looks like ("reindeer" and "large
    penguin" for ice bear: :meth:`~nlexnb.space.ConceptSpace.other_animals`) and the things a look-alike's row carries
    ("walnut" and "elm" for koala: :meth:`~nlexnb.space.ConceptSpace.unlisted_things`). Those are left out, as
    explanations leave them out, unless ``echoes=True``. At most ``per_word`` concepts say one word (the best
    placed: "dark liquid" but not also "creamy liquid" for espresso; "golden coat" but not also "golden tail" and
    "golden eyes" for golden retriever); ``per_word=None`` lists them all.

    Returns:
        A :class:`ConceptTable` with columns rank, concept, cosine (k rows, best first; only concepts of a positive
        cosine, with a warning where fewer than k are: the row points away from the others).
    """
    defaults = {"bank": None, "k": 10, "echoes": False, "per_word": 1}
    space, a = bind_arguments(args, kwargs, ("c", "bank", "k", "echoes", "per_word"), defaults)
    index = space.class_index(a["c"])
    k = positive_int(a["k"], "k", "concepts")
    a["echoes"] = yes_or_no(a["echoes"], "echoes")  # "no" is a true string: it would list every echo
    per_word = per_word_limit(a["per_word"])
    row = F.normalize(space.classifier.head_weight[index].float(), dim=0)
    scores = space.directions @ row
    top = ranked(space, scores, k if a["echoes"] and per_word is None else WIDE * k, refused=naming(space, [index]))
    if not a["echoes"]:
        echo = space.look_alikes(top, index)
        top = [i for i, e in zip(top, echo) if not e]
    top = once_per_word(space, top, per_word)[:k]
    name = primary_name(space.classifier.class_names[index])
    encoded = [i for i, v in zip(top, scores[top].tolist()) if v > 0]  # a negative cosine: the row points away
    say_if_fewer("class_concepts", k, int((~space.excluded).sum()), len(encoded))
    if len(encoded) < len(top):
        warn_user(
            f"class_concepts: {len(encoded)} of the {k} concepts asked for are listed: "
            f"{the_next(len(top) - len(encoded), 'has', 'have')} a cosine of 0 or below with the row of "
            f"\u201c{name}\u201d (the row points away from them: the class does not encode them)"
        )
    df = pd.DataFrame(
        {
            "rank": range(1, len(encoded) + 1),
            "concept": [space.texts[i] for i in encoded],
            "cosine": scores[encoded].cpu().numpy(),
        }
    )
    chance = chance_band(space, scores)
    return ConceptTable("class_concepts", f"What \u201c{name}\u201d encodes", "cosine", df, chance=chance)


def contrast(*args, **kwargs) -> ConceptTable:
    """What separates two classes: for each side, the concepts the model associates with that class that lean towards
    it rather than the other, the top k by how much they separate the two.

    ``contrast(space, c1, c2, k=10, among=50, echoes=False, per_word=1)``, or with ``(classifier, mapper, c1, c2,
    bank=None, ...)``.

    Each side is drawn from its class's ``among`` nearest concepts (by cosine with its row: what
    :func:`class_concepts` lists), keeps those closer to it than to the other class (cosine with the unit difference
    ``W[c1] - W[c2]`` above zero for c1, below for c2), and leaves out kinds of either class ("wild cat" for tiger cat
    against Egyptian cat), and, unless ``echoes=True``, echoes of the words that qualify either name ("pyramid" for
    Egyptian cat, "classroom" for school bus, "burning" for fire engine:
    :meth:`~nlexnb.space.ConceptSpace.qualifier_echoes`), other animals than the side's class and things its photos
    are not expected to show ("adult male sheep" for Egyptian cat, "herring" and "fisherman" for tench, as
    explanations refuse them). Ranking the whole bank along the difference instead (``among=None``, with the same
    refusals) names whatever separates two close rows: "doorstep", "black stone" and "cone" for Siberian husky
    against malamute. A side names
    at most ``per_word`` concepts that say one word: the malamute's side says "thick tail" once, not also "long fine
    tail" and "very short tail", and the tiger cat's says "striped" once, not also "fine stripes" and "striped coat"
    (``per_word=None`` lists them all). Concepts that lean less than :data:`LEAN_FLOOR` as far as the strongest of
    either side are left out: they are about as close to both classes. A side may hold fewer than ``k`` concepts.

    Returns:
        A :class:`ConceptTable` with columns favours (the class the concept pushes towards, by its first name),
        concept, score (cosine with the unit difference direction: positive for c1, negative for c2), cosine_c1,
        cosine_c2.
    """
    defaults = {"bank": None, "k": 10, "among": 50, "echoes": False, "per_word": 1}
    space, a = bind_arguments(args, kwargs, ("c1", "c2", "bank", "k", "among", "echoes", "per_word"), defaults)
    first, second = space.class_index(a["c1"], "c1"), space.class_index(a["c2"], "c2")
    names = space.classifier.class_names
    if first == second:
        raise ValueError(f"contrast needs two different classes, got {names[first]!r} twice")
    k = positive_int(a["k"], "k", "concepts")
    among = None if a["among"] is None else positive_int(a["among"], "among", "concepts")
    a["echoes"] = yes_or_no(a["echoes"], "echoes")
    rows = space.classifier.head_weight.float()
    vectors = space.directions
    score = vectors @ F.normalize(rows[first] - rows[second], dim=0)
    cos_a, cos_b = vectors @ F.normalize(rows[first], dim=0), vectors @ F.normalize(rows[second], dim=0)
    per_word = per_word_limit(a["per_word"])
    if among is None:
        wide = k if per_word is None else WIDE * k
        named = naming(space, (first, second))
        refused_a = refused_b = named
        if not a["echoes"]:  # each side as _side keeps it: no echo of the other's qualifiers, no look-alike of its own
            every = range(len(space.texts))
            alike = look_alike_mask(space, torch.tensor([first, second], device=named.device))
            refused_a = named | alike[0] | space.qualifier_echoes(every, second)
            refused_b = named | alike[1] | space.qualifier_echoes(every, first)
        pos = once_per_word(space, ranked(space, score, wide, refused=refused_a), per_word)[:k]
        neg = once_per_word(space, ranked(space, score, wide, largest=False, refused=refused_b), per_word)[:k]
    else:
        side_a = _side(space, cos_a, score, (first, second), among, among, a["echoes"])
        side_b = _side(space, cos_b, -score, (second, first), among, among, a["echoes"])
        pos, neg = once_per_word(space, side_a, per_word)[:k], once_per_word(space, side_b, per_word)[:k]
    strongest = float(score[pos + neg].abs().max()) if pos + neg else 0.0
    pos = [i for i in pos if float(score[i]) >= LEAN_FLOOR * strongest]
    neg = [i for i in neg if -float(score[i]) >= LEAN_FLOOR * strongest]
    name_a, name_b = primary_name(names[first]), primary_name(names[second])
    if name_a == name_b:  # ImageNet's two "maillot"s: "“maillot” vs “maillot”" told the sides apart nowhere
        name_a, name_b = names[first], names[second]
    if not pos and not neg:  # an empty table said nothing of why
        if among is None:
            why = "every concept of the bank that leans either way is refused (it names a class, echoes a name or is a "
            why += "look-alike); try echoes=True, or a larger bank"
        else:
            refused = "refused: it names a class, echoes a name or is a look-alike"
            if among == 1:
                nearest = "the concept nearest each class does not lean towards that class rather than the other"
                nearest += f" (or is {refused})"
            else:
                nearest = f"of the {among} concepts nearest each class, none leans towards it rather than the other"
                nearest += f" class (or each is {refused})"
            why = f"among={among} is too small: {nearest}; try a larger among (the default is 50), or among=None to "
            why += "rank the whole bank"
        warn_user(f"contrast: no concept separates \u201c{name_a}\u201d from \u201c{name_b}\u201d: {why}")
    order = pos + neg
    df = pd.DataFrame(
        {
            "favours": [name_a] * len(pos) + [name_b] * len(neg),
            "concept": [space.texts[i] for i in order],
            "score": score[order].cpu().numpy(),
            "cosine_c1": cos_a[order].cpu().numpy(),
            "cosine_c2": cos_b[order].cpu().numpy(),
        }
    )
    title = f"\u201c{name_a}\u201d vs \u201c{name_b}\u201d"
    chance = chance_band(space, score)
    return ConceptTable("contrast", title, "score", df, sides=(name_a, name_b), chance=chance)


def _side(
    space: ConceptSpace, closeness: torch.Tensor, lean: torch.Tensor, pair, among: int, k: int, echoes: bool
) -> list[int]:
    """One side of :func:`contrast`, for the class ``pair[0]`` against ``pair[1]``: of the ``among`` concepts nearest
    the class (``closeness``), those that lean its way (``lean`` > 0), name neither class nor a kind of it, and
    (unless ``echoes``) echo no word that qualifies either name and are no look-alike of the class
    (:meth:`~nlexnb.space.ConceptSpace.look_alikes`), the ``k`` that lean most. (The echo test of explanations, against
    whole names, is not applied: over 50 concepts it refuses most of what a class is, "coffee" for cup, "paw" and
    "furry face" for Siberian husky.)"""
    shortlist = ranked(space, closeness, among)
    named = space.mentions(shortlist, pair, kinds=True)
    if not echoes:
        echo = space.qualifier_echoes(shortlist, pair[1]).tolist()
        alike = space.look_alikes(shortlist, pair[0])
        named = [n or e or o for n, e, o in zip(named, echo, alike)]
    leans = lean[shortlist].tolist()  # one transfer, not one per concept
    keep = [(-v, i) for i, n, v in zip(shortlist, named, leans) if not n and v > 0]
    return [i for _, i in sorted(keep, key=lambda pair: pair[0])[:k]]  # ties keep the shortlist's order


def nearest_classes(*args, **kwargs) -> ConceptTable:
    """Which of the classifier's classes a free text lands nearest to (cosine of its direction with each row).

    ``nearest_classes(space, text, k=5)`` or ``nearest_classes(classifier, mapper, text, k=5)``.

    Returns:
        A :class:`ConceptTable` with columns rank, class_index, class_name, cosine.
    """
    space, a = bind_arguments(args, kwargs, ("text", "k", "bank"), {"k": 5, "bank": None})
    text = a["text"]
    if not isinstance(text, str):
        raise ValueError(f"text must be a non-empty string, got {text!r}")
    with_words(text, "text", "e.g. 'a big orange cat with black stripes'")  # "!!!" ranked classes as if it meant one
    rows = F.normalize(space.classifier.head_weight.float(), dim=1)
    k = positive_int(a["k"], "k", "classes")
    say_if_fewer("nearest_classes", k, len(rows), len(rows), "classes are in the classifier")
    top = (rows @ space.direction(text)).topk(min(k, len(rows)))
    idx = top.indices.tolist()
    df = pd.DataFrame(
        {
            "rank": range(1, len(idx) + 1),
            "class_index": idx,
            "class_name": [space.classifier.class_names[i] for i in idx],
            "cosine": top.values.cpu().numpy(),
        }
    )
    return ConceptTable("nearest_classes", f"Classes nearest to \u201c{text}\u201d", "cosine", df)
