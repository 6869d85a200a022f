"""This project's t-SNE and UMAP against scikit-learn's TSNE, on the same points, in one run.

    .venv/bin/python bench/projection_speed.py                  # 5k and 20k points (sklearn at both)
    .venv/bin/python bench/projection_speed.py --sizes 5000 20000 70000 --sklearn-max 70000

The points are shaped like a run's embeddings: 10 Gaussian classes of 32-D with spreads that vary
from point to point. Every map places every point. For each size it prints the wall time of each
map, the ratio to scikit-learn's, and two quality figures computed the same way for every map:
trustworthiness (scikit-learn, k = 10, on a seeded 3,000-point subsample, since it needs an n×n
matrix) and the 5-NN accuracy in 2-D (fitted on half the points, scored on the other half).
UMAP is timed warm (after a first fit has compiled numba), as the app runs it after its warm-up.

Then the GPU path (``device="cuda"``: torchdr's UMAP and InfoTSNE on an exact k-NN graph, see
explorer/gpu_maps.py): on a CUDA machine it maps 100k and 1M points (``--gpu-sizes``), timed warm
(after a small fit has imported torchdr and started CUDA), with the same quality figures on a
100k-point subsample, and says whether the goal, 1M points in under a minute, was met. Without
CUDA it says that the goal is not measured and runs the same code on the CPU at 2k points.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from explorer.projections import MAX_FIT_POINTS, fit_transform  # noqa: E402

QUALITY_POINTS = 3000


def embeddings(n: int, dim: int, classes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(classes, dim)) * 1.5
    labels = rng.integers(classes, size=n)
    spread = rng.uniform(0.5, 1.5, size=(n, 1))
    return (centres[labels] + rng.normal(size=(n, dim)) * spread).astype(np.float32), labels


def quality(X: np.ndarray, labels: np.ndarray, Y: np.ndarray) -> tuple[float, float]:
    from sklearn.manifold import trustworthiness
    from sklearn.neighbors import KNeighborsClassifier

    sample = np.random.default_rng(1).choice(len(X), min(QUALITY_POINTS, len(X)), replace=False)
    trust = trustworthiness(X[sample], Y[sample], n_neighbors=10)
    half = len(X) // 2
    knn = KNeighborsClassifier(5).fit(Y[:half], labels[:half]).score(Y[half:], labels[half:])
    return float(trust), float(knn)


def timed(fn):
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def sklearn_tsne(X):
    from sklearn.manifold import TSNE

    return TSNE(2, perplexity=30, random_state=0, n_jobs=-1).fit_transform(X)


def ours(method: str):
    return lambda X: fit_transform(X, method=method, random_state=0)[0]


def umap_own_search(X):
    """umap-learn as it comes: its own approximate neighbours (pynndescent), compiled per process."""
    import umap

    return umap.UMAP(n_components=2, random_state=0).fit_transform(X)


def ours_subsampled(fit_points: int):
    """t-SNE fitted on a seeded subsample, every other point placed by transform."""
    def run(X):
        order = np.random.default_rng(0).permutation(len(X))
        fit, rest = order[:fit_points], order[fit_points:]
        Y_fit, (Y_rest,) = fit_transform(X[fit], [X[rest]], method="tsne", random_state=0)
        Y = np.empty((len(X), 2))
        Y[fit], Y[rest] = Y_fit, Y_rest
        return Y
    return run


def row(label: str, seconds: float, reference: float | None, trust: float, knn: float) -> None:
    ratio = f"{reference / seconds:7.1f}x" if reference else "      —"
    print(f"  {label:<44} {seconds:8.1f} s {ratio}   trustworthiness {trust:.3f}   2-D 5-NN {knn:.3f}",
          flush=True)


def compare(n: int, args) -> None:
    X, labels = embeddings(n, args.dim, 10, args.seed)
    print(f"\n{n:,} points of {args.dim}-D (ratio = scikit-learn's time / this map's time):")
    reference = None
    if n <= args.sklearn_max:
        seconds, Y = timed(lambda: sklearn_tsne(X))
        row("scikit-learn TSNE (defaults, 1000 iterations)", seconds, None, *quality(X, labels, Y))
        reference = seconds
    else:
        print(f"  scikit-learn TSNE: not run above --sklearn-max {args.sklearn_max:,} points")
    maps = []
    if n > args.fit_points:  # what the app and `explorer project` do
        maps.append((f"this project's t-SNE, fit on {args.fit_points:,}, rest placed", ours_subsampled(args.fit_points)))
    maps.append(("this project's t-SNE fit on every point" if n > args.fit_points else "this project's t-SNE",
                 ours("tsne")))
    maps.append(("this project's UMAP (exact neighbours)", ours("umap")))
    maps.append(("umap-learn's own neighbour search (warm)", umap_own_search))
    for label, fn in maps:
        seconds, Y = timed(lambda: fn(X))
        row(label, seconds, reference, *quality(X, labels, Y))
        if label.startswith("this project's t-SNE") and "every point" not in label and n == 20_000:
            goal = "met" if seconds <= 10 else f"missed by {seconds - 10:.1f} s"
            ratio = "" if not reference else (f"; >= 10x scikit-learn: {'met' if reference / seconds >= 10 else 'missed'}")
            print(f"    goal, 20k points in <= 10 s on 2 cores: {goal}{ratio}")


GPU_GOAL_POINTS, GPU_GOAL_SECONDS = 1_000_000, 60.0
GPU_QUALITY_POINTS = 100_000  # the quality figures of a GPU map are computed on this many of its points


def gpu(args) -> None:
    from explorer.gpu_maps import cuda_available, fit_gpu

    if not cuda_available():
        print("\nthe GPU goal (1M points mapped in under a minute) is not measured here: no CUDA device "
              "is present")
        import torchdr  # noqa: F401  (imported before the clock starts, as on the GPU)

        X, labels = embeddings(args.gpu_cpu_points, args.dim, 10, args.seed)
        print(f"the GPU code path run on the CPU instead, {len(X):,} points of {args.dim}-D, to show it works:")
        for method in ("umap", "tsne"):
            seconds, Y = timed(lambda: fit_gpu(X, method, random_state=0, device="cpu")[0])
            row(f"torchdr {method} on an exact k-NN graph (CPU)", seconds, None, *quality(X, labels, Y))
        return
    import torch

    seconds, _ = timed(lambda: fit_transform(embeddings(5000, args.dim, 10, 99)[0], method="umap",
                                             random_state=0, device="cuda"))
    print(f"\nGPU path on {torch.cuda.get_device_name()}: first fit in this process (torchdr import, "
          f"CUDA start) {seconds:.1f} s")
    for n in args.gpu_sizes:
        X, labels = embeddings(n, args.dim, 10, args.seed)
        print(f"\n{n:,} points of {args.dim}-D on the GPU (quality on {min(n, GPU_QUALITY_POINTS):,} of them):")
        for method in ("umap", "tsne"):
            try:
                seconds, Y = timed(lambda: fit_transform(X, method=method, random_state=0, device="cuda")[0])
            except (RuntimeError, MemoryError) as e:  # torch.OutOfMemoryError is a RuntimeError
                print(f"  {method}: failed: {' '.join(str(e).split())[:200]}")
                torch.cuda.empty_cache()
                continue
            keep = slice(0, GPU_QUALITY_POINTS)  # the points are drawn independently: the first are a sample
            row(f"torchdr {method} on an exact k-NN graph (GPU)", seconds, None,
                *quality(X[keep], labels[keep], Y[keep]))
            if n == GPU_GOAL_POINTS:
                margin = GPU_GOAL_SECONDS - seconds
                print(f"    goal, 1M points in < {GPU_GOAL_SECONDS:.0f} s on the GPU: "
                      + (f"met, {margin:.1f} s to spare" if margin > 0 else f"missed by {-margin:.1f} s"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[5000, 20000])
    parser.add_argument("--sklearn-max", type=int, default=20000,
                        help="run scikit-learn's TSNE only up to this many points (it is slow)")
    parser.add_argument("--fit-points", type=int, default=MAX_FIT_POINTS,
                        help="fit t-SNE on this many points and place the rest, as the app does")
    parser.add_argument("--dim", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--gpu-sizes", type=int, nargs="+", default=[100_000, GPU_GOAL_POINTS],
                        help="numbers of points the GPU path maps, on a CUDA machine")
    parser.add_argument("--gpu-cpu-points", type=int, default=2000,
                        help="without CUDA, run the GPU code path on the CPU at this many points")
    args = parser.parse_args()
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"{platform.processor() or platform.machine()}, {cpus} CPUs, Python {platform.python_version()}")
    warnings.filterwarnings("ignore")
    seconds, _ = timed(lambda: fit_transform(embeddings(4200, args.dim, 10, 99)[0], method="umap", random_state=0))
    print(f"UMAP's first fit in this process (numba's functions loaded from its disk cache): {seconds:.1f} s")
    seconds, _ = timed(lambda: umap_own_search(embeddings(4200, args.dim, 10, 99)[0]))
    print(f"umap-learn's own neighbour search, first fit in this process (pynndescent compiling): {seconds:.1f} s")
    for n in args.sizes:
        compare(n, args)
    gpu(args)
    print(f"\nload average during the run: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
