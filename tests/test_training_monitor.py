import numpy as np
import pytest
import torch
from sklearn.neighbors import KNeighborsClassifier

from training import monitor
from training.monitor import knn_accuracy, knn_predict


@pytest.mark.parametrize("n_train,n_query,dim,classes", [(300, 200, 2, 2), (500, 333, 32, 10), (7, 5, 3, 3)])
def test_knn_predictions_equal_scikit_learns(n_train, n_query, dim, classes):
    rng = np.random.default_rng(n_train)
    centres = rng.normal(size=(classes, dim)) * 2
    y_train = rng.integers(0, classes, n_train)
    y_query = rng.integers(0, classes, n_query)
    X_train = (centres[y_train] + rng.normal(size=(n_train, dim))).astype(np.float32)
    X_query = (centres[y_query] + rng.normal(size=(n_query, dim))).astype(np.float32)
    expected = KNeighborsClassifier(n_neighbors=min(5, n_train)).fit(X_train, y_train).predict(X_query)
    got = knn_predict(torch.from_numpy(X_train), torch.from_numpy(y_train), torch.from_numpy(X_query),
                      k=5, n_classes=classes)
    np.testing.assert_array_equal(got.numpy(), expected)
    score = KNeighborsClassifier(n_neighbors=min(5, n_train)).fit(X_train, y_train).score(X_query, y_query)
    assert knn_accuracy(torch.from_numpy(X_train), torch.from_numpy(y_train), torch.from_numpy(X_query),
                        torch.from_numpy(y_query), 5, classes) == pytest.approx(score)


def test_chunks_change_nothing(monkeypatch):
    rng = np.random.default_rng(0)
    X = torch.from_numpy(rng.normal(size=(400, 4)).astype(np.float32))
    y = torch.from_numpy(rng.integers(0, 4, 400))
    whole = knn_predict(X[:300], y[:300], X[300:])
    monkeypatch.setattr(monitor, "CHUNK_ELEMENTS", 300 * 7)  # 7 query rows per chunk
    np.testing.assert_array_equal(knn_predict(X[:300], y[:300], X[300:]).numpy(), whole.numpy())


def test_a_tied_vote_goes_to_the_smallest_label_as_in_scikit_learn():
    X_train = np.array([[0.0], [1.0], [-1.0], [2.0]], np.float32)
    y_train = np.array([3, 1, 1, 3])
    query = np.array([[0.4]], np.float32)
    expected = KNeighborsClassifier(n_neighbors=4).fit(X_train, y_train).predict(query)
    got = knn_predict(torch.from_numpy(X_train), torch.from_numpy(y_train), torch.from_numpy(query), k=4)
    assert got.tolist() == expected.tolist() == [1]


def test_no_query_gives_no_accuracy():
    X = torch.zeros((3, 2))
    assert knn_accuracy(X, torch.tensor([0, 1, 1]), X[:0], torch.tensor([], dtype=torch.long)) is None
