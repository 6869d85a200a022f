import numpy as np
import pytest
from fakerun import make_fake_run

from explorer.geometry import (centroid_distances, centroids, cluster_sizes, cluster_summary,
                               geometry_over_epochs)
from explorer.runs import load_run

# Class 0: a square of side 2 around (0, 0); class 1: two points around (6, 8).
X = np.array([[1.0, 1], [1, -1], [-1, 1], [-1, -1], [6, 7], [6, 9]])
y = np.array([0, 0, 0, 0, 1, 1])


def test_centroids_and_sizes_by_hand():
    np.testing.assert_allclose(centroids(X, y), [[0, 0], [6, 8]])
    np.testing.assert_allclose(cluster_sizes(X, y), [np.sqrt(2), 1.0])


def test_centroid_matrix_has_sizes_on_its_diagonal():
    matrix = centroid_distances(X, y)
    np.testing.assert_allclose(matrix, [[np.sqrt(2), 10.0], [10.0, 1.0]])
    summary = cluster_summary(X, y)
    assert summary["mean_cluster_size"] == pytest.approx((np.sqrt(2) + 1) / 2)
    assert summary["mean_centroid_distance"] == pytest.approx(10.0)


def test_empty_class_is_nan_and_bad_labels_refused():
    assert np.isnan(centroids(X, y, n_classes=3)[2]).all()
    assert np.isnan(cluster_sizes(X, y, n_classes=3)[2])
    with pytest.raises(ValueError, match="labels"):
        centroids(X, y, n_classes=1)
    with pytest.raises(ValueError, match="one label per row"):
        centroids(X, y[:3])


def test_centroids_move_apart_over_epochs(tmp_path):
    run = load_run(make_fake_run(tmp_path, n_classes=3, dim=3, epochs=3))
    frame = geometry_over_epochs(run)
    assert list(frame["epoch"].unique()) == [0, 1, 2, 3] and set(frame["split"]) == {"train", "test"}
    test = frame[frame["split"] == "test"]
    assert test["mean_centroid_distance"].is_monotonic_increasing
    np.testing.assert_allclose(test["mean_cluster_size"], test["mean_cluster_size"].iloc[0], rtol=1e-5)
