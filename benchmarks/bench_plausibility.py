"""Benchmark: are the named concepts something a person sees in the photo? Plausibility beside baselines.

    python benchmarks/bench_plausibility.py                       # explain with MiniLM, judge with mpnet
    python benchmarks/bench_plausibility.py --encoder all-mpnet-base-v2 --judge all-MiniLM-L6-v2

On the 50 cut-out evidence photos (`nlexnb/data/plausibility_evidence.json`: 8 sample photos and 42 Tux Paint
stamps, each with a list of what a person can point at, written by looking at it) prints, for the default explainer
(map fitted on names, glosses and class descriptions, visual bank, echo, other-sense and other-animal tests, the
weakest 15% never named), the previous and first defaults, variants (one test off, relevance to the class's
definition) and three baselines measured in the same run (random bank concepts, the most frequent named concepts,
the class's nearest concepts in text space): the share of named concepts the judge matches to the photo's evidence
(at several judge thresholds), the leak rate (spelling or other-sense neighbours of the explained class's names),
concepts naming peoples, and the faithfulness of the same explanations (named directions' share of the prediction's
margin, and 5 random bank concepts beside it). Then the same for the 35 whole photos
(`nlexnb/data/plausibility_whole_photos.json`: uncut GCompris photos whose class the model gets right; `bash
scripts/fetch_photos.sh` installs them), for the default and the earlier defaults that may name other animals,
things or colours an animal's photo is not expected to show.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import time

import numpy as np
import torch

import nlexnb
from nlexnb import plausibility


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--encoder", default=None, help="the explaining text encoder (default: nlexnb's default)")
    parser.add_argument(
        "--judge", default="all-mpnet-base-v2", help="the judging text encoder (not the explaining one)"
    )
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument(
        "--tables-only", action="store_true", help="only the discovery image tables, one per photo (a minute)"
    )
    args = parser.parse_args()
    print(f"# {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, {datetime.date.today()}")

    clf = nlexnb.load_classifier("tf_efficientnet_lite0")
    encoder = nlexnb.load_text_encoder(args.encoder)
    mapper = nlexnb.fit_mapper(clf, encoder)
    start = time.perf_counter()
    explainer = nlexnb.Explainer(clf, mapper)
    print(f"explainer start-up (visual bank, {len(explainer.bank)} concepts): {time.perf_counter() - start:.2f} s")
    if args.tables_only:
        image_tables(explainer, plausibility.Judge(args.judge), args.k)
        return
    names_only = nlexnb.fit_mapper(clf, encoder, glosses=False, descriptions=False)
    undescribed = nlexnb.fit_mapper(clf, encoder, descriptions=False)
    extra = {
        "weakest 0: every concept may be named (the previous default)": nlexnb.Explainer(clf, mapper, weakest=0),
        "weakest 0.25": nlexnb.Explainer(clf, mapper, weakest=0.25),
        "weakest 0, shortlist 20 (the default before that)": nlexnb.Explainer(clf, mapper, shortlist=20, weakest=0),
        "map without class descriptions, weakest 0, shortlist 20": nlexnb.Explainer(
            clf, undescribed, shortlist=20, weakest=0
        ),
        "map on names alone, no other-sense test, weakest 0, shortlist 20": nlexnb.Explainer(
            clf, names_only, sense_margin=None, shortlist=20, weakest=0
        ),
        "no other-sense test": nlexnb.Explainer(clf, mapper, sense_margin=None),
        "relevance 1, shortlist 50": nlexnb.Explainer(clf, mapper, relevance=1, shortlist=50),
        "first default (broad bank, map on names alone, no echo or other-sense test, shortlist 256)": (
            nlexnb.Explainer(clf, names_only, "broad", echo_margin=None, sense_margin=None, shortlist=256, weakest=0)
        ),
        "no echo test": nlexnb.Explainer(clf, mapper, echo_margin=None),
    }
    judge = plausibility.Judge(args.judge)
    print(f"\nexplaining encoder {encoder.name}, judge {judge.encoder.name} (threshold {judge.threshold})")
    print("\n## The cut-out photos (8 sample photos, 42 Tux Paint stamps)")
    lenient = {"other_animals": True, "unlisted_things": True, "unlisted_colours": True}
    extra[OTHER_ANIMALS] = nlexnb.Explainer(clf, mapper, **lenient)
    extra[UNLISTED_THINGS] = nlexnb.Explainer(clf, mapper, unlisted_things=True, unlisted_colours=True)
    extra[UNLISTED_COLOURS] = nlexnb.Explainer(clf, mapper, unlisted_colours=True)
    images = report_on("cutouts", explainer, extra, judge, args.k)
    print("\n## The whole photos (35 GCompris photos whose class the model gets right)")
    try:
        earlier = {k: extra[k] for k in (OTHER_ANIMALS, UNLISTED_THINGS, UNLISTED_COLOURS)}
        report_on("whole", explainer, earlier, judge, args.k)
    except FileNotFoundError as exc:
        print(f"skipped: {exc}")
    start = time.perf_counter()
    for image in images[:8]:
        explainer.explain(image, heatmaps=False)
    print(f"one explanation (default, warm): {1000 * (time.perf_counter() - start) / 8:.1f} ms")
    image_tables(explainer, judge, args.k)


def image_tables(explainer, judge, k: int) -> None:
    """Discovery's table of what drives one photo's prediction (``discover.image_concepts``), for every evidence
    photo, with and without its look-alike rule: the judged and read shares and the leak rate of its ``k`` rows."""
    from nlexnb import discover

    print(f"\n## Discovery image tables, one per photo, {k} rows each")
    print("| photos | rows | look-alikes | judge @0.65 | read (coverage) | leak |")
    print("|---|---|---|---|---|---|")
    labels = plausibility.read_labels()
    for photo_set in ("cutouts", "whole"):
        try:
            photos = plausibility.evidence_photos(photo_set=photo_set)
        except FileNotFoundError as exc:
            print(f"| {photo_set} | skipped: {exc} |")
            continue
        items = plausibility.evidence(photo_set)
        for echoes, rule in ((False, "left out (default)"), (True, "kept (echoes=True)")):
            judged, read, leaks = [], [], []
            for photo, image in photos.items():
                table = discover.image_concepts(explainer, image, k=k, echoes=echoes).table
                concepts, explained = table["concept"].tolist(), table["top_class"].iloc[0]
                judged += judge.plausible(concepts, items[photo]).tolist()
                read += [labels[photo][c] for c in concepts if c in labels.get(photo, {})]
                leaks += [plausibility.leak_kind(c, [explained]) is not None for c in concepts]
            print(
                f"| {photo_set} | {len(judged)} | {rule} | {np.mean(judged):.3f} | {np.mean(read):.3f} "
                f"({len(read) / len(judged):.0%}) | {np.mean(leaks):.3f} |"
            )


OTHER_ANIMALS = "other animals, unlisted things and colours may be named"
UNLISTED_THINGS = "unlisted things and colours may be named (objects, food ... for an animal)"
UNLISTED_COLOURS = "colours and markings the class is not known to have may be named"


def report_on(photo_set: str, explainer, extra: dict, judge, k: int) -> list:
    """Print the plausibility table and the faithfulness of the same explanations for one evidence photo set;
    return its images."""
    clf = explainer.classifier
    photos = plausibility.evidence_photos(photo_set=photo_set)
    report = plausibility.plausibility_report(explainer, judge, k=k, photos=photos, extra=extra)
    frame = report.concepts
    visible = frame.drop_duplicates("photo")["prediction visible"].sum()
    print(f"photos whose predicted class the judge finds in the evidence: {visible} of {frame['photo'].nunique()}")
    print(
        "| method | concepts | read (coverage) | read, prediction visible | judge @0.65 | @0.65, prediction visible "
        "| @0.5 | leak | peoples |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for method, group in frame.groupby("method", sort=False):
        read = group["read"].dropna()
        seen = group[group["prediction visible"].eq(True)]
        seen_read = seen["read"].dropna()
        print(
            f"| {method} | {len(group)} | {read.mean():.3f} ({len(read) / len(group):.0%}) | "
            f"{seen_read.mean():.3f} ({len(seen_read)} of {len(seen)}) | "
            f"{(group['judge'] >= judge.threshold).mean():.3f} | {(seen['judge'] >= judge.threshold).mean():.3f} | "
            f"{(group['judge'] >= 0.5).mean():.3f} | {group['leak'].notna().mean():.3f} | "
            f"{int(group['peoples'].sum())} |"
        )
    for method in ("explainer", "explainer, contrastive"):
        leaks = frame[frame["leak"].notna() & frame["method"].eq(method)]
        listed = "; ".join(
            f"{r.concept} ({r.leak}, {' / '.join(n[:20] for n in r.explained)})" for r in leaks.itertuples()
        )
        print(f"\nleaks of the default{method[9:]}:", listed or "none")

    # faithfulness of the same explanations
    images = list(photos.values())
    for label, ex in (("default", explainer), *extra.items()):
        results = ex.explain(images, k=k, heatmaps=False)
        named = np.array([r.total / r.margin for r in results])
        print(
            f"{label}: named concepts remove {100 * named.mean():.1f}% of the margin on average "
            f"(lowest {100 * named.min():.1f}%), |closed form - measured| <= "
            f"{max(abs(r.total - r.measured) for r in results):.1e}"
        )
    rng = np.random.default_rng(0)
    features = clf.features(images)
    drops = []
    for f, r in zip(features, explainer.explain(images, k=k, heatmaps=False)):
        pick = rng.choice(len(explainer.bank), k, replace=False)
        directions = explainer.directions[torch.as_tensor(pick)]
        drops.append(nlexnb.explain.measured_drop(clf, f, directions, r.target) / r.margin)
    print(f"default, {k} random bank concepts: {100 * np.mean(drops):.1f}% of the margin")
    return images


if __name__ == "__main__":
    main()
