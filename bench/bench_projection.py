"""Time openTSNE against scikit-learn's t-SNE, and the shared map (fit on train, transform the
rest) against a joint refit, on the same synthetic embeddings in one run.

    .venv/bin/python bench/bench_projection.py [--n 5000] [--dim 32] [--classes 10] [--seed 0]

Prints one line per measurement and the ratios. The data are Gaussian blobs shaped like a run's
embeddings: a training set of n points and a test set of n / 4 points.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from explorer.projections import fit_transform  # noqa: E402


def blobs(n: int, dim: int, classes: int, rng: np.random.Generator) -> np.ndarray:
    centres = rng.normal(size=(classes, dim)) * 4
    return centres[rng.integers(classes, size=n)] + rng.normal(size=(n, dim))


def timed(label: str, fn):
    started = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - started
    print(f"{label:<55} {seconds:8.2f} s", flush=True)
    return seconds, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000, help="training points (default 5000)")
    parser.add_argument("--dim", type=int, default=32, help="embedding dimension (default 32)")
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    train = blobs(args.n, args.dim, args.classes, rng)
    test = blobs(args.n // 4, args.dim, args.classes, rng)
    print(f"{args.n} training and {len(test)} test points, {args.dim}-D, {os.cpu_count()} CPUs")

    from sklearn.manifold import TSNE

    fit_transform(train[:200], method="tsne", random_state=0, n_iter=50)  # warm up openTSNE
    open_seconds, _ = timed("openTSNE fit (perplexity 30, 750 iterations)",
                            lambda: fit_transform(train, method="tsne", random_state=args.seed))
    sk_seconds, _ = timed("scikit-learn TSNE fit (perplexity 30, 1000 iterations)",
                          lambda: TSNE(2, perplexity=30, random_state=args.seed, n_jobs=-1).fit_transform(train))
    shared_seconds, _ = timed("shared map: openTSNE fit on train + transform test",
                              lambda: fit_transform(train, [test], "tsne", random_state=args.seed))
    joint_seconds, _ = timed("joint map: openTSNE fit on train and test together",
                             lambda: fit_transform(np.vstack([train, test]), method="tsne", random_state=args.seed))
    print(f"scikit-learn / openTSNE fit time: {sk_seconds / open_seconds:.2f}x")
    print(f"joint refit / shared map (fit + transform): {joint_seconds / shared_seconds:.2f}x")
    print(f"transform of {len(test)} test points: {shared_seconds - open_seconds:.2f} s "
          f"(shared minus the plain fit)")


if __name__ == "__main__":
    main()
