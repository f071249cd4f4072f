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
from nlexnb.evaluate import compare_zero_shot

ENCODERS = ("all-MiniLM-L6-v2", "all-mpnet-base-v2")


def zero_shot(clf, enc, mapper, data, features) -> None:
    mappers = {"default": mapper, "ridge": nlexnb.fit_mapper(clf, enc, method="ridge")}
    table = compare_zero_shot(clf, mappers, data, features=features)
    print(f"  stamp photos ({len(data)} images, {len({label for _, label in data})} labels), top-1:")
    for row in table.itertuples():
        print(f"    {row.method:22s} {row.accuracy:.3f}")
    for row in table.iloc[1:].itertuples():
        interval = f"95% paired bootstrap {row.low:+.3f} .. {row.high:+.3f}"
        print(f"    default - {row.method}: {row.difference:+.3f} ({interval})")


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
