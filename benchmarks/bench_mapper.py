"""Mapper benchmark: fit time (cold and warm text cache), peak memory, held-out classes, free text, head replacement.

    python benchmarks/bench_mapper.py                  # CPU, everything (about 5 minutes on 2 cores)
    python benchmarks/bench_mapper.py --device cuda    # fit timings on a GPU
    python benchmarks/bench_mapper.py --skip-heldout   # timings only

Prints a markdown block to paste into benchmarks/RESULTS.md. Every number is measured in this run, baselines beside it.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time

import torch

import nlexnb


def machine(device: str) -> str:
    gpu = torch.cuda.get_device_name(0) if device.startswith("cuda") and torch.cuda.is_available() else "none"
    return (
        f"{platform.machine()} {platform.processor() or ''}, {os.cpu_count()} CPUs, torch {torch.__version__}, "
        f"torch threads {torch.get_num_threads()}, device {device}, GPU {gpu}, python {platform.python_version()}"
    )


def fit_in_fresh_process(device: str, method: str, cache: str) -> tuple[float, float, float]:
    """Fit once in a new process with the given cache folder; returns (fit s, encode s, peak RSS GB of the process)."""
    code = (
        "import resource, nlexnb, torch;"
        f"c = nlexnb.load_classifier('tf_efficientnet_lite0', device='{device}');"
        f"e = nlexnb.load_text_encoder(device='{device}');"
        "base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss;"
        f"m = nlexnb.fit_mapper(c, e, method='{method}');"
        "torch.cuda.synchronize() if torch.cuda.is_available() else None;"
        "peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss;"
        "print(m.meta['fit_seconds'], m.meta['encode_seconds'], peak / 1e6, base / 1e6)"
    )
    env = {**os.environ, "NLEXNB_CACHE": cache, "HF_HUB_OFFLINE": "1"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    fit_s, encode_s, peak_gb, _ = map(float, out.stdout.split()[-4:])
    return fit_s, encode_s, peak_gb


def markdown(table) -> str:
    """A DataFrame as a markdown table (floats to 3 decimals), without extra dependencies."""
    cells = [[f"{v:.3f}" if isinstance(v, float) else str(v) for v in row] for row in table.itertuples(index=False)]
    lines = ["| " + " | ".join(map(str, table.columns)) + " |", "|" + "---|" * len(table.columns)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in cells])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--folds", type=int, default=10)
    parser.add_argument("--skip-heldout", action="store_true")
    parser.add_argument("--mlp", action="store_true", help="also time and evaluate the MLP map (slow on CPU)")
    args = parser.parse_args()

    print(f"## Mapper benchmark, {datetime.date.today()}\n\nMachine: {machine(args.device)}\n")
    methods = ["kernel", "ridge"] + (["mlp"] if args.mlp else [])
    print("| method | fit, cold text cache (s) | of which text encoding (s) | fit, warm cache (s) | peak RSS (GB) |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as cache:
        for method in methods:
            cold, encode, peak = fit_in_fresh_process(args.device, method, os.path.join(cache, method))
            warm, _, _ = fit_in_fresh_process(args.device, method, os.path.join(cache, method))
            print(f"| {method} | {cold:.2f} | {encode:.2f} | {warm:.2f} | {peak:.2f} |")
    print("\nPeak RSS is the whole process: classifier, text encoder and fit (targets: fit <= 10 s, memory <= 3 GB).\n")

    clf = nlexnb.load_classifier("tf_efficientnet_lite0", device=args.device)
    enc = nlexnb.load_text_encoder(device=args.device)
    photos = list(nlexnb.sample_images().values())
    mappers = {
        "kernel (default)": nlexnb.fit_mapper(clf, enc),
        "kernel, no label memory": nlexnb.fit_mapper(clf, enc, memorize=False),
        "kernel, without class descriptions": nlexnb.fit_mapper(clf, enc, descriptions=False),
        "kernel, names alone": nlexnb.fit_mapper(clf, enc, glosses=False, descriptions=False),
        "ridge": nlexnb.fit_mapper(clf, enc, method="ridge"),
    }
    print("| mapper | head agreement on the sample photos | free text top-1 | free text top-5 |")
    print("|---|---|---|---|")
    for name, mapper in mappers.items():
        agree = nlexnb.evaluate.head_agreement(clf, mapper, photos)
        free = nlexnb.evaluate.free_text(clf, mapper)
        print(f"| {name} | {agree:.3f} ({len(photos)} photos) | {(free['rank'] < 1).mean():.2f} | "
              f"{(free['rank'] < 5).mean():.2f} |")  # fmt: skip
    print(
        f"\nFree text: {len(free)} plain-word descriptions (nlexnb.evaluate.FREE_TEXT_PROBES), rank among 1000 rows.\n"
    )

    if not args.skip_heldout:
        start = time.perf_counter()
        table = nlexnb.evaluate.heldout(clf, enc, folds=args.folds, methods=(*methods, "text"), progress=False)
        print(f"Held-out classes, {args.folds} folds (seed 0), {time.perf_counter() - start:.0f} s:\n")
        print(markdown(table))
        rows = table.set_index("method")
        ratio = rows.loc["kernel", "zsl_top1"] / rows.loc["ridge", "zsl_top1"]
        print(f"\nZSL top-1 kernel / ridge = {ratio:.3f} (target >= 1.15); GZSL top-1 kernel "
              f"{rows.loc['kernel', 'gzsl_top1']:.3f} (target > 0.10)")  # fmt: skip
        for label, options in (
            ("without class descriptions (descriptions=False)", {"descriptions": False}),
            ("on class names alone (glosses=False, descriptions=False)", {"glosses": False, "descriptions": False}),
        ):
            start = time.perf_counter()
            table = nlexnb.evaluate.heldout(clf, enc, folds=args.folds, methods=methods, progress=False, **options)
            print(f"\nThe same maps fitted {label}, {time.perf_counter() - start:.0f} s:\n")
            print(markdown(table))
    print(f"\nmax RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6:.2f} GB")


if __name__ == "__main__":
    main()
