import numpy as np
import pytest
from fakerun import make_fake_run

from explorer.runs import load_run
from explorer.suspicious import neighbour_disagreement, run_suspicious


def test_a_point_among_another_class_ranks_first():
    rng = np.random.default_rng(0)
    a = rng.normal(0, 0.1, size=(20, 2))
    b = rng.normal(5, 0.1, size=(20, 2))
    X = np.concatenate([a, b, [[5.0, 5.0]]])
    labels = np.r_[np.zeros(20), np.ones(20), [0]].astype(int)  # the last one sits among class 1
    found = neighbour_disagreement(X, labels, k=5)
    top = found.iloc[0]
    assert (top["position"], top["score"], top["disagree"], top["other_label"], top["other_count"]) == (40, 1.0, 5, 1, 5)
    assert np.isnan(top["nearest_same_distance"]) and top["nearest_other_distance"] < 0.5
    assert (found["score"].iloc[1:] <= 0.3).all()
    assert found["score"].is_monotonic_decreasing


def test_rank_weights_and_a_separate_reference():
    reference = np.array([[0.0], [1.0], [2.0]])
    ref_labels = np.array([1, 0, 0])
    found = neighbour_disagreement(np.array([[0.1], [1.9]]), np.array([0, 0]), k=3,
                                   X_reference=reference, labels_reference=ref_labels)
    # query 0: nearest is the other class (weight 1 of 1 + 1/2 + 1/3); query 1: the other class is third
    assert found["position"].tolist() == [0, 1]
    np.testing.assert_allclose(found["score"], [1 / (11 / 6), (1 / 3) / (11 / 6)])
    with pytest.raises(ValueError, match="k must"):
        neighbour_disagreement(reference, ref_labels, k=0)


def test_run_suspicious_gives_identities_and_class_names(tmp_path):
    run = load_run(make_fake_run(tmp_path, n_classes=2, separation=2.0))
    found = run_suspicious(run, split="train", k=5)
    assert len(found) == 120 and found["score"].is_monotonic_decreasing
    assert (found["split"] == "train").all() and found["row"].is_unique
    wrong = found[found["other_label"] >= 0].iloc[0]
    assert wrong["other_class"] == run.class_names[wrong["other_label"]] != wrong["class_name"]
    shifted = run_suspicious(run, split="shifted", k=5)
    assert len(shifted) == 240 and shifted.attrs["reference"] == "train"
