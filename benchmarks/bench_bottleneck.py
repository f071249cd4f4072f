"""Benchmark: a concept bottleneck fitted without data, judged by agreement with the original head and by its recipes.

    python benchmarks/bench_bottleneck.py

Default mapper (kernel ridge on all-MiniLM-L6-v2) and visual bank. Prints, with the machine and date:

1. for lite0 and budgets of 8, 16, 32 and 64 concepts per class: the share of each centred class row the recipes
   leave out and the top-1 agreement with the original head on 298 photos (Tux Paint's 290 photo stamps and the 8
   sample photos), beside two baselines fitted the same way with the same budget: concepts drawn at random for each
   class, and each class's nearest concepts in text space;
2. the same at 32 concepts for lite1 and lite2, and for each model at 32 concepts the agreement split by the original
   head's top-1 probability (with how often the head's class is among the bottleneck's five highest), recipes beside
   the baselines;
3. recipes as visual evidence: for 20 classes across the hierarchy (``nlexnb/data/class_evidence.json``: what a
   person can point at in a photo of each), the share of recipe concepts the plausibility judge (all-mpnet-base-v2,
   the encoder the recipes were not made with) matches to the class's evidence, unweighted and weighted by the
   recipe's weights, beside the baselines; and recipe concepts that name a people (must be 0);
4. the fit time for 1,000 classes (bank already encoded) and the time of one bottleneck explanation;
5. for lite0, the agreement by confidence on GCompris's 326 whole photos (``scripts/fetch_photos.sh``), where installed.
"""

from __future__ import annotations

import datetime
import os
import platform
import time

import numpy as np
import torch

import nlexnb
from nlexnb.bottleneck import (
    ConceptBottleneck,
    concept_bottleneck,
    neighbour_bottleneck,
    random_bottleneck,
    tradeoff,
)
from nlexnb.datasets import find_gcompris_photos, stamp_photo_set
from nlexnb.plausibility import Judge, class_evidence, judge_for, names_a_people
from nlexnb.space import ConceptSpace

BUDGETS = (8, 16, 32, 64)


def recipe_plausibility(
    cbm: ConceptBottleneck, judge: Judge, evidence: dict[str, list[str]]
) -> tuple[float, float, int]:
    """(share of recipe concepts judged visual evidence, that share weighted by recipe weight, peoples named)."""
    hits, weights, peoples = [], [], 0
    for name, items in evidence.items():
        table = cbm.recipe(name).table
        hits.extend(judge.plausible(list(table["concept"]), items))
        weights.extend(table["share"])
        peoples += sum(names_a_people(c) for c in table["concept"])
    hits, weights = np.asarray(hits, dtype=float), np.asarray(weights)
    return float(hits.mean()), float((hits * weights).sum() / weights.sum()), peoples


def main() -> None:
    print(f"# {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, {datetime.date.today()}")
    photos = [p for p, _ in stamp_photo_set()] + list(nlexnb.sample_images().values())
    encoder = nlexnb.load_text_encoder()
    judge = Judge(judge_for(encoder))
    evidence = class_evidence()
    print(f"{len(photos)} photos; recipes judged on {len(evidence)} classes by {judge.encoder.name}")
    for model in ("tf_efficientnet_lite0", "tf_efficientnet_lite1", "tf_efficientnet_lite2"):
        clf = nlexnb.load_classifier(model)
        space = ConceptSpace(clf, nlexnb.fit_mapper(clf, encoder))
        with torch.inference_mode():
            features = clf.features(photos, progress=False)
        budgets = BUDGETS if model.endswith("lite0") else (32,)
        start = time.perf_counter()
        fitted = concept_bottleneck(space, n_concepts=32)
        fit_seconds = time.perf_counter() - start
        table = tradeoff(space, features=features, budgets=budgets, fitted=[fitted]).table
        kinds = concept_bottleneck(space, n_concepts=32, allow_kinds=True)
        print(f"\n## {model}: {len(space)} concepts ({int((~space.excluded).sum())} usable)")
        print("| concepts per class | kind | row left out | agreement |")
        print("|---|---|---|---|")
        for row in table.itertuples(index=False):
            print(f"| {row[0]} | {row.kind} | {row[3]:.2f} | {row.agreement:.3f} |")
        left_out = float(kinds.residual.mean())
        print(
            f"| 32 | recipes, kinds of the class allowed | {left_out:.2f} | {kinds.agreement(features=features):.3f} |"
        )
        print("\nAt 32 concepts, by the head's top-1 probability (same top-1 class / head's class in the top 5):")
        print("| head's confidence | images | recipes | random concepts | text neighbours |")
        print("|---|---|---|---|---|")
        split = [
            cbm.agreement_by_confidence(features=features).table
            for cbm in (fitted, random_bottleneck(space, 32), neighbour_bottleneck(space, 32))
        ]
        for i, band in split[0].iterrows():
            cells = " | ".join(f"{t.loc[i, 'agreement']:.3f} / {t.loc[i, 'in top 5']:.3f}" for t in split)
            print(f"| {band.iloc[0]} | {band['images']} | {cells} |")
        print("\n| recipes (32 per class) | judged visual evidence | weighted by weight | naming peoples |")
        print("|---|---|---|---|")
        for kind, cbm in (
            ("bottleneck", fitted),
            ("bottleneck, kinds of the class allowed", kinds),
            ("random concepts", random_bottleneck(space, 32)),
            ("text neighbours", neighbour_bottleneck(space, 32)),
        ):
            share, weighted, peoples = recipe_plausibility(cbm, judge, evidence)
            print(f"| {kind} | {share:.3f} | {weighted:.3f} | {peoples} |")
        image = nlexnb.sample_images()["coffee"]
        fitted.explain(image)
        start = time.perf_counter()
        for _ in range(10):
            fitted.explain(image)
        explain_ms = (time.perf_counter() - start) * 100
        print(
            f"\nfit for {len(clf.class_names)} classes at 32 concepts: {fit_seconds:.1f} s; "
            f"one explanation: {explain_ms:.0f} ms"
        )
        if model.endswith("lite0"):
            for name in ("espresso", "tabby, tabby cat", "daisy", "fire engine, fire truck", "Arabian camel"):
                recipe = fitted.recipe(name).table.head(6)
                print(f"{name}: " + ", ".join(f"{c} ({s:.0%})" for c, s in zip(recipe["concept"], recipe["share"])))
            whole_photos(fitted)


def whole_photos(cbm: ConceptBottleneck) -> None:
    """Agreement by confidence on every GCompris photo (whole, uncut; many of no ImageNet class), where installed."""
    try:
        paths = sorted(find_gcompris_photos().rglob("*.webp"))
    except FileNotFoundError as exc:
        print(f"\nGCompris's photos: skipped ({exc})")
        return
    with torch.inference_mode():
        features = cbm.space.classifier.features(paths, progress=False)
    print(f"\nThe same 32 concepts on GCompris's {len(paths)} whole photos (same top-1 / head's class in the top 5):")
    print("| head's confidence | images | recipes |")
    print("|---|---|---|")
    for _, band in cbm.agreement_by_confidence(features=features).table.iterrows():
        print(f"| {band.iloc[0]} | {band['images']} | {band['agreement']:.3f} / {band['in top 5']:.3f} |")


if __name__ == "__main__":
    main()
