"""Time and memory to open a run and read its last epoch, for 5 and for 50 snapshot epochs, in
format 2 (one file per epoch) and format 1 (every epoch in one embeddings.parquet).

    .venv/bin/python bench/open_run.py [--points 40000] [--dim 32] [--epochs 5 50] [--repeat 3] [--quick]

Builds the runs in a temporary directory through ``training.rundir`` (format 1 the way it was
written before: all epochs concatenated into one file). Each measurement runs in a fresh Python
process: it imports pandas, pyarrow and the explorer first, resets its peak resident size
(Linux's VmHWM, through /proc/self/clear_refs), then times ``load_run`` and ``run.points()`` of
the last epoch and reads the peak after each, shown above the process's size after its imports. The median of ``--repeat`` processes
is printed. The files were just written, so they are read from the page cache, not the disk.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from training import rundir  # noqa: E402

SPLIT_SHARES = {"train": 0.5, "test": 0.1, "shifted": 0.4}  # 20k, 4k and 16k of 40k points
SHIFTS = (-6, -3, 3, 6)
IMAGE_SIZE = 28
N_CLASSES = 10

MEASURE = """
import json, sys, time
sys.path.insert(0, {root!r})
import pandas as pd, pyarrow.dataset, pyarrow.parquet
from explorer.runs import load_run

def status_mb(key):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(key + ":")) / 1024

def peak_mb():
    return status_mb("VmHWM")

path, mode = sys.argv[1], sys.argv[2]
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # reset the peak resident size (VmHWM) to the size now, after the imports
base = status_mb("VmRSS")
started = time.perf_counter()
if mode == "eager":  # what load_run did before: read every epoch of embeddings.parquet
    frame = pd.read_parquet(path + "/embeddings.parquet")
    print(json.dumps({{"load_s": time.perf_counter() - started, "load_mb": peak_mb() - base}}))
    sys.exit()
run = load_run(path)
load_s, load_mb = time.perf_counter() - started, peak_mb() - base
started = time.perf_counter()
points = run.points()
points_s, points_mb = time.perf_counter() - started, peak_mb() - base
assert len(points) and run.last_epoch == run.epochs[-1]
print(json.dumps({{"load_s": load_s, "load_mb": load_mb, "points_s": points_s, "points_mb": points_mb,
                  "base_mb": base}}))
"""


def split_sizes(points: int) -> dict[str, int]:
    sizes = {split: int(points * share) for split, share in SPLIT_SHARES.items()}
    sizes["shifted"] -= sizes["shifted"] % len(SHIFTS)
    return sizes


def snapshot(epoch: int, sizes: dict[str, int], dim: int, rng: np.random.Generator) -> pd.DataFrame:
    """One epoch's embeddings of every split: random points, as a real snapshot's layout."""
    names = [f"class{c}" for c in range(N_CLASSES)]
    n_test, n_shifted = sizes["test"], sizes["shifted"]
    source = np.arange(n_shifted) // len(SHIFTS) % n_test
    shift = np.tile(SHIFTS, n_shifted // len(SHIFTS))
    frames = [
        rundir.embedding_frame(epoch, "train", rng.normal(size=(sizes["train"], dim)),
                               np.arange(sizes["train"]) % N_CLASSES, names),
        rundir.embedding_frame(epoch, "test", rng.normal(size=(n_test, dim)), np.arange(n_test) % N_CLASSES, names),
        rundir.embedding_frame(epoch, "shifted", rng.normal(size=(n_shifted, dim)), source % N_CLASSES, names,
                               shifts=shift, source_index=source),
    ]
    return pd.concat(frames, ignore_index=True)


def build_run(path: Path, epochs: int, format_version: int, sizes: dict[str, int], dim: int) -> Path:
    """A finished run with snapshots of epochs 0..epochs, written through rundir."""
    rng = np.random.default_rng(epochs)
    path.mkdir(parents=True)
    rundir.write_config(path, {"dataset": "bench", "class_names": [f"class{c}" for c in range(N_CLASSES)],
                               "embedding_dim": dim, "epochs": epochs, "shifts": list(SHIFTS), "sizes": sizes})
    frames = []
    for epoch in range(epochs + 1):
        frame = snapshot(epoch, sizes, dim, rng)
        if format_version == 1:
            frames.append(frame)
        else:
            rundir.write_snapshot(path, epoch, frame)
    if format_version == 1:
        pd.concat(frames, ignore_index=True).to_parquet(path / rundir.EMBEDDINGS_V1, index=False)
        rundir.write_json(path / rundir.CONFIG, {**rundir.read_config(path), "format_version": 1})
    rundir.write_metrics(path, [{"epoch": e, "split": s, "loss": 1.0 / e} for e in range(1, epochs + 1)
                                for s in ("train", "test")])
    for split, n in sizes.items():
        rundir.write_images(path, split, np.zeros((n, IMAGE_SIZE, IMAGE_SIZE), np.uint8))
    rundir.write_pairs(path, {"train_pairs": np.array([[0, 1, 1], [0, N_CLASSES - 1, 0]])})
    rundir.write_status(path, rundir.FINISHED, epochs, epochs)
    return path


def measure(path: Path, mode: str, repeat: int) -> dict[str, float]:
    """The median over ``repeat`` fresh processes of each measured number."""
    results = []
    for _ in range(repeat):
        out = subprocess.run([sys.executable, "-c", MEASURE.format(root=str(ROOT)), str(path), mode],
                             capture_output=True, text=True, check=True, timeout=600)
        results.append(json.loads(out.stdout))
    return {key: statistics.median(r[key] for r in results) for key in results[0]}


def disk_mb(path: Path) -> float:
    embeddings = [path / rundir.EMBEDDINGS, path / rundir.EMBEDDINGS_V1]
    files = [f for e in embeddings if e.exists() for f in ([e] if e.is_file() else e.iterdir())]
    return sum(f.stat().st_size for f in files) / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=40_000,
                        help="points per snapshot, split 50/10/40 %% into train, test, shifted (default 40000)")
    parser.add_argument("--dim", type=int, default=32, help="embedding dimension (default 32)")
    parser.add_argument("--epochs", type=int, nargs=2, default=(5, 50), metavar=("FEW", "MANY"),
                        help="snapshot epochs of the two runs (default 5 50)")
    parser.add_argument("--repeat", type=int, default=3, help="fresh processes per measurement (default 3)")
    parser.add_argument("--quick", action="store_true", help="8000 points, one process per measurement")
    args = parser.parse_args()
    if args.quick:
        args.points, args.repeat = 8_000, 1
    sizes = split_sizes(args.points)
    few, many = args.epochs
    print(f"{sum(sizes.values()):,} points a snapshot ({sizes['train']:,} train, {sizes['test']:,} test, "
          f"{sizes['shifted']:,} shifted), {args.dim}-D; {os.cpu_count()} CPUs; median of {args.repeat} "
          f"fresh processes; MB = peak resident memory above the process after its imports", flush=True)

    with tempfile.TemporaryDirectory(prefix="bench-open-run-") as tmp:
        started = time.perf_counter()
        runs = {(fmt, n): build_run(Path(tmp) / f"v{fmt}-{n}", n, fmt, sizes, args.dim)
                for fmt in (2, 1) for n in (few, many)}
        print(f"built 4 runs in {time.perf_counter() - started:.1f} s\n", flush=True)

        print(f"{'format':<8}{'epochs':>7}{'on disk MB':>12}{'load_run s':>12}{'MB':>8}"
              f"{'last points s':>15}{'MB':>8}")
        results = {}
        for (fmt, n), path in runs.items():
            r = results[fmt, n] = measure(path, "lazy", args.repeat)
            print(f"{fmt:<8}{n:>7}{disk_mb(path):>12.1f}{r['load_s']:>12.3f}{r['load_mb']:>8.1f}"
                  f"{r['points_s']:>15.3f}{r['points_mb']:>8.1f}", flush=True)
        eager = {n: measure(runs[1, n], "eager", args.repeat) for n in (few, many)}
        for n, r in eager.items():
            print(f"format 1, {n} epochs, read whole (what load_run did before): "
                  f"{r['load_s']:.3f} s, {r['load_mb']:.1f} MB")
        print(f"\nafter-imports process size: {results[2, few]['base_mb']:.0f} MB")

        print(f"\nratio {many}-epoch / {few}-epoch run:")
        for fmt in (2, 1):
            a, b = results[fmt, few], results[fmt, many]
            print(f"  format {fmt}: load_run time {b['load_s'] / a['load_s']:.2f}x, "
                  f"memory {_ratio(b['load_mb'], a['load_mb'])}; last points time "
                  f"{b['points_s'] / a['points_s']:.2f}x, memory {_ratio(b['points_mb'], a['points_mb'])}")
        print(f"  format 1 read whole: time {eager[many]['load_s'] / eager[few]['load_s']:.2f}x, "
              f"memory {_ratio(eager[many]['load_mb'], eager[few]['load_mb'])}")


def _ratio(many: float, few: float) -> str:
    return f"{many / few:.2f}x" if few >= 1 else f"{many:.1f} MB vs {few:.1f} MB"


if __name__ == "__main__":
    main()
