"""The run's hardest pairs and triplets, by its own loss.

A mined triplet run (``--miner batch-hard`` or ``semi-hard``) trained on the triplets its miner
picked inside P×K class-balanced batches, not on the regime's: ``run_hard_pairs`` then draws such
batches from the snapshot's points (seeded) and lets the same pytorch-metric-learning miner pick
triplets on the snapshot's embeddings. That needs torch, imported only then; without it
``MinerUnavailable`` says so in one line.

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


FORMULAS = {"seed000": "½·d² for a positive, ½·max(0, m − d)² for a negative",
            "seed002": "d² for a positive, max(m − d, 0) for a negative",
            "seed004": "d for a positive, max(m − d, 0) for a negative"}


def contrastive_losses(d: np.ndarray, y: np.ndarray, margin: float = 1.0, form: str = "seed000") -> np.ndarray:
    """Per pair, the run's contrastive form (FORMULAS): seed 000's ½·d² for a similar pair (y = 1)
    and ½·max(0, margin − d)² for a dissimilar one (y = 0); seed 002's d² and max(m − d, 0); seed
    004's d and max(m − d, 0)."""
    d, y = np.asarray(d, dtype=np.float64), np.asarray(y)
    if d.shape != y.shape:
        raise ValueError("d and y must have the same shape")
    if margin <= 0:
        raise ValueError(f"margin must be positive, got {margin}")
    if form not in FORMULAS:
        raise ValueError(f"unknown contrastive form {form!r}")
    hinge = np.maximum(0.0, margin - d)
    if form == "seed002":
        return np.where(y == 1, d ** 2, hinge)
    if form == "seed004":
        return np.where(y == 1, d, hinge)
    return np.where(y == 1, 0.5 * d ** 2, 0.5 * hinge ** 2)


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


def hard_pairs(X: np.ndarray, labels: np.ndarray, pairs: np.ndarray, margin: float = 1.0,
               form: str = "seed000") -> pd.DataFrame:
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
        "loss": contrastive_losses(d, y, margin, form), "same_class": labels[a] == labels[b]})
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


class MinerUnavailable(ValueError):
    """The run's miner needs torch and pytorch-metric-learning, which are not installed."""


MAX_MINED_BATCHES = 64  # batches drawn to mine triplets on a snapshot (about one pass over 10k images)


def mined_triplets(X: np.ndarray, labels: np.ndarray, miner: str, margin: float = 1.0,
                   classes_per_batch: int | None = None, images_per_class: int = 16,
                   random_state: int = 0) -> np.ndarray:
    """(a, p, n) positions into X that ``miner`` picks in seeded P×K class-balanced batches drawn
    as training draws them (P classes, K images of each; a smaller class repeats its images), about
    one pass over X. Duplicates are dropped."""
    try:
        import torch

        from training.objectives.pairwise import make_miner
    except ImportError as e:
        raise MinerUnavailable(f"the {miner} miner needs torch and pytorch-metric-learning, which are not "
                               f"installed here ({e.name or e}): install requirements.txt to see its triplets") from None
    labels = np.asarray(labels, dtype=np.int64)
    present = np.unique(labels)
    p = min(len(present), classes_per_batch or min(len(present), 10))
    k = int(images_per_class)
    rng = np.random.default_rng(random_state)
    members = {c: np.flatnonzero(labels == c) for c in present}
    mine = make_miner(miner, margin)
    found = []
    for _ in range(min(MAX_MINED_BATCHES, max(1, -(-len(X) // (p * k))))):
        chosen = rng.choice(present, p, replace=False)
        batch = np.concatenate([rng.choice(members[c], k, replace=len(members[c]) < k) for c in chosen])
        with torch.no_grad():
            a, pos, n = mine(torch.from_numpy(np.asarray(X[batch], np.float32)), torch.from_numpy(labels[batch]))
        found.append(np.stack([batch[a.numpy()], batch[pos.numpy()], batch[n.numpy()]], 1))
    triplets = np.concatenate(found) if found else np.zeros((0, 3), np.int64)
    return np.unique(triplets, axis=0) if len(triplets) else triplets


def run_hard_pairs(run: Run, epoch: int | None = None, split: str = "train") -> pd.DataFrame:
    """The run's own pairs (contrastive) or triplets (triplet loss) on ``split``, hardest first.

    ``a``, ``b``, ``n`` are rows of the split (and of images/<split>.npy); class names are filled
    in. Pairs with an end the epoch's snapshot lacks are left out (``attrs["dropped"]``).
    """
    margin = float(run.config.get("margin") or 1.0)
    triplet = distances.trains_on_triplets(run)
    miner = run.config.get("miner") or "none"
    if run.config.get("loss") == "triplet" and miner != "none":
        return _run_mined(run, epoch, split, miner, margin)
    stored = run.pairs()
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
    form = run.config.get("contrastive_form") or "seed000"
    frame = (hard_triplets(X, labels, positions[kept], margin) if triplet
             else hard_pairs(X, labels, positions[kept], margin, form if run.config.get("loss") == "contrastive"
                             else "seed000"))
    frame.attrs.update(dropped=int((~kept).sum()), form=form)
    return _named(run, points, frame, margin, "triplet" if triplet else "contrastive", split)


def _run_mined(run: Run, epoch, split: str, miner: str, margin: float) -> pd.DataFrame:
    points = run.points(epoch, split)
    X = points[rundir.embedding_columns(points)].to_numpy(np.float64)
    labels = points["label"].to_numpy(np.int64)
    triplets = mined_triplets(X, labels, miner, margin, run.config.get("classes_per_batch"),
                              int(run.config.get("images_per_class") or 16))
    frame = hard_triplets(X, labels, triplets, margin)
    frame.attrs.update(dropped=0, mined=miner)
    return _named(run, points, frame, margin, "triplet", split)


def _named(run: Run, points: pd.DataFrame, frame: pd.DataFrame, margin: float, loss: str, split: str) -> pd.DataFrame:
    """Positions turned into the split's rows, class names filled in."""
    rows = points["row"].to_numpy()
    for column in ("a", "b", "n"):
        valid = frame[column].to_numpy() >= 0
        frame[column] = np.where(valid, rows[np.where(valid, frame[column], 0)], -1)
    names = np.asarray(run.class_names + [""], dtype=object)
    for column in ("a", "b", "n"):
        frame[f"class_{column}"] = names[frame[f"label_{column}"].to_numpy()]
    attrs = dict(frame.attrs)
    frame = frame[COLUMNS]
    frame.attrs.update({**attrs, "margin": margin, "loss": loss, "split": split})
    return frame


def class_pair(frame: pd.DataFrame) -> pd.Series:
    """"a – b" names per row (sorted, so 4 – 9 and 9 – 4 are one pair); for a triplet the anchor's
    and the negative's classes, the pair it must tell apart."""
    first = frame["class_a"].astype(str).to_numpy()
    second = np.where(frame["kind"] == "triplet", frame["class_n"], frame["class_b"]).astype(str)
    return pd.Series([" – ".join(sorted((x, y))) for x, y in zip(first, second)], index=frame.index)
