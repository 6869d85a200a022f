"""Every analysis of one epoch of a run, computed once, and the run's headline numbers.

``analyse`` runs the analyses the report and the summary share; ``summarize`` turns them into a
flat dict of numbers (the ``summary --json`` output). Verification numbers come from fresh seeded
test pairs; retrieval queries the test split against the training split. Methods that store more
add their own figures: a BCE run's head score on its own test pairs (``head_auc``, beside the
distance's AUC on the same pairs), a magnet run's classification by its L closest cluster centres
(``magnet_accuracy``); None for other runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd

from explorer import classifiers, distances, geometry, head, magnet, retrieval, shifts, stuck, verification
from explorer.runs import Run

Progress = Callable[[float, str], None]


@dataclass
class Analysis:
    epoch: int
    evaluations: list[classifiers.Evaluation]
    accuracies: pd.DataFrame        # classifiers.accuracy_table
    pair_distances: pd.DataFrame    # distances.run_pair_distances: set, i, j, y, distance
    verification: dict[str, dict]   # per pair set ("train", "test"): distances.verification
    retrieval: dict
    centroid_distances: np.ndarray  # test split, cluster sizes on the diagonal
    cluster_summary: dict
    geometry: pd.DataFrame          # geometry.geometry_over_epochs
    shift_table: pd.DataFrame | None = None  # shifts.run_shift_table, None without a shifted set
    magnet_evaluations: list = field(default_factory=list)  # magnet.magnet_evaluations; [] if not magnet
    head: dict = field(default_factory=dict)  # head.head_summary; None values without a head

    def evaluation(self, classifier: str, subset: str = "test") -> classifiers.Evaluation:
        for e in self.evaluations:
            if e.classifier == classifier and e.subset == subset:
                return e
        raise KeyError(f"no evaluation of {classifier} on {subset}")


def analyse(run: Run, epoch: int | None = None, far: float = 0.01, n_test_pairs: int = 2000,
            random_state: int = 0, progress: Progress | None = None) -> Analysis:
    """Classifiers, pair distances and verification, retrieval, geometry and shifts of one epoch."""
    if not 0 <= far <= 1:
        raise ValueError(f"far (the false accept rate) must lie in [0, 1], got {far}")
    report = progress or (lambda fraction, message: None)
    epoch = run.last_epoch if epoch is None else int(epoch)
    if epoch not in run.epochs:
        raise ValueError(f"epoch {epoch} has no snapshot in this run; available: {run.epochs}")
    report(0.0, f"classifiers at epoch {epoch}")
    evaluations = classifiers.classify(run, epoch, random_state=random_state)
    report(0.4, "pair distances and verification")
    pairs = distances.run_pair_distances(run, epoch, n_test_pairs, random_state=random_state)
    verification = {name: distances.verification(rows["distance"], rows["y"], far)
                    for name, rows in pairs.groupby("set", sort=False)
                    if rows["y"].nunique() == 2}
    report(0.5, "retrieval metrics (test queries, train reference)")
    retrieval_result = retrieval.run_retrieval(run, epoch, "test", "train", random_state=random_state)
    report(0.8, "cluster geometry over epochs")
    X_test, y_test = run.embeddings(epoch, "test")
    report(0.9, "shifted copies and the method's own figures")
    shift_table = shifts.run_shift_table(run, epoch) if "shifted" in run.splits else None
    magnet_evaluations = magnet.magnet_evaluations(run, epoch)
    head_figures = head.head_summary(run, epoch, far)
    return Analysis(
        epoch=epoch, evaluations=evaluations, accuracies=classifiers.accuracy_table(evaluations),
        pair_distances=pairs, verification=verification, retrieval=retrieval_result,
        centroid_distances=geometry.centroid_distances(X_test, y_test, run.n_classes),
        cluster_summary=geometry.cluster_summary(X_test, y_test, run.n_classes),
        geometry=geometry.geometry_over_epochs(run), shift_table=shift_table,
        magnet_evaluations=magnet_evaluations, head=head_figures)


def summarize(run: Run, analysis: Analysis | None = None, epoch: int | None = None, far: float = 0.01,
              random_state: int = 0, progress: Progress | None = None, max_points: int | None = None) -> dict:
    """The run's headline numbers as a flat, JSON-ready dict (None where the run has no data).

    With ``max_points``, every analysis reads a seeded subsample of at most that many points per
    split (``Run.subsample``); ``subsample`` then says so (None when nothing was left out)."""
    subsample = None
    if max_points is not None and analysis is None:
        smaller = run.subsample(max_points, random_state)
        if smaller is not run:
            run = smaller
            subsample = {"max_points": int(max_points), "seed": random_state, "note": smaller.note}
    summary = {
        "run": run.name, "path": str(run.path), "state": run.state,
        "epochs_done": run.status.get("epoch"), "epochs": run.status.get("epochs"),
        "error": run.status.get("error"), "notes": list(run.notes),
        **{k: run.config.get(k) for k in ("dataset", "loss", "regime", "embedding_dim", "margin", "seed",
                                          "normalize", "miner")},
        "final_metrics": _final_metrics(run.metrics),
        "subsample": subsample,
        "stuck": stuck.run_stuck(run),
    }
    if analysis is None and run.epochs:
        analysis = analyse(run, epoch, far=far, random_state=random_state, progress=progress)
        if progress:
            progress(1.0, "summary ready")
    if analysis is None:
        return {**summary, "epoch": None, **dict.fromkeys(HEADLINE_KEYS)}

    accuracy = analysis.accuracies.set_index(["classifier", "subset"])["accuracy"]
    test_pairs = analysis.verification.get("test", {})
    knn = analysis.accuracies[(analysis.accuracies["classifier"] == "knn") & analysis.accuracies["shift"].notna()]
    notes = summary["notes"] + list(dict.fromkeys(e.note for e in analysis.evaluations if e.note))
    notes += [analysis.retrieval["note"]] if analysis.retrieval.get("note") else []
    return {
        **summary,
        "notes": notes,
        "epoch": analysis.epoch,
        "knn_accuracy": _get(accuracy, ("knn", "test")),
        "knn_accuracy_by_shift": {int(s): float(a) for s, a in zip(knn["shift"], knn["accuracy"])},
        "knn_shifted_accuracy": _get(accuracy, ("knn", "shifted")),
        "svm_accuracy": _get(accuracy, ("svm", "test")),
        "centroid_accuracy": _get(accuracy, ("centroid", "test")),
        "kmeans_accuracy": _get(accuracy, ("kmeans", "test")),
        "kmeans_majority_accuracy": _get(accuracy, ("kmeans_majority", "test")),
        "auc": test_pairs.get("auc"), "eer": test_pairs.get("eer"),
        "auc_pairs": FRESH_PAIRS,
        **_own_test_pairs(run, analysis.epoch, far),
        "far": test_pairs.get("far"), "threshold_at_far": test_pairs.get("threshold_at_far"),
        "tar_at_far": test_pairs.get("tar_at_far"), "overlap": test_pairs.get("overlap"),
        "train_pairs_auc": analysis.verification.get("train", {}).get("auc"),
        "train_pairs_eer": analysis.verification.get("train", {}).get("eer"),
        "precision_at_1": analysis.retrieval["precision_at_1"],
        "r_precision": analysis.retrieval["r_precision"],
        "map_at_r": analysis.retrieval["map_at_r"],
        "nmi": analysis.retrieval["nmi"], "ami": analysis.retrieval["ami"],
        "retrieval": f"{analysis.retrieval['query']} queries against {analysis.retrieval['reference']}",
        **analysis.cluster_summary,
        **magnet.magnet_figures(analysis.magnet_evaluations),
        **{k: analysis.head.get(k) for k in HEAD_KEYS},
    }


HEADLINE_KEYS = ("knn_accuracy", "knn_accuracy_by_shift", "knn_shifted_accuracy", "svm_accuracy",
                 "centroid_accuracy", "kmeans_accuracy", "kmeans_majority_accuracy", "auc", "eer",
                 "far", "threshold_at_far", "tar_at_far", "overlap", "auc_pairs", "own_test_pairs_auc",
                 "own_test_pairs_eer", "own_test_pairs", "train_pairs_auc",
                 "train_pairs_eer", "precision_at_1", "r_precision", "map_at_r", "nmi", "ami",
                 "retrieval", "mean_cluster_size", "mean_centroid_distance", "distance_to_size",
                 "magnet_accuracy", "magnet_shifted_accuracy", "magnet_accuracy_by_shift", "head_auc",
                 "head_eer", "head_tar_at_far", "head_pairs_distance_auc", "head_pairs_distance_eer")
FRESH_PAIRS = "fresh seeded test pairs: two test images of the same class count as similar"
OWN_PAIRS = "the run's own test pairs (pairs.npz): similar as its pair regime drew them"


def _own_test_pairs(run: Run, epoch: int, far: float) -> dict:
    """AUC and EER on the test pairs the run itself drew, which its regime may call similar or
    not differently from the class labels (nn-non-neighbour does)."""
    pairs = verification.own_pairs(run, "test")
    figures = {"own_test_pairs_auc": None, "own_test_pairs_eer": None, "own_test_pairs": OWN_PAIRS}
    if pairs is None:
        return figures
    frame = verification.pair_set_frame("test_own", pairs, run.points(epoch, "test"))
    y = frame["y"].to_numpy()
    if len(frame) and 0 < y.sum() < len(y):
        found = distances.verification(frame["distance"].to_numpy(), y, far)
        figures.update(own_test_pairs_auc=found["auc"], own_test_pairs_eer=found["eer"])
    return figures


HEAD_KEYS = ("head_auc", "head_eer", "head_tar_at_far", "head_pairs_distance_auc", "head_pairs_distance_eer")



def _get(series: pd.Series, key) -> float | None:
    return float(series[key]) if key in series.index else None


def _final_metrics(metrics: pd.DataFrame) -> dict:
    """The last epoch's row of metrics.csv per split, without empty values."""
    if not len(metrics):
        return {}
    last = metrics[metrics["epoch"] == metrics["epoch"].max()]
    return {row["split"]: {k: float(v) for k, v in row.items() if k not in ("split",) and pd.notna(v)}
            for _, row in last.iterrows()}


def format_summary(summary: dict) -> str:
    """The summary as aligned text lines for a terminal."""
    lines = [f"run        {summary['run']} ({summary['state']}, epoch {summary['epochs_done']} of {summary['epochs']})",
             f"setup      {summary['dataset']}, {summary['loss']} loss, "
             + (f"{summary['miner']} miner, " if summary.get("miner") not in (None, "none") else
                f"{summary['regime']} pairs, " if summary.get("loss") not in ("magnet", "classifier", "autoencoder", "pca")
                else "") +
             f"{summary['embedding_dim']}-D embedding"]
    if summary.get("stuck"):
        lines.append(f"WARNING    {summary['stuck']}")
    lines += [f"note       {note}" for note in summary["notes"]]
    if summary.get("error"):
        lines.append(f"error      {summary['error']}")
    for split, values in summary["final_metrics"].items():
        shown = ", ".join(f"{k} {v:.4g}" for k, v in values.items() if k != "epoch")
        lines.append(f"metrics    {split:<8} {shown}")
    if summary.get("epoch") is None:
        lines.append("analysis   none: the run has no embedding snapshot yet")
        return "\n".join(lines)
    lines.append(f"analysed   epoch {summary['epoch']}")

    def number(key, label):
        value = summary.get(key)
        if value is not None:
            lines.append(f"{label:<34} {value:.4f}")

    for key, label in (("knn_accuracy", "k-NN accuracy (test)"), ("svm_accuracy", "SVM accuracy (test)"),
                       ("centroid_accuracy", "nearest-centroid accuracy (test)"),
                       ("kmeans_accuracy", "k-means accuracy, Hungarian (test)"),
                       ("kmeans_majority_accuracy", "k-means accuracy, majority (test)"),
                       ("knn_shifted_accuracy", "k-NN accuracy (all shifted)")):
        number(key, label)
    for shift, value in summary["knn_accuracy_by_shift"].items():
        lines.append(f"{f'k-NN accuracy (shift {shift:+d} px)':<34} {value:.4f}")
    for key, label in (("magnet_accuracy", "magnet accuracy, L closest (test)"),
                       ("magnet_shifted_accuracy", "magnet accuracy (all shifted)")):
        number(key, label)
    for key, label in (("auc", "AUC (fresh test pairs)"), ("eer", "equal error rate"),
                       ("own_test_pairs_auc", "AUC (the run's own test pairs)"),
                       ("threshold_at_far", f"threshold at FAR {summary.get('far')}"),
                       ("tar_at_far", "true accept rate there"), ("overlap", "histogram overlap"),
                       ("head_auc", "head AUC (own test pairs)"), ("head_eer", "head equal error rate"),
                       ("head_pairs_distance_auc", "distance AUC (the same pairs)"),
                       ("precision_at_1", "Precision@1"), ("r_precision", "R-precision"),
                       ("map_at_r", "MAP@R"), ("nmi", "NMI"), ("ami", "AMI"),
                       ("mean_cluster_size", "mean cluster size (test)"),
                       ("mean_centroid_distance", "mean centroid distance (test)")):
        number(key, label)
    lines.append(f"{'retrieval':<34} {summary['retrieval']}")
    lines.append(f"{'fresh test pairs':<34} {summary['auc_pairs']}")
    lines.append(f"{'own test pairs':<34} {summary['own_test_pairs']}")
    return "\n".join(lines)
