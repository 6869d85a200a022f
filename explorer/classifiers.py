"""Classifiers fitted on training embeddings, evaluated on test and on each shift of the shifted set.

k-NN, an SVM with a degree-3 polynomial kernel (as in seed 003), nearest centroid, and k-means
with one cluster per class. k-means learns no classes, so its clusters are mapped to classes on
the *training* labels: by the Hungarian method (one cluster per class, the assignment that agrees
with most training points) or, as in seed 003, by majority (each cluster takes its most frequent
class, so two clusters may share a class and a class may get none).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from explorer.runs import Run
import runfmt as rundir

CLASSIFIERS = ("knn", "svm", "centroid", "kmeans", "kmeans_majority")
TITLES = {"knn": "k-NN", "svm": "SVM (polynomial, degree 3)", "centroid": "Nearest centroid",
          "kmeans": "k-means (Hungarian mapping)", "kmeans_majority": "k-means (majority mapping)"}


def map_clusters(clusters: np.ndarray, labels: np.ndarray, method: str = "hungarian",
                 n_classes: int | None = None) -> np.ndarray:
    """mapping[c] = the class that cluster c stands for (-1 for a cluster left without one)."""
    from scipy.optimize import linear_sum_assignment

    clusters, labels = np.asarray(clusters, dtype=np.int64), np.asarray(labels, dtype=np.int64)
    if clusters.shape != labels.shape:
        raise ValueError("clusters and labels must have the same length")
    if method not in ("hungarian", "majority"):
        raise ValueError(f"method must be 'hungarian' or 'majority', got {method!r}")
    n_clusters = int(clusters.max()) + 1
    n_classes = int(labels.max()) + 1 if n_classes is None else n_classes
    counts = np.zeros((n_clusters, n_classes), np.int64)
    np.add.at(counts, (clusters, labels), 1)
    if method == "majority":
        return np.where(counts.sum(1) > 0, counts.argmax(1), -1)
    mapping = np.full(n_clusters, -1)
    rows, cols = linear_sum_assignment(counts, maximize=True)
    mapping[rows] = cols
    return mapping


class KMeansClassifier:
    """k-means with one cluster per class, its clusters mapped to classes on the training labels."""

    def __init__(self, n_clusters: int | None = None, mapping: str = "hungarian",
                 random_state: int | None = None, n_init: int = 10):
        self.n_clusters, self.mapping, self.random_state, self.n_init = n_clusters, mapping, random_state, n_init

    def fit(self, X, y):
        from sklearn.cluster import KMeans

        y = np.asarray(y, dtype=np.int64)
        n_clusters = self.n_clusters or len(np.unique(y))
        X = np.asarray(X, dtype=np.float64)
        self.kmeans_ = KMeans(n_clusters, n_init=self.n_init, random_state=self.random_state).fit(X)
        self.mapping_ = map_clusters(self.kmeans_.labels_, y, self.mapping, n_classes=int(y.max()) + 1)
        return self

    def predict(self, X):
        return self.mapping_[self.kmeans_.predict(np.asarray(X, dtype=np.float64))]


def make_classifier(name: str, random_state: int | None = None, **params):
    """An unfitted estimator: knn (n_neighbors=5), svm (poly, degree 3), centroid, kmeans."""
    from sklearn.neighbors import KNeighborsClassifier, NearestCentroid
    from sklearn.svm import SVC

    if name == "knn":
        return KNeighborsClassifier(**{"n_neighbors": 5, **params})
    if name == "svm":
        return SVC(**{"kernel": "poly", "degree": 3, "random_state": random_state, **params})
    if name == "centroid":
        return NearestCentroid(**params)
    if name in ("kmeans", "kmeans_majority"):
        mapping = "majority" if name == "kmeans_majority" else params.pop("mapping", "hungarian")
        return KMeansClassifier(mapping=mapping, random_state=random_state, **params)
    raise ValueError(f"unknown classifier {name!r}; choose one of {', '.join(CLASSIFIERS)}, kmeans_majority")


@dataclass
class Evaluation:
    """One classifier on one evaluation set."""

    classifier: str
    subset: str          # "test", "shifted" (all shifts) or "shift -6" etc.
    shift: int | None    # the shift in px of a per-shift subset, else None
    accuracy: float
    confusion: np.ndarray  # true class in rows, predicted in columns (an extra last column
    # counts "unassigned" predictions of a k-means cluster that got no class)
    report: pd.DataFrame   # sklearn's classification report: precision, recall, f1-score, support
    y_true: np.ndarray
    y_pred: np.ndarray
    rows: np.ndarray | None = None  # the split's row of each point (None: rows 0..n-1); an
    # epoch's snapshot before the last may hold only some rows
    note: str = ""  # e.g. that the classifier was fitted on a subsample of the training points

    def split_rows(self) -> np.ndarray:
        """The split's row of each evaluated point, in the order of y_true and y_pred."""
        return np.arange(len(self.y_true)) if self.rows is None else self.rows


def evaluate(classifier: str, subset: str, y_true, y_pred, class_names: list[str],
             shift: int | None = None, rows=None) -> Evaluation:
    """Accuracy, confusion matrix and classification report of predictions."""
    from sklearn.metrics import classification_report, confusion_matrix

    y_true, y_pred = np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)
    if not len(y_true):
        raise ValueError(f"the {subset} set has no points")
    labels = list(range(len(class_names)))
    names = list(class_names)
    if (y_pred < 0).any():
        labels, names = labels + [-1], names + ["unassigned"]
    confusion = confusion_matrix(y_true, y_pred, labels=labels)
    report = classification_report(y_true, y_pred, labels=labels, target_names=names,
                                   output_dict=True, zero_division=0)
    report = pd.DataFrame(report).T.rename_axis("class")
    if "accuracy" in report.index:  # sklearn gives accuracy as one number, spread over the row
        report.loc["accuracy", ["precision", "recall"]] = np.nan
        report.loc["accuracy", "support"] = len(y_true)
    report["support"] = report["support"].round().astype(int)
    return Evaluation(classifier, subset, shift, float(np.mean(y_true == y_pred)),
                      confusion[: len(class_names)], report, y_true, y_pred,
                      None if rows is None else np.asarray(rows, np.int64))


def classify(run: Run, epoch: int | None = None, classifiers=CLASSIFIERS, random_state: int = 0,
             by_shift: bool = True) -> list[Evaluation]:
    """Fit each classifier on the train embeddings; evaluate on test, shifted and each shift
    (each shift's figures come from the shifted split's one prediction)."""
    splits = {split: run.points(epoch, split) for split in ("test", "shifted") if split in run.splits}
    results = []
    for name in classifiers:
        model, note = fitted(run, epoch, name, random_state)
        for split, points in splits.items():
            predicted = _predict(model, points)
            labels, rows, shifts = (points[c].to_numpy() for c in ("label", "row", "shift"))
            parts = [(split, None, np.ones(len(points), bool))]
            if split == "shifted" and by_shift:
                parts += [(f"shift {int(s):+d}", int(s), shifts == s) for s in sorted(np.unique(shifts))]
            for subset, shift, keep in parts:
                found = evaluate(name, subset, labels[keep], predicted[keep], run.class_names, shift, rows[keep])
                found.note = note
                results.append(found)
    return results


def fitted(run: Run, epoch: int | None, name: str = "knn", random_state: int = 0):
    """(``name`` fitted on the train embeddings as ``classify`` fits it, the note on its points)."""
    X_train, y_train = run.embeddings(epoch, "train")
    X_fit, y_fit, note = fit_points(name, X_train, y_train, random_state)
    return make_classifier(name, random_state=random_state).fit(X_fit, y_fit), note


def predict_points(model, run: Run, epoch: int | None, keys) -> dict[str, dict[int, int]]:
    """A fitted model's predicted label of each (split, row) in ``keys`` that the epoch holds:
    {split: {row: label}}; for a few points, without predicting the whole split."""
    found = {}
    for split in sorted({str(s) for s, _ in keys}):
        rows = {int(r) for s, r in keys if s == split}
        points = run.points(epoch, split)
        points = points[points["row"].isin(rows)]
        if len(points):
            found[split] = dict(zip(points["row"].astype(int).tolist(), _predict(model, points).astype(int).tolist()))
    return found


def _predict(model, points: pd.DataFrame) -> np.ndarray:
    from sklearn import config_context

    X = points[rundir.embedding_columns(points)].to_numpy(np.float32)
    with config_context(working_memory=WORKING_MEMORY_MB):  # k-NN's distances, in chunks
        return model.predict(X)


WORKING_MEMORY_MB = 128  # scikit-learn's chunked distances: at most this much at a time (default 1 GB)


MAX_SVM_POINTS = 10_000  # a kernel SVM's fit costs about the square of its points


def fit_points(name: str, X: np.ndarray, y: np.ndarray, random_state: int = 0):
    """The training points a classifier is fitted on, and a note when they are a subsample: the
    SVM takes a seeded, class-stratified MAX_SVM_POINTS of a larger training set."""
    if name != "svm" or len(X) <= MAX_SVM_POINTS:
        return X, y, ""
    rng = np.random.default_rng(random_state)
    share = MAX_SVM_POINTS / len(X)
    keep = np.concatenate([rng.choice(np.flatnonzero(y == c), max(1, int(round(share * (y == c).sum()))),
                                      replace=False) for c in np.unique(y)])
    keep = np.sort(keep)
    return X[keep], y[keep], (f"the SVM was fitted on a seeded, class-stratified {len(keep):,} of the "
                              f"{len(X):,} training points (its fit costs the square of its points)")


def accuracy_table(evaluations: list[Evaluation]) -> pd.DataFrame:
    """classifier, subset, shift, accuracy, n: one row per evaluation."""
    frame = pd.DataFrame([{"classifier": e.classifier, "subset": e.subset, "shift": e.shift,
                          "accuracy": e.accuracy, "n": len(e.y_true)} for e in evaluations],
                         columns=["classifier", "subset", "shift", "accuracy", "n"])
    return frame.astype({"shift": "Int64"})


def knn_correct(points: pd.DataFrame, evaluations: list[Evaluation], classifier: str = "knn") -> pd.Series:
    """Per point of ``points`` (columns split, row): did ``classifier`` classify it right?

    True or False for test and shifted points (from that classifier's "test" and "shifted"
    evaluations, matched by row), None for the rest (train: fitted there).
    """
    correct = pd.Series([None] * len(points), index=points.index, dtype=object)
    for e in evaluations:
        if e.classifier != classifier or e.subset not in ("test", "shifted"):
            continue
        mask = (points["split"] == e.subset).to_numpy()
        rows = points.loc[mask, "row"].to_numpy(np.int64)
        position = pd.Index(e.split_rows()).get_indexer(rows)
        if (position < 0).any():
            raise ValueError(f"{e.subset} row {rows[position < 0][0]} has no prediction in its evaluation")
        correct[mask] = list(e.y_pred[position] == e.y_true[position])
    return correct


def most_confused_pairs(confusion: np.ndarray, class_names: list[str], top: int = 5) -> pd.DataFrame:
    """Class pairs most often mistaken for each other, both directions counted together.

    Columns: a, b (class indices), class_a, class_b, a_as_b, b_as_a, count, rate (count over the
    points of both classes).
    """
    confusion = np.asarray(confusion)[:, : len(class_names)]
    k = len(class_names)
    if confusion.shape != (k, k):
        raise ValueError(f"confusion must be {k} x {k} for {k} classes, got {confusion.shape}")
    support = confusion.sum(1)
    rows = []
    for a in range(k):
        for b in range(a + 1, k):
            count = int(confusion[a, b] + confusion[b, a])
            if count:
                rows.append({"a": a, "b": b, "class_a": class_names[a], "class_b": class_names[b],
                             "a_as_b": int(confusion[a, b]), "b_as_a": int(confusion[b, a]),
                             "count": count, "rate": count / max(int(support[a] + support[b]), 1)})
    columns = ["a", "b", "class_a", "class_b", "a_as_b", "b_as_a", "count", "rate"]
    frame = pd.DataFrame(rows, columns=columns)
    return frame.sort_values(["count", "rate"], ascending=False).head(top).reset_index(drop=True)


def confused_examples(y_true, y_pred, a: int, b: int, n: int = 6, random_state: int | None = 0) -> pd.DataFrame:
    """Up to n points of class a predicted as b and n of b predicted as a: index, true, predicted."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    rng = np.random.default_rng(random_state)
    picks = []
    for true, pred in ((a, b), (b, a)):
        idx = np.flatnonzero((y_true == true) & (y_pred == pred))
        picks.append(np.sort(rng.choice(idx, size=min(n, len(idx)), replace=False)))
    index = np.concatenate(picks).astype(np.int64)
    return pd.DataFrame({"index": index, "true": y_true[index], "predicted": y_pred[index]})
