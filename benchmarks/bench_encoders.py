"""Text-encoder benchmark: the packaged all-MiniLM-L6-v2 (default) beside the packaged all-mpnet-base-v2.

    python benchmarks/bench_encoders.py                 # both encoders, everything (about 10 minutes on 2 cores)
    python benchmarks/bench_encoders.py --no-explain    # skip encoding the default concept bank

Per encoder, in one run with a fresh cache: load time, default fit with a cold and a warm text cache, held-out
classes (10 folds; kernel, ridge and the text-only baseline), zero-shot accuracy on the labelled stamp photos (default
map, ridge map, the top-1-name baseline, paired bootstrap interval), and the explanation sentence of each sample photo.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import tempfile
import time

import torch

import nlexnb
from nlexnb.datasets import stamp_photo_set
from nlexnb.evaluate import paired_difference
from nlexnb.zeroshot import ZeroShotClassifier, top1_name_baseline

ENCODERS = ("all-MiniLM-L6-v2", "all-mpnet-base-v2")


def zero_shot(clf, enc, mapper, data, features) -> None:
    labels = sorted({label for _, label in data})
    truth = [label for _, label in data]
    correct = {}
    for name, m in (("default", mapper), ("ridge", nlexnb.fit_mapper(clf, enc, method="ridge"))):
        predicted = ZeroShotClassifier(clf, m, labels).logits_from_features(features).argmax(1).tolist()
        correct[name] = [labels[i] == t for i, t in zip(predicted, truth)]
    correct["top-1 name"] = [p == t for p, t in zip(top1_name_baseline(clf, enc, labels, features), truth)]
    print(f"  stamp photos ({len(data)} images, {len(labels)} labels), top-1:")
    for name, ok in correct.items():
        print(f"    {name:12s} {sum(ok) / len(ok):.3f}")
    for name in ("ridge", "top-1 name"):
        d = paired_difference(correct["default"], correct[name])
        interval = f"95% paired bootstrap {d['low']:+.3f} .. {d['high']:+.3f}"
        print(f"    default - {name}: {d['difference']:+.3f} ({interval})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encoders", nargs="+", default=list(ENCODERS))
    parser.add_argument("--folds", type=int, default=10)
    parser.add_argument("--no-explain", action="store_true", help="skip the explanation sentences")
    args = parser.parse_args()
    os.environ["NLEXNB_CACHE"] = tempfile.mkdtemp(prefix="nlexnb-bench-encoders-")  # cold: nothing cached yet
    print(f"# bench_encoders  {datetime.datetime.now().isoformat(timespec='seconds')}")
    print(
        f"machine: {platform.platform()}, {os.cpu_count()} CPUs, torch {torch.__version__}, "
        f"threads {torch.get_num_threads()}, CPU"
    )
    clf = nlexnb.load_classifier("tf_efficientnet_lite0", device="cpu")
    data = stamp_photo_set()
    features = clf.features([path for path, _ in data], progress=False)
    photos = nlexnb.sample_images()
    for name in args.encoders:
        print(f"\n## {name}")
        t0 = time.perf_counter()
        enc = nlexnb.load_text_encoder(name, device="cpu")
        print(f"  load (first time: unpack if packaged): {time.perf_counter() - t0:.1f} s, dim {enc.dim}")
        t0 = time.perf_counter()
        mapper = nlexnb.fit_mapper(clf, enc)
        cold = time.perf_counter() - t0
        t0 = time.perf_counter()
        nlexnb.fit_mapper(clf, enc)
        print(f"  default fit: cold text cache {cold:.1f} s, warm {time.perf_counter() - t0:.2f} s")
        table = nlexnb.evaluate.heldout(clf, enc, folds=args.folds)
        print(f"  held-out classes, {args.folds} folds:")
        print("    " + table.to_string(index=False, float_format=lambda v: f"{v:.3f}").replace("\n", "\n    "))
        zero_shot(clf, enc, mapper, data, features)
        if not args.no_explain:
            t0 = time.perf_counter()
            explainer = nlexnb.Explainer(clf, mapper)
            print(f"  default bank encoded and mapped in {time.perf_counter() - t0:.0f} s; explanations:")
            for photo, image in photos.items():
                print(f"    {photo}: {explainer.explain(image).sentence}")


if __name__ == "__main__":
    main()
