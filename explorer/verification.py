"""Verification on the pair sets that matter, and per class.

A run can be judged on two kinds of test pairs, and they can disagree a lot:

- *fresh class-based pairs* (``distances.sample_pairs``, seeded): similar means same class. This is
  what ``explorer summary`` reports as ``auc``.
- *the run's own pairs* (``pairs.npz``): similar means what the run's pair regime called similar.
  Under ``nn-non-neighbour`` a same-class image that is not a near neighbour counts as a negative,
  so a model that learned its regime well can score high on its own pairs and near chance on
  class-based ones (or the other way round).

``run_pair_sets`` measures both (plus the training pairs), with the classes of both ends of every
pair, so ``per_class_verification`` can give the equal error rate and its threshold per class.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from explorer import distances
from explorer.runs import Run
import runfmt as rundir

PAIR_SETS = {
    "test": "fresh test pairs (same class = similar; seeded, as in the summary)",
    "test_own": "the run's own test pairs (similar as its pair regime drew them)",
    "train": "the run's own training pairs",
}
SHORT_NAMES = {"test": "fresh class-based test pairs", "test_own": "own test pairs (regime)",
               "train": "own training pairs"}
COLUMNS = ["set", "i", "j", "y", "distance", "label_i", "label_j"]


own_pairs = distances.own_pairs  # the run's own pairs of a split (its triplets' pairs for a triplet run)


def rows_to_positions(rows: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Position of each ``wanted`` split row among ``rows`` (a snapshot's rows), -1 where absent."""
    return pd.Index(np.asarray(rows)).get_indexer(np.asarray(wanted, dtype=np.int64))


def pair_set_frame(name: str, pairs: np.ndarray, points: pd.DataFrame,
                   metric: str = "euclidean") -> pd.DataFrame:
    """Distances of (i, j, y) split-row pairs among a snapshot's ``points`` of that split.

    Pairs with an end the snapshot lacks are left out; ``frame.attrs["dropped"]`` counts them.
    """
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 3)
    rows = points["row"].to_numpy()
    i, j = rows_to_positions(rows, pairs[:, 0]), rows_to_positions(rows, pairs[:, 1])
    kept = (i >= 0) & (j >= 0)
    X = points[rundir.embedding_columns(points)].to_numpy(np.float64)
    labels = points["label"].to_numpy(np.int64)
    d, y = distances.pair_distances(X, np.stack([i[kept], j[kept], pairs[kept, 2]], 1), metric)
    frame = pd.DataFrame({"set": name, "i": pairs[kept, 0], "j": pairs[kept, 1], "y": y, "distance": d,
                          "label_i": labels[i[kept]], "label_j": labels[j[kept]]}, columns=COLUMNS)
    frame.attrs["dropped"] = int((~kept).sum())
    return frame


def run_pair_sets(run: Run, epoch: int | None = None, n_test_pairs: int = 2000,
                  metric: str = "euclidean", random_state: int = 0) -> pd.DataFrame:
    """Pair distances of one epoch on every pair set the run has (see PAIR_SETS).

    Columns: set, i, j (rows of the split), y (1 = similar), distance, label_i, label_j.
    The fresh test pairs are drawn exactly as ``distances.run_pair_distances`` draws them, so their
    AUC is the summary's. ``frame.attrs["dropped"]`` maps a set to the pairs left out because the
    epoch's snapshot holds only some rows.
    """
    epoch = run.last_epoch if epoch is None else int(epoch)
    test = run.points(epoch, "test")
    drawn = distances.sample_pairs(test["label"].to_numpy(), n_test_pairs, random_state=random_state)
    rows = test["row"].to_numpy()
    fresh = np.stack([rows[drawn[:, 0]], rows[drawn[:, 1]], drawn[:, 2]], 1)
    frames = [pair_set_frame("test", fresh, test, metric)]
    mine = own_pairs(run, "test")
    if mine is not None:
        frames.append(pair_set_frame("test_own", mine, test, metric))
    mine = own_pairs(run, "train")
    if mine is not None and "train" in run.splits:
        frames.append(pair_set_frame("train", mine, run.points(epoch, "train"), metric))
    frame = pd.concat(frames, ignore_index=True)
    frame.attrs["dropped"] = {f["set"].iloc[0] if len(f) else "?": f.attrs["dropped"] for f in frames}
    return frame


def pair_set_summary(pairs: pd.DataFrame, far: float = 0.01) -> pd.DataFrame:
    """One row per pair set: set, pairs, similar, AUC, EER, EER threshold, TAR at ``far``,
    mean similar and dissimilar distance. A set without both kinds of pairs gets NaN."""
    rows = []
    for name, part in pairs.groupby("set", sort=False):
        row = {"set": name, "description": PAIR_SETS.get(name, name), "pairs": len(part),
               "similar": int(part["y"].sum())}
        if part["y"].nunique() == 2:
            v = distances.verification(part["distance"], part["y"], far)
            row.update({"auc": v["auc"], "eer": v["eer"], "eer_threshold": v["eer_threshold"],
                        "tar_at_far": v["tar_at_far"], "mean_positive": v["mean_positive"],
                        "mean_negative": v["mean_negative"]})
        rows.append(row)
    columns = ["set", "description", "pairs", "similar", "auc", "eer", "eer_threshold", "tar_at_far",
               "mean_positive", "mean_negative"]
    return pd.DataFrame(rows, columns=columns)


def per_class_verification(distance: np.ndarray, y: np.ndarray, label_i: np.ndarray,
                           label_j: np.ndarray, class_names: list[str], far: float = 0.01) -> pd.DataFrame:
    """Verification restricted to the pairs that involve each class.

    A pair counts for class c when either end is of class c. Columns: class, label, similar,
    dissimilar (pair counts), auc, eer, eer_threshold (accept as similar at distance <= it),
    mean_positive, mean_negative. Classes without both kinds of pairs get NaN figures.
    """
    distance = np.asarray(distance, dtype=np.float64)
    y, label_i, label_j = (np.asarray(a, dtype=np.int64) for a in (y, label_i, label_j))
    if not (distance.shape == y.shape == label_i.shape == label_j.shape) or distance.ndim != 1:
        raise ValueError("distance, y, label_i and label_j must be 1-D arrays of the same length")
    rows = []
    for c, name in enumerate(class_names):
        mask = (label_i == c) | (label_j == c)
        row = {"class": name, "label": c, "similar": int((y[mask] == 1).sum()),
               "dissimilar": int((y[mask] == 0).sum())}
        if row["similar"] and row["dissimilar"]:
            v = distances.verification(distance[mask], y[mask], far)
            row.update({k: v[k] for k in ("auc", "eer", "eer_threshold", "mean_positive", "mean_negative")})
        rows.append(row)
    columns = ["class", "label", "similar", "dissimilar", "auc", "eer", "eer_threshold",
               "mean_positive", "mean_negative"]
    return pd.DataFrame(rows, columns=columns)
