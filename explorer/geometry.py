"""Cluster geometry: class centroids, how far apart they are, and how large each class cluster is.

The *size* of a class cluster is the mean Euclidean distance of its members to their centroid (the
class mean in embedding space). Following seed 003, the centroid-distance matrix carries the
cluster sizes on its diagonal, where a centroid's distance to itself would be zero. Good
embeddings have large off-diagonal entries and a small diagonal.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from explorer.runs import Run
import runfmt as rundir


def _check(X, y, n_classes):
    X, y = np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.int64)
    if X.ndim != 2 or len(X) != len(y):
        raise ValueError(f"X must be (n, d) with one label per row; got X {X.shape} and y {y.shape}")
    if not len(X):
        raise ValueError("there are no points")
    n_classes = int(y.max()) + 1 if n_classes is None else int(n_classes)
    if y.min() < 0 or y.max() >= n_classes:
        raise ValueError(f"labels must lie in 0..{n_classes - 1}")
    return X, y, n_classes


def centroids(X: np.ndarray, y: np.ndarray, n_classes: int | None = None) -> np.ndarray:
    """(n_classes, d) class means; a class without points gets a row of NaN."""
    X, y, n_classes = _check(X, y, n_classes)
    sums = np.zeros((n_classes, X.shape[1]))
    np.add.at(sums, y, X)
    counts = np.bincount(y, minlength=n_classes)[:, None]
    return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def cluster_sizes(X: np.ndarray, y: np.ndarray, n_classes: int | None = None) -> np.ndarray:
    """Mean distance of each class's points to their centroid (NaN for an empty class)."""
    X, y, n_classes = _check(X, y, n_classes)
    distance = np.linalg.norm(X - centroids(X, y, n_classes)[y], axis=1)
    counts = np.bincount(y, minlength=n_classes)
    return np.where(counts > 0, np.bincount(y, distance, minlength=n_classes) / np.maximum(counts, 1), np.nan)


def centroid_distances(X: np.ndarray, y: np.ndarray, n_classes: int | None = None) -> np.ndarray:
    """(n_classes, n_classes) distances between centroids, with cluster sizes on the diagonal."""
    from scipy.spatial.distance import cdist

    X, y, n_classes = _check(X, y, n_classes)
    centres = centroids(X, y, n_classes)
    matrix = cdist(centres, centres)
    np.fill_diagonal(matrix, cluster_sizes(X, y, n_classes))
    return matrix


def cluster_summary(X: np.ndarray, y: np.ndarray, n_classes: int | None = None) -> dict:
    """mean_cluster_size, mean_centroid_distance (over distinct class pairs) and their ratio."""
    matrix = centroid_distances(X, y, n_classes)
    off_diagonal = matrix[~np.eye(len(matrix), dtype=bool)]
    size = float(np.nanmean(np.diag(matrix)))
    distance = float(np.nanmean(off_diagonal)) if off_diagonal.size else float("nan")
    return {"mean_cluster_size": size, "mean_centroid_distance": distance,
            "distance_to_size": distance / size if size > 0 else float("nan")}


def geometry_over_epochs(run: Run, splits=("train", "test")) -> pd.DataFrame:
    """cluster_summary for every snapshot epoch: epoch, split, mean_cluster_size, ...

    Each epoch's snapshot is read once. A snapshot before the last may hold a seeded subset of a
    split's rows (the same rows at every epoch); its figures are those of that subset.
    """
    rows = []
    splits = [s for s in splits if s in run.splits]
    for epoch in run.epochs:
        points = run.points(epoch)
        for split in splits:
            chosen = points[points["split"] == split]
            if not len(chosen):
                continue
            X = chosen[rundir.embedding_columns(chosen)].to_numpy(np.float64)
            rows.append({"epoch": epoch, "split": split,
                         **cluster_summary(X, chosen["label"].to_numpy(), run.n_classes)})
    return pd.DataFrame(rows, columns=["epoch", "split", "mean_cluster_size",
                                       "mean_centroid_distance", "distance_to_size"])
