"""GPU timings of the default pipeline, each beside its baseline in the same run.

    python benchmarks/bench_gpu.py --weights lite0.safetensors --encoder path/to/all-MiniLM-L6-v2 --bank bank.txt

For a GPU machine without the packaged default (weights, encoder folder and concept bank passed as files). Prints
fit_mapper time (cold and warm text cache; ridge beside it), ms per explanation in batches of 32 beside the forward
pass alone, and 1,000 images x 100 zero-shot labels split into forward and head.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import tempfile
import time

import torch


def timed(fn, repeats: int = 5) -> float:
    """Median seconds of ``fn()`` with CUDA synchronised, after one warm-up."""
    fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default=None, help="tf_efficientnet_lite0 checkpoint (default: the package's)")
    parser.add_argument("--encoder", default=None, help="sentence-transformers folder (default: packaged MiniLM)")
    parser.add_argument("--bank", default=None, help="concept bank text file (default: the built-in bank)")
    args = parser.parse_args()
    os.environ.setdefault("NLEXNB_CACHE", tempfile.mkdtemp())
    import nlexnb

    print(f"## GPU benchmark, {datetime.date.today()}\n")
    print(f"Machine: {torch.cuda.get_device_name(0)}, {os.cpu_count()} CPUs, torch {torch.__version__}, "
          f"python {platform.python_version()}\n")  # fmt: skip
    clf = nlexnb.load_classifier("tf_efficientnet_lite0", device="cuda", weights=args.weights)
    enc = nlexnb.load_text_encoder(args.encoder, device="cuda")
    enc.model.float()  # a folder saved in float16 (to fit a transfer limit) runs in float32, like the default

    start = time.perf_counter()
    mapper = nlexnb.fit_mapper(clf, enc)
    torch.cuda.synchronize()
    cold = time.perf_counter() - start
    warm = timed(lambda: nlexnb.fit_mapper(clf, enc), 3)
    ridge = timed(lambda: nlexnb.fit_mapper(clf, enc, method="ridge"), 3)
    print("| fit_mapper on GPU | seconds |\n|---|---|")
    encoding = mapper.meta["encode_seconds"]
    print(f"| kernel (default), cold text cache, encoding included | {cold:.2f} (encoding {encoding:.2f}) |")
    print(f"| kernel (default), warm text cache | {warm:.2f} |")
    print(f"| ridge baseline, warm text cache | {ridge:.2f} |\n")

    concepts = nlexnb.ConceptBank.from_file(args.bank) if args.bank else None
    explainer = nlexnb.Explainer(clf, mapper, concepts)
    photos = list(nlexnb.sample_images().values())
    batch = (photos * 4)[:32]
    x = torch.stack([clf.transform(p) for p in batch])
    per_explain = timed(lambda: explainer.explain(x, heatmaps=False)) / 32
    per_forward = timed(lambda: clf.forward_all(x)) / 32
    print(f"Explanations, batch of 32, bank of {len(explainer.bank)} concepts: {1000 * per_explain:.2f} ms per image; "
          f"forward pass alone {1000 * per_forward:.2f} ms per image\n")  # fmt: skip

    labels = [f"label number {i}" for i in range(100)]
    head_s = timed(lambda: nlexnb.ZeroShotClassifier(clf, mapper, labels), 3)
    zs = nlexnb.ZeroShotClassifier(clf, mapper, labels)
    images = x.repeat(32, 1, 1, 1)[:1000]
    forward_s = timed(lambda: clf.features(images), 3)
    features = clf.features(images)
    matmul_s = timed(lambda: zs.logits_from_features(features).softmax(-1), 10)
    print(f"Zero-shot, 1,000 images x 100 labels: head built once {head_s:.3f} s; forward {forward_s:.3f} s; "
          f"head product + softmax {1000 * matmul_s:.2f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
