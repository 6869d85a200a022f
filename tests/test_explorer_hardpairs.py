import numpy as np
import pytest
from fakerun import make_fake_run

from explorer.hardpairs import (class_pair, contrastive_losses, hard_pairs, hard_triplets, run_hard_pairs,
                                triplet_losses)
from explorer.runs import load_run
from training import rundir


def test_losses_by_hand():
    # seed 000: ½·y·d² + ½·(1−y)·max(0, m−d)²
    np.testing.assert_allclose(contrastive_losses([2.0, 0.5, 0.25, 3.0], [1, 1, 0, 0], margin=1.0),
                               [2.0, 0.125, 0.5 * 0.75 ** 2, 0.0])
    np.testing.assert_allclose(triplet_losses([1.0, 0.2], [0.5, 2.0], margin=1.0), [1.5, 0.0])
    with pytest.raises(ValueError, match="margin"):
        contrastive_losses([1.0], [1], margin=0)


def test_hardest_positives_lie_far_and_hardest_negatives_close():
    X = np.array([[0.0, 0], [3, 0], [0.1, 0], [0.5, 0]])
    labels = np.array([0, 0, 1, 1])
    pairs = np.array([[0, 1, 1], [0, 2, 0], [0, 3, 0], [2, 3, 1]])
    found = hard_pairs(X, labels, pairs, margin=1.0)
    assert found[["a", "b"]].to_numpy().tolist() == [[0, 1], [0, 2], [0, 3], [2, 3]]
    assert found["kind"].tolist() == ["positive", "negative", "negative", "positive"]
    np.testing.assert_allclose(found["d_ab"], [3.0, 0.1, 0.5, 0.4])
    np.testing.assert_allclose(found["loss"], [4.5, 0.405, 0.125, 0.08])
    with pytest.raises(ValueError, match="indices"):
        hard_pairs(X, labels, np.array([[0, 9, 1]]))


def test_hard_triplets_by_hand():
    X = np.array([[0.0, 0], [2, 0], [0.5, 0], [5, 0]])
    labels = np.array([0, 0, 1, 1])
    found = hard_triplets(X, labels, np.array([[0, 1, 3], [0, 1, 2]]), margin=1.0)
    assert found[["a", "b", "n"]].to_numpy().tolist() == [[0, 1, 2], [0, 1, 3]]
    np.testing.assert_allclose(found["loss"], [2.5, 0.0])
    np.testing.assert_allclose(found["d_an"], [0.5, 5.0])


def test_run_hard_pairs_uses_the_runs_own_pairs_and_names_classes(tmp_path):
    run = load_run(make_fake_run(tmp_path, n_classes=3))
    found = run_hard_pairs(run, split="train")
    stored = rundir.read_pairs(run.path)["train_pairs"]
    assert len(found) == len(stored) and found["loss"].is_monotonic_decreasing
    assert set(found["kind"]) == {"positive", "negative"} and (found["n"] == -1).all()
    first = found.iloc[0]
    assert first["class_a"] == run.class_names[first["label_a"]]
    pairs = class_pair(found)
    assert all(" – " in p for p in pairs) and set(pairs) <= {"class0 – class0", "class0 – class1", "class0 – class2",
                                                            "class1 – class1", "class1 – class2", "class2 – class2"}
    assert found.attrs["loss"] == "contrastive" and found.attrs["dropped"] == 0

    triplet = load_run(make_fake_run(tmp_path, name="triplet", loss="triplet"))
    found = run_hard_pairs(triplet)
    assert (found["kind"] == "triplet").all() and (found["n"] >= 0).all()
    assert class_pair(found).iloc[0].count("–") == 1
    with pytest.raises(ValueError, match="test_triplets"):
        run_hard_pairs(triplet, split="test")
