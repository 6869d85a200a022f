"""Pair distances and verification: is the distance between two embeddings below a threshold?

A pair is a row (i, j, y) of indices into one split, with y = 1 for a similar (same class, or
"positive") pair and y = 0 for a dissimilar one. Verification accepts a pair as similar when its
distance is at most a threshold: the false-accept rate (FAR) is the fraction of dissimilar pairs
accepted, the true-accept rate (TAR) the fraction of similar pairs accepted.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from explorer.runs import Run
import runfmt as rundir

DISTANCE_METRICS = ("euclidean", "cosine")


def pair_distances(X: np.ndarray, pairs: np.ndarray, metric: str = "euclidean") -> tuple[np.ndarray, np.ndarray]:
    """(distance, y) of each (i, j, y) row of ``pairs``, with rows of X as the points."""
    X = np.asarray(X, dtype=np.float64)
    pairs = _check_pairs(pairs, len(X))
    if metric not in DISTANCE_METRICS:
        raise ValueError(f"metric must be one of {', '.join(DISTANCE_METRICS)}, got {metric!r}")
    a, b = X[pairs[:, 0]], X[pairs[:, 1]]
    if metric == "euclidean":
        d = np.linalg.norm(a - b, axis=1)
    else:
        norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
        d = 1.0 - np.einsum("ij,ij->i", a, b) / np.where(norms > 0, norms, 1.0)
    return d, pairs[:, 2].astype(np.int64)


def _check_pairs(pairs: np.ndarray, n_points: int) -> np.ndarray:
    pairs = np.asarray(pairs)
    if pairs.ndim != 2 or pairs.shape[1] != 3:
        raise ValueError(f"pairs must have shape (n, 3) holding i, j, y; got {pairs.shape}")
    pairs = pairs.astype(np.int64)
    if len(pairs) and (pairs[:, :2].min() < 0 or pairs[:, :2].max() >= n_points):
        raise ValueError(f"pair indices must lie in 0..{n_points - 1}")
    if not np.isin(pairs[:, 2], (0, 1)).all():
        raise ValueError("the third column of pairs (y) must be 0 or 1")
    return pairs


def triplets_to_pairs(triplets: np.ndarray) -> np.ndarray:
    """Each (anchor, positive, negative) row becomes a similar and a dissimilar pair."""
    triplets = np.asarray(triplets, dtype=np.int64)
    if triplets.ndim != 2 or triplets.shape[1] != 3:
        raise ValueError(f"triplets must have shape (n, 3); got {triplets.shape}")
    a, p, n = triplets.T
    ones, zeros = np.ones_like(a), np.zeros_like(a)
    return np.concatenate([np.stack([a, p, ones], 1), np.stack([a, n, zeros], 1)])


def sample_pairs(labels: np.ndarray, n_pairs: int = 2000, positive_fraction: float = 0.5,
                 random_state: int | None = None) -> np.ndarray:
    """Seeded random (i, j, y) pairs with i != j: positives share a label, negatives do not."""
    labels = np.asarray(labels)
    if n_pairs < 1:
        raise ValueError(f"n_pairs must be at least 1, got {n_pairs}")
    if not 0 <= positive_fraction <= 1:
        raise ValueError(f"positive_fraction must lie in [0, 1], got {positive_fraction}")
    classes, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    n_pos = int(round(n_pairs * positive_fraction))
    n_neg = n_pairs - n_pos
    if n_pos and counts.max() < 2:
        raise ValueError("positive pairs need a class with at least two points")
    if n_neg and len(classes) < 2:
        raise ValueError("negative pairs need at least two classes")
    rng = np.random.default_rng(random_state)
    order = np.argsort(inverse, kind="stable")  # points grouped by class
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.empty(len(labels), np.int64)
    rank[order] = np.arange(len(labels)) - starts[inverse[order]]  # position within its class

    i = rng.choice(np.flatnonzero(counts[inverse] >= 2), size=n_pos)
    c = inverse[i]
    offset = rng.integers(0, counts[c] - 1)  # another member of the class: skip i itself
    offset += offset >= rank[i]
    positives = np.stack([i, order[starts[c] + offset], np.ones(n_pos, np.int64)], 1)

    i = rng.integers(0, len(labels), size=n_neg)
    c = inverse[i]
    position = rng.integers(0, len(labels) - counts[c])  # a point outside i's class block
    position += (position >= starts[c]) * counts[c]
    negatives = np.stack([i, order[position], np.zeros(n_neg, np.int64)], 1)
    return np.concatenate([positives, negatives]).astype(np.int64)


def histogram(distances: np.ndarray, y: np.ndarray, bins: int = 50) -> pd.DataFrame:
    """Density histograms of similar and dissimilar pair distances on shared bins.

    Columns: left, right (bin edges), positive, negative (densities, each integrating to 1).
    """
    d_pos, d_neg = _split(distances, y)
    edges = np.histogram_bin_edges(np.concatenate([d_pos, d_neg]), bins=bins)
    positive = np.histogram(d_pos, edges, density=True)[0] if len(d_pos) else np.zeros(len(edges) - 1)
    negative = np.histogram(d_neg, edges, density=True)[0] if len(d_neg) else np.zeros(len(edges) - 1)
    return pd.DataFrame({"left": edges[:-1], "right": edges[1:], "positive": positive, "negative": negative})


def overlap(distances: np.ndarray, y: np.ndarray, bins: int = 100) -> float:
    """Shared area of the two density histograms: 0 when they are apart, 1 when identical."""
    hist = histogram(distances, y, bins)
    width = (hist["right"] - hist["left"]).to_numpy()
    return float(np.sum(np.minimum(hist["positive"], hist["negative"]) * width))


def _split(distances, y) -> tuple[np.ndarray, np.ndarray]:
    distances, y = np.asarray(distances, dtype=np.float64), np.asarray(y)
    if distances.shape != y.shape or distances.ndim != 1:
        raise ValueError("distances and y must be 1-D arrays of the same length")
    if not len(distances):
        raise ValueError("there are no pair distances")
    return distances[y == 1], distances[y == 0]


def roc(distances: np.ndarray, y: np.ndarray) -> pd.DataFrame:
    """The verification ROC: threshold (accept when distance <= threshold), far and tar."""
    from sklearn.metrics import roc_curve

    d_pos, d_neg = _split(distances, y)
    if not len(d_pos) or not len(d_neg):
        raise ValueError("a ROC curve needs both similar and dissimilar pairs")
    far, tar, score = roc_curve(np.asarray(y), -np.asarray(distances, float), drop_intermediate=False)
    threshold = np.where(np.isinf(score), -np.inf, -score)  # the first row accepts nothing
    return pd.DataFrame({"threshold": threshold, "far": far, "tar": tar})


def verification(distances: np.ndarray, y: np.ndarray, far: float = 0.01) -> dict:
    """AUC, equal error rate, the threshold and TAR at a chosen FAR, and the histogram overlap."""
    from sklearn.metrics import roc_auc_score

    if not 0 <= far <= 1:
        raise ValueError(f"far must lie in [0, 1], got {far}")
    curve = roc(distances, y)
    fpr, fnr, threshold = curve["far"].to_numpy(), 1 - curve["tar"].to_numpy(), curve["threshold"].to_numpy()
    k = int(np.argmax(fnr <= fpr))  # first point past the crossing (fnr falls, fpr rises)
    gap_before, gap_after = fnr[k - 1] - fpr[k - 1], fpr[k] - fnr[k]
    t = gap_before / (gap_before + gap_after) if k > 0 and gap_before + gap_after > 0 else 1.0
    eer = fpr[k - 1] + t * (fpr[k] - fpr[k - 1]) if k > 0 else fpr[k]
    eer_threshold = threshold[k] if k == 0 or np.isinf(threshold[k - 1]) else (
        threshold[k - 1] + t * (threshold[k] - threshold[k - 1]))
    at = int(np.flatnonzero(fpr <= far)[-1])
    d_pos, d_neg = _split(distances, y)
    return {
        "auc": float(roc_auc_score(np.asarray(y), -np.asarray(distances, float))),
        "eer": float(eer),
        "eer_threshold": float(eer_threshold),
        "far": float(far),
        "threshold_at_far": float(threshold[at]) if np.isfinite(threshold[at]) else 0.0,
        "tar_at_far": float(curve["tar"].iloc[at]),
        "overlap": overlap(distances, y),
        "n_positive": int(len(d_pos)),
        "n_negative": int(len(d_neg)),
        "mean_positive": float(d_pos.mean()),
        "mean_negative": float(d_neg.mean()),
    }


# ---------------------------------------------------------------- pairs of a run


def trains_on_triplets(run: Run) -> bool:
    """Whether the run's loss took triplets rather than pairs: the one place that decides which
    of a run's stored tuples are its own."""
    return run.config.get("loss") == "triplet"


def own_pairs(run: Run, split: str) -> np.ndarray | None:
    """The (i, j, y) pairs the run drew on ``split`` (rows of the split), or None.

    A triplet run is judged on its triplets, each giving a similar and a dissimilar pair; a
    contrastive run on its pairs. Falls back to the other kind when only that one is stored.
    """
    stored = run.pairs()
    keys = [f"{split}_pairs", f"{split}_triplets"]
    if trains_on_triplets(run):
        keys.reverse()
    for key in keys:
        if key in stored and len(stored[key]):
            found = np.asarray(stored[key], dtype=np.int64)
            return triplets_to_pairs(found) if key.endswith("_triplets") else found
    return None


def training_pairs(run: Run) -> np.ndarray:
    """The training pairs the run drew (from its triplets for a triplet run), as (i, j, y) rows."""
    found = own_pairs(run, "train")
    if found is None:
        raise ValueError(f"run {run.name} has no training pairs or triplets in its pairs file")
    return found


def run_pair_distances(run: Run, epoch: int | None = None, n_test_pairs: int = 2000,
                       metric: str = "euclidean", random_state: int = 0) -> pd.DataFrame:
    """Distances of the training pairs and of fresh seeded test pairs at one epoch.

    Columns: set ("train" or "test"), i, j (rows of the split), y, distance. Training pairs the
    run did not draw (a running run without pairs.npz) are left out, and so are pairs with a
    point that the epoch's snapshot lacks (one before the last may hold only some rows).
    """
    sets = []
    try:
        sets.append(("train", training_pairs(run), run.points(epoch, "train")))
    except ValueError:
        pass
    test = run.points(epoch, "test")
    drawn = sample_pairs(test["label"].to_numpy(), n_test_pairs, random_state=random_state)
    rows = test["row"].to_numpy()
    sets.append(("test", np.stack([rows[drawn[:, 0]], rows[drawn[:, 1]], drawn[:, 2]], 1), test))
    frames = []
    for name, pairs, points in sets:
        positions, kept = _positions(pairs, points["row"].to_numpy())
        d, y = pair_distances(points[rundir.embedding_columns(points)].to_numpy(np.float32), positions, metric)
        frames.append(pd.DataFrame({"set": name, "i": pairs[kept, 0], "j": pairs[kept, 1], "y": y, "distance": d}))
    return pd.concat(frames, ignore_index=True)


def _positions(pairs: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(i, j, y) pairs of split rows as positions among ``rows``, and which pairs had both."""
    index = pd.Index(rows)
    i, j = index.get_indexer(pairs[:, 0]), index.get_indexer(pairs[:, 1])
    kept = (i >= 0) & (j >= 0)
    return np.stack([i[kept], j[kept], pairs[kept, 2]], 1), kept
