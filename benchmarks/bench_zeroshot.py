"""Zero-shot benchmark: labelled coarse-label photo sets, held-out ImageNet classes (ZSL/GZSL), cost of 1000 x 100.

python benchmarks/bench_zeroshot.py                 # all 10 folds: default, no descriptions, names alone, ridge
python benchmarks/bench_zeroshot.py --folds 2 --methods ridge

The labelled sets: Tux Paint's photo stamps (``datasets.stamp_photo_set``, ~290 photos, 17 labels; unpacked by
scripts/fetch_stamps.sh) and the tiny bundled set (``datasets.coarse_photo_set``). Each prints accuracy, balanced
accuracy and, for the first method, its paired bootstrap interval against every other method and the no-mapper
baseline.
"""

from __future__ import annotations

import argparse
import datetime
import platform
import time

import torch
import torch.nn.functional as F

import nlexnb
from nlexnb.datasets import coarse_photo_set, find_stamps, stamp_photo_set
from nlexnb.evaluate import compare_zero_shot, fold_splits, rank_of_true
from nlexnb.zeroshot import ZeroShotClassifier


def fit(clf, enc, method, classes=None):
    """``method``: "default" (fit_mapper's default), "no descriptions" (the default map without class descriptions),
    "names alone" (the default map without glosses or descriptions) or a map name."""
    if method == "default":
        return nlexnb.fit_mapper(clf, enc, classes=classes)
    if method == "no descriptions":
        return nlexnb.fit_mapper(clf, enc, classes=classes, descriptions=False)
    if method == "names alone":
        return nlexnb.fit_mapper(clf, enc, classes=classes, glosses=False, descriptions=False)
    return nlexnb.fit_mapper(clf, enc, classes=classes, method=method)


def labelled(clf, enc, methods, data, title):
    labels = sorted({label for _, label in data})
    features = clf.features([image for image, _ in data])
    mappers = {method: fit(clf, enc, method) for method in methods}
    table = compare_zero_shot(clf, mappers, data, features=features)
    centred = ZeroShotClassifier(clf, mappers[methods[0]], labels).center_on(features=features)
    centred_accuracy = nlexnb.evaluate.zero_shot(centred, data, features=features).accuracy
    print(f"\n## {title}: {len(data)} images, {len(labels)} labels {labels}")
    for _, row in table.iterrows():
        print(f"  {row['method']:28s} top-1 {row['accuracy']:.3f}  balanced {row['balanced accuracy']:.3f}")
    print(f"  ({methods[0]} centred on the set's own images, opt-in: top-1 {centred_accuracy:.3f})")
    for row in table.iloc[1:].itertuples():
        interval = f"95% paired bootstrap {row.low:+.3f} .. {row.high:+.3f}"
        print(f"  {methods[0]} - {row.method}: {row.difference:+.3f} ({interval})")
    return features


def heldout(clf, enc, methods, folds, feature_norm):
    splits = fold_splits(clf.num_classes, 10, seed=0)[:folds]
    rows = F.normalize(clf.head_weight.float(), dim=1)
    print(f"\n## Held-out ImageNet classes: {folds} of the 10 folds of fold_splits(1000, 10, seed=0)")
    print(
        "  ZSL: mapped name (zero-shot head row) -> rank of its true row among the held-out rows (as evaluate.heldout)"
    )
    print(
        f"  GZSL: include_original_classes=<seen>; each held-out class is represented by its own true row at the "
        f"photos' mean feature norm {feature_norm:.1f}; top-1 = its new label wins among 900 seen + 100 new"
    )
    for method in methods:
        zsl, core, gzsl, gzsl0, penalties = [], [], [], [], []
        for unseen in splits:
            seen = [k for k in range(clf.num_classes) if k not in set(unseen)]
            mapper = fit(clf, enc, method, seen)
            names = [clf.class_names[k] for k in unseen]
            truth = torch.arange(len(unseen))
            zs = ZeroShotClassifier(clf, mapper, names)
            head = F.normalize(zs.head_weight, dim=1)
            zsl.append((rank_of_true(head @ rows[unseen].T, truth) < 1).float().mean().item())
            ref = F.normalize(mapper.encode_labels(names).float(), dim=1)  # what evaluate.heldout scores
            core.append((rank_of_true(ref @ rows[unseen].T, truth) < 1).float().mean().item())
            queries = rows[unseen] * feature_norm
            for out, penalty in ((gzsl, None), (gzsl0, 0.0)):
                g = ZeroShotClassifier(clf, mapper, names, include_original_classes=seen, seen_penalty=penalty)
                out.append((g.logits_from_features(queries).argmax(1) == truth).float().mean().item())
                if penalty is None:
                    penalties.append(g.seen_penalty)
        mean = lambda xs: sum(xs) / len(xs)  # noqa: E731
        print(
            f"  {method:8s} ZSL top-1 {mean(zsl):.3f} (evaluate.heldout formula {mean(core):.3f}) | "
            f"GZSL top-1 {mean(gzsl):.3f} at seen_penalty {mean(penalties):.3f} (no penalty: {mean(gzsl0):.3f})"
        )


def timing(clf, mapper, photos, n_images=1000, n_labels=100):
    base = torch.stack([clf.transform(p) for p in photos.values()])
    x = base.repeat(-(-n_images // len(base)), 1, 1, 1)[:n_images]
    x = x + 0.01 * torch.randn(x.shape, generator=torch.Generator().manual_seed(0))
    labels = [clf.class_names[k].split(",")[0] + " thing" for k in range(0, 1000, 1000 // n_labels)][:n_labels]
    t0 = time.perf_counter()
    zs = ZeroShotClassifier(clf, mapper, labels)
    t_head = time.perf_counter() - t0
    t0 = time.perf_counter()
    f = clf.features(x, progress=True)
    t_fwd = time.perf_counter() - t0
    t0 = time.perf_counter()
    probs = zs.logits_from_features(f).softmax(-1)
    t_mm = time.perf_counter() - t0
    assert probs.shape == (n_images, n_labels)
    print(f"\n## {n_images} images x {n_labels} labels ({clf.device}, batch {clf.batch_size})")
    print(f"  head built once: {t_head:.2f} s (encode + map {n_labels} labels x {len(mapper.templates)} templates)")
    print(f"  classifier forward: {t_fwd:.2f} s ({1e3 * t_fwd / n_images:.2f} ms/image)")
    print(f"  head (one [N,d]x[d,L] product + softmax): {1e3 * t_mm:.2f} ms ({1e6 * t_mm / n_images:.2f} us/image)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--folds", type=int, default=10, help="how many of the 10 held-out folds to run")
    parser.add_argument(
        "--methods",
        default="default,no descriptions,names alone,ridge",
        help=(
            "mapper methods ('default' = fit_mapper's default, 'no descriptions' = its map without class descriptions,"
            " 'names alone' = without glosses or descriptions)"
        ),
    )
    parser.add_argument("--views", type=int, default=4, help="views per picture in the bundled set")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    methods = args.methods.split(",")
    torch.set_num_threads(max(1, torch.get_num_threads()))
    print(f"# bench_zeroshot  {datetime.datetime.now().isoformat(timespec='seconds')}")
    print(
        f"machine: {platform.platform()}, {platform.processor() or platform.machine()}, "
        f"torch threads {torch.get_num_threads()}, device {args.device}"
        + (f" ({torch.cuda.get_device_name()})" if args.device.startswith("cuda") else "")
    )
    clf = nlexnb.load_classifier("tf_efficientnet_lite0", device=args.device)
    enc = nlexnb.load_text_encoder(device=args.device)
    print(f"classifier {clf.name}, encoder {enc.name}")
    photos = nlexnb.sample_images()
    stamps = find_stamps()
    version = (stamps / ".version").read_text().strip() if (stamps / ".version").is_file() else "unknown version"
    labelled(clf, enc, methods, stamp_photo_set(), f"Tux Paint photo stamps ({stamps}, {version})")
    data = coarse_photo_set(args.views)
    features = labelled(
        clf, enc, methods, data, f"Bundled coarse photos ({len(data) // args.views} x {args.views} views)"
    )
    heldout(clf, enc, methods, args.folds, float(features.norm(dim=1).mean()))
    timing(clf, fit(clf, enc, "ridge"), photos)


if __name__ == "__main__":
    main()
