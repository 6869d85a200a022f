import numpy as np
import pytest
from fakerun import make_fake_run
from scipy.stats import norm

from explorer.distances import (histogram, overlap, pair_distances, roc, run_pair_distances,
                                sample_pairs, triplets_to_pairs, verification)
from explorer.runs import load_run


def gaussian_distances(mu_pos=2.0, mu_neg=4.0, n=20000, seed=0):
    rng = np.random.default_rng(seed)
    d = np.concatenate([rng.normal(mu_pos, 1, n), rng.normal(mu_neg, 1, n)])
    return d, np.r_[np.ones(n), np.zeros(n)].astype(int)


def test_known_distributions_give_the_expected_auc_eer_and_threshold():
    d, y = gaussian_distances()
    result = verification(d, y, far=0.05)
    # Two unit normals two apart: AUC = Phi(2 / sqrt 2), EER = Phi(-1), FAR 5% at 4 - 1.645.
    assert result["auc"] == pytest.approx(norm.cdf(2 / np.sqrt(2)), abs=0.005)
    assert result["eer"] == pytest.approx(norm.cdf(-1), abs=0.01)
    assert result["eer_threshold"] == pytest.approx(3.0, abs=0.05)
    assert result["threshold_at_far"] == pytest.approx(norm.ppf(0.05, 4, 1), abs=0.05)
    assert result["tar_at_far"] == pytest.approx(norm.cdf(norm.ppf(0.05, 4, 1), 2, 1), abs=0.02)
    assert result["overlap"] == pytest.approx(2 * norm.cdf(-1), abs=0.03)
    assert (result["n_positive"], result["n_negative"]) == (20000, 20000)


def test_separated_and_identical_distributions():
    separated = verification(np.r_[0.1, 0.2, 0.3, 2.0, 2.1], np.r_[1, 1, 1, 0, 0])
    assert separated["auc"] == 1.0 and separated["eer"] == 0.0 and separated["overlap"] == 0.0
    assert 0.3 <= separated["threshold_at_far"] < 2.0 and separated["tar_at_far"] == 1.0
    d, y = gaussian_distances(3.0, 3.0)
    same = verification(d, y)
    assert same["auc"] == pytest.approx(0.5, abs=0.02) and same["eer"] == pytest.approx(0.5, abs=0.02)
    assert same["overlap"] > 0.9


def test_roc_runs_from_nothing_to_everything_accepted():
    d, y = gaussian_distances(n=100)
    curve = roc(d, y)
    assert curve["far"].iloc[0] == 0 and curve["tar"].iloc[-1] == 1
    assert curve["threshold"].is_monotonic_increasing
    with pytest.raises(ValueError, match="both"):
        roc(d[y == 1], y[y == 1])


def test_histogram_densities_integrate_to_one():
    d, y = gaussian_distances(n=500)
    hist = histogram(d, y, bins=30)
    width = hist["right"] - hist["left"]
    assert len(hist) == 30
    assert (hist["positive"] * width).sum() == pytest.approx(1) and (hist["negative"] * width).sum() == pytest.approx(1)
    assert 0 <= overlap(d, y) <= 1


def test_pair_distances_by_hand():
    X = np.array([[0.0, 0.0], [3.0, 4.0], [0.0, 2.0]])
    d, y = pair_distances(X, np.array([[0, 1, 1], [1, 2, 0]]))
    np.testing.assert_allclose(d, [5.0, np.sqrt(9 + 4)])
    assert list(y) == [1, 0]
    cosine, _ = pair_distances(X, np.array([[1, 1, 1], [2, 1, 0]]), metric="cosine")
    np.testing.assert_allclose(cosine, [0.0, 1 - 4 / 5], atol=1e-12)
    with pytest.raises(ValueError, match="indices"):
        pair_distances(X, np.array([[0, 3, 1]]))
    with pytest.raises(ValueError, match=r"\(n, 3\)"):
        pair_distances(X, np.array([[0, 1]]))


def test_triplets_become_one_positive_and_one_negative_pair():
    pairs = triplets_to_pairs(np.array([[0, 1, 2], [3, 4, 5]]))
    assert pairs.tolist() == [[0, 1, 1], [3, 4, 1], [0, 2, 0], [3, 5, 0]]


def test_sampled_pairs_are_valid_balanced_and_seeded():
    labels = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2, 3])
    pairs = sample_pairs(labels, 1001, random_state=4)
    same = (labels[pairs[:, 0]] == labels[pairs[:, 1]]).astype(int)
    assert same.tolist() == pairs[:, 2].tolist()
    assert (pairs[:, 0] != pairs[:, 1]).all()
    assert abs(pairs[:, 2].sum() - 500) <= 1
    assert 3 not in labels[pairs[pairs[:, 2] == 1, 0]]  # a class of one has no positive pair
    np.testing.assert_array_equal(pairs, sample_pairs(labels, 1001, random_state=4))
    with pytest.raises(ValueError, match="two classes"):
        sample_pairs(np.zeros(5), 10)


def test_run_pair_distances_has_train_and_test_pairs(tmp_path):
    run = load_run(make_fake_run(tmp_path))
    frame = run_pair_distances(run, n_test_pairs=100)
    assert set(frame["set"]) == {"train", "test"}
    assert (frame["set"] == "test").sum() == 100
    test = frame[frame["set"] == "test"]
    assert verification(test["distance"], test["y"])["auc"] > 0.9  # the fake blobs separate


def test_a_triplet_run_takes_its_training_pairs_from_its_triplets(tmp_path):
    from explorer.distances import training_pairs

    run = load_run(make_fake_run(tmp_path, loss="triplet", n_pairs=50))
    pairs = training_pairs(run)
    assert len(pairs) == 100 and pairs[:, 2].sum() == 50
    np.testing.assert_array_equal(pairs[:50, :2], run.pairs()["train_triplets"][:, :2])
