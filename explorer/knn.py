"""Exact k nearest neighbours in chunks: never an n×n matrix, whatever the number of points.

Each chunk of queries holds at most ``CHUNK_ELEMENTS`` distances at once (64 MB of float32).
Euclidean distances come from ‖q‖² − 2·q·x + ‖x‖² through BLAS; cosine works on unit vectors.
"""

from __future__ import annotations

import numpy as np

CHUNK_ELEMENTS = 1 << 24
METRICS = ("euclidean", "cosine")


def knn(reference: np.ndarray, k: int, queries: np.ndarray | None = None, metric: str = "euclidean",
        exclude_self: bool | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(indices, distances), each (n_queries, k), closest first.

    Without ``queries`` the reference points are their own queries, and each point is left out of
    its own neighbours (``exclude_self`` defaults to that). Cosine distance is 1 − cos.
    """
    if metric not in METRICS:
        raise ValueError(f"exact k-NN supports {', '.join(METRICS)}, not {metric!r}")
    reference = _prepared(reference, metric)
    exclude_self = queries is None if exclude_self is None else exclude_self
    queries = reference if queries is None else _prepared(queries, metric)
    available = len(reference) - (1 if exclude_self else 0)
    if not 1 <= k <= available:
        raise ValueError(f"k must be between 1 and {available}, got {k}")
    squared = np.einsum("ij,ij->i", reference, reference)
    rows = max(1, CHUNK_ELEMENTS // max(1, len(reference)))
    indices = np.empty((len(queries), k), np.int64)
    distances = np.empty((len(queries), k), np.float32)
    for start in range(0, len(queries), rows):
        q = queries[start:start + rows]
        d = np.einsum("ij,ij->i", q, q)[:, None] - 2 * (q @ reference.T) + squared[None, :]
        if exclude_self:
            d[np.arange(len(q)), np.arange(start, start + len(q))] = np.inf
        nearest = np.argpartition(d, k - 1, axis=1)[:, :k] if k < d.shape[1] else np.argsort(d, axis=1)[:, :k]
        nearest_d = np.take_along_axis(d, nearest, axis=1)
        order = np.argsort(nearest_d, axis=1, kind="stable")
        indices[start:start + rows] = np.take_along_axis(nearest, order, axis=1)
        distances[start:start + rows] = np.sqrt(np.maximum(np.take_along_axis(nearest_d, order, axis=1), 0))
    if metric == "cosine":
        distances = distances ** 2 / 2  # on unit vectors, ‖a − b‖² = 2 − 2·cos
    return indices, distances


def _prepared(X: np.ndarray, metric: str) -> np.ndarray:
    X = np.asarray(X, np.float32)
    if X.ndim != 2:
        raise ValueError(f"points must be a 2-D array (points x dimensions), got shape {X.shape}")
    if metric == "cosine":
        norms = np.linalg.norm(X, axis=1, keepdims=True)
        X = X / np.where(norms > 0, norms, 1)
    return X
