"""Per-epoch monitoring on the training device: exact k-NN accuracy, computed in chunks.

It gives the same predictions as scikit-learn's ``KNeighborsClassifier(n_neighbors=k)`` (uniform
weights, Euclidean, ties in the vote going to the smallest label), up to ties in distance, without
leaving the device and without an n×n matrix.
"""

from __future__ import annotations

import torch

CHUNK_ELEMENTS = 1 << 24  # distances held at once: 64 MB of float32 per chunk


@torch.no_grad()
def knn_predict(train: torch.Tensor, train_labels: torch.Tensor, queries: torch.Tensor,
                k: int = 5, n_classes: int | None = None) -> torch.Tensor:
    """Predicted labels of ``queries`` by a majority vote of their k nearest ``train`` rows."""
    if len(train) == 0:
        raise ValueError("k-NN needs at least one training point")
    k = min(k, len(train))
    n_classes = int(train_labels.max()) + 1 if n_classes is None else n_classes
    train, queries = train.float(), queries.float()
    rows = max(1, CHUNK_ELEMENTS // len(train))
    predictions = []
    for start in range(0, len(queries), rows):
        distances = torch.cdist(queries[start:start + rows], train)
        nearest = distances.topk(k, dim=1, largest=False).indices
        votes = torch.nn.functional.one_hot(train_labels[nearest], n_classes).sum(dim=1)
        predictions.append(votes.argmax(dim=1))  # argmax takes the first, i.e. smallest, label on ties
    if not predictions:
        return train_labels.new_zeros(0)
    return torch.cat(predictions)


@torch.no_grad()
def knn_accuracy(train: torch.Tensor, train_labels: torch.Tensor, queries: torch.Tensor,
                 labels: torch.Tensor, k: int = 5, n_classes: int | None = None) -> float | None:
    """Share of ``queries`` whose k-NN prediction equals ``labels``; None for no query."""
    if len(queries) == 0:
        return None
    predicted = knn_predict(train, train_labels, queries, k, n_classes)
    return float((predicted == labels).float().mean())
