"""Identification: the nearest neighbours of a point, as a ranked gallery with distances."""

from __future__ import annotations

import numpy as np
import pandas as pd

from explorer.runs import IDENTITY_COLUMNS, Run
import runfmt as rundir


def nearest_neighbours(reference: np.ndarray, query: np.ndarray, k: int = 10,
                       exclude: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(indices, distances), each (n_query, k): the k nearest reference rows of each query row,
    closest first (Euclidean). ``exclude[q]`` is a reference row to leave out for query q (or -1)."""
    from sklearn.neighbors import NearestNeighbors

    reference, query = np.asarray(reference, np.float64), np.atleast_2d(np.asarray(query, np.float64))
    if reference.ndim != 2 or query.shape[1] != reference.shape[1]:
        raise ValueError(f"query {query.shape} and reference {reference.shape} must have the same dimension")
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    extra = 0 if exclude is None else 1
    k_found = min(k + extra, len(reference))
    distances, indices = NearestNeighbors(n_neighbors=k_found).fit(reference).kneighbors(query)
    if exclude is not None:
        exclude = np.asarray(exclude).reshape(-1, 1)
        keep = indices != exclude
        keep[keep.sum(1) > k_found - 1, -1] = False  # nothing excluded in that row: drop the last
        indices = indices[keep].reshape(len(query), k_found - 1)
        distances = distances[keep].reshape(len(query), k_found - 1)
    return indices[:, :k], distances[:, :k]


def gallery(run: Run, split: str, row: int, epoch: int | None = None, reference: str = "train",
            k: int = 10) -> pd.DataFrame:
    """The k nearest ``reference`` points of point (split, row): rank (1 = closest), the neighbour's
    identity columns, distance and same_class. The query itself is never its own neighbour."""
    query_points = run.points(epoch, split)
    found = np.flatnonzero(query_points["row"].to_numpy() == row)
    if not len(found):
        raise ValueError(f"row {row} is not among the {len(query_points)} {split} points of this snapshot")
    position = int(found[0])
    reference_points = query_points if reference == split else run.points(epoch, reference)
    X_query, X_reference = _embeddings(query_points), _embeddings(reference_points)
    exclude = np.array([position if reference == split else -1])
    indices, distances = nearest_neighbours(X_reference, X_query[position], k, exclude)
    frame = reference_points.iloc[indices[0]][list(IDENTITY_COLUMNS)].reset_index(drop=True)
    frame.insert(0, "rank", np.arange(1, len(frame) + 1))
    frame["distance"] = distances[0]
    frame["same_class"] = frame["label"].to_numpy() == query_points["label"].iloc[position]
    return frame


def _embeddings(points: pd.DataFrame) -> np.ndarray:
    return points[rundir.embedding_columns(points)].to_numpy(np.float32)
