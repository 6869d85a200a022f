"""How shifting a test image sideways moves its embedding and changes its predicted class.

Each shifted point is a copy of a test point (``source_index``) moved by ``shift`` pixels. Its
*displacement* is the Euclidean distance, in embedding space, from the embedding of its source.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from explorer.classifiers import make_classifier
from explorer.runs import Run
import runfmt as rundir


def displacement(X_test: np.ndarray, X_shifted: np.ndarray, source_index: np.ndarray) -> np.ndarray:
    """Distance of each shifted point from the test point it was made from."""
    X_test, X_shifted = np.asarray(X_test, np.float64), np.asarray(X_shifted, np.float64)
    source_index = np.asarray(source_index, np.int64)
    if len(source_index) != len(X_shifted):
        raise ValueError("source_index needs one entry per shifted point")
    if len(source_index) and (source_index.min() < 0 or source_index.max() >= len(X_test)):
        raise ValueError(f"source_index must point at test rows 0..{len(X_test) - 1}")
    return np.linalg.norm(X_shifted - X_test[source_index], axis=1)


def shift_table(X_test, test_pred, X_shifted, shifted_pred, source_index, shift, labels) -> pd.DataFrame:
    """One row per shifted point: row, source_index, shift, label, displacement, source_prediction,
    prediction, correct, changed (its predicted class differs from its source's)."""
    source_index = np.asarray(source_index, np.int64)
    source_prediction = np.asarray(test_pred)[source_index]
    prediction, labels = np.asarray(shifted_pred), np.asarray(labels)
    return pd.DataFrame({
        "row": np.arange(len(source_index)), "source_index": source_index,
        "shift": np.asarray(shift, np.int64), "label": labels,
        "displacement": displacement(X_test, X_shifted, source_index),
        "source_prediction": source_prediction, "prediction": prediction,
        "correct": prediction == labels, "changed": prediction != source_prediction,
    })


def run_shift_table(run: Run, epoch: int | None = None, classifier: str = "knn",
                    random_state: int = 0) -> pd.DataFrame:
    """shift_table for a run, predictions by ``classifier`` fitted on the train embeddings.

    Shifted points are joined to their source test points by row; in a snapshot that holds only
    some rows (before the last epoch), a shifted point whose source is absent is left out.
    """
    if "shifted" not in run.splits:
        raise ValueError(f"run {run.name} has no shifted set")
    X_train, y_train = run.embeddings(epoch, "train")
    test, shifted = run.points(epoch, "test"), run.points(epoch, "shifted")
    source = pd.Index(test["row"]).get_indexer(shifted["source_index"])
    shifted, source = shifted[source >= 0].reset_index(drop=True), source[source >= 0]
    model = make_classifier(classifier, random_state=random_state).fit(X_train, y_train)
    X_test, X_shifted = _embeddings(test), _embeddings(shifted)
    table = shift_table(X_test, _predict(model, X_test), X_shifted, _predict(model, X_shifted),
                        source, shifted["shift"], shifted["label"])
    table["source_index"] = shifted["source_index"].to_numpy()
    table["row"] = shifted["row"].to_numpy()
    table["class_name"] = shifted["class_name"].to_numpy()
    return table


def _embeddings(points: pd.DataFrame) -> np.ndarray:
    return points[rundir.embedding_columns(points)].to_numpy(np.float32)


def _predict(model, X: np.ndarray) -> np.ndarray:
    return model.predict(X) if len(X) else np.zeros(0, np.int64)


def accuracy_by_shift(table: pd.DataFrame, include_unshifted: bool = True) -> pd.DataFrame:
    """Per shift: n, accuracy, changed (fraction whose class changed), mean and median displacement.

    With ``include_unshifted`` a row for shift 0 gives the accuracy on the source test points.
    """
    grouped = table.groupby("shift")
    frame = pd.DataFrame({
        "n": grouped.size(), "accuracy": grouped["correct"].mean(), "changed": grouped["changed"].mean(),
        "mean_displacement": grouped["displacement"].mean(),
        "median_displacement": grouped["displacement"].median(),
    }).reset_index()
    if include_unshifted:
        sources = table.drop_duplicates("source_index")
        unshifted = {"shift": 0, "n": len(sources),
                     "accuracy": float((sources["source_prediction"] == sources["label"]).mean()),
                     "changed": 0.0, "mean_displacement": 0.0, "median_displacement": 0.0}
        frame = pd.concat([frame, pd.DataFrame([unshifted])], ignore_index=True)
    return frame.sort_values("shift", ignore_index=True)


def most_moved(table: pd.DataFrame, n: int = 10, by: str = "displacement") -> pd.DataFrame:
    """The test points whose shifted copies move furthest (by="displacement") or most often change
    class (by="changed"). One row per source: source_index, label, max_displacement,
    mean_displacement, n_changed, worst_shift (the shift that moved it furthest)."""
    if by not in ("displacement", "changed"):
        raise ValueError(f"by must be 'displacement' or 'changed', got {by!r}")
    worst = table.loc[table.groupby("source_index")["displacement"].idxmax(), ["source_index", "shift"]]
    grouped = table.groupby("source_index")
    frame = pd.DataFrame({
        "label": grouped["label"].first(), "max_displacement": grouped["displacement"].max(),
        "mean_displacement": grouped["displacement"].mean(), "n_changed": grouped["changed"].sum(),
    }).reset_index().merge(worst.rename(columns={"shift": "worst_shift"}), on="source_index")
    order = ["max_displacement", "n_changed"] if by == "displacement" else ["n_changed", "max_displacement"]
    return frame.sort_values(order, ascending=False).head(n).reset_index(drop=True)


def turned_wrong(table: pd.DataFrame, n: int = 8) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The test images whose shift costs them their class: (turned, wrong_sources).

    ``turned``: sources that k-NN classifies right and at least one of whose shifted copies it
    classifies wrong, most wrong copies first (then the furthest moved), at most ``n``.
    ``wrong_sources``: sources k-NN already gets wrong, unshifted, apart (most wrong copies first),
    at most ``n``. Columns: source_index, label, source_prediction, n_copies, n_wrong,
    max_displacement, wrong_shifts (the shifts whose copy is wrong, in order)."""
    if not len(table):
        empty = pd.DataFrame(columns=["source_index", "label", "source_prediction", "n_copies", "n_wrong",
                                      "max_displacement", "wrong_shifts"])
        return empty, empty.copy()
    grouped = table.groupby("source_index", sort=False)
    frame = pd.DataFrame({
        "label": grouped["label"].first(), "source_prediction": grouped["source_prediction"].first(),
        "n_copies": grouped.size(), "n_wrong": grouped["correct"].apply(lambda c: int((~c.astype(bool)).sum())),
        "max_displacement": grouped["displacement"].max(),
        "wrong_shifts": grouped.apply(lambda g: tuple(sorted(int(s) for s in g.loc[~g["correct"].astype(bool), "shift"])),
                                      include_groups=False),
    }).reset_index()
    right = frame["source_prediction"] == frame["label"]
    order = ["n_wrong", "max_displacement"]
    turned = frame[right & (frame["n_wrong"] > 0)].sort_values(order, ascending=False)
    wrong = frame[~right].sort_values(order, ascending=False)
    return turned.head(n).reset_index(drop=True), wrong.head(n).reset_index(drop=True)
