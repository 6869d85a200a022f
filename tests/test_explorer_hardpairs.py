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


def test_the_contrastive_forms_of_seeds_002_and_004_by_hand():
    d, y = [2.0, 0.25], [1, 0]
    np.testing.assert_allclose(contrastive_losses(d, y, 1.0, "seed002"), [4.0, 0.75])
    np.testing.assert_allclose(contrastive_losses(d, y, 1.0, "seed004"), [2.0, 0.75])


def test_the_batch_hard_miner_picks_each_anchors_farthest_positive_and_nearest_negative():
    from explorer.hardpairs import mined_triplets

    X = np.array([[0.0, 0], [1, 0], [3, 0], [0, 1], [5, 5], [2, 0.5], [6, 5], [5, 8]])
    labels = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    found = mined_triplets(X, labels, "batch-hard", classes_per_batch=2, images_per_class=4)
    expected = set()
    for a in range(len(X)):  # a plain loop: the whole set is one batch of 2 classes × 4 images
        same = [j for j in range(len(X)) if labels[j] == labels[a] and j != a]
        other = [j for j in range(len(X)) if labels[j] != labels[a]]
        p = max(same, key=lambda j: np.linalg.norm(X[a] - X[j]))
        n = min(other, key=lambda j: np.linalg.norm(X[a] - X[j]))
        expected.add((a, p, n))
    assert {tuple(t) for t in found.tolist()} == expected


def test_a_mined_runs_hard_triplets_are_the_miners_not_the_regimes(tmp_path):
    path = make_fake_run(tmp_path, "mined", loss="triplet", n_classes=3, separation=1.0)
    config = rundir.read_json(path / rundir.CONFIG)
    rundir.write_json(path / rundir.CONFIG, {**config, "miner": "batch-hard", "images_per_class": 8})
    frame = run_hard_pairs(load_run(path), split="train")
    assert frame.attrs["mined"] == "batch-hard" and len(frame)
    assert (frame["label_a"] == frame["label_b"]).all() and (frame["label_a"] != frame["label_n"]).all()
    stored = {tuple(t) for t in load_run(path).pairs()["train_triplets"].tolist()}
    assert not {tuple(t) for t in frame[["a", "b", "n"]].to_numpy().tolist()} <= stored


def test_without_torch_a_mined_run_says_its_miner_cannot_run(tmp_path, monkeypatch):
    import sys

    from explorer.hardpairs import MinerUnavailable

    path = make_fake_run(tmp_path, "mined", loss="triplet")
    config = rundir.read_json(path / rundir.CONFIG)
    rundir.write_json(path / rundir.CONFIG, {**config, "miner": "semi-hard"})
    run = load_run(path)  # opening the run needs no torch
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch now fails, as where it is not installed
    with pytest.raises(MinerUnavailable, match="the semi-hard miner needs torch"):
        run_hard_pairs(run, split="train")
