"""Retrieval metrics from pytorch-metric-learning's AccuracyCalculator.

By default the test split queries the training split (the reference): each test point's nearest
training embeddings should share its class. Precision@1, R-precision and MAP@R are computed from
those neighbours with Euclidean distance; NMI and AMI compare a k-means clustering of the query
embeddings (one cluster per class, scikit-learn, seeded) with the query labels. torch is imported
only when these are computed.
"""

from __future__ import annotations

import numpy as np

from explorer.runs import Run

# our key: AccuracyCalculator's name
METRICS = {"precision_at_1": "precision_at_1", "r_precision": "r_precision",
           "map_at_r": "mean_average_precision_at_r", "nmi": "NMI", "ami": "AMI"}


def retrieval_metrics(query: np.ndarray, query_labels: np.ndarray, reference: np.ndarray | None = None,
                      reference_labels: np.ndarray | None = None, random_state: int | None = 0,
                      batch_size: int = 256) -> dict:
    """precision_at_1, r_precision, map_at_r, nmi, ami of ``query`` against ``reference``.

    Without a reference the query set is searched against itself, leaving each point out.
    """
    import torch
    from pytorch_metric_learning.distances import LpDistance
    from pytorch_metric_learning.utils.accuracy_calculator import AccuracyCalculator
    from pytorch_metric_learning.utils.inference import CustomKNN

    query, query_labels = np.asarray(query, np.float32), np.asarray(query_labels, np.int64)
    if query.ndim != 2 or len(query) != len(query_labels) or not len(query):
        raise ValueError(f"query must be (n, d) with one label per row; got {query.shape} and {query_labels.shape}")
    if (reference is None) != (reference_labels is None):
        raise ValueError("give both reference and reference_labels, or neither")
    includes_query = reference is None
    if includes_query:
        reference, reference_labels = query, query_labels
    reference, reference_labels = np.asarray(reference, np.float32), np.asarray(reference_labels, np.int64)
    if reference.ndim != 2 or reference.shape[1] != query.shape[1] or len(reference) != len(reference_labels):
        raise ValueError("reference must be (m, d) with the query's d and one label per row")

    def kmeans(x, n_clusters):
        from sklearn.cluster import KMeans

        labels = KMeans(n_clusters, n_init=10, random_state=random_state).fit_predict(x.cpu().numpy())
        return torch.as_tensor(labels, device=x.device)

    calculator = AccuracyCalculator(
        include=tuple(METRICS.values()), device=torch.device("cpu"),
        knn_func=CustomKNN(LpDistance(normalize_embeddings=False), batch_size=batch_size),
        kmeans_func=kmeans)
    with torch.no_grad():
        result = calculator.get_accuracy(torch.tensor(query), torch.tensor(query_labels),
                                         torch.tensor(reference), torch.tensor(reference_labels),
                                         ref_includes_query=includes_query)
    return {ours: float(result[theirs]) for ours, theirs in METRICS.items()}


# pytorch-metric-learning's MAP@R keeps, per query, as many neighbours as the reference's largest
# class has; its memory grows with queries × reference points (about 75 bytes each, measured:
# 12.6 GB at 2,000 × 100,000), so both are capped, seeded, and the result says so.
MAX_QUERIES = 1_000
MAX_REFERENCE = 20_000


def run_retrieval(run: Run, epoch: int | None = None, query: str = "test", reference: str | None = "train",
                  random_state: int | None = 0, max_queries: int = MAX_QUERIES,
                  max_reference: int = MAX_REFERENCE) -> dict:
    """retrieval_metrics of one split against another (reference=None: the query split itself).
    Above ``max_queries`` query points or ``max_reference`` reference points, a seeded subsample
    of each is used; ``note`` says so."""
    rng = np.random.default_rng(random_state)
    X, y = run.embeddings(epoch, query)
    notes = []
    X, y = _capped(X, y, max_queries, rng, f"{query} queries", notes)
    if reference is None or reference == query:
        found = retrieval_metrics(X, y, random_state=random_state)
        reference = query
    else:
        R, r = run.embeddings(epoch, reference)
        R, r = _capped(R, r, max_reference, rng, f"{reference} reference points", notes)
        found = retrieval_metrics(X, y, R, r, random_state=random_state)
    note = ("retrieval metrics from a seeded " + " and ".join(notes) + " (their memory grows with queries × "
            "reference points)") if notes else ""
    return {**found, "query": query, "reference": reference, "note": note}


def _capped(X: np.ndarray, y: np.ndarray, most: int, rng, what: str, notes: list):
    if len(X) <= most:
        return X, y
    keep = np.sort(rng.choice(len(X), most, replace=False))
    notes.append(f"{most:,} of the {len(X):,} {what}")
    return X[keep], y[keep]
