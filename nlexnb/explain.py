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

import base64
import html
import io
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from PIL import Image

from ._checks import positive_int
from .classifier import Classifier
from .concepts import ConceptBank, load_concepts, names_a_people
from .images import ImageInput, ImageLike, preprocessed, to_pil
from .labels import bare_synonyms, class_name_set, imagenet_class_names, imagenet_glosses, primary_name
from .mapper import check_fits

__all__ = ["Explainer", "Explanation", "HeatMap", "input_view", "project_out"]


# ---- small math shared with nlexnb.metrics -------------------------------------------------------------------------
def orthonormal_basis(directions: torch.Tensor) -> torch.Tensor:
    """Orthonormal basis [r, d] (float64) of the span of ``directions`` [k, d] (rank-deficient rows are dropped)."""
    if directions.shape[0] == 0:
        return directions.new_zeros(0, directions.shape[1], dtype=torch.float64)
    q, r = torch.linalg.qr(directions.double().T)
    keep = r.diagonal().abs() > 1e-8 * r.diagonal().abs().max().clamp_min(1e-30)
    return q.T[keep]


def project_out(features: torch.Tensor, directions: torch.Tensor) -> torch.Tensor:
    """``f - P f``: remove the span of ``directions`` [k, d] from features [..., d] (projector in float64)."""
    basis = orthonormal_basis(directions)
    f = features.double()
    return (f - (f @ basis.T) @ basis).to(features.dtype)


def logit_gap(logits: torch.Tensor, target: int, foil: int | None = None) -> torch.Tensor:
    """What an explanation explains: the target logit, or its gap to the foil's (``z_target - z_foil``)."""
    return logits[..., target] - (logits[..., foil] if foil is not None else 0.0)


def measured_drop(
    classifier: Classifier, features: torch.Tensor, directions: torch.Tensor, target: int, foil: int | None = None
) -> float:
    """Drop of :func:`logit_gap` when the span of ``directions`` is removed from ``features`` [d] and the head is
    re-run (float64): the number the closed form must match."""
    before = logit_gap(classifier.head(features.double()), target, foil)
    return float(before - logit_gap(classifier.head(project_out(features, directions).double()), target, foil))


def input_view(classifier: Classifier, image: ImageLike | torch.Tensor) -> Image.Image:
    """The image as the classifier sees it (resized, cropped), as a PIL image: the region heat maps cover.

    Undoes the transform's normalisation when its mean/std can be found, else rescales to [0, 1].
    """
    x = image if isinstance(image, torch.Tensor) else classifier.transform(to_pil(image))
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


def _upsample(grid: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear upsampling of maps [..., h, w] to ``size`` (cell centres stay at patch centres)."""
    lead = grid.shape[:-2]
    flat = grid.reshape(-1, 1, *grid.shape[-2:]).float()
    up = F.interpolate(flat, size=size, mode="bilinear", align_corners=False)
    return up.reshape(*lead, *size)


# ---- results -------------------------------------------------------------------------------------------------------
@dataclass
class HeatMap:
    """Where on the image a concept (or class) is expressed.

    Attributes:
        label: the concept text, or the class name for a class map.
        values: the map at the classifier's input resolution [H, W], in logit units (``feature_map . v``).
        grid: the same on the feature map's own grid [h, w].
        image: the preprocessed image the map covers (see :func:`input_view`).
        score: the image-level score ``f . v`` from the same forward pass (:meth:`Explainer.heatmap` sets it).
    """

    label: str
    values: np.ndarray
    grid: np.ndarray
    image: Image.Image
    score: float | None = None

    def peak(self) -> tuple[int, int]:
        """(row, column) of the maximum, in ``values`` (input-resolution) coordinates."""
        return tuple(int(i) for i in np.unravel_index(np.argmax(self.values), self.values.shape))

    def plot(self, ax=None, alpha: float = 0.5, cmap: str = "jet"):
        """Overlay on the image; returns the matplotlib Figure."""
        from .plots import heatmap_overlay

        return heatmap_overlay(self.image, self.values, title=self.label, ax=ax, alpha=alpha, cmap=cmap)


@dataclass
class Explanation:
    """Why the classifier predicted ``target`` for one image, in concepts from a bank.

    Attributes:
        target, target_name, probability, logit: the explained class and the model's own numbers for it.
        margin: the logit minus the mean logit over classes.
        foil, foil_name, foil_probability: the contrast class ("why A rather than B"), else None.
        concepts: one row per named concept: ``concept``, ``score`` (its mapped vector . f, logit units),
            ``alignment`` (cosine of its direction with the class row, or with ``W[A] - W[B]``), ``contribution``
            (marginal drop of the logit, or of ``z_A - z_B``, when its direction joins the span), ``share``
            (contribution / logit, or / ``z_A - z_B``) and ``drop`` (measured drop when only its direction is
            ablated, re-running the head).
        total: closed-form drop when all named directions are removed at once (= ``concepts.contribution.sum()``).
        measured: the same drop measured by re-running the head on the ablated feature.
        sentence: the explanation in one sentence.
        heatmaps: one :class:`HeatMap` per named concept, in order.
    """

    target: int
    target_name: str
    probability: float
    logit: float
    margin: float
    concepts: pd.DataFrame
    total: float
    measured: float
    foil: int | None = None
    foil_name: str | None = None
    foil_probability: float | None = None
    heatmaps: list[HeatMap] = field(default_factory=list, repr=False)

    @property
    def explained(self) -> float:
        """The quantity the concepts explain: the logit, or ``z_A - z_B`` with a foil."""
        return float(self.concepts.attrs.get("explained", self.logit))

    @property
    def sentence(self) -> str:
        head = f"Predicted \u201c{primary_name(self.target_name)}\u201d (p {self.probability:.2f})"
        if self.foil is not None:
            head += f" rather than \u201c{primary_name(self.foil_name)}\u201d (p {self.foil_probability:.2f})"
        table = self.concepts
        top = table["contribution"].max() if len(table) else 0.0
        names = list(table["concept"][table["contribution"] >= 0.25 * top])  # the sentence names the main ones
        if not names:
            return head + ", but no concept in the bank carries this decision."
        listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
        carried = float(table["contribution"][table["contribution"] >= 0.25 * top].sum())
        how = "mainly" if carried >= 0.5 * abs(self.explained) else "partly"
        return f"{head} {how} because it sees {listed}."

    def plot(self, figsize: tuple[float, float] = (11, 4)):
        """Contributions (seaborn bar chart) beside the image with the top concept's heat map; returns the Figure."""
        from .plots import explanation_figure

        return explanation_figure(self, figsize=figsize)

    def __repr__(self) -> str:
        return f"Explanation({self.sentence!r})"

    def _repr_html_(self) -> str:
        table = self.concepts.to_html(index=False, float_format=lambda v: f"{v:.3g}", border=0)
        thumb = ""
        if self.heatmaps:
            from .plots import overlay_image

            buf = io.BytesIO()
            overlay_image(self.heatmaps[0].image, self.heatmaps[0].values).save(buf, format="PNG")
            src = base64.b64encode(buf.getvalue()).decode()
            caption = html.escape(self.heatmaps[0].label)
            thumb = (
                f'<figure style="float:left;margin:0 1em 0 0"><img src="data:image/png;base64,{src}" width="160"/>'
                f"<figcaption style='font-size:smaller'>{caption}</figcaption></figure>"
            )
        note = (
            f"named concepts remove {self.total:.2f} of {self.explained:.2f} (measured {self.measured:.2f}); "
            f"margin over the mean logit {self.margin:.2f}"
        )
        return (
            f"<div>{thumb}<p><b>{html.escape(self.sentence)}</b></p>{table}"
            f"<p style='font-size:smaller'>{html.escape(note)}</p><div style='clear:both'></div></div>"
        )


# ---- the explainer -------------------------------------------------------------------------------------------------
class Explainer:
    """Explains a classifier's predictions with the concepts of a bank, through a fitted mapper.

    Args:
        classifier: the model to explain.
        mapper: a mapper fitted on this classifier's head (any method).
        concepts: a :class:`ConceptBank`, a list of strings, a text file, a built-in name, or None (the default
            visual bank, about 3,400 concepts; encoded once and cached on disk).
        shortlist: how many concepts (best by their separate contribution) the joint selection considers (at least
            ``k``). Small keeps explanations to what the image and the class share most: the joint selection over a
            long list fills the residual with unrelated objects ("pork", "arsenal"). Measured on the 50
            plausibility photos (``benchmarks/bench_plausibility.py``): 256 -> 20 lifts the judged plausible share
            from 0.10 to 0.14 while the named concepts still remove 41% of the margin (44% at 256).
        max_alignment: concepts whose direction has a cosine above this with the explained row (``W[c]``, or
            ``W[c] - W[foil]``) are paraphrases of the class ("academic costume" for "academic gown"), not evidence
            for it, and are left out. Measured on the sample photos with the kernel mapper: 1.0 names paraphrases
            (82% of the margin removed), 0.5 names attributes and parts while still removing 71% (random words: 2%).
        echo_margin: refuse a concept as an *echo* of the explained class (or foil) when, in the text encoder's own
            space, it is closer to the class's bare names than to the class's gloss by more than this margin, and
            at least ``echo_floor`` close to a name: "gaboon viper" sounds like "baboon" but is nothing like "large
            terrestrial monkeys ... with a dog-like muzzle"; "wind" is a sense of the toy kite, not of the bird.
            Without glosses (a classifier whose class names are not ImageNet's and no ``glosses=``), a concept is an
            echo when it is at least ``echo_floor + echo_margin`` close to a name. None turns the test off.
        echo_floor: see ``echo_margin``.
        glosses: one short definition per class, for the echo test; default ImageNet's WordNet glosses when the
            classifier's class names are ImageNet-1k's.
        progress: show a progress bar while encoding the bank (default: for large banks).

    Concepts that name a people, nationality, ethnic or religious group are never used, whatever the bank
    (:func:`nlexnb.concepts.names_a_people`).

    Example:
        >>> explainer = nlexnb.Explainer(clf, mapper)
        >>> explainer.explain(photo).sentence
        'Predicted “espresso” (p 0.95) mainly because it sees ...'
    """

    def __init__(
        self,
        classifier: Classifier,
        mapper,
        concepts: ConceptBank | Sequence[str] | str | None = None,
        *,
        shortlist: int = 20,
        max_alignment: float = 0.5,
        echo_margin: float | None = 0.1,
        echo_floor: float = 0.35,
        glosses: Sequence[str] | None = None,
        progress: bool | None = None,
    ) -> None:
        check_fits(mapper, classifier, "Explainer")
        self.classifier = classifier
        self.mapper = mapper
        self.bank = load_concepts(concepts)
        self.shortlist = int(shortlist)
        if not 0 < max_alignment <= 1:
            raise ValueError(f"max_alignment must be in (0, 1], got {max_alignment!r}")
        self.max_alignment = float(max_alignment)
        device = classifier.device
        self.vectors = self.bank.encode(mapper, progress=progress).to(device, torch.float32)  # raw mapped [T, d]
        self.offset = self.vectors.mean(0) if len(self.bank) > 1 else torch.zeros_like(self.vectors[0])
        centred = self.vectors - self.offset
        self.directions = centred.div_(centred.norm(dim=1, keepdim=True).clamp_min_(1e-12))  # unit [T, d]
        self._class_words = _LazyPatterns(classifier.class_names)
        names = class_name_set(classifier.class_names)
        # never used as explanations: class names (of any class) and names of peoples
        excluded = [t.lower() in names or names_a_people(t) for t in self.bank.texts]
        self._excluded = torch.tensor(excluded, device=device)
        self._lower = [t.lower() for t in self.bank.texts]
        self.echo_margin = None if echo_margin is None else float(echo_margin)
        self.echo_floor = float(echo_floor)
        if glosses is None and list(classifier.class_names) == imagenet_class_names():
            glosses = imagenet_glosses()
        if glosses is not None and len(glosses) != classifier.num_classes:
            raise ValueError(f"glosses must give one text per class ({classifier.num_classes}), got {len(glosses)}")
        self.glosses = None if glosses is None else list(glosses)
        self._text_matrix: torch.Tensor | None = None
        self._class_text: dict[int, tuple[torch.Tensor, torch.Tensor | None]] = {}

    def __repr__(self) -> str:
        return (
            f"Explainer({self.classifier.name!r}, {len(self.bank)} concepts, mapper={self.mapper.meta.get('method')})"
        )

    # ---- scores and maps -----------------------------------------------------------------------------------------
    def scores(self, images: ImageInput, texts: Sequence[str] | str) -> torch.Tensor:
        """Classifier-space scores [N, T]: ``mapped(text) . f(image)``, in the units of the logits."""
        vectors = self.mapper.encode(texts, cache=True).to(self.classifier.device, torch.float32)
        return self.classifier.features(images) @ vectors.T

    def heatmap(self, image: ImageLike | torch.Tensor, text: str | int) -> HeatMap:
        """Per-location map of a concept text, or of a class (an int: the class row ``W[c]``, i.e. a CAM).

        The map is ``feature_map[l] . v`` per location, upsampled bilinearly to the input resolution; it covers the
        preprocessed image (``HeatMap.image``).
        """
        x = self._preprocess(image if isinstance(image, torch.Tensor) else [image])[:1]
        out = self.classifier.forward_all(x)
        vector, label = self._map_vector(text)
        heat = self._heatmap(label, out["feature_map"][0] @ vector, x[0])
        heat.score = float(out["features"][0] @ vector)
        return heat

    def _map_vector(self, text: str | int) -> tuple[torch.Tensor, str]:
        if isinstance(text, (int, np.integer)) and not isinstance(text, bool):
            index = self._check_class(int(text), "text (a class index)")
            return self.classifier.head_weight[index], self.classifier.class_names[index]
        if not isinstance(text, str):
            raise TypeError(f"text must be a concept string or a class index, got {type(text).__name__}")
        return self.mapper.encode([text], cache=True)[0].to(self.classifier.device, torch.float32), text

    def _heatmap(self, label: str, grid: torch.Tensor, x: torch.Tensor) -> HeatMap:
        up = _upsample(grid, tuple(x.shape[-2:]))
        return HeatMap(label, up.cpu().numpy(), grid.float().cpu().numpy(), input_view(self.classifier, x))

    # ---- explanations --------------------------------------------------------------------------------------------
    def explain(
        self,
        image: ImageInput,
        target: int | None = None,
        k: int = 5,
        foil: int | None = None,
        heatmaps: bool = True,
    ) -> Explanation | list[Explanation]:
        """Explain the prediction (or ``target``) for one image, or for each image of a list (one forward pass).

        Args:
            image: an image (PIL, array, path), a list of them, or a preprocessed tensor [N, 3, H, W].
            target: class to explain; default the predicted class.
            k: how many concepts to name (capped at the bank's size, with a warning).
            foil: a contrast class: explains ``z_target - z_foil`` with ``W[target] - W[foil]``.
            heatmaps: compute a heat map per named concept (for plots; cheap).
        """
        k = self._check_k(k)
        if target is not None:
            target = self._check_class(target, "target")
        if foil is not None:
            foil = self._check_class(foil, "foil")
            if foil == target:
                raise ValueError(
                    f"foil must differ from target (both are {foil}, {self.classifier.class_names[foil]!r})"
                )
        single = not isinstance(image, (list, tuple)) and not (isinstance(image, torch.Tensor) and image.ndim == 4)
        x = self._preprocess(image if not single or isinstance(image, torch.Tensor) else [image])
        out = self.classifier.forward_all(x)
        targets = out["logits"].argmax(1).tolist() if target is None else [target] * x.shape[0]
        # one pass over the bank for all images: [T, 2N] presence (f . v) and alignment (w_hat . v) columns
        objectives = torch.stack([self._objective(t, foil) for t in targets])
        columns = torch.cat([out["features"], objectives / objectives.norm(dim=1, keepdim=True)]).T
        projections = self.directions @ columns
        n = x.shape[0]
        explanations = [
            self._explain_one(
                out["features"][i],
                out["logits"][i],
                out["feature_map"][i],
                x[i],
                targets[i],
                foil,
                k,
                heatmaps,
                projections[:, [i, n + i]],
            )
            for i in range(n)
        ]
        return explanations[0] if single else explanations

    def select(
        self,
        features: torch.Tensor,
        target: int,
        k: int = 5,
        foil: int | None = None,
        *,
        objective: torch.Tensor | None = None,
        projections: torch.Tensor | None = None,
    ) -> tuple[list[int], list[float]]:
        """The jointly chosen concepts for one feature vector [d]: bank indices and marginal contributions.

        Greedy: each step adds the shortlisted concept whose direction, made orthogonal to those already chosen,
        adds most to ``w . P_S f`` (``w = W[target]``, or ``W[target] - W[foil]``). Stops early when no concept adds
        anything. ``objective`` replaces ``w`` (the randomisation check uses it); the target's and foil's names
        stay excluded. ``projections`` [T, 2] are the bank's ``f . v`` and ``w_hat . v`` when already computed.
        """
        f = features.to(self.directions.device, torch.float32)
        w = self._objective(target, foil) if objective is None else objective.to(f.device, torch.float32)
        candidates = self._candidates(f, w, target, foil, projections, size=max(self.shortlist, k))
        residual = self.directions[candidates].double()
        f64, w64 = f.double(), w.double()
        chosen, gains = [], []
        alive = torch.ones(len(candidates), dtype=torch.bool, device=residual.device)
        for _ in range(min(k, len(candidates))):
            norms = residual.norm(dim=1)
            unit = residual / norms.clamp_min(1e-12).unsqueeze(1)
            gain = (unit @ f64) * (unit @ w64)
            gain = torch.where(alive & (norms > 1e-6), gain, torch.full_like(gain, -torch.inf))
            best = int(gain.argmax())
            if not gain[best] > 0:
                break
            chosen.append(candidates[best])
            gains.append(float(gain[best]))
            alive[best] = False
            q = unit[best]
            residual = residual - (residual @ q).unsqueeze(1) * q
        return chosen, gains

    def _objective(self, target: int, foil: int | None) -> torch.Tensor:
        w = self.classifier.head_weight[target]
        return w - self.classifier.head_weight[foil] if foil is not None else w

    def _candidates(
        self,
        f: torch.Tensor,
        w: torch.Tensor,
        target: int,
        foil: int | None,
        both: torch.Tensor | None = None,
        size: int | None = None,
    ) -> list[int]:
        """Shortlist by separate contribution ``(f . v)(w . v)`` among concepts both present (``f . v > 0``) and aligned
        with the class (``w . v > 0``), without class names (and the target's/foil's words)."""
        if both is None:
            both = self.directions @ torch.stack([f, w / w.norm()], 1)
        paraphrase = both[:, 1] > self.max_alignment
        single = both.prod(1).masked_fill(self._excluded | paraphrase | (both <= 0).any(1), -torch.inf)
        size = self.shortlist if size is None else size
        top = single.topk(min(max(4 * size, size + 64), len(single)))
        order = [i for i, v in zip(top.indices.tolist(), top.values.tolist()) if v > -float("inf")]  # one sync
        patterns = [self._class_words[target]] + ([self._class_words[foil]] if foil is not None else [])
        keep = [i for i in order if not any(p.search(self._lower[i]) for p in patterns)]
        if self.echo_margin is not None and keep:
            echo = self.echoes(keep, target) | (self.echoes(keep, foil) if foil is not None else False)
            keep = [i for i, e in zip(keep, echo.tolist()) if not e]
        return keep[:size]

    # ---- echoes of the class name ----------------------------------------------------------------------------------
    def _texts(self) -> torch.Tensor:
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

    def echoes(self, indices: Sequence[int], c: int) -> torch.Tensor:
        """Which bank concepts (by index) echo class ``c``'s name rather than describe it (see ``echo_margin``)."""
        texts = self._texts()[list(indices)]
        names, gloss = self._names_and_gloss(c)
        to_name = (texts @ names.T).max(1).values
        if gloss is None:
            return to_name >= self.echo_floor + self.echo_margin
        return (to_name >= self.echo_floor) & (to_name > texts @ gloss + self.echo_margin)

    def text_neighbours(self, c: int | str, k: int = 5) -> list[str]:
        """The ``k`` bank concepts nearest class ``c``'s names in text space (class names and peoples left out): the
        explanation a text encoder alone would give, a baseline for plausibility."""
        index = c if isinstance(c, int) else self.classifier.class_names.index(c)
        names, _ = self._names_and_gloss(index)
        score = (self._texts() @ names.T).max(1).values.masked_fill(self._excluded, -torch.inf)
        pattern = self._class_words[index]
        order = [i for i in score.argsort(descending=True).tolist() if not pattern.search(self._lower[i])]
        return [self.bank.texts[i] for i in order[:k]]

    def _explain_one(self, f, logits, fmap, x, target, foil, k, want_maps, projections=None) -> Explanation:
        clf = self.classifier
        if foil == target:
            raise ValueError(
                f"foil must differ from target: the image is predicted as the foil {foil} ({clf.class_names[foil]!r}); "
                "pass target= to explain another class against it"
            )
        chosen, gains = self.select(f, target, k, foil, projections=projections)
        w = self._objective(target, foil)
        probs = logits.softmax(-1)
        explained = float(logits[target] - (logits[foil] if foil is not None else 0.0))
        dirs = self.directions[chosen]
        base = logit_gap(clf.head(f.double()), target, foil)
        # single-direction ablations for every named concept at once: f - (f . v) v
        single = f.double() - (dirs.double() @ f.double()).unsqueeze(1) * dirs.double()
        drops = (base - logit_gap(clf.head(single), target, foil)).tolist() if chosen else []
        measured = measured_drop(clf, f, dirs, target, foil) if chosen else 0.0
        table = pd.DataFrame(
            {
                "concept": [self.bank.texts[i] for i in chosen],
                "score": (self.vectors[chosen] @ f).tolist(),
                "alignment": (dirs @ (w / w.norm())).tolist(),
                "contribution": gains,
                "share": [g / explained if explained else float("nan") for g in gains],
                "drop": drops,
            }
        )
        table.attrs["explained"] = explained
        maps = []
        if want_maps and chosen:
            grids = torch.einsum("hwd,kd->khw", fmap, self.vectors[chosen])
            maps = [self._heatmap(self.bank.texts[i], g, x) for i, g in zip(chosen, grids)]
        return Explanation(
            target=target,
            target_name=clf.class_names[target],
            probability=float(probs[target]),
            logit=float(logits[target]),
            margin=float(logits[target] - logits.mean()),
            concepts=table,
            total=float(sum(gains)),
            measured=measured,
            foil=foil,
            foil_name=clf.class_names[foil] if foil is not None else None,
            foil_probability=float(probs[foil]) if foil is not None else None,
            heatmaps=maps,
        )

    # ---- checks ------------------------------------------------------------------------------------------------------
    def _preprocess(self, images: ImageInput) -> torch.Tensor:
        return preprocessed(images, self.classifier.transform)

    def _check_class(self, index, what: str) -> int:
        n = self.classifier.num_classes
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise TypeError(f"{what} must be a class index (int in [0, {n})), got {type(index).__name__}")
        if not 0 <= int(index) < n:
            raise ValueError(f"{what} {index} is out of range: {self.classifier.name} has classes 0..{n - 1}")
        return int(index)

    def _check_k(self, k: int) -> int:
        k = positive_int(k, "k", "concepts")
        if k > len(self.bank):
            warnings.warn(
                f"k={k} is larger than the {len(self.bank)} concepts in the bank; using k={len(self.bank)}",
                stacklevel=3,
            )
            return len(self.bank)
        return int(k)


class _LazyPatterns:
    """Name patterns of the classes, compiled on first use (all 1,000 up front would cost a fraction of a second)."""

    def __init__(self, names: Sequence[str]) -> None:
        self.names = list(names)
        self._compiled: dict[int, re.Pattern] = {}

    def __getitem__(self, index: int) -> re.Pattern:
        if index not in self._compiled:
            self._compiled[index] = _name_pattern(self.names[index])
        return self._compiled[index]


def _name_pattern(name: str) -> re.Pattern:
    """Whole-word (plural-tolerant) match of any synonym of a class name."""
    words = sorted({s.lower() for s in bare_synonyms(name) if s}, key=len, reverse=True)
    alternatives = "|".join(re.escape(s) for s in words)
    return re.compile(rf"(?<!\w)(?:{alternatives})(?:s|es)?(?!\w)")
