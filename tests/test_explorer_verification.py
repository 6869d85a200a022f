import numpy as np
import pandas as pd
import pytest
from fakerun import make_fake_run

from explorer.distances import run_pair_distances, verification
from explorer.runs import load_run
from explorer.verification import (own_pairs, pair_set_frame, pair_set_summary, per_class_verification,
                                   rows_to_positions, run_pair_sets)
from training import rundir


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return load_run(make_fake_run(tmp_path_factory.mktemp("runs"), n_classes=3, dim=2, epochs=2))


def test_per_class_verification_by_hand():
    # class 0: similar pairs at 1, dissimilar (0-1) at 3: perfectly separated at any threshold in [1, 3)
    # class 1: its similar pairs at 5 lie beyond its dissimilar pairs at 3: AUC 0
    d = np.array([1.0, 1.0, 3.0, 3.0, 5.0, 5.0])
    y = np.array([1, 1, 0, 0, 1, 1])
    a = np.array([0, 0, 0, 1, 1, 1])
    b = np.array([0, 0, 1, 0, 1, 1])
    table = per_class_verification(d, y, a, b, ["zero", "one", "two"])
    assert table["class"].tolist() == ["zero", "one", "two"]
    zero, one, two = (table.iloc[i] for i in range(3))
    assert (zero["similar"], zero["dissimilar"], zero["auc"], zero["eer"]) == (2, 2, 1.0, 0.0)
    assert 1.0 <= zero["eer_threshold"] < 3.0
    assert (one["similar"], one["dissimilar"]) == (2, 2) and one["auc"] == 0.0
    assert (two["similar"], two["dissimilar"]) == (0, 0) and np.isnan(two["auc"])
    with pytest.raises(ValueError, match="same length"):
        per_class_verification(d, y[:3], a, b, ["zero"])


def test_pair_set_frame_maps_rows_and_drops_pairs_of_absent_rows():
    points = pd.DataFrame({"row": [0, 2, 5], "label": [0, 1, 1], "e0": [0.0, 3.0, 3.0], "e1": [0.0, 4.0, 0.0]})
    pairs = np.array([[0, 2, 0], [2, 5, 1], [0, 1, 1]])  # row 1 is not in this snapshot
    frame = pair_set_frame("own", pairs, points)
    assert frame[["i", "j", "y"]].to_numpy().tolist() == [[0, 2, 0], [2, 5, 1]]
    np.testing.assert_allclose(frame["distance"], [5.0, 4.0])
    assert frame["label_i"].tolist() == [0, 1] and frame["label_j"].tolist() == [1, 1]
    assert frame.attrs["dropped"] == 1
    assert rows_to_positions(np.array([0, 2, 5]), [5, 3]).tolist() == [2, -1]


def test_run_pair_sets_has_fresh_and_own_pairs_and_matches_the_summary(run):
    pairs = run_pair_sets(run)
    assert list(dict.fromkeys(pairs["set"])) == ["test", "test_own", "train"]
    stored = rundir.read_pairs(run.path)
    assert (pairs["set"] == "test_own").sum() == len(stored["test_pairs"])
    assert (pairs["set"] == "train").sum() == len(stored["train_pairs"])
    # the fresh pairs are the summary's: the same AUC
    old = run_pair_distances(run)
    fresh = pairs[pairs["set"] == "test"]
    reference = old[old["set"] == "test"]
    assert verification(fresh["distance"], fresh["y"])["auc"] == verification(reference["distance"], reference["y"])["auc"]
    summary = pair_set_summary(pairs)
    assert summary["set"].tolist() == ["test", "test_own", "train"]
    assert summary["auc"].between(0, 1).all() and (summary["pairs"] > 0).all()
    # fresh pairs: labels tell similarity
    assert ((fresh["label_i"] == fresh["label_j"]) == (fresh["y"] == 1)).all()


def test_a_triplet_run_is_judged_on_its_triplets(tmp_path):
    triplet = load_run(make_fake_run(tmp_path, loss="triplet"))
    assert len(own_pairs(triplet, "train")) == 2 * len(rundir.read_pairs(triplet.path)["train_triplets"])
    assert own_pairs(triplet, "val") is None


def test_the_summary_names_its_pairs_and_gives_the_runs_own_test_pairs_auc(tmp_path):
    from explorer.summary import format_summary, summarize

    run = load_run(make_fake_run(tmp_path, n_test=60, n_pairs=200))
    summary = summarize(run)
    assert "same class" in summary["auc_pairs"] and "pairs.npz" in summary["own_test_pairs"]
    assert 0 <= summary["own_test_pairs_auc"] <= 1 and summary["own_test_pairs_auc"] != summary["auc"]
    text = format_summary(summary)
    assert "AUC (fresh test pairs)" in text and "AUC (the run's own test pairs)" in text
