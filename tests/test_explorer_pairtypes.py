import numpy as np
import pytest
from fakerun import add_pair_types, make_fake_run

from explorer import pairtypes
from explorer.runs import load_run
from training import rundir


@pytest.fixture(scope="module")
def typed_run(tmp_path_factory):
    path = make_fake_run(tmp_path_factory.mktemp("runs"), n_classes=2, dim=2, epochs=1, loss="contrastive-3way")
    add_pair_types(path)
    return path


def test_typed_pairs_carry_their_type_and_distance(typed_run):
    run = load_run(typed_run)
    assert pairtypes.has_pair_types(run, "test") and not pairtypes.has_pair_types(run, "train")
    frame = pairtypes.typed_pair_distances(run, split="test")
    stored = run.pairs()
    assert len(frame) == len(stored["test_pairs"])
    np.testing.assert_array_equal(frame["type"], stored["test_pair_types"])
    assert set(frame["type_name"]) == set(rundir.PAIR_TYPES)
    X, _ = run.embeddings(1, "test")
    i, j = stored["test_pairs"][:, 0], stored["test_pairs"][:, 1]
    np.testing.assert_allclose(frame["distance"], np.linalg.norm(X[i] - X[j], axis=1), rtol=1e-6)
    assert pairtypes.typed_pair_distances(run, split="train") is None


def test_type_histograms_integrate_to_one_and_summaries_count_each_type(typed_run):
    frame = pairtypes.typed_pair_distances(load_run(typed_run))
    hist = pairtypes.type_histogram(frame, bins=20)
    width = (hist["right"] - hist["left"]).to_numpy()
    for name in rundir.PAIR_TYPES:
        assert (hist[name] * width).sum() == pytest.approx(1.0)
    summary = pairtypes.type_summary(frame)
    assert summary["pairs"].sum() == len(frame) and summary["type"].tolist() == [0, 1, 2]
