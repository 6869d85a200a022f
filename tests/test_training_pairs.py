import numpy as np
import pytest

from training.pairs import draw_split_tuples, draw_triplets, pixel_neighbours, triplets_to_pairs


@pytest.fixture(scope="module")
def images_and_labels():
    rng = np.random.default_rng(3)
    images = rng.integers(0, 256, size=(90, 8, 8), dtype=np.uint8)
    labels = np.repeat([0, 1, 2], 30)
    return images, labels


def brute_force_neighbours(images, labels, i, k):
    flat = images.reshape(len(images), -1).astype(np.float64) / 255
    same = np.flatnonzero((labels == labels[i]) & (np.arange(len(labels)) != i))
    d = np.linalg.norm(flat[same] - flat[i], axis=1)
    return set(same[np.argsort(d)[:k]])


def test_pixel_neighbours_are_the_k_nearest_of_the_same_class(images_and_labels):
    images, labels = images_and_labels
    neighbours = pixel_neighbours(images, labels, 5)
    for i in range(len(labels)):
        assert set(neighbours[i]) == brute_force_neighbours(images, labels, i, 5)


def test_random_regime_pairs_same_and_other_class(images_and_labels):
    images, labels = images_and_labels
    triplets, pairs = draw_split_tuples(images, labels, "random", 5, np.random.default_rng(0))
    a, p, n = triplets.T
    assert sorted(a) == list(range(len(labels)))
    assert (labels[a] == labels[p]).all() and (a != p).all()
    assert (labels[a] != labels[n]).all()
    assert pairs[:, 2].mean() == 0.5  # half the pairs similar, half not
    similar = pairs[:, 2] == 1
    assert (labels[pairs[similar, 0]] == labels[pairs[similar, 1]]).all()
    assert (labels[pairs[~similar, 0]] != labels[pairs[~similar, 1]]).all()


def test_nn_other_positives_are_among_the_k_nearest_in_pixel_space(images_and_labels):
    images, labels = images_and_labels
    triplets, _ = draw_split_tuples(images, labels, "nn-other", 3, np.random.default_rng(1))
    for a, p, n in triplets:
        assert p in brute_force_neighbours(images, labels, a, 3)
        assert labels[n] != labels[a]


def test_nn_non_neighbour_never_uses_a_nearest_neighbour_as_negative(images_and_labels):
    images, labels = images_and_labels
    neighbours = pixel_neighbours(images, labels, 5)
    same_class_negatives = 0
    for seed in range(5):
        triplets, _ = draw_split_tuples(images, labels, "nn-non-neighbour", 5,
                                        np.random.default_rng(seed))
        for a, p, n in triplets:
            assert p in neighbours[a]
            assert n != a
            assert n not in neighbours[a] and a not in neighbours[n]
            same_class_negatives += labels[n] == labels[a]
    # the regime really does use same-class images as negatives (about a third here)
    assert same_class_negatives > 0.2 * 5 * len(labels)


def test_same_seed_gives_identical_pairs(images_and_labels):
    images, labels = images_and_labels
    for regime in ("random", "nn-other", "nn-non-neighbour"):
        first = draw_split_tuples(images, labels, regime, 5, np.random.default_rng(7))
        again = draw_split_tuples(images, labels, regime, 5, np.random.default_rng(7))
        other = draw_split_tuples(images, labels, regime, 5, np.random.default_rng(8))
        assert all(np.array_equal(x, y) for x, y in zip(first, again))
        assert not np.array_equal(first[1], other[1])


def test_triplets_become_one_positive_and_one_negative_pair_each():
    triplets = np.array([[0, 1, 2], [3, 4, 5]])
    pairs = triplets_to_pairs(triplets, np.random.default_rng(0))
    assert {tuple(p) for p in pairs} == {(0, 1, 1), (0, 2, 0), (3, 4, 1), (3, 5, 0)}


def test_a_class_of_one_image_is_refused():
    with pytest.raises(ValueError, match="at least two images"):
        draw_triplets(np.array([0, 0, 1]), "random", np.random.default_rng(0))


def test_three_way_pairs_have_one_of_each_type_per_anchor(images_and_labels):
    from training.pairs import draw_typed_pairs

    images, labels = images_and_labels
    neighbours = pixel_neighbours(images, labels, 5)
    pairs, types = draw_typed_pairs(images, labels, 5, np.random.default_rng(0))
    assert len(pairs) == len(types) == 3 * len(labels)
    assert np.bincount(types).tolist() == [len(labels)] * 3
    np.testing.assert_array_equal(pairs[:, 2], (types == 0).astype(int))
    for (i, j, _), kind in zip(pairs, types):
        if kind == 0:  # true positive: one of the anchor's nearest same-class neighbours
            assert j in neighbours[i]
        elif kind == 1:  # false negative: same class, neither a neighbour nor having i as one
            assert labels[i] == labels[j] and j != i and j not in neighbours[i] and i not in neighbours[j]
        else:  # negative: another class
            assert labels[i] != labels[j]
    again, again_types = draw_typed_pairs(images, labels, 5, np.random.default_rng(0))
    np.testing.assert_array_equal(again, pairs)
    np.testing.assert_array_equal(again_types, types)


def test_three_way_pairs_skip_false_negatives_where_a_class_has_none():
    from training.pairs import draw_typed_pairs

    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, size=(9, 8, 8), dtype=np.uint8)
    labels = np.array([0, 0, 0, 1, 1, 1, 1, 1, 1])  # class 0: every other member is a neighbour (k=2)
    pairs, types = draw_typed_pairs(images, labels, 2, np.random.default_rng(0))
    fn = pairs[types == 1]
    assert (labels[fn[:, 0]] == 1).all()  # class 0 anchors have no false negative
    assert (types == 0).sum() == (types == 2).sum() == 9
    tiny, tiny_types = draw_typed_pairs(images[:4], np.array([0, 1, 1, 1]), 5, np.random.default_rng(0),
                                        strict=False)  # class 0 has one image: dropped, not an error
    assert len(tiny) == 0 and len(tiny_types) == 0
