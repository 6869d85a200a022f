"""Magnet-loss runs (seed 001): evaluation by the L closest cluster centres, and the clusters.

A magnet run stores, with each snapshot, every point's cluster (column ``magnet_cluster``) and the
clusters' centres, classes and σ² (``magnet_centres``, ``magnet_centre_classes``,
``magnet_sigma2`` in ``embeddings/epoch-NNNNNN.npz``; see ``training.rundir``). The seed's
evaluation gives a point the class c that maximises

    Σ_{μ_l of class c among its L closest centres} exp(−|r − μ_l|²/σ²) / Σ_{l=1}^{L} exp(−|r − μ_l|²/σ²)

with L the run's ``magnet_l``. Nothing here needs torch.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from explorer import classifiers
from explorer.runs import Run
import runfmt as rundir

CLUSTER_COLUMN = rundir.MAGNET_CLUSTER
ARRAYS = (rundir.MAGNET_CENTRES, rundir.MAGNET_CENTRE_CLASSES, rundir.MAGNET_SIGMA2)


def magnet_probabilities(X: np.ndarray, centres: np.ndarray, centre_classes: np.ndarray, sigma2: float,
                         n_closest: int, n_classes: int | None = None) -> np.ndarray:
    """(n, classes) softmax mass of each class among each point's ``n_closest`` centres."""
    X = np.asarray(X, dtype=np.float64)
    centres = np.asarray(centres, dtype=np.float64)
    centre_classes = np.asarray(centre_classes, dtype=np.int64)
    if X.ndim != 2 or centres.ndim != 2 or X.shape[1] != centres.shape[1]:
        raise ValueError(f"points {X.shape} and centres {centres.shape} must be 2-D with the same width")
    if len(centres) == 0 or len(centre_classes) != len(centres):
        raise ValueError("there must be at least one centre, and one class per centre")
    if not sigma2 > 0:
        raise ValueError(f"sigma2 must be positive, got {sigma2}")
    if n_closest < 1:
        raise ValueError(f"n_closest (L) must be at least 1, got {n_closest}")
    n_classes = int(centre_classes.max()) + 1 if n_classes is None else int(n_classes)
    squared = (X * X).sum(1)[:, None] - 2 * X @ centres.T + (centres * centres).sum(1)[None, :]
    squared = np.maximum(squared, 0.0)
    L = min(int(n_closest), len(centres))
    closest = np.argsort(squared, axis=1, kind="stable")[:, :L]
    near = np.take_along_axis(squared, closest, axis=1)
    weights = np.exp(-(near - near[:, :1]) / sigma2)  # the nearest has weight 1: no underflow
    weights /= weights.sum(axis=1, keepdims=True)
    mass = np.zeros((len(X), n_classes))
    np.add.at(mass, (np.repeat(np.arange(len(X)), L), centre_classes[closest].ravel()), weights.ravel())
    return mass


def magnet_predict(X, centres, centre_classes, sigma2: float, n_closest: int,
                   n_classes: int | None = None) -> np.ndarray:
    """The class with the largest softmax mass among the L closest centres (ties: the smallest)."""
    return magnet_probabilities(X, centres, centre_classes, sigma2, n_closest, n_classes).argmax(axis=1)


def is_magnet_run(run: Run) -> bool:
    return run.config.get("loss") == "magnet"


def clusters(run: Run, epoch: int | None = None) -> dict | None:
    """The epoch's clusters: ``centres`` (M, D), ``centre_classes`` (M,), ``sigma2``, ``l``
    (the run's L), or None for a run or snapshot without them."""
    if not run.epochs:
        return None
    epoch = run.last_epoch if epoch is None else int(epoch)
    arrays = rundir.read_snapshot_arrays(run.path, epoch)
    if not all(name in arrays for name in ARRAYS):
        return None
    return {"centres": arrays[rundir.MAGNET_CENTRES].astype(np.float64),
            "centre_classes": arrays[rundir.MAGNET_CENTRE_CLASSES].astype(np.int64),
            "sigma2": float(arrays[rundir.MAGNET_SIGMA2]), "l": int(run.config.get("magnet_l") or 1)}


def centres_frame(run: Run, epoch: int | None = None) -> pd.DataFrame | None:
    """One row per cluster: cluster, label, class_name, e0..e{D-1} (its centre) and size (its
    training points in the snapshot). None for a run without clusters."""
    found = clusters(run, epoch)
    if found is None:
        return None
    frame = pd.DataFrame({"cluster": np.arange(len(found["centres"])), "label": found["centre_classes"],
                          "class_name": np.asarray(run.class_names, dtype=object)[found["centre_classes"]]})
    for d in range(found["centres"].shape[1]):
        frame[f"e{d}"] = found["centres"][:, d]
    train = run.points(epoch, "train") if "train" in run.splits else None
    sizes = np.zeros(len(frame), np.int64)
    if train is not None and CLUSTER_COLUMN in train:
        counts = np.bincount(train[CLUSTER_COLUMN].to_numpy(np.int64), minlength=len(frame))
        sizes = counts[:len(frame)]
    frame["size"] = sizes
    return frame


def centres_on_map(map_frame: pd.DataFrame, points: pd.DataFrame) -> pd.DataFrame:
    """Where to draw each cluster on a 2-D map: the mean map position of its training points.

    ``map_frame`` is ``explorer.projections.projection``'s frame (split, row, x, y, ...) and
    ``points`` the same epoch's ``run.points`` (with ``magnet_cluster``). For the raw 2-D map and
    PCA (linear maps) this is exactly the centre's own position, when the snapshot holds every
    training point; for t-SNE and UMAP it is the middle of the cluster as drawn.
    Columns: cluster, x, y, size.
    """
    if CLUSTER_COLUMN not in points:
        raise ValueError(f"the points have no {CLUSTER_COLUMN} column: not a magnet run")
    train = points[points["split"] == "train"][["row", CLUSTER_COLUMN]]
    placed = map_frame[map_frame["split"] == "train"][["row", "x", "y"]].merge(train, on="row")
    grouped = placed.groupby(CLUSTER_COLUMN)
    out = grouped[["x", "y"]].mean()
    out["size"] = grouped.size()
    return out.reset_index().rename(columns={CLUSTER_COLUMN: "cluster"})


def with_clusters(map_frame: pd.DataFrame, points: pd.DataFrame, centre_classes, n_classes: int) -> pd.DataFrame:
    """``map_frame`` with each point's ``cluster`` (from the snapshot's points) and its
    ``cluster_colour`` (palette.cluster_colors), for the map's colour by cluster."""
    from explorer.palette import cluster_colors

    if CLUSTER_COLUMN not in points:
        raise ValueError(f"the points have no {CLUSTER_COLUMN} column: not a magnet run")
    keys = points[["split", "row", CLUSTER_COLUMN]].rename(columns={CLUSTER_COLUMN: "cluster"})
    out = map_frame.drop(columns=["cluster", "cluster_colour"], errors="ignore").merge(keys, on=["split", "row"],
                                                                                       how="left")
    palette = np.asarray(cluster_colors(centre_classes, n_classes) + ["#7f7f7f"], dtype=object)
    cluster = out["cluster"].fillna(-1).to_numpy(np.int64)
    out["cluster"] = cluster
    out["cluster_colour"] = palette[np.where((cluster >= 0) & (cluster < len(palette) - 1), cluster, -1)]
    out.attrs = dict(map_frame.attrs)  # the map's method and notes
    return out


def centre_marks(map_frame: pd.DataFrame, points: pd.DataFrame, centre_classes, class_names) -> pd.DataFrame:
    """The clusters' centres as drawn on a map: cluster, x, y, size, colour and a hover text."""
    from explorer.palette import cluster_colors

    placed = centres_on_map(map_frame, points)
    colours = cluster_colors(centre_classes, len(class_names))
    placed["colour"] = [colours[c] if 0 <= c < len(colours) else "#7f7f7f" for c in placed["cluster"]]
    placed["text"] = [f"<b>centre of cluster {c}</b><br>class {class_names[int(centre_classes[c])]}"
                      f"<br>{n} train points" for c, n in zip(placed["cluster"], placed["size"])]
    return placed


def magnet_evaluations(run: Run, epoch: int | None = None) -> list[classifiers.Evaluation]:
    """The seed's classifier on the test set, on all shifted points and on each shift, as
    ``classifiers.Evaluation`` rows (classifier ``"magnet"``): accuracy, confusion, report.
    Empty for a run without clusters."""
    found = clusters(run, epoch)
    if found is None:
        return []
    epoch = run.last_epoch if epoch is None else int(epoch)
    names = run.class_names
    out = []
    for split in ("test", "shifted"):
        if split not in run.splits:
            continue
        points = run.points(epoch, split)
        X = points[rundir.embedding_columns(points)].to_numpy(np.float64)
        predicted = magnet_predict(X, found["centres"], found["centre_classes"], found["sigma2"],
                                   found["l"], len(names))
        y, rows = points["label"].to_numpy(np.int64), points["row"].to_numpy(np.int64)
        out.append(classifiers.evaluate("magnet", split, y, predicted, names, rows=rows))
        if split == "shifted":
            shifts = points["shift"].to_numpy()
            for shift in sorted(np.unique(shifts)):
                mask = shifts == shift
                out.append(classifiers.evaluate("magnet", f"shift {int(shift):+d}", y[mask], predicted[mask],
                                                names, shift=int(shift), rows=rows[mask]))
    return out


def magnet_figures(evaluations: list[classifiers.Evaluation]) -> dict:
    """``magnet_accuracy`` (test), ``magnet_shifted_accuracy`` and ``magnet_accuracy_by_shift``
    from ``magnet_evaluations``; None values where there are none (not a magnet run)."""
    by_subset = {e.subset: e.accuracy for e in evaluations}
    by_shift = {int(e.shift): float(e.accuracy) for e in evaluations if e.shift is not None}
    return {"magnet_accuracy": by_subset.get("test"), "magnet_shifted_accuracy": by_subset.get("shifted"),
            "magnet_accuracy_by_shift": by_shift or None}


def magnet_summary(run: Run, epoch: int | None = None) -> dict:
    """``magnet_figures`` of the run's epoch (default: the last)."""
    return magnet_figures(magnet_evaluations(run, epoch))
