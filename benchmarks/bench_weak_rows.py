"""Are the rows discovery marks weak less often what a person sees? The plausibility judge on discovery tables.

python benchmarks/bench_weak_rows.py

For the 20 classes with evidence lists (``nlexnb/data/class_evidence.json``: what a person can point at in a photo of
each class), the k concepts of ``discover.class_concepts`` and of the class's side of ``discover.contrast`` against
the class whose row is nearest its own, judged by all-mpnet-base-v2 (the judge of the plausibility benchmark, not the
explaining encoder), split into the rows the chance band marks weak and the others.
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
from importlib import resources

import torch
import torch.nn.functional as F

import nlexnb
from nlexnb import discover, plausibility
from nlexnb.discover.table import Chance


def judged(judge, tables):
    """(strong rows judged visible, strong rows, weak rows judged visible, weak rows) over (table rows, weak, items)."""
    counts = [0, 0, 0, 0]
    for concepts, weak, items in tables:
        if not concepts:
            continue
        for visible, is_weak in zip(judge.plausible(concepts, items), weak):
            counts[2 * bool(is_weak)] += int(visible)
            counts[2 * bool(is_weak) + 1] += 1
    return counts


def beyond(space, directions: torch.Tensor) -> list[tuple[int, int]]:
    """For each direction [d], how many usable concepts lie beyond the high and the low edge of its chance band."""
    from nlexnb.discover._args import chance_band

    out = []
    usable = ~space.excluded
    for v in directions:
        scores = space.directions @ F.normalize(v.float(), dim=0)
        band: Chance = chance_band(space, scores)
        kept = scores[usable]
        out.append((int((kept > band.high).sum()), int((kept < band.low).sum())))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, default=10, help="rows per table")
    args = parser.parse_args()
    now = datetime.datetime.now().isoformat(timespec="minutes")
    print(f"# {platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}, {now}")
    clf, enc = nlexnb.load_classifier("tf_efficientnet_lite0"), nlexnb.load_text_encoder()
    space = nlexnb.ConceptSpace(clf, nlexnb.fit_mapper(clf, enc))
    judge = plausibility.Judge("all-mpnet-base-v2")
    evidence = json.loads(resources.files("nlexnb.data").joinpath("class_evidence.json").read_text())["classes"]
    rows = F.normalize(clf.head_weight.float(), dim=1)
    own, against = [], []
    for name, items in evidence.items():
        c = space.class_index(name)
        table = discover.class_concepts(space, c, k=args.k)
        own.append((list(table.table.concept), list(table.weak), items))
        nearest = rows @ rows[c]
        nearest[c] = -2.0
        pair = discover.contrast(space, c, int(nearest.argmax()), k=args.k)
        side = pair.table.favours == pair.sides[0]
        against.append((list(pair.table.concept[side]), list(pair.weak[side]), items))
    noise = torch.randn(200, clf.num_features, generator=torch.Generator().manual_seed(0))
    print("\nConcepts beyond the chance band's edges (the band says: about one where no concept is related):")
    print("| directions | beyond the high edge: mean (share with any) | beyond the low edge: mean |")
    print("|---|---|---|")
    for title, directions in (("200 random directions of the feature space", noise), ("the 1,000 class rows", rows)):
        counts = torch.tensor(beyond(space, directions), dtype=torch.float64)
        high, low = counts[:, 0], counts[:, 1]
        share, fewest = (high > 0).double().mean(), int(high.min())
        print(f"| {title} | {high.mean():.2f} ({share:.2f}; fewest {fewest}) | {low.mean():.2f} |")
    print()
    print(f"{len(evidence)} classes, k = {args.k}, judged by {judge.encoder.name} at cosine {judge.threshold}")
    print("| table | rows not weak: judged visible | rows marked weak: judged visible |")
    print("|---|---|---|")
    for title, tables in (("class_concepts", own), ("contrast against the nearest row, the class's side", against)):
        s_ok, s_n, w_ok, w_n = judged(judge, tables)
        print(f"| {title} | {s_ok} of {s_n} ({s_ok / max(s_n, 1):.3f}) | {w_ok} of {w_n} ({w_ok / max(w_n, 1):.3f}) |")


if __name__ == "__main__":
    main()
