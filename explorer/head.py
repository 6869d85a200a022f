"""Verification by a Siamese head's score (``--loss bce``; seeds 002 and 004), beside the distance.

A BCE run's head gives each pair a probability of being of one class. Each snapshot stores it for
the run's own test pairs (``head_test_scores`` in ``embeddings/epoch-NNNNNN.npz``, aligned with
``test_pairs`` of pairs.npz). Here both scores of those same pairs are compared: the head accepts a
pair when its probability is high, the embedding when its distance is small. Seed 004's point:
the head verifies well while the embedding it trained may separate the classes poorly.
Nothing here needs torch.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from explorer import distances
from explorer.runs import Run
import runfmt as rundir

SCORES = rundir.HEAD_TEST_SCORES


def head_pairs(run: Run, epoch: int | None = None) -> pd.DataFrame | None:
    """The run's own test pairs with both scores: i, j (test rows), y, score (the head's
    probability of "same class") and distance (between the embeddings). None for a run without
    head scores. Pairs with a point that the snapshot lacks are left out."""
    if not run.epochs:
        return None
    epoch = run.last_epoch if epoch is None else int(epoch)
    scores = rundir.read_snapshot_arrays(run.path, epoch).get(SCORES)
    pairs = run.pairs().get("test_pairs")
    if scores is None or pairs is None:
        return None
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 3)
    if len(scores) != len(pairs):
        raise rundir.RunDirError(f"{SCORES} of epoch {epoch} in {run.path} has {len(scores)} scores "
                                 f"for {len(pairs)} test pairs")
    test = run.points(epoch, "test")
    index = pd.Index(test["row"].to_numpy())
    i, j = index.get_indexer(pairs[:, 0]), index.get_indexer(pairs[:, 1])
    kept = (i >= 0) & (j >= 0)
    X = test[rundir.embedding_columns(test)].to_numpy(np.float64)
    d, y = distances.pair_distances(X, np.stack([i[kept], j[kept], pairs[kept, 2]], 1))
    return pd.DataFrame({"i": pairs[kept, 0], "j": pairs[kept, 1], "y": y,
                         "score": np.asarray(scores, np.float64)[kept], "distance": d})


def head_roc(score: np.ndarray, y: np.ndarray) -> pd.DataFrame:
    """The head's ROC: threshold (accept when score >= threshold), far and tar."""
    curve = distances.roc(-np.asarray(score, np.float64), y)  # −score is a distance, exactly
    return pd.DataFrame({"threshold": -curve["threshold"], "far": curve["far"], "tar": curve["tar"]})


def head_verification(score: np.ndarray, y: np.ndarray, far: float = 0.01) -> dict:
    """AUC, equal error rate and TAR at ``far`` of the head's score (accept when it is high)."""
    found = distances.verification(-np.asarray(score, np.float64), y, far)
    curve = head_roc(score, y)
    at = int(np.flatnonzero(curve["far"].to_numpy() <= far)[-1])
    threshold = float(curve["threshold"].iloc[at])
    eer_threshold = -found["eer_threshold"]
    return {"auc": found["auc"], "eer": found["eer"],
            "eer_threshold": eer_threshold if np.isfinite(eer_threshold) else None,
            "far": found["far"], "threshold_at_far": threshold if np.isfinite(threshold) else None,
            "tar_at_far": found["tar_at_far"], "n_positive": found["n_positive"],
            "n_negative": found["n_negative"]}


def head_summary(run: Run, epoch: int | None = None, far: float = 0.01) -> dict:
    """``head_auc``, ``head_eer``, ``head_tar_at_far`` of the head's score, and
    ``head_pairs_distance_auc`` and ``head_pairs_distance_eer``: the embedding distance on the same
    pairs. None values for a run without a head, or pairs of one kind only."""
    keys = ("head_auc", "head_eer", "head_tar_at_far", "head_pairs_distance_auc", "head_pairs_distance_eer")
    pairs = head_pairs(run, epoch)
    if pairs is None or pairs["y"].nunique() < 2:
        return dict.fromkeys(keys)
    head = head_verification(pairs["score"], pairs["y"], far)
    embedding = distances.verification(pairs["distance"], pairs["y"], far)
    return dict(zip(keys, (head["auc"], head["eer"], head["tar_at_far"], embedding["auc"], embedding["eer"])))
