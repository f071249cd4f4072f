"""Benchmark: time per explanation (default bank, warm cache) beside the forward pass, and faithfulness numbers.

    python benchmarks/bench_explain.py                  # CPU, one image at a time
    python benchmarks/bench_explain.py --device cuda    # GPU, batches of 32
    python benchmarks/bench_explain.py --mapper ridge   # the fast closed-form mapper

Prints the machine, the date, ms per explanation (median over the sample photos) next to the forward pass alone and
to ``weigh`` with four texts, and
the drop of the predicted logit when 5 named / 5 random common words / the 5 most frequent concepts are removed, as %
of the prediction's margin (its logit minus the mean logit).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import time

import torch

import nlexnb
from nlexnb import metrics
from nlexnb.explain import Explainer


def _median_ms(fn, repeats: int, cuda: bool) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        if cuda:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="tf_efficientnet_lite0")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--mapper", default=None, help="mapper method (default: fit_mapper's default)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch", type=int, default=None, help="images per call (default: 1 on CPU, 32 on GPU)")
    args = parser.parse_args()
    cuda = args.device.startswith("cuda")
    batch = args.batch or (32 if cuda else 1)

    clf = nlexnb.load_classifier(args.model, device=args.device)
    encoder = nlexnb.load_text_encoder(device=args.device)
    kw = {"method": args.mapper} if args.mapper else {}
    mapper = nlexnb.fit_mapper(clf, encoder, **kw)
    Explainer(clf, mapper)  # encodes the default bank once (cached on disk)
    start = time.perf_counter()
    explainer = Explainer(clf, mapper)
    startup = time.perf_counter() - start
    photos = nlexnb.sample_images()
    items = list(photos.values())

    print(f"machine: {platform.platform()} | {platform.processor() or platform.machine()} | {os.cpu_count()} CPUs")
    print(f"torch {torch.__version__} | threads {torch.get_num_threads()} | device {args.device}", end="")
    print(f" ({torch.cuda.get_device_name()})" if cuda else "")
    print(f"date: {datetime.datetime.now().isoformat(timespec='seconds')}")
    print(f"model {clf.name} | mapper {mapper.meta['method']} | bank {len(explainer.bank)} concepts")
    print(f"explainer start-up with a warm cache: {1000 * startup:.0f} ms")

    seen = ["striped fur", "whiskers", "a small cup", "foam"]  # what a person might write, weighed (warm cache)
    if batch == 1:
        explain_ms, forward_ms, weigh_ms = [], [], []
        for image in items:
            explainer.explain(image, heatmaps=False)  # warm-up
            explainer.weigh(image, seen, heatmaps=False)
            explain_ms.append(_median_ms(lambda im=image: explainer.explain(im, heatmaps=False), args.repeats, cuda))
            forward_ms.append(_median_ms(lambda im=image: clf.forward_all([im]), args.repeats, cuda))
            weigh_ms.append(_median_ms(lambda im=image: explainer.weigh(im, seen, heatmaps=False), args.repeats, cuda))
        per_explain, per_forward = statistics.median(explain_ms), statistics.median(forward_ms)
        print(f"ms per weigh (4 texts, batch 1, median): {statistics.median(weigh_ms):.1f}")
    else:
        images = (items * (batch // len(items) + 1))[:batch]
        explainer.explain(images, heatmaps=False)
        per_explain = _median_ms(lambda: explainer.explain(images, heatmaps=False), args.repeats, cuda) / batch
        per_forward = _median_ms(lambda: clf.forward_all(images), args.repeats, cuda) / batch
    print(
        f"ms per explanation (k=5, batch {batch}, median): {per_explain:.1f}  | forward pass alone: {per_forward:.1f}"
    )

    frame = metrics.concept_ablation(explainer, photos, k=5, n_random=20)
    table = frame.pivot(index="image", columns="method", values="drop_pct_margin")
    table = table[["named", "random", "frequent", "separate", "naive"]]
    print("\nlogit drop when 5 concept directions are removed, % of the margin (logit - mean logit):")
    print(table.round(1).to_string())
    mean = table.mean()
    print("mean: " + "  ".join(f"{m} {v:.1f}" for m, v in mean.items()))
    print(
        f"named / random: {mean['named'] / mean['random']:.1f}x | max |closed - measured|: {frame.abs_error.max():.2e}"
    )
    for _, row in frame[frame.method == "named"].iterrows():
        print(f"  {row.image:>12}: {row.target_name[:30]:<30} <- {row.concepts}")
    print("\n" + explainer.explain(photos["coffee"]).sentence)


if __name__ == "__main__":
    main()
