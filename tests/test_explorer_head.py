import numpy as np
import pytest
from fakerun import add_head_scores, make_fake_run

from explorer import distances, head
from explorer.runs import load_run
from explorer.summary import format_summary, summarize
from training import rundir


def test_the_head_roc_accepts_high_scores():
    score = np.array([0.9, 0.8, 0.3, 0.7, 0.2, 0.1])
    y = np.array([1, 1, 1, 0, 0, 0])
    found = head.head_verification(score, y)
    # positives rank above negatives in 8 of 9 (positive, negative) pairs
    assert found["auc"] == pytest.approx(8 / 9)
    curve = head.head_roc(score, y)
    accepted = [(score >= t).sum() for t in curve["threshold"]]
    assert accepted[0] == 0 and accepted[-1] == len(score)
    for t, far, tar in curve[["threshold", "far", "tar"]].itertuples(index=False):
        assert far == pytest.approx(((score >= t) & (y == 0)).sum() / 3)
        assert tar == pytest.approx(((score >= t) & (y == 1)).sum() / 3)
    perfect = head.head_verification(np.array([0.99, 0.6, 0.4, 0.01]), np.array([1, 1, 0, 0]))
    assert perfect["auc"] == 1.0 and perfect["eer"] == 0.0 and 0.4 < perfect["eer_threshold"] <= 0.6


@pytest.fixture(scope="module")
def bce_run(tmp_path_factory):
    """A fake BCE run whose head scores its test pairs well (unlike the distances, which are fair)."""
    path = make_fake_run(tmp_path_factory.mktemp("runs"), n_classes=2, dim=2, epochs=2, loss="bce")
    add_head_scores(path, 2)
    return path


def test_a_bce_run_compares_its_head_with_the_distance_on_the_same_pairs(bce_run):
    run = load_run(bce_run)
    pairs = head.head_pairs(run)
    test_pairs = run.pairs()["test_pairs"]
    assert len(pairs) == len(test_pairs) and (pairs["y"].to_numpy() == test_pairs[:, 2]).all()
    X, _ = run.embeddings(2, "test")
    d, _ = distances.pair_distances(X, test_pairs)
    np.testing.assert_allclose(pairs["distance"], d, rtol=1e-6)
    found = head.head_summary(run)
    assert found["head_auc"] == 1.0  # the head separates them all
    assert found["head_pairs_distance_auc"] == pytest.approx(distances.verification(d, test_pairs[:, 2])["auc"])
    assert head.head_pairs(run, epoch=1) is None  # no scores saved for that epoch


def test_the_summary_reports_head_auc_beside_the_distance_auc(bce_run):
    summary = summarize(load_run(bce_run))
    assert summary["head_auc"] == 1.0 and summary["auc"] is not None
    assert summary["head_pairs_distance_auc"] is not None
    assert "head AUC (own test pairs)" in format_summary(summary)


def test_mismatched_scores_are_a_damaged_run(bce_run, tmp_path):
    path = make_fake_run(tmp_path, n_classes=2, epochs=1, loss="bce")
    rundir.write_snapshot_arrays(path, 1, {"head_test_scores": np.zeros(3, np.float32)})
    with pytest.raises(rundir.RunDirError, match="3 scores"):
        head.head_pairs(load_run(path))


def test_a_far_no_threshold_reaches_has_no_threshold():
    found = head.head_verification(np.array([0.9, 0.5, 0.95]), np.array([1, 1, 0]), far=0.0)
    assert found["threshold_at_far"] is None and found["tar_at_far"] == 0.0
    found = head.head_verification(np.array([0.9, 0.5, 0.1]), np.array([1, 1, 0]), far=0.0)
    assert found["threshold_at_far"] == 0.5 and found["tar_at_far"] == 1.0
