"""Enrolling unseen classes without retraining (seeds 003 and 004).

A run trained with ``--holdout-classes`` embeds every image of those classes as the split
``heldout``. Here k images of each held-out class are enrolled as a gallery and the others are
identified by their nearest gallery images: rank-1 and rank-5 accuracy, where the classes are
ranked by their closest enrolled image. The known classes can join the gallery as distractors
(k training images each), as when a new class is added to a deployed system. Verification on
pairs of unseen-class images uses the same distance as every other ROC. Nothing here needs torch,
and nothing builds an n×n matrix: distances are query × gallery.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from explorer import distances
from explorer.runs import Run

SPLIT = "heldout"
MAX_PAIRS = 20_000  # verification pairs of unseen-class images, half of them same-class


@dataclass
class Enrolment:
    shots: int                    # images enrolled per class
    classes: list[int]            # the held-out classes
    distractors: list[int]        # known classes in the gallery (empty: none)
    queries: int                  # held-out images identified
    rank1: float
    rank5: float
    per_class: pd.DataFrame       # class, class_name, queries, rank1
    gallery_rows: dict            # class -> the heldout (or train, for distractors) rows enrolled


def has_heldout(run: Run) -> bool:
    return SPLIT in run.splits


def enrol(run: Run, epoch: int | None = None, shots: int = 5, distractors: bool = False,
          seed: int = 0) -> Enrolment:
    """Enrol ``shots`` seeded images of each held-out class; identify the rest of their images."""
    if not has_heldout(run):
        raise ValueError("this run has no held-out classes: train with --holdout-classes to enrol unseen ones")
    if shots < 1:
        raise ValueError(f"shots must be at least 1, got {shots}")
    X, labels = run.embeddings(epoch, SPLIT)
    rows = run.points(epoch, SPLIT)["row"].to_numpy()
    rng = np.random.default_rng(seed)
    classes = sorted(int(c) for c in np.unique(labels))
    enrolled = np.zeros(len(labels), dtype=bool)
    gallery_rows = {}
    for c in classes:
        members = np.flatnonzero(labels == c)
        if len(members) <= shots:
            raise ValueError(f"class {run.class_names[c]} has {len(members)} held-out images: enrol fewer "
                             f"than that many shots")
        chosen = rng.choice(members, shots, replace=False)
        enrolled[chosen] = True
        gallery_rows[c] = rows[chosen].tolist()
    G, g_labels = X[enrolled], labels[enrolled]
    known = []
    if distractors and "train" in run.splits:
        T, t_labels = run.embeddings(epoch, "train")
        known = sorted(int(c) for c in np.unique(t_labels))
        picks = [rng.choice(np.flatnonzero(t_labels == c), min(shots, int((t_labels == c).sum())), replace=False)
                 for c in known]
        picks = np.concatenate(picks)
        G, g_labels = np.vstack([G, T[picks]]), np.concatenate([g_labels, t_labels[picks]])
    Q, q_labels = X[~enrolled], labels[~enrolled]
    ranks = class_ranks(Q, G, g_labels, q_labels)
    names = run.class_names
    per_class = pd.DataFrame([{"class": c, "class_name": names[c], "queries": int((q_labels == c).sum()),
                               "rank1": float((ranks[q_labels == c] == 1).mean())} for c in classes])
    return Enrolment(shots=shots, classes=classes, distractors=known, queries=len(Q),
                     rank1=float((ranks == 1).mean()), rank5=float((ranks <= 5).mean()),
                     per_class=per_class, gallery_rows=gallery_rows)


def class_ranks(Q: np.ndarray, G: np.ndarray, g_labels: np.ndarray, q_labels: np.ndarray,
                chunk: int = 2048) -> np.ndarray:
    """For each query, the rank (1 = first) of its own class when the gallery's classes are
    ordered by their closest enrolled image."""
    classes = np.unique(g_labels)
    column = {int(c): i for i, c in enumerate(classes)}
    own = np.array([column.get(int(c), -1) for c in q_labels])
    if (own < 0).any():
        raise ValueError("every query's class must be enrolled in the gallery")
    ranks = np.empty(len(Q), dtype=np.int64)
    g_sq = (G * G).sum(1)
    for start in range(0, len(Q), chunk):
        q = Q[start:start + chunk]
        d2 = (q * q).sum(1)[:, None] - 2 * q @ G.T + g_sq[None, :]
        nearest = np.full((len(q), len(classes)), np.inf)
        for i, c in enumerate(classes):
            nearest[:, i] = d2[:, g_labels == c].min(axis=1)
        mine = nearest[np.arange(len(q)), own[start:start + chunk]]
        ranks[start:start + chunk] = 1 + (nearest < mine[:, None]).sum(axis=1)
    return ranks


def unseen_pairs(run: Run, epoch: int | None = None, n_pairs: int = MAX_PAIRS, seed: int = 0):
    """Seeded pairs of held-out images, half of one class: (distances, y) for the ROC."""
    X, labels = run.embeddings(epoch, SPLIT)
    pairs = distances.sample_pairs(labels, n_pairs=n_pairs, random_state=seed)
    return distances.pair_distances(X, pairs)
