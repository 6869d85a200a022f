import numpy as np
import pytest
from fakerun import make_fake_run

from explorer.neighbours import gallery, nearest_neighbours
from explorer.runs import load_run


def test_nearest_neighbours_on_a_line():
    reference = np.arange(10.0)[:, None]
    indices, distances = nearest_neighbours(reference, [[4.2]], k=3)
    assert indices.tolist() == [[4, 5, 3]]
    np.testing.assert_allclose(distances, [[0.2, 0.8, 1.2]])


def test_excluded_point_is_not_its_own_neighbour():
    reference = np.array([[0.0], [1.0], [3.0], [7.0]])
    indices, distances = nearest_neighbours(reference, reference[[1, 2]], k=2, exclude=[1, -1])
    assert indices.tolist() == [[0, 2], [2, 1]]
    assert distances[0].tolist() == [1.0, 2.0]
    with pytest.raises(ValueError, match="dimension"):
        nearest_neighbours(reference, [[1.0, 2.0]])


def test_gallery_ranks_neighbours_with_distances(tmp_path):
    run = load_run(make_fake_run(tmp_path))
    found = gallery(run, "train", 5, k=7)
    assert found["rank"].tolist() == list(range(1, 8))
    assert found["distance"].is_monotonic_increasing and 5 not in found["row"].tolist()
    assert (found["split"] == "train").all() and found["same_class"].mean() > 0.8
    shifted = gallery(run, "shifted", 0, reference="test", k=3)
    assert len(shifted) == 3
    with pytest.raises(ValueError, match="row 500"):
        gallery(run, "test", 500)
