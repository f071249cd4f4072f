"""Faithful natural-language explanations of a classifier's predictions.

The head is linear (``z = W f + b``), and the mapper puts every concept text in the space of ``f``. An explanation of
class ``c`` names the concepts whose directions carry ``W[c] . f``: removing the span ``S`` of the named directions from
the feature (``f' = f - P_S f``) lowers the logit by exactly ``W[c] . P_S f``, so that is what the concepts are chosen
to maximise. They are chosen *jointly* (greedy, orthogonal-matching-pursuit style: each step adds the concept whose new
orthogonal direction adds most to ``W[c] . P_S f``), and each concept's ``contribution`` is its marginal share, so the
contributions add up to the drop measured when all named directions are removed at once.

Concept directions are the mapped vectors minus the bank's mean mapped vector (the offset every mapped text shares,
which says "some concept" rather than which one), scaled to unit length. A class's own names and synonyms, and every
text that equals a class name of the classifier, are never used as explanations ("tabby because tabby" explains
nothing).

Heat maps score every location of the feature map (``feature_map[l] . v``, in logit units) and are upsampled
bilinearly to the classifier's input resolution: they cover the preprocessed (resized, center-cropped) image, which
:func:`input_view` returns for overlays.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from PIL import Image

from ._checks import (
    MapperMismatchWarning,
    Setting,
    an_index,
    number,
    positive_int,
    text_list,
    warn_user,
    with_words,
    yes_or_no,
)
from .classifier import Classifier, Forward
from .concepts import ConceptBank
from .explanation import Explanation, HeatMap
from .images import ImageInput, ImageLike, apply_transform, to_pil
from .kinds import concept_words
from .mapper import check_fits
from .selection import GreedySelector, Selector, get_selector, marginal_gains, takes_prior
from .space import ConceptSpace
from .targets import Direction, LogitGap, Target, as_target

__all__ = ["Explainer", "Explanation", "HeatMap", "input_view", "project_out", "measured_drop", "upsample_map"]


# ---- small math shared with nlexnb.metrics -------------------------------------------------------------------------
def orthonormal_basis(directions: torch.Tensor) -> torch.Tensor:
    """Orthonormal basis [r, d] (float64) of the span of ``directions`` [k, d], r its numerical rank.

    From the SVD, so zero, repeated or dependent rows anywhere in ``directions`` leave the span intact (QR without
    pivoting loses part of the later rows when a dependent one comes first).
    """
    if directions.shape[0] == 0:
        return directions.new_zeros(0, directions.shape[1], dtype=torch.float64)
    u, sigma, _ = torch.linalg.svd(directions.double().T, full_matrices=False)
    keep = sigma > 1e-8 * sigma.max().clamp_min(1e-30)
    return u.T[keep]


def project_out(features: torch.Tensor, directions: torch.Tensor) -> torch.Tensor:
    """``f - P f``: remove the span of ``directions`` [k, d] from features [..., d] (projector in float64)."""
    basis = orthonormal_basis(directions)
    f = features.double()
    return (f - (f @ basis.T) @ basis).to(features.dtype)


def measured_drop(
    classifier: Classifier,
    features: torch.Tensor,
    directions: torch.Tensor,
    target: Target | int,
    foil: int | None = None,
) -> float:
    """Drop of the explained quantity (a :class:`~nlexnb.targets.Target`, or a class index with an optional foil)
    when the span of ``directions`` is removed from ``features`` [d] and the head is re-run (float64): the number the
    closed form must match."""
    target = as_target(target, foil)
    target.check(classifier)  # -1 read as the last class, 1000 failed in torch's words
    return target.measure(classifier, features.double(), project_out(features, directions).double())


def input_view(classifier: Classifier, image: ImageLike | torch.Tensor) -> Image.Image:
    """The image as the classifier sees it (resized, cropped), as a PIL image: the region heat maps cover.

    Undoes the transform's normalisation when its mean/std can be found, else rescales to [0, 1].
    """
    x = image if isinstance(image, torch.Tensor) else apply_transform(classifier.transform, to_pil(image))
    x = x.detach().float().cpu()
    x = x[0] if x.ndim == 4 else x
    mean, std = _normalisation(classifier.transform)
    if mean is not None:
        x = x * torch.tensor(std).view(-1, 1, 1) + torch.tensor(mean).view(-1, 1, 1)
    else:
        x = (x - x.min()) / (x.max() - x.min()).clamp_min(1e-12)
    arr = (x.clamp(0, 1).permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    return Image.fromarray(arr)


def _normalisation(transform) -> tuple[list[float] | None, list[float] | None]:
    steps = getattr(transform, "transforms", [transform])
    for step in steps:
        mean, std = getattr(step, "mean", None), getattr(step, "std", None)
        if mean is not None and std is not None:
            return [float(m) for m in mean], [float(s) for s in std]
    return None, None


def upsample_map(grid: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear upsampling of maps [..., h, w] to ``size`` (cell centres stay at patch centres)."""
    lead = grid.shape[:-2]
    flat = grid.reshape(-1, 1, *grid.shape[-2:]).float()
    up = F.interpolate(flat, size=size, mode="bilinear", align_corners=False)
    return up.reshape(*lead, *size)


def _cosine_margin(value, name: str) -> float | None:
    """A margin between two cosines (in [-2, 2]), or None for a test turned off."""
    cosines = "a difference of cosines; None turns the test off"
    return None if value is None else number(value, name, -2, 2, note=cosines)


DEFAULT_K = 5
"""Concepts an explanation names at most unless asked for another number."""


# ---- results -------------------------------------------------------------------------------------------------------
class Explainer:
    """Explains a classifier's predictions with the concepts of a bank, through a fitted mapper.

    Args:
        classifier: the model to explain, or a :class:`~nlexnb.space.ConceptSpace` (then no mapper or concepts).
        mapper: a mapper fitted on this classifier's head (any method).
        concepts: a :class:`ConceptBank`, a list of strings, a text file, a built-in name, or None (the default
            visual bank, about 3,100 concepts; encoded once and cached on disk). A list of fewer than 16 concepts
            is measured from the default bank's mean (:data:`nlexnb.space.OWN_MEAN_FROM`), mapped once per mapper.
        selector: how the named concepts are chosen among the shortlist: ``"greedy"`` (default: joint greedy on the
            explained quantity), ``"nonnegative"`` (sparse non-negative decomposition of the image), or a
            :class:`~nlexnb.selection.Selector`. Contributions are computed the same way for every method.
        shortlist: how many concepts (best by their separate contribution) the selection considers (at least
            ``k``). Small keeps explanations to what the image and the class share most: the joint selection over a
            long list fills the residual with unrelated objects ("pork", "arsenal"). Measured on the 50
            plausibility photos (``benchmarks/bench_plausibility.py``): 256 -> 20 lifted the judged plausible share
            from 0.10 to 0.14 at 41% of the margin (44% at 256); with the map fitted on class descriptions, 20 -> 8
            lifts the share read as visible from 0.224 to 0.241 (0.388 -> 0.450 where the predicted class is in the
            photo; 24 other photos: 0.225 -> 0.275) while the named concepts still remove 43% of the margin (46%
            at 20). A contrast draws from the same shortlist, so it names fewer concepts (170 against 223 on those
            photos), carrying 82% of the gap instead of 87%.
        relevance: how strongly the selection prefers concepts whose text fits the explained class's definition
            (:meth:`nlexnb.space.ConceptSpace.relevance`: the cosine with its gloss): each candidate's gain is
            multiplied by that cosine to this power; 0 (the default) turns the preference off. Measured on the 50
            plausibility photos (``benchmarks/RESULTS.md``): relevance 1 with a shortlist of 50 lifts the *judged*
            plausible share from 0.14 to 0.17, but the same concepts read against their photos show no difference
            (0.17 either way): the judge favours descriptions of neighbouring classes ("very large bear" for a brown
            bear). Off by default for that reason; kept for measuring other banks and encoders.
        max_alignment: concepts whose direction has a cosine above this with the explained direction (``W[c]``, or
            ``W[c] - W[foil]``) are paraphrases of the class ("academic costume" for "academic gown"), not evidence
            for it, and are left out. Measured on the sample photos with the kernel mapper: 1.0 names paraphrases
            (82% of the margin removed), 0.5 names attributes and parts while still removing 71% (random words: 2%).
        echo_margin: refuse a concept as an *echo* of the explained class (or foil) when, in the text encoder's own
            space, it is closer to the class's bare names than to the class's gloss by more than this margin, and
            at least ``echo_floor`` close to a name: "gaboon viper" sounds like "baboon" but is nothing like "large
            terrestrial monkeys ... with a dog-like muzzle"; "wind" is a sense of the toy kite, not of the bird.
            Without glosses (a classifier whose class names are not ImageNet's and no ``glosses=``), a concept is an
            echo when it is at least ``echo_floor + echo_margin`` close to a name. None turns the test off.
            (Refusing echoes of a word that qualifies a name too, as discovery does, "player" for football helmet:
            on the 50 plausibility photos the concepts named instead are read as visible no more often, and the
            named concepts carry less of the margin; ``benchmarks/RESULTS.md``.)
        echo_floor: see ``echo_margin``.
        sense_margin: also refuse a concept that fits *another sense* of the explained class's (or foil's) names
            better than the class: at least ``sense_floor`` close, in the text encoder's space, to the definition of
            one of those senses and closer to it than to the class's gloss by more than this margin ("glue" for a
            ring binder, whose other sense is a binding agent; "wind" for the bird kite). Measured on the 50
            plausibility photos with the default map (``benchmarks/RESULTS.md``): the leak rate falls from 6.4% to
            3.6% (contrasts 9.0% to 4.4%) and as many named concepts are read as visible (0.21). The default
            map is fitted on glosses, which pull in other senses too; this takes them back. None turns it off.
        sense_floor: see ``sense_margin``.
        other_animals: let an explanation of an animal name another animal it resembles ("large poodle" for a
            gorilla, "reindeer" for a polar bear, "large pheasant" for a Komodo dragon), or what only other animals
            have ("spotted plumage" for a cheetah, "long muscular arms" for a gar, unless the class's own text names
            it). Off by default: a concept that names an animal is named only where the class is of that kind
            ("bird" for a hen) or it is a kind of the class (:meth:`nlexnb.space.ConceptSpace.other_animals`). Read
            by looking at the photos (``benchmarks/RESULTS.md``): on 35 whole photos whose class the model gets
            right, 0.430 of the named concepts are visible instead of 0.353; on the 50 cut-out photos 0.269 instead
            of 0.257, at 41.2% of the margin instead of 41.9%.
        unlisted_things: let an explanation of an animal name a thing its photos are not expected to show: an
            object, food, plant, person, shape, landform or material that none of the class's names, gloss and
            descriptions mention ("walnut", "brace" and "bench" for a koala; "bamboo" stays for a giant panda, whose
            description says so; :meth:`nlexnb.space.ConceptSpace.unlisted_things`). Off by default: of the concepts
            read on the plausibility photos of animals, 11 of 258 such things were visible, against 270 of 852 other
            concepts (``benchmarks/RESULTS.md``).
        unlisted_colours: let an explanation of an animal name a colour or marking its names, gloss and
            description do not give it ("fine stripes" and "pink skin" for a jaguar, "silver tail" and "striped
            tail" for a chameleon; :meth:`nlexnb.space.ConceptSpace.unlisted_colours`; classes with no description
            refuse none). Off by default: of the colours and markings read on the plausibility photos of animals,
            those the class's text does not give were visible 17 times in 131 (on the whole photos 1 in 31), the
            others 62 in 165 (``benchmarks/RESULTS.md``).
        glosses: one short definition per class, for the echo test; default ImageNet's WordNet glosses when the
            classifier's class names are ImageNet-1k's.
        other_senses: for each class, the definitions of the other senses of its names, for ``sense_margin``;
            default WordNet's when the class names are ImageNet-1k's, else none (the test is then off).
        weakest: the share of the bank the map places least firmly, never named (default 0.15 for banks of at least
            200 concepts; 0 names every concept): see :class:`~nlexnb.space.ConceptSpace`.
        progress: show a progress bar while encoding the bank (default: for large banks).

    Concepts that name a people, nationality, ethnic or religious group are never used, whatever the bank
    (:func:`nlexnb.concepts.names_a_people`). A contrast ("A rather than B") names, among what the model sees as
    evidence for A, what separates A from B (:meth:`candidates`), and refuses kinds of either class ("wild cat" for
    tiger cat vs Egyptian cat, "trucks" for fire engine vs police van): they name what the two share.

    Example:
        >>> explainer = nlexnb.Explainer(clf, mapper)
        >>> explainer.explain(photo).sentence
        'Predicted “espresso” (p 0.95) partly because it sees “brew” and “small cup” (together 43% of its logit).'
    """

    def __init__(
        self,
        classifier: Classifier | ConceptSpace,
        mapper=None,
        concepts: ConceptBank | Sequence[str] | str | None = None,
        *,
        selector: Selector | str = "greedy",
        shortlist: int = 8,
        relevance: float = 0.0,
        max_alignment: float = 0.5,
        echo_margin: float | None = 0.1,
        echo_floor: float = 0.35,
        sense_margin: float | None = 0.05,
        sense_floor: float = 0.3,
        other_animals: bool = False,
        unlisted_things: bool = False,
        unlisted_colours: bool = False,
        glosses: Sequence[str] | None = None,
        other_senses: Sequence[Sequence[str]] | None = None,
        weakest: float | None = None,
        progress: bool | None = None,
    ) -> None:
        if isinstance(classifier, ConceptSpace):
            given = (mapper, concepts, glosses, other_senses, weakest)
            if any(a is not None for a in given):
                raise ValueError(
                    "Explainer(space) takes the space's classifier, mapper, bank, glosses, other senses and weakest "
                    "share; set them on the ConceptSpace"
                )
            self.space = classifier
        else:
            if mapper is None:
                raise TypeError(
                    "Explainer needs a mapper: Explainer(classifier, nlexnb.fit_mapper(classifier, encoder))"
                )
            check_fits(mapper, classifier, "Explainer")
            extra = {} if weakest is None else {"weakest": weakest}
            with warnings.catch_warnings():  # the space checks the same fit: the user hears it once, as Explainer's
                warnings.filterwarnings("ignore", category=MapperMismatchWarning)
                self.space = ConceptSpace(
                    classifier, mapper, concepts, glosses=glosses, other_senses=other_senses, progress=progress, **extra
                )
        self.selector = selector  # each setting is checked here and on any later assignment (the class's Settings)
        self.shortlist = shortlist
        self.relevance = relevance
        self.max_alignment = max_alignment
        self.echo_margin, self.echo_floor = echo_margin, echo_floor
        self.sense_margin, self.sense_floor = sense_margin, sense_floor
        self.other_animals = other_animals
        self.unlisted_things = unlisted_things
        self.unlisted_colours = unlisted_colours

    # the options, checked in the constructor and on any later assignment (``explainer.relevance = 'high'`` too)
    selector = Setting(lambda value, name: get_selector(value))
    shortlist = Setting(lambda value, name: positive_int(value, name, "concepts"))
    relevance = Setting(lambda value, name: number(value, name, 0, note="0 turns the preference off"))
    max_alignment = Setting(lambda value, name: number(value, name, 0, 1, open_low=True, what="a cosine"))
    echo_margin = Setting(_cosine_margin)
    echo_floor = Setting(lambda value, name: number(value, name, -1, 1, what="a cosine"))
    sense_margin = Setting(_cosine_margin)
    sense_floor = Setting(lambda value, name: number(value, name, -1, 1, what="a cosine"))
    other_animals = Setting(yes_or_no)
    unlisted_things = Setting(yes_or_no)
    unlisted_colours = Setting(yes_or_no)

    # the space's parts, under the names users already call
    classifier = property(lambda self: self.space.classifier)
    mapper = property(lambda self: self.space.mapper)
    bank = property(lambda self: self.space.bank)
    vectors = property(lambda self: self.space.vectors, doc="raw mapped concept vectors [T, d]")
    offset = property(lambda self: self.space.offset, doc="the bank's mean mapped vector [d]")
    directions = property(lambda self: self.space.directions, doc="unit concept directions [T, d]")

    def __repr__(self) -> str:
        return (
            f"Explainer({self.classifier.name!r}, {len(self.bank)} concepts, mapper={self.mapper.method}, "
            f"selector={self.selector.name!r})"
        )

    # ---- scores and maps -----------------------------------------------------------------------------------------
    def scores(self, images: ImageInput, texts: Sequence[str] | str) -> torch.Tensor:
        """Classifier-space scores [N, T]: ``mapped(text) . f(image)``, in the units of the logits. ``texts``: a text
        or a list of them, none blank (a blank text maps somewhere too, and its score means nothing)."""
        if isinstance(texts, str):
            texts = [with_words(texts, "text")]
        else:
            texts = text_list(texts, "texts", "texts", "text", "['striped fur', 'snow']")
            texts = [with_words(t, f"texts[{i}]") for i, t in enumerate(texts)]
        return self.classifier.features(images) @ self.space.encode(texts).T

    def heatmap(self, image: ImageLike | torch.Tensor, text: str | int) -> HeatMap:
        """Per-location map of a concept text, or of a class (an index, or a text that is one of its names: the class
        row ``W[c]``, i.e. a CAM, as ``explain(target="tiger cat")`` reads the name; the mapped text of a class name
        only approximates its row, and both maps carried the same label).

        The map is ``feature_map[l] . v`` per location, upsampled bilinearly to the input resolution; it covers the
        preprocessed image (``HeatMap.image``).
        """
        x = self.space.preprocess_one(image)
        out = self.classifier.forward_all(x)
        vector, label = self._map_vector(text)
        heat = self._heatmap(label, out.feature_map[0] @ vector, x[0])
        heat.score = float(out.features[0] @ vector)
        return heat

    def _map_vector(self, text: str | int) -> tuple[torch.Tensor, str]:
        if an_index(text):
            index = self.space.class_index(int(text), "text (a class index)")
            return self.classifier.head_weight[index], self.classifier.class_names[index]
        if not isinstance(text, str):
            raise TypeError(f"text must be a concept string or a class index, got {type(text).__name__}")
        with_words(text, "text", "e.g. 'striped fur', or a class index")  # checked; mapped as given
        try:
            index = self.space.class_index(text)
        except ValueError as exc:  # not a class's name (or one two classes share): a concept
            if "is ambiguous" in str(exc):  # "crane": the text's map, not either crane's row, and the user told so
                warn_user(f"heatmap: {exc}. Mapped {text!r} as a text instead of a class row")
            return self.space.encode([text])[0], text
        return self.classifier.head_weight[index], self.classifier.class_names[index]

    def _heatmap(self, label: str, grid: torch.Tensor, x: torch.Tensor, view: Image.Image | None = None) -> HeatMap:
        up = upsample_map(grid, tuple(x.shape[-2:]))
        image = input_view(self.classifier, x) if view is None else view
        return HeatMap(label, up.cpu().numpy(), grid.float().cpu().numpy(), image)

    # ---- explanations --------------------------------------------------------------------------------------------
    def target(self, target: Target | int | str | None, foil: int | str | None = None, predicted: int | None = None):
        """The explained quantity (a :class:`~nlexnb.targets.Target`) from a Target, a class index or name (with an
        optional foil class), or None for the ``predicted`` class; class indices and names are checked."""
        if isinstance(target, Target):
            target.check(self.classifier)
            return as_target(target, foil)
        index = predicted if target is None else self.space.class_index(target, "target")
        if foil is None:
            return as_target(index)
        foil = self.space.class_index(foil, "foil")
        if foil == index:
            name = self.classifier.class_names[foil]
            if target is None:
                raise ValueError(
                    f"foil must differ from target: the image is predicted as the foil {foil} ({name!r}); "
                    "pass target= to explain another class against it"
                )
            raise ValueError(f"foil must differ from target (both are {foil}, {name!r})")
        return as_target(index, foil)

    def explain(
        self,
        image: ImageInput,
        target: Target | int | str | None = None,
        k: int = DEFAULT_K,
        foil: int | str | None = None,
        heatmaps: bool = True,
    ) -> Explanation | list[Explanation]:
        """Explain the prediction (or ``target``) for one image, or for each image of a list (one forward pass).

        Args:
            image: an image (PIL, array, path), a list of them, or a preprocessed tensor [N, 3, H, W].
            target: what to explain: a class index or name (default the predicted class), or a
                :class:`~nlexnb.targets.Target` (``LogitGap(a, b)``, ``Direction(v)``).
            k: how many concepts to name at most (capped at the bank's size, with a warning unless it is 5). Fewer
                are named where fewer candidates carry the quantity (the shortlist is ``max(shortlist, k)``
                concepts both present and aligned, and the selection stops where the next adds nothing).
            foil: a contrast class: explains ``z_target - z_foil`` with ``W[target] - W[foil]``.
            heatmaps: compute a heat map per named concept (for plots; cheap). False for a classifier that gives
                no feature map (:class:`~nlexnb.classifier.NoFeatureMap`: VGG, say): the rest of the explanation
                needs none.
        """
        k = self.space.check_k(k, default=DEFAULT_K)
        heatmaps = yes_or_no(heatmaps, "heatmaps")
        single, x, out, targets = self._forward(image, target, foil, heatmaps)
        # one pass over the bank for all images: [T, 2N] presence (f . v) and alignment (w_hat . v) columns
        weights = torch.stack([t.weight(self.classifier) for t in targets])
        columns = torch.cat([out.features, weights / weights.norm(dim=1, keepdim=True)]).T
        projections = self.directions @ columns
        n = x.shape[0]
        explanations = [
            self._explain_one(
                out.features[i],
                out.logits[i],
                None if out.feature_map is None else out.feature_map[i],
                x[i],
                targets[i],
                k,
                heatmaps,
                projections[:, [i, n + i]],
            )
            for i in range(n)
        ]
        return explanations[0] if single else explanations

    def weigh(
        self,
        image: ImageInput,
        concepts: Sequence[str],
        target: Target | int | str | None = None,
        foil: int | str | None = None,
        heatmaps: bool = True,
    ) -> Explanation | list[Explanation]:
        """How much of the prediction (or ``target``) the texts you give carry in an image: your explanation, checked
        by the classifier. For a list of images, one explanation each (one forward pass): how much "snow" carries
        each "Siberian husky" prediction of a set, say.

        An explanation names what carries the logit, but nothing the explainer computes tells what a person would
        see in the photo much better than chance (``benchmarks/RESULTS.md``, the reading ceiling). You can: write what
        you see, and each text is mapped into the classifier's space as a bank concept is, and weighed as an
        explanation's concepts are: its ``contribution`` is what removing its direction from the features takes
        from the logit when it joins those before it, and ``total`` (= ``measured``) is what all of them take
        together. Texts come most important first (the joint greedy order; texts that add nothing follow, as given).
        Nothing is refused: a class name or a paraphrase carries a lot, and says little.

        Args:
            image: an image (PIL, array, path), a list of them, or a preprocessed tensor [N, 3, H, W].
            concepts: the texts to weigh (a list; no duplicates).
            target, foil: what to explain, as for :meth:`explain` (default each image's predicted class).
            heatmaps: a heat map per text.

        Returns:
            An :class:`Explanation` with ``weighed=True`` (a list of them for a list of images), whose sentence says
            what each text carries.

        Example:
            >>> explainer.weigh(photos["chelsea"], ["striped fur", "whiskers", "a sofa"]).sentence
            'Of the logit of “tiger cat” (p 0.39), “striped fur” carries 9%, “a sofa” 1% and “whiskers” under 1% ...'
        """
        texts = text_list(concepts, "concepts", "texts", "text", "['striped fur', 'whiskers']")
        texts = [with_words(t, f"concepts[{i}]") for i, t in enumerate(texts)]
        heatmaps = yes_or_no(heatmaps, "heatmaps")
        single, x, out, targets = self._forward(image, target, foil, heatmaps)
        vectors = self.space.encode(texts)
        dirs = self.space.directions_of(vectors)
        weighed = []
        for i, explained in enumerate(targets):
            f = out.features[i]
            w = explained.weight(self.classifier).to(f.device, torch.float32)
            first = GreedySelector().choose(dirs, f, w, len(texts))
            order = first + [j for j in range(len(texts)) if j not in first]
            labels = [texts[j] for j in order]
            fmap, logits = None if out.feature_map is None else out.feature_map[i], out.logits[i]
            weighed.append(
                self._explanation(
                    f, logits, fmap, x[i], explained, labels, vectors[order], dirs[order], heatmaps, weighed=True
                )
            )
        return weighed[0] if single else weighed

    def _forward(
        self, image: ImageInput, target, foil, maps: bool = True
    ) -> tuple[bool, torch.Tensor, Forward, list[Target]]:
        """Check ``target`` and ``foil`` (before the forward pass), then run it (with the feature map when ``maps``):
        (whether ``image`` is one image, the input batch, the forward pass, each image's explained quantity)."""
        if foil is not None:
            self.target(target, foil, predicted=None if target is not None else -1)
        elif target is not None:
            self.target(target)
        single = not isinstance(image, (list, tuple)) and not (isinstance(image, torch.Tensor) and image.ndim == 4)
        x = self.space.preprocess(image, "image" if single else "images")
        out = self.classifier.forward_all(x, maps=maps)
        predicted = out.logits.argmax(1).tolist()
        if target is None and foil is not None and not single:  # name the image: target= would change them all
            foil_index = self.space.class_index(foil, "foil")
            taken = [i for i, p in enumerate(predicted) if p == foil_index]
            if taken:
                name = self.classifier.class_names[foil_index]
                raise ValueError(
                    f"foil must differ from target: images{taken[:5]} {'is' if len(taken) == 1 else 'are'} predicted "
                    f"as the foil {foil_index} ({name!r}), so {'its' if len(taken) == 1 else 'their'} predicted class "
                    "cannot stand against it; leave them out, or pass target= to explain one class against the foil "
                    "in every image"
                )
        return single, x, out, [self.target(target, foil, predicted=p) for p in predicted]

    def select(
        self,
        features: torch.Tensor,
        target: Target | int,
        k: int = DEFAULT_K,
        foil: int | None = None,
        *,
        projections: torch.Tensor | None = None,
        objective: torch.Tensor | None = None,
    ) -> tuple[list[int], list[float]]:
        """The named concepts for one feature vector [d]: bank indices and their marginal contributions.

        The selector picks among the shortlist (:meth:`candidates`); each concept's contribution is what its direction
        adds to ``w . P_S f`` when it joins those before it (:func:`nlexnb.selection.marginal_gains`), so the
        contributions add up to the drop of the explained quantity when all are removed. ``projections`` [T, 2] are
        the bank's ``f . v`` and ``w_hat . v`` when already computed. (``objective=v`` is the former spelling of
        ``target=Direction(v)``.)
        """
        if objective is not None:
            warnings.warn("select(objective=v) is now select(target=Direction(v))", DeprecationWarning, stacklevel=2)
            target = Direction(objective, "objective", classes=self.target(target, foil).classes)
        target = self.target(target, foil)
        k = self.space.check_k(k, default=DEFAULT_K)  # k=0 chose nothing, k=-1 too, without a word
        f = self._one_vector(features)
        w = target.weight(self.classifier).to(f.device, torch.float32)
        candidates = self._candidates(f, target, max(self.shortlist, k), projections)
        if not candidates:
            return [], []
        dirs = self.directions[candidates]
        extra = {"prior": self.prior(target, candidates)} if takes_prior(self.selector) else {}
        chosen = [candidates[i] for i in self.selector.choose(dirs, f, w, k, **extra)]
        return chosen, marginal_gains(self.directions[chosen], f, w)

    def _one_vector(self, features) -> torch.Tensor:
        """One image's features as a vector [d] on the bank's device: [d], or the [1, d] ``classifier.features(image)``
        returns; anything else named (a numpy array failed on ``.to``, two rows in torch's words)."""
        if isinstance(features, torch.Tensor) and features.ndim == 1:
            features = features[None]
        one = self.classifier.checked_features(features, "features", rows=1)[0]
        return one.to(self.directions.device, torch.float32)

    def prior(self, target: Target | int, indices: Sequence[int]) -> torch.Tensor | None:
        """How much the selection prefers each of these bank concepts when explaining ``target``: their
        :meth:`~nlexnb.space.ConceptSpace.relevance` to the explained class (the first of the target's classes) to the
        power ``relevance``, scaled so that the best of them is 1 (in float64: a strong preference raised the
        weak candidates' relevance to 0 in float32, and every candidate at once when all were weak); None when
        ``relevance`` is 0 or the target names no class (a free direction)."""
        target = self.target(target)
        if self.relevance == 0 or not target.classes or not len(indices):
            return None
        fit = self.space.relevance(target.classes[0])[self.space.positions(indices)].double()
        return (fit / fit.max()) ** self.relevance

    def candidates(
        self,
        features: torch.Tensor,
        target: Target | int,
        size: int | None = None,
        *,
        projections: torch.Tensor | None = None,
    ) -> list[int]:
        """Shortlist by separate contribution ``(f . v)(w . v)`` among concepts both present (``f . v > 0``) and aligned
        with the target (``w . v > 0``, below ``max_alignment``), without class names, peoples, the target's words,
        echoes of its names and concepts that fit another sense of them (:meth:`refused`). Best first.

        A contrast (A rather than B) draws from what the model sees as evidence for A (A's own shortlist, as a
        factual explanation of A has it) the concepts that also separate A from B (aligned with ``W[A] - W[B]``),
        ranked by their contribution to the gap, without B's words, echoes and other senses, and without kinds of
        either class (``mentions(kinds=True)``: "wild cat" says nothing about tiger cat rather than Egyptian cat).
        Ranking the whole bank by the gap instead names whatever happens to separate two close rows ("console,
        grazing, juice" for a tabby photo's tiger cat rather than Egyptian cat): measured on the 50 plausibility
        photos, drawing from A's evidence lifts the judged share of contrastive concepts from 0.11 to 0.16
        (``benchmarks/RESULTS.md``)."""
        size = self.shortlist if size is None else positive_int(size, "size", "concepts")  # -1 dropped the last one
        return self._candidates(self._one_vector(features), self.target(target), size, projections)

    def _candidates(self, f: torch.Tensor, target: Target, size: int, projections: torch.Tensor | None) -> list[int]:
        """:meth:`candidates` for a checked feature vector ``f`` [d] and target."""
        w = target.weight(self.classifier).to(f.device, torch.float32)
        both = projections if projections is not None else self.directions @ torch.stack([f, w / w.norm()], 1)
        if not isinstance(target, LogitGap):
            said = concept_words(target.label) if isinstance(target, Direction) else frozenset()
            return self._shortlist(both, target.classes, size, said)
        row = self.classifier.head_weight[target.index].to(f.device, torch.float32)
        evidence = self._shortlist(self.directions @ torch.stack([f, row / row.norm()], 1), (target.index,), size)
        if not evidence:
            return []
        gap = both[evidence]
        fits = ((gap > 0).all(1) & (gap[:, 1] <= self.max_alignment)).tolist()
        named = self.space.mentions(evidence, target.classes, kinds=True)
        echo = self.refused(evidence, target.foil).tolist()
        scores = gap.prod(1).tolist()
        keep = [(s, i) for i, s, ok, n, e in zip(evidence, scores, fits, named, echo) if ok and not (n or e)]
        return [i for _, i in sorted(keep, key=lambda pair: -pair[0])]  # best first; ties keep A's order

    def _shortlist(
        self, both: torch.Tensor, classes: Sequence[int], size: int, said: frozenset[str] = frozenset()
    ) -> list[int]:
        """The ``size`` best concepts by ``both.prod(1)`` ([T, 2]: presence and alignment), present, aligned below
        ``max_alignment``, neither naming nor echoing one of ``classes``, and saying none of the words ``said`` (a
        free direction's label: "striped feathers" says nothing new about the score of "striped fur")."""
        paraphrase = both[:, 1] > self.max_alignment
        single = both.prod(1).masked_fill(self.space.excluded | paraphrase | (both <= 0).any(1), -torch.inf)
        top = single.topk(min(max(4 * size, size + 64), len(single)))
        order = [i for i, v in zip(top.indices.tolist(), top.values.tolist()) if v > -float("inf")]  # one sync
        keep = [i for i, named in zip(order, self.space.mentions(order, classes)) if not named]
        if said:
            keep = [i for i in keep if not concept_words(self.space.texts[i]) & said]
        keep = [i for i, alike in zip(keep, self.resemblances(keep, classes)) if not alike]
        if keep and (self.echo_margin is not None or self.sense_margin is not None):
            refused = torch.zeros(len(keep), dtype=torch.bool, device=self.directions.device)
            for c in classes:
                refused |= self.refused(keep, c)
            keep = [i for i, r in zip(keep, refused.tolist()) if not r]
        return keep[:size]

    def resemblances(self, indices: Sequence[int], classes: Sequence[int]) -> list[bool]:
        """Which bank concepts (by index) an explanation of ``classes`` may not name because a row holds them only
        through the classes it resembles: other animals and what only they have (unless ``other_animals``), and
        things the class's photos are not expected to show (unless ``unlisted_things``), colours and markings it is
        not known to have (unless ``unlisted_colours``)."""
        out = [False] * len(indices)
        if not self.other_animals:
            out = [o or r for o, r in zip(out, self.space.other_animals(indices, classes))]
        if not self.unlisted_things:
            out = [o or r for o, r in zip(out, self.space.unlisted_things(indices, classes))]
        if not self.unlisted_colours:
            out = [o or r for o, r in zip(out, self.space.unlisted_colours(indices, classes))]
        return out

    def refused(self, indices: Sequence[int], c: int) -> torch.Tensor:
        """Which bank concepts (by index) may not explain class ``c`` (or stand against it as a foil): echoes of its
        names (``echo_margin``) and concepts that fit another sense of them (``sense_margin``)."""
        out = torch.zeros(len(indices), dtype=torch.bool, device=self.directions.device)
        if self.echo_margin is not None:
            out |= self.echoes(indices, c)
        if self.sense_margin is not None:
            out |= self.space.other_sense(indices, c, self.sense_margin, self.sense_floor)
        return out

    def echoes(self, indices: Sequence[int], c: int) -> torch.Tensor:
        """Which bank concepts (by index) echo class ``c``'s name rather than describe it (see ``echo_margin``)."""
        margin = 0.1 if self.echo_margin is None else self.echo_margin
        return self.space.echoes(indices, c, margin, self.echo_floor)

    def text_neighbours(self, c: int | str, k: int = 5) -> list[str]:
        """The ``k`` bank concepts nearest class ``c``'s names in text space (a plausibility baseline; see
        :meth:`nlexnb.space.ConceptSpace.text_neighbours`)."""
        return self.space.text_neighbours(c, k)

    def _explain_one(self, f, logits, fmap, x, target: Target, k, want_maps, projections=None) -> Explanation:
        chosen, _ = self.select(f, target, k, projections=projections)
        labels = [self.bank.texts[i] for i in chosen]
        extra = {} if chosen else {"withheld": self._withheld(f, target, projections)}
        return self._explanation(
            f, logits, fmap, x, target, labels, self.vectors[chosen], self.directions[chosen], want_maps, **extra
        )

    def _withheld(self, f: torch.Tensor, target: Target, projections: torch.Tensor | None) -> int:
        """How many bank concepts are present in the image and aligned with the target's weight: where none is
        named, those the explainer's rules left out (a bank of class names alone said "no concept in the bank
        carries this decision" of a "cat" that carried 61% of the tiger cat's logit)."""
        f = f.to(self.directions.device, torch.float32)
        w = target.weight(self.classifier).to(f.device, torch.float32)
        both = projections if projections is not None else self.directions @ torch.stack([f, w / w.norm()], 1)
        return int((both > 0).all(1).sum())

    def _explanation(
        self, f, logits, fmap, x, target: Target, labels, vectors, dirs, want_maps, **extra
    ) -> Explanation:
        """The explanation naming ``labels`` (mapped ``vectors`` [n, d] and unit ``dirs``, in order) for one image's
        forward pass; ``extra`` goes to the :class:`Explanation`."""
        clf = self.classifier
        w = target.weight(clf)
        probs = logits.softmax(-1)
        base = target.value(clf, f.double())
        explained = float(base)
        gains = marginal_gains(dirs, f, w) if len(labels) else []
        # single-direction ablations for every named concept at once: f - (f . v) v
        single = f.double() - (dirs.double() @ f.double()).unsqueeze(1) * dirs.double()
        drops = (base - target.value(clf, single)).tolist() if len(labels) else []
        measured = measured_drop(clf, f, dirs, target) if len(labels) else 0.0
        table = pd.DataFrame(
            {
                "concept": list(labels),
                "score": (vectors @ f).tolist(),
                "alignment": (dirs @ (w / w.norm())).tolist(),
                "contribution": gains,
                # no share of what the model decided against: a logit of -3.96 gave a push for it a share of -9%
                "share": [g / explained if explained > 0 else float("nan") for g in gains],
                "drop": drops,
            }
        )
        maps = []
        if want_maps and len(labels):
            grids = torch.einsum("hwd,kd->khw", fmap, vectors)
            view = input_view(clf, x)  # one picture for all the maps
            maps = [self._heatmap(label, g, x, view) for label, g in zip(labels, grids)]
        predicted = int(logits.argmax())
        foil = getattr(target, "foil", None)
        if isinstance(target, Direction):  # no class is explained: the class fields said the prediction's numbers
            index, name, probability, logit, margin = None, target.label, None, None, None
        else:
            index = getattr(target, "index", predicted)
            name, probability = clf.class_names[index], float(probs[index])
            logit, margin = float(logits[index]), float(logits[index] - logits.mean())
        return Explanation(
            target=index,
            target_name=name,
            probability=probability,
            logit=logit,
            margin=margin,
            concepts=table,
            total=float(sum(gains)),
            measured=measured,
            foil=foil,
            foil_name=clf.class_names[foil] if foil is not None else None,
            foil_probability=float(probs[foil]) if foil is not None else None,
            heatmaps=maps,
            explained=explained,
            explains=target,
            predicted=predicted,
            predicted_name=clf.class_names[predicted],
            predicted_probability=float(probs[predicted]),
            concept_directions=self.mapper.concept_directions,
            **extra,
        )
