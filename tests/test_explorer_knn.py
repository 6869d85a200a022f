import numpy as np
import pytest
from sklearn.neighbors import NearestNeighbors

from explorer import knn as knn_module
from explorer.knn import knn


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_self_neighbours_equal_scikit_learns(metric):
    X = np.random.default_rng(0).normal(size=(300, 8))
    indices, distances = knn(X, 7, metric=metric)
    d_ref, i_ref = NearestNeighbors(n_neighbors=8, metric=metric).fit(X).kneighbors(X)
    np.testing.assert_array_equal(indices, i_ref[:, 1:])  # sklearn lists each point first
    np.testing.assert_allclose(distances, d_ref[:, 1:], atol=1e-4)


def test_queries_against_a_reference_in_small_chunks(monkeypatch):
    rng = np.random.default_rng(1)
    X, Q = rng.normal(size=(200, 5)), rng.normal(size=(50, 5))
    whole = knn(X, 4, Q)
    monkeypatch.setattr(knn_module, "CHUNK_ELEMENTS", 200 * 3)
    chunked = knn(X, 4, Q)
    np.testing.assert_array_equal(whole[0], chunked[0])
    d_ref, i_ref = NearestNeighbors(n_neighbors=4).fit(X).kneighbors(Q)
    np.testing.assert_array_equal(whole[0], i_ref)


def test_k_out_of_range_is_a_sentence():
    with pytest.raises(ValueError, match="k must be between 1 and 2"):
        knn(np.zeros((3, 2)), 3)
