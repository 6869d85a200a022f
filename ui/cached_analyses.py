"""Cached analyses of one epoch of a run: classifiers, k-NN predictions, pair sets and
verification, a BCE run's head, three-way pair types, magnet clusters, reconstructions, enrolment
of held-out classes, hard pairs, suspicious points, shifts, geometry and galleries.

Each calls into explorer/ once per run, epoch and arguments, through ``ui.cached.per_run`` (keyed
by the run's path and last change, see ui/cached.py); nothing here computes an analysis itself.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

import runfmt as rundir
from ui.cached import open_run, per_run


@per_run(max_entries=32)
def _classify(path: str, epoch: int, classifiers: tuple[str, ...]):
    from explorer.classifiers import classify as run_classify
    from explorer.magnet import magnet_evaluations

    run = open_run(path)
    fitted = tuple(c for c in classifiers if c != "magnet")
    found = run_classify(run, epoch, classifiers=fitted) if fitted else []
    return found + (magnet_evaluations(run, epoch) if "magnet" in classifiers else [])


def classifiers_of(path) -> tuple[str, ...]:
    """The classifiers a run offers: those fitted on its train embeddings, and a magnet run's own
    (softmax over the L closest cluster centres)."""
    from explorer.classifiers import CLASSIFIERS

    return CLASSIFIERS + (("magnet",) if open_run(path).config.get("loss") == "magnet" else ())


def classify(path, epoch: int, classifiers: tuple[str, ...] | None = None):
    """explorer.classifiers.classify (and, for a magnet run, magnet.magnet_evaluations): a list of
    Evaluation (classifier x test/shifted/each shift)."""
    return _classify(path, int(epoch), tuple(classifiers or classifiers_of(path)))


def evaluation(path, epoch: int, classifier: str, subset: str):
    for e in classify(path, epoch, (classifier,)):
        if e.subset == subset:
            return e
    raise ValueError(f"no {classifier} evaluation on {subset} at epoch {epoch}")


@per_run(max_entries=8, resource=True)
def _fitted_knn(path: str, epoch: int):
    from explorer.classifiers import fitted

    return fitted(open_run(path), epoch, "knn")[0]


def knn_predictions_of(path, epoch: int, keys) -> dict[str, dict[int, int]]:
    """k-NN's predicted label of a few test or shifted points, {split: {row: label}}, as
    knn_predictions has them, without predicting every point of a large run."""
    from explorer.classifiers import predict_points

    keys = [(str(s), int(r)) for s, r in keys if s in ("test", "shifted")]
    if not keys:
        return {}
    return predict_points(_fitted_knn(path, int(epoch)), open_run(path), epoch, keys)


def knn_predictions(path, epoch: int) -> dict[str, dict[int, int]]:
    """k-NN's predicted label per row of the test and shifted splits ({} where unavailable)."""
    predicted = {}
    for split in ("test", "shifted"):
        try:
            e = evaluation(path, epoch, "knn", split)
        except ValueError:
            continue
        predicted[split] = dict(zip(e.split_rows().tolist(), e.y_pred.tolist()))
    return predicted


@per_run(max_entries=32)
def pair_sets(path: str, epoch: int) -> pd.DataFrame:
    """explorer.verification.run_pair_sets: set (test, test_own, train), i, j, y, distance, labels."""
    from explorer.verification import run_pair_sets

    return run_pair_sets(open_run(path), epoch)


@per_run(max_entries=32)
def verification(path: str, epoch: int, pair_set: str = "test", far: float = 0.01):
    """(histogram, roc, verification summary) of one pair set at one epoch."""
    from explorer import distances

    rows = pair_sets(path, epoch)
    rows = rows[rows["set"] == pair_set]
    return (distances.histogram(rows["distance"], rows["y"]), distances.roc(rows["distance"], rows["y"]),
            distances.verification(rows["distance"], rows["y"], far))


@per_run(max_entries=16)
def head_verification(path: str, epoch: int, far: float = 0.01) -> dict | None:
    """A BCE run's head against the embedding distance on the same (its own test) pairs:
    {"pairs": n, "head": (roc, summary), "distance": (roc, summary)}, or None without a head."""
    from explorer import distances, head

    pairs = head.head_pairs(open_run(path), epoch)
    if pairs is None or pairs["y"].nunique() < 2:
        return None
    return {"pairs": len(pairs),
            "head": (head.head_roc(pairs["score"], pairs["y"]), head.head_verification(pairs["score"], pairs["y"], far)),
            "distance": (distances.roc(pairs["distance"], pairs["y"]),
                         distances.verification(pairs["distance"], pairs["y"], far))}


@per_run(max_entries=16)
def typed_pairs(path: str, epoch: int, split: str = "test"):
    """A three-way run's (type histogram, type summary) of its own ``split`` pairs, or None."""
    from explorer import pairtypes

    frame = pairtypes.typed_pair_distances(open_run(path), epoch, split)
    if frame is None or frame.empty:
        return None
    return pairtypes.type_histogram(frame), pairtypes.type_summary(frame)


@per_run(max_entries=32)
def magnet_clusters(path: str, epoch: int) -> dict | None:
    """explorer.magnet.clusters of one snapshot (centres, their classes, σ², L), read once."""
    from explorer.magnet import clusters

    return clusters(open_run(path), epoch)


@per_run(max_entries=16)
def reconstructions(path: str, epoch: int):
    """(test rows, uint8 images) an autoencoder or PCA snapshot reconstructed, or None."""
    arrays = rundir.read_snapshot_arrays(Path(path), epoch)
    if rundir.RECONSTRUCTIONS not in arrays or rundir.RECONSTRUCTION_ROWS not in arrays:
        return None
    return arrays[rundir.RECONSTRUCTION_ROWS], arrays[rundir.RECONSTRUCTIONS]


@per_run(max_entries=16)
def enrolment(path: str, epoch: int, shots: int, distractors: bool):
    """explorer.enrol.enrol of the run's held-out classes."""
    from explorer.enrol import enrol

    return enrol(open_run(path), epoch, shots=shots, distractors=distractors)


@per_run(max_entries=16)
def unseen_verification(path: str, epoch: int, far: float = 0.01):
    """(histogram, roc, summary) of seeded pairs of held-out images."""
    from explorer import distances
    from explorer.enrol import unseen_pairs

    d, y = unseen_pairs(open_run(path), epoch)
    return distances.histogram(d, y), distances.roc(d, y), distances.verification(d, y, far)


@per_run(max_entries=32)
def pair_set_summary(path: str, epoch: int, far: float = 0.01) -> pd.DataFrame:
    from explorer.verification import pair_set_summary

    return pair_set_summary(pair_sets(path, epoch), far)


@per_run(max_entries=32)
def per_class_verification(path: str, epoch: int, pair_set: str) -> pd.DataFrame:
    from explorer.verification import per_class_verification

    rows = pair_sets(path, epoch)
    rows = rows[rows["set"] == pair_set]
    return per_class_verification(rows["distance"], rows["y"], rows["label_i"], rows["label_j"],
                                  open_run(path).class_names)


@per_run(max_entries=16)
def hard_pairs(path: str, epoch: int, split: str = "train") -> pd.DataFrame:
    """explorer.hardpairs.run_hard_pairs with a class_pair column, hardest first."""
    from explorer.hardpairs import class_pair, run_hard_pairs

    frame = run_hard_pairs(open_run(path), epoch, split)
    frame["class_pair"] = class_pair(frame).to_numpy()
    return frame


@per_run(max_entries=16)
def suspicious(path: str, epoch: int, split: str = "train", k: int = 10) -> pd.DataFrame:
    from explorer.suspicious import run_suspicious

    return run_suspicious(open_run(path), epoch, split, k)


@per_run(max_entries=32)
def shift_table(path: str, epoch: int, classifier: str = "knn") -> pd.DataFrame:
    from explorer.shifts import run_shift_table

    return run_shift_table(open_run(path), epoch, classifier)


@per_run(max_entries=16)
def geometry_over_epochs(path: str) -> pd.DataFrame:
    from explorer.geometry import geometry_over_epochs

    return geometry_over_epochs(open_run(path))


@per_run(max_entries=32)
def centroid_distances(path: str, epoch: int, split: str) -> np.ndarray:
    from explorer.geometry import centroid_distances

    run = open_run(path)
    X, y = run.embeddings(epoch, split)
    return centroid_distances(X, y, run.n_classes)


@per_run(max_entries=64)
def gallery(path: str, epoch: int, split: str, row: int, k: int = 10) -> pd.DataFrame:
    """The k nearest training points of one point, in embedding space."""
    from explorer.neighbours import gallery

    return gallery(open_run(path), split, row, epoch, reference="train", k=k)
