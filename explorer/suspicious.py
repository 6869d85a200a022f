"""Suspicious points: the points whose nearest neighbours in embedding space disagree with their
label. No classifier is trained for it (unlike FiftyOne's mistakenness): a point whose k nearest
neighbours mostly carry another label is either mislabelled, ambiguous, or where the embedding
fails. Useful on train (label noise, hard examples) and on test or shifted points (where the
embedding puts them among another class).

The score weighs the k neighbours by rank (weight 1/r for the r-th nearest), so a point whose
closest neighbours disagree ranks above one whose far neighbours do; it runs from 0 (all agree) to
1 (all disagree).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from explorer.neighbours import nearest_neighbours
from explorer.runs import IDENTITY_COLUMNS, Run
import runfmt as rundir

COLUMNS = ["position", "label", "score", "disagree", "k", "other_label", "other_count",
           "nearest_other_distance", "nearest_same_distance"]


def neighbour_disagreement(X: np.ndarray, labels: np.ndarray, k: int = 10,
                           X_reference: np.ndarray | None = None,
                           labels_reference: np.ndarray | None = None) -> pd.DataFrame:
    """For each row of X: how many of its k nearest reference points carry another label.

    Without a reference, X is its own reference and a point is never its own neighbour.
    Columns: position (row of X), label, score (rank-weighted share of disagreeing neighbours),
    disagree (count), k, other_label (the most frequent other label among them, -1 if none),
    other_count, nearest_other_distance and nearest_same_distance (NaN if none among the k).
    Sorted by score, then disagree, highest first; ties keep the order of X.
    """
    X = np.asarray(X, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    if X.ndim != 2 or len(X) != len(labels):
        raise ValueError(f"X must be (n, d) with one label per row; got {X.shape} and {labels.shape}")
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    own = X_reference is None
    reference = X if own else np.asarray(X_reference, dtype=np.float64)
    reference_labels = labels if own else np.asarray(labels_reference, dtype=np.int64)
    if len(reference) != len(reference_labels):
        raise ValueError("X_reference and labels_reference must have the same length")
    available = len(reference) - (1 if own else 0)
    if available < 1 or not len(X):
        return pd.DataFrame(columns=COLUMNS)
    k = min(k, available)
    exclude = np.arange(len(X)) if own else None
    indices, dist = nearest_neighbours(reference, X, k, exclude)
    neighbour_labels = reference_labels[indices]
    differs = neighbour_labels != labels[:, None]
    weights = 1.0 / np.arange(1, k + 1)
    score = (differs * weights).sum(1) / weights.sum()
    other_label = np.full(len(X), -1, np.int64)
    other_count = np.zeros(len(X), np.int64)
    for position in np.flatnonzero(differs.any(1)):
        values, counts = np.unique(neighbour_labels[position][differs[position]], return_counts=True)
        other_label[position], other_count[position] = values[counts.argmax()], counts.max()
    first_other = np.where(differs.any(1), dist[np.arange(len(X)), differs.argmax(1)], np.nan)
    same = ~differs
    first_same = np.where(same.any(1), dist[np.arange(len(X)), same.argmax(1)], np.nan)
    frame = pd.DataFrame({"position": np.arange(len(X)), "label": labels, "score": score,
                          "disagree": differs.sum(1), "k": k, "other_label": other_label,
                          "other_count": other_count, "nearest_other_distance": first_other,
                          "nearest_same_distance": first_same}, columns=COLUMNS)
    return frame.sort_values(["score", "disagree"], ascending=False, kind="stable").reset_index(drop=True)


def run_suspicious(run: Run, epoch: int | None = None, split: str = "train", k: int = 10,
                   reference: str = "train") -> pd.DataFrame:
    """neighbour_disagreement for one split of a run, most suspicious first.

    Neighbours come from the ``reference`` split (train by default; a train point is never its
    own neighbour). Columns: the identity columns (split, row, ...), then score, disagree, k,
    other_label, other_class, other_count, nearest_other_distance, nearest_same_distance.
    """
    points = run.points(epoch, split)
    X = points[rundir.embedding_columns(points)].to_numpy(np.float64)
    if reference == split:
        found = neighbour_disagreement(X, points["label"].to_numpy(), k)
    else:
        ref = run.points(epoch, reference)
        found = neighbour_disagreement(X, points["label"].to_numpy(), k,
                                       ref[rundir.embedding_columns(ref)].to_numpy(np.float64),
                                       ref["label"].to_numpy())
    identity = points.iloc[found["position"].to_numpy()][list(IDENTITY_COLUMNS)].reset_index(drop=True)
    names = np.asarray(run.class_names + [""], dtype=object)
    frame = pd.concat([identity, found.drop(columns=["position", "label"])], axis=1)
    frame.insert(frame.columns.get_loc("other_label") + 1, "other_class",
                 names[frame["other_label"].to_numpy(np.int64)] if len(frame) else [])
    frame.attrs.update({"split": split, "reference": reference, "k": int(found["k"].iloc[0]) if len(found) else k})
    return frame
