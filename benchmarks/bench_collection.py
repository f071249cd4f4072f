"""Benchmark: explain_collection's throughput beside the forward pass, and its memory against collection size.

    python benchmarks/bench_collection.py                    # CPU: batches of 4 and 32, 2 decoding workers
    python benchmarks/bench_collection.py --device cuda      # GPU
    python benchmarks/bench_collection.py --views 10         # 290 stamp photos vs 2,900 views of them (memory)

With nlexnb[ray] installed, it also times engine="ray" on a local Ray instance beside the single process.

Prints the machine and the date, then images/s for (a) the classifier's forward pass alone and (b) explain_collection
(default visual bank, default kernel mapper, k=5, writing Parquet), at the same batch sizes: from pre-decoded tensors
(no decoding) and end to end from the files (Tux Paint's photo stamps, ``nlexnb.datasets.stamp_photo_set()``). The
first pass over a collection also prepares the name and echo filters of every class it predicts (once per class), so
explain_collection is timed twice; per-image ``Explainer.explain`` (warm) is timed beside. Last, the resident memory
of a fresh process running explain_collection over the 290 photos and over ``--views`` times as many (flips, rotations
and crops written to a temporary folder as JPEG), ``--repeats`` runs of each: at the start of the run, its exact peak
(the kernel's high-water mark, reset at the start of the run), and at the end (Linux, /proc/self/status); then the
median peak per size. Streamed to disk, the peak should not grow with the collection. One run's peak varies by up to
about 200 MB whatever the collection's size (where glibc places the forward pass's buffers; see benchmarks/RESULTS.md),
so compare medians.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import torch
from PIL import Image, ImageOps

import nlexnb
from nlexnb.collection import explain_collection
from nlexnb.datasets import stamp_photo_set
from nlexnb.images import to_pil


class Tensors(torch.utils.data.Dataset):
    """Pre-decoded, preprocessed images [3, H, W] (explain_collection takes float tensors as preprocessed)."""

    def __init__(self, x: torch.Tensor) -> None:
        self.x = x

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.x[i]


class Files(torch.utils.data.Dataset):
    """Paths -> preprocessed tensors, for the forward-only pass from files."""

    def __init__(self, paths: list, transform) -> None:
        self.paths, self.transform = paths, transform

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.transform(to_pil(self.paths[i]))


def views(image: Image.Image, n: int) -> list[Image.Image]:
    """Up to 10 versions of a photo: itself, mirrored, flipped, turned both ways, and five 80 % crops."""
    w, h = image.size
    crops = [
        image.crop((int(w * x0), int(h * y0), int(w * x0) + int(w * 0.8), int(h * y0) + int(h * 0.8)))
        for x0, y0 in ((0.1, 0.1), (0, 0), (0.2, 0), (0, 0.2), (0.2, 0.2))
    ]
    out = [image, ImageOps.mirror(image), ImageOps.flip(image), image.rotate(90, expand=True)]
    return (out + [image.rotate(270, expand=True)] + crops)[:n]


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def rate(n: int, seconds: float) -> str:
    return f"{n / seconds:8.1f} img/s  ({n} images, {seconds:.1f} s)"


def status_mb(field: str) -> float:
    """A memory figure of this process from /proc/self/status (VmRSS: resident now)."""
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith(field + ":")) / 1024


def reset_peak() -> None:
    """Reset the kernel's record of this process's peak resident memory (VmHWM) to what it holds now, so VmHWM then
    gives the exact peak of what follows, spikes between two samples included (Linux 4.0+: ``clear_refs`` 5)."""
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")


def child(folder: str, out: str, device: str, batch: int, workers: int) -> None:
    """One explain_collection over a folder in a fresh process. Prints the resident memory at the start of the run
    (after the models, the bank and the text cache are loaded), its exact peak over the run, its peak in the first and
    in the second half of the run (sampled every 0.1 s) and at the end."""
    clf = nlexnb.load_classifier("tf_efficientnet_lite0", device=device)
    explainer = nlexnb.Explainer(clf, nlexnb.fit_mapper(clf, nlexnb.load_text_encoder(device=device)))
    explainer.space.text_embeddings()  # loads the text encoder's disk cache, which the echo test reads
    gc.collect()
    samples: list[tuple[float, float]] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            samples.append((time.perf_counter(), status_mb("VmRSS")))
            stop.wait(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    objects = len(gc.get_objects())
    reset_peak()
    start_mb, start = status_mb("VmRSS"), time.perf_counter()
    sampler.start()
    run = explain_collection(explainer, folder, out, batch_size=batch, num_workers=workers, progress=False)
    seconds = time.perf_counter() - start
    stop.set()
    sampler.join()
    gc.collect()
    half = start + seconds / 2
    print(
        json.dumps(
            {
                "rows": run.rows,
                "seconds": seconds,
                "start_mb": start_mb,
                "first_half_mb": max(m for t, m in samples if t < half),
                "second_half_mb": max(m for t, m in samples if t >= half),
                "peak_mb": status_mb("VmHWM"),
                "end_mb": status_mb("VmRSS"),
                "end_anon_file_shmem_mb": [status_mb(f) for f in ("RssAnon", "RssFile", "RssShmem")],
                "python_objects_start_end": [objects, len(gc.get_objects())],
                "children_peak_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
            }
        )
    )


def throughput(args, clf, explainer, data, paths, sizes, tmp) -> None:
    """Images/s of the forward pass beside explain_collection: pre-decoded, from files, and with Ray when installed."""
    x = torch.stack([clf.transform(to_pil(p)) for p in paths])
    print(f"\n-- pre-decoded tensors ({len(x)} stamp photos, {tuple(x.shape[1:])}) --")
    for bs in sizes:
        clf.features(x[:bs])  # warm-up
        sync(args.device)
        start = time.perf_counter()
        for i in range(0, len(x), bs):
            clf.features(x[i : i + bs])
        sync(args.device)
        print(f"batch {bs:3d}: (a) classifier forward only     {rate(len(x), time.perf_counter() - start)}")
        start = time.perf_counter()
        explain_collection(explainer, Tensors(x), tmp / f"tensors{bs}.parquet", batch_size=bs, progress=False)
        print(f"           (b) explain_collection          {rate(len(x), time.perf_counter() - start)}  first pass")
        start = time.perf_counter()
        explain_collection(explainer, Tensors(x), tmp / f"again{bs}.parquet", batch_size=bs, progress=False)
        print(f"               explain_collection again    {rate(len(x), time.perf_counter() - start)}")
    n = min(64, len(x))
    start = time.perf_counter()
    for i in range(n):
        explainer.explain(x[i : i + 1], heatmaps=False)
    sync(args.device)
    print(f"batch   1:     Explainer.explain per image {rate(n, time.perf_counter() - start)}")

    print(f"\n-- end to end from files ({len(paths)} PNG stamp photos, {args.workers} decoding workers) --")
    for bs in sizes:
        loader = torch.utils.data.DataLoader(Files(paths, clf.transform), batch_size=bs, num_workers=args.workers)
        start = time.perf_counter()
        for batch in loader:
            clf.features(batch)
        sync(args.device)
        print(f"batch {bs:3d}: (a) decode + classifier forward {rate(len(paths), time.perf_counter() - start)}")
        start = time.perf_counter()
        out = tmp / f"files{bs}.parquet"
        run = explain_collection(explainer, data, out, batch_size=bs, num_workers=args.workers, progress=False)
        print(f"           (b) explain_collection          {rate(len(paths), time.perf_counter() - start)}")
    print(f"           {run!r}; file {os.path.getsize(run.path) / 1e3:.0f} kB")
    bs = sizes[0]

    try:
        import ray
    except ImportError:
        print("\n-- Ray: not installed (pip install nlexnb[ray]) --")
    else:
        actors = max(1, args.workers)
        print(f"\n-- Ray Data, local instance, {actors} actors, batch {bs}: from files, beside one process --")
        start = time.perf_counter()
        ray.init(include_dashboard=False, log_to_driver=False, logging_level="warning")
        print(f"ray.init: {time.perf_counter() - start:.1f} s")
        for engine, workers in (("local", args.workers), ("ray", actors), ("ray", actors)):
            out = tmp / f"{engine}{time.monotonic_ns()}.parquet"
            start = time.perf_counter()
            explain_collection(explainer, data, out, batch_size=bs, num_workers=workers, engine=engine, progress=False)
            print(f"engine {engine:5s}: {rate(len(paths), time.perf_counter() - start)} (actor start-up included)")
        ray.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument(
        "--batch-sizes",
        default=None,
        help="comma-separated (default 4,32 on a CPU, 32,128 on a GPU); the first is also used for the memory runs",
    )
    parser.add_argument("--workers", type=int, default=2, help="DataLoader workers for the runs from files")
    parser.add_argument("--views", type=int, default=10, help="views per photo for the memory run (1-10)")
    parser.add_argument("--repeats", type=int, default=3, help="fresh-process memory runs per collection size")
    parser.add_argument("--memory-only", action="store_true", help="skip the throughput runs")
    parser.add_argument("--child", nargs=2, metavar=("FOLDER", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    cuda = args.device.startswith("cuda")
    sizes = [int(b) for b in (args.batch_sizes or ("32,128" if cuda else "4,32")).split(",")]
    if args.child:
        return child(*args.child, args.device, sizes[0], args.workers)

    print(f"date {datetime.datetime.now().isoformat(timespec='seconds')}")
    print(
        f"machine {platform.platform()}, {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"torch {torch.__version__} ({torch.get_num_threads()} threads), device {args.device}"
        + (f" ({torch.cuda.get_device_name()})" if cuda else "")
    )
    clf = nlexnb.load_classifier("tf_efficientnet_lite0", device=args.device)
    explainer = nlexnb.Explainer(clf, nlexnb.fit_mapper(clf, nlexnb.load_text_encoder(device=args.device)))
    print(f"explainer {explainer!r}; k=5")
    data = stamp_photo_set()
    paths = [p for p, _ in data]
    tmp = Path(tempfile.mkdtemp(prefix="bench-collection-"))

    if not args.memory_only:
        throughput(args, clf, explainer, data, paths, sizes, tmp)

    bs = sizes[0]
    print(
        f"\n-- memory, a fresh process per run, {args.repeats} runs per size (views of the stamps as JPEG, batch {bs}, "
        f"{args.workers} workers); peak = the kernel's exact high-water mark over the run --"
    )
    peaks: dict[int, list[float]] = {}
    for count in sorted({1, args.views}):
        folder = tmp / f"views{count}"
        folder.mkdir()
        for i, p in enumerate(paths):
            for j, view in enumerate(views(to_pil(p), count)):
                view.save(folder / f"{i:04d}_{j}.jpg", quality=90)
        for repeat in range(args.repeats):
            out = tmp / f"views{count}-{repeat}.parquet"
            command = [sys.executable, __file__, "--child", str(folder), str(out)]
            command += ["--device", args.device, "--batch-sizes", str(bs), "--workers", str(args.workers)]
            run = subprocess.run(command, capture_output=True, text=True, check=True)
            result = json.loads(run.stdout.splitlines()[-1])
            peaks.setdefault(result["rows"], []).append(result["peak_mb"])
            r = result
            print(
                f"{r['rows']:6d} images: RSS {r['start_mb']:5.0f} MB at the start, peak {r['peak_mb']:5.0f} MB "
                f"(sampled every 0.1 s: {r['first_half_mb']:5.0f} MB in the first half, "
                f"{r['second_half_mb']:5.0f} MB in the second), {r['end_mb']:5.0f} MB at the end "
                f"(workers {r['children_peak_mb']:.0f} MB at most); {rate(r['rows'], r['seconds']).strip()}"
            )
    medians = {rows: statistics.median(values) for rows, values in peaks.items()}
    small, large = medians[min(medians)], medians[max(medians)]
    print(
        "median peak: "
        + ", ".join(
            f"{rows} images {mb:.0f} MB (runs {min(peaks[rows]):.0f}-{max(peaks[rows]):.0f})"
            for rows, mb in medians.items()
        )
        + f"; largest / smallest collection {large / small:.3f}"
    )


if __name__ == "__main__":
    main()
