"""The run's hardest pairs and triplets, by its own loss.

A contrastive run is judged on its pairs: a similar pair costs ½·d², a dissimilar one
½·max(0, m − d)² (seed 000), so the hardest positives lie far apart and the hardest negatives lie
closer than the margin. A triplet run is judged on its triplets: max(d(a, p) − d(a, n) + m, 0).
The pairs and triplets are the ones the run drew (``pairs.npz``), so under the nn regimes a
"negative" can be a same-class image that is not a near neighbour; ``same_class`` says so.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from explorer import distances
from explorer.runs import Run
import runfmt as rundir

KINDS = ("positive", "negative", "triplet")
COLUMNS = ["kind", "a", "b", "n", "label_a", "label_b", "label_n", "class_a", "class_b", "class_n",
           "d_ab", "d_an", "loss", "same_class"]


def contrastive_losses(d: np.ndarray, y: np.ndarray, margin: float = 1.0) -> np.ndarray:
    """½·d² for a similar pair (y = 1), ½·max(0, margin − d)² for a dissimilar one (y = 0)."""
    d, y = np.asarray(d, dtype=np.float64), np.asarray(y)
    if d.shape != y.shape:
        raise ValueError("d and y must have the same shape")
    if margin <= 0:
        raise ValueError(f"margin must be positive, got {margin}")
    return np.where(y == 1, 0.5 * d ** 2, 0.5 * np.maximum(0.0, margin - d) ** 2)


def triplet_losses(d_ap: np.ndarray, d_an: np.ndarray, margin: float = 1.0) -> np.ndarray:
    """max(d(a, p) − d(a, n) + margin, 0) per triplet."""
    d_ap, d_an = np.asarray(d_ap, dtype=np.float64), np.asarray(d_an, dtype=np.float64)
    if d_ap.shape != d_an.shape:
        raise ValueError("d_ap and d_an must have the same shape")
    if margin <= 0:
        raise ValueError(f"margin must be positive, got {margin}")
    return np.maximum(d_ap - d_an + margin, 0.0)


def _rows(points: pd.DataFrame, wanted: np.ndarray) -> np.ndarray:
    return pd.Index(points["row"].to_numpy()).get_indexer(np.asarray(wanted, dtype=np.int64))


def hard_pairs(X: np.ndarray, labels: np.ndarray, pairs: np.ndarray, margin: float = 1.0) -> pd.DataFrame:
    """Every (i, j, y) pair of positions into X with its distance and contrastive loss, hardest
    first. Columns as COLUMNS, with ``a``, ``b`` the positions and ``n`` = -1."""
    X, labels = np.asarray(X, dtype=np.float64), np.asarray(labels, dtype=np.int64)
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 3)
    if len(pairs) and (pairs[:, :2].min() < 0 or pairs[:, :2].max() >= len(X)):
        raise ValueError(f"pair indices must lie in 0..{len(X) - 1}")
    a, b, y = pairs.T
    d = np.linalg.norm(X[a] - X[b], axis=1)
    frame = pd.DataFrame({
        "kind": np.where(y == 1, "positive", "negative"), "a": a, "b": b, "n": -1,
        "label_a": labels[a], "label_b": labels[b], "label_n": -1, "d_ab": d, "d_an": np.nan,
        "loss": contrastive_losses(d, y, margin), "same_class": labels[a] == labels[b]})
    return frame.sort_values("loss", ascending=False, kind="stable").reset_index(drop=True)


def hard_triplets(X: np.ndarray, labels: np.ndarray, triplets: np.ndarray, margin: float = 1.0) -> pd.DataFrame:
    """Every (anchor, positive, negative) triplet of positions into X with d(a, p), d(a, n) and
    the triplet loss, hardest first. Columns as COLUMNS (``b`` the positive, ``n`` the negative)."""
    X, labels = np.asarray(X, dtype=np.float64), np.asarray(labels, dtype=np.int64)
    triplets = np.asarray(triplets, dtype=np.int64).reshape(-1, 3)
    if len(triplets) and (triplets.min() < 0 or triplets.max() >= len(X)):
        raise ValueError(f"triplet indices must lie in 0..{len(X) - 1}")
    a, p, n = triplets.T
    d_ap, d_an = np.linalg.norm(X[a] - X[p], axis=1), np.linalg.norm(X[a] - X[n], axis=1)
    frame = pd.DataFrame({
        "kind": "triplet", "a": a, "b": p, "n": n, "label_a": labels[a], "label_b": labels[p],
        "label_n": labels[n], "d_ab": d_ap, "d_an": d_an, "loss": triplet_losses(d_ap, d_an, margin),
        "same_class": labels[a] == labels[n]})
    return frame.sort_values("loss", ascending=False, kind="stable").reset_index(drop=True)


def run_hard_pairs(run: Run, epoch: int | None = None, split: str = "train") -> pd.DataFrame:
    """The run's own pairs (contrastive) or triplets (triplet loss) on ``split``, hardest first.

    ``a``, ``b``, ``n`` are rows of the split (and of images/<split>.npy); class names are filled
    in. Pairs with an end the epoch's snapshot lacks are left out (``attrs["dropped"]``).
    """
    stored = run.pairs()
    margin = float(run.config.get("margin") or 1.0)
    triplet = distances.trains_on_triplets(run)
    key = f"{split}_{'triplets' if triplet else 'pairs'}"
    if key not in stored or not len(stored[key]):
        raise ValueError(f"run {run.name} has no {key} in its {rundir.PAIRS}")
    tuples = np.asarray(stored[key], dtype=np.int64)
    points = run.points(epoch, split)
    positions = np.stack([_rows(points, tuples[:, 0]), _rows(points, tuples[:, 1]),
                          _rows(points, tuples[:, 2]) if triplet else tuples[:, 2]], 1)
    kept = (positions[:, :3 if triplet else 2] >= 0).all(1)
    X = points[rundir.embedding_columns(points)].to_numpy(np.float64)
    labels = points["label"].to_numpy(np.int64)
    frame = (hard_triplets if triplet else hard_pairs)(X, labels, positions[kept], margin)
    rows = points["row"].to_numpy()
    for column in ("a", "b", "n"):
        valid = frame[column].to_numpy() >= 0
        frame[column] = np.where(valid, rows[np.where(valid, frame[column], 0)], -1)
    names = np.asarray(run.class_names + [""], dtype=object)
    for column in ("a", "b", "n"):
        frame[f"class_{column}"] = names[frame[f"label_{column}"].to_numpy()]
    frame = frame[COLUMNS]
    frame.attrs.update({"dropped": int((~kept).sum()), "margin": margin, "loss": "triplet" if triplet else "contrastive",
                        "split": split})
    return frame


def class_pair(frame: pd.DataFrame) -> pd.Series:
    """"a – b" names per row (sorted, so 4 – 9 and 9 – 4 are one pair); for a triplet the anchor's
    and the negative's classes, the pair it must tell apart."""
    first = frame["class_a"].astype(str).to_numpy()
    second = np.where(frame["kind"] == "triplet", frame["class_n"], frame["class_b"]).astype(str)
    return pd.Series([" – ".join(sorted((x, y))) for x, y in zip(first, second)], index=frame.index)
