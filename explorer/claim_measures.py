"""What the seed claims measure on one run, remembered per run and file modification time
(``explorer.sweeps.remembered``). Cheap on purpose: metrics.csv, and one snapshot per run (its
last) for the geometry, k-NN, SVM, k-means, pair distances, a head's scores or magnet's centres.
Each returns a number (None where the run cannot give it). Nothing here needs torch.
"""

from __future__ import annotations

import numpy as np

from explorer.sweeps import final_metrics, remembered
import runfmt as rundir

MAGNET_L = (1, 2, 4, 8, 16, 32)  # the L of magnet's evaluation, doubled up to every centre


def _open(path):
    from explorer.runs import load_run

    return load_run(path)


def _summary(path) -> dict:
    """explorer.geometry.cluster_summary of the test split at the last epoch."""
    def compute():
        from explorer.geometry import cluster_summary

        run = _open(path)
        X, y = run.embeddings(run.last_epoch, "test")
        return cluster_summary(X, y, run.n_classes)

    return remembered(path, "cluster-summary", compute)


def cluster_size(path) -> float:
    """Mean cluster size of the test split at the last epoch: the mean over classes of the mean
    distance of a class's points to their centroid."""
    return _summary(path)["mean_cluster_size"]


def relative_spread(path) -> float:
    """Mean cluster size over mean distance between class centroids (test, last epoch): the
    spread of each class relative to the distance between classes."""
    found = _summary(path)
    return found["mean_cluster_size"] / found["mean_centroid_distance"]


def separation(path) -> float:
    """Mean distance between class centroids over mean cluster size (test, last epoch)."""
    return _summary(path)["distance_to_size"]


def shift_table(path):
    def compute():
        from explorer.shifts import run_shift_table

        run = _open(path)
        return run_shift_table(run, run.last_epoch) if "shifted" in run.splits else None

    return remembered(path, "shift-table", compute)


def shift_accuracies(path) -> dict[int, float]:
    """5-NN accuracy (fitted on the train embeddings) of the shifted test copies per shift in px,
    at the last epoch; {} without a shifted set."""
    from explorer.shifts import accuracy_by_shift

    table = shift_table(path)
    if table is None:
        return {}
    found = accuracy_by_shift(table, include_unshifted=False)
    return {int(s): float(a) for s, a in zip(found["shift"], found["accuracy"])}


def share_of_class_in_errors(path, class_name: str = "9", size: int = 6) -> float | None:
    """Of the ±``size`` px copies that k-NN gets wrong, the share whose true class is ``class_name``."""
    table = shift_table(path)
    if table is None:
        return None
    wrong = table[(table["shift"].abs() == size) & ~table["correct"]]
    return float((wrong["class_name"].astype(str) == class_name).mean()) if len(wrong) else None


def svm_and_kmeans(path) -> dict[str, float]:
    """Test accuracy of the SVM (polynomial, degree 3) and of k-means with seed 003's majority
    mapping, both fitted on the train embeddings of the last epoch."""
    def compute():
        from explorer.classifiers import classify

        run = _open(path)
        found = classify(run, run.last_epoch, classifiers=("svm", "kmeans_majority"), by_shift=False)
        return {e.classifier: e.accuracy for e in found if e.subset == "test"}

    return remembered(path, "svm-kmeans", compute)


def knn_accuracy(path) -> float | None:
    """The last test 5-NN accuracy in metrics.csv."""
    return final_metrics(path)["test_knn_accuracy"]


def _curve(path, split: str, column: str) -> list[tuple[int, float]]:
    metrics = rundir.read_metrics(path)
    rows = metrics[(metrics["split"] == split) & metrics[column].notna()].sort_values("epoch")
    return [(int(e), float(v)) for e, v in zip(rows["epoch"], rows[column])]


def loss_fall(path, split: str = "train") -> float | None:
    """How much the loss fell from the first epoch to the last, as a share of the first."""
    curve = [(e, v) for e, v in _curve(path, split, "loss") if e > 0]
    if len(curve) < 2 or curve[0][1] <= 0:
        return None
    return (curve[0][1] - curve[-1][1]) / curve[0][1]


def late_fall(path, split: str = "val") -> float | None:
    """The loss's fall over the second half of the epochs as a share of its fall over the first
    half (a plateau: well below 1)."""
    curve = [v for e, v in _curve(path, split, "loss") if e > 0]
    if len(curve) < 3:
        return None
    middle = len(curve) // 2
    early, late = curve[0] - curve[middle], curve[middle] - curve[-1]
    return late / early if early > 0 else None


def knn_per_epoch(path) -> float | None:
    """The mean test 5-NN accuracy over the trained epochs (the area under its curve per epoch)."""
    curve = [v for e, v in _curve(path, "test", "knn_accuracy") if e > 0]
    return float(np.mean(curve)) if curve else None


def geometry_trend(path) -> float | None:
    """The relative growth of the mean centroid distance from the first trained snapshot to the
    last, minus the relative change (either way) of the mean cluster size (test split)."""
    def compute():
        from explorer.geometry import geometry_over_epochs

        frame = geometry_over_epochs(_open(path), splits=("test",))
        frame = frame[frame["epoch"] > 0].sort_values("epoch")
        if len(frame) < 2:
            return None
        first, last = frame.iloc[0], frame.iloc[-1]
        grow = (last["mean_centroid_distance"] - first["mean_centroid_distance"]) / first["mean_centroid_distance"]
        size = abs(last["mean_cluster_size"] - first["mean_cluster_size"]) / first["mean_cluster_size"]
        return float(grow - size)

    return remembered(path, "geometry-trend", compute)


def magnet_accuracy_by_l(path) -> dict[int, float]:
    """Magnet accuracy on the test split (softmax over the L closest centres) for each L of MAGNET_L
    up to the number of centres; {} without stored centres."""
    def compute():
        from explorer import magnet

        run = _open(path)
        found = magnet.clusters(run)
        if found is None:
            return {}
        X, y = run.embeddings(run.last_epoch, "test")
        out = {}
        for L in MAGNET_L:
            if L > len(found["centres"]) and out:
                break
            predicted = magnet.magnet_predict(X, found["centres"], found["centre_classes"], found["sigma2"], L,
                                              run.n_classes)
            out[L] = float((predicted == y).mean())
        return out

    return remembered(path, "magnet-by-l", compute)


def head_gain(path) -> float | None:
    """A BCE run's head AUC minus the embedding distance's AUC on the same test pairs."""
    def compute():
        from explorer.head import head_summary

        found = head_summary(_open(path))
        if found["head_auc"] is None or found["head_pairs_distance_auc"] is None:
            return None
        return float(found["head_auc"] - found["head_pairs_distance_auc"])

    return remembered(path, "head-gain", compute)


def negative_spread(path) -> float | None:
    """Std of the negative (other-class) pair distances over that of the positive ones, on fresh
    seeded test pairs at the last epoch."""
    def compute():
        from explorer import distances

        run = _open(path)
        rows = distances.run_pair_distances(run, run.last_epoch, 2000, random_state=0)
        rows = rows[rows["set"] == "test"]
        positive, negative = rows[rows["y"] == 1]["distance"], rows[rows["y"] == 0]["distance"]
        if len(positive) < 2 or len(negative) < 2 or positive.std() == 0:
            return None
        return float(negative.std() / positive.std())

    return remembered(path, "negative-spread", compute)


def enrolled_rank1(path, shots: int = 5) -> float | None:
    """Rank-1 identification of the held-out classes' images, each class enrolled by ``shots``
    images, with the training classes in the gallery as distractors (explorer.enrol)."""
    def compute():
        from explorer import enrol

        run = _open(path)
        if not enrol.has_heldout(run):
            return None
        return float(enrol.enrol(run, shots=shots, distractors=True).rank1)

    return remembered(path, f"enrol-{shots}", compute)
