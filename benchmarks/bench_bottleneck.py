"""Benchmark: a concept bottleneck fitted without data, judged by agreement with the original head.

    python benchmarks/bench_bottleneck.py

For budgets of 8, 16, 32 and 64 concepts per class (default classifier, mapper and visual bank), prints the fit time,
the mean share of each centred class row the recipe leaves out, and the top-1 agreement with the original head on
298 photos (Tux Paint's 290 photo stamps and the 8 sample photos), beside the same fit restricted to as many concepts
drawn at random (the same for every class) and a few recipes to read.
"""

from __future__ import annotations

import datetime
import os
import platform
import time

import torch

import nlexnb
from nlexnb.bottleneck import ConceptBottleneck, concept_bottleneck, random_bottleneck
from nlexnb.datasets import stamp_photo_set
from nlexnb.space import ConceptSpace


def main() -> None:
    print(f"# {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, {datetime.date.today()}")
    clf = nlexnb.load_classifier("tf_efficientnet_lite0")
    mapper = nlexnb.fit_mapper(clf, nlexnb.load_text_encoder())
    space = ConceptSpace(clf, mapper)
    photos = [p for p, _ in stamp_photo_set()] + list(nlexnb.sample_images().values())
    with torch.inference_mode():
        features = clf.features(photos, progress=False)
        original = clf.head(features).argmax(1)

    def agreement(cbm: ConceptBottleneck) -> float:  # ConceptBottleneck.agreement, on features computed once
        return float((cbm.logits_from_features(features).argmax(1) == original).float().mean())

    print(f"{len(space)} concepts ({int((~space.excluded).sum())} usable), {len(photos)} photos")
    print("| concepts per class | fit (s) | row left out | agreement | random concepts: left out | agreement |")
    print("|---|---|---|---|---|---|")
    fitted = {}
    for n in (8, 16, 32, 64):
        start = time.perf_counter()
        cbm = concept_bottleneck(space, n_concepts=n)
        seconds = time.perf_counter() - start
        rnd = random_bottleneck(space, n)
        fitted[n] = cbm
        print(
            f"| {n} | {seconds:.1f} | {float(cbm.residual.mean()):.2f} | {agreement(cbm):.3f} | "
            f"{float(rnd.residual.mean()):.2f} | {agreement(rnd):.3f} |"
        )
    for name in ("espresso", "tiger cat", "daisy", "fire engine"):
        recipe = fitted[32].recipe(name).table.head(6)
        print(f"{name}: " + ", ".join(f"{c} ({s:.0%})" for c, s in zip(recipe["concept"], recipe["share"])))


if __name__ == "__main__":
    main()
