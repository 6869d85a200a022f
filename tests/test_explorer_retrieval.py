import numpy as np
import pytest
from fakerun import make_fake_run

from explorer.retrieval import retrieval_metrics, run_retrieval
from explorer.runs import load_run

KEYS = {"precision_at_1", "r_precision", "map_at_r", "nmi", "ami"}


def blobs(n, seed):
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 3
    return 20 * np.eye(3)[labels] + rng.normal(size=(n, 3)), labels


def test_separated_blobs_retrieve_perfectly():
    query, query_labels = blobs(60, 0)
    reference, reference_labels = blobs(90, 1)
    result = retrieval_metrics(query, query_labels, reference, reference_labels)
    assert set(result) == KEYS
    for key in KEYS:
        assert result[key] == pytest.approx(1.0), key


def test_random_labels_retrieve_poorly_and_query_is_left_out_of_itself():
    query, labels = blobs(90, 0)
    shuffled = np.random.default_rng(0).permutation(labels)
    result = retrieval_metrics(query, shuffled)
    assert result["precision_at_1"] < 0.6 and result["ami"] < 0.1
    alone = retrieval_metrics(query, labels)  # without leaving itself out, P@1 would be trivially 1
    assert alone["precision_at_1"] == pytest.approx(1.0)


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="both"):
        retrieval_metrics(np.ones((3, 2)), [0, 1, 0], np.ones((3, 2)))
    with pytest.raises(ValueError, match="query's d"):
        retrieval_metrics(np.ones((3, 2)), [0, 1, 0], np.ones((3, 4)), [0, 1, 0])


def test_run_retrieval_says_what_it_queried(tmp_path):
    run = load_run(make_fake_run(tmp_path, n_classes=3, dim=3))
    result = run_retrieval(run)
    assert result["query"] == "test" and result["reference"] == "train" and KEYS <= set(result)
    assert result["precision_at_1"] > 0.8
    assert run_retrieval(run, reference=None)["reference"] == "test"


def test_many_queries_are_subsampled_and_said_so(tmp_path):
    from explorer.retrieval import run_retrieval

    run = load_run(make_fake_run(tmp_path, n_test=60, epochs=1))
    whole = run_retrieval(run, max_queries=100)
    part = run_retrieval(run, max_queries=20, max_reference=50)
    assert whole["note"] == ""
    assert "a seeded 20 of the 60 test queries and 50 of the 120 train reference points" in part["note"]
    assert 0 <= part["precision_at_1"] <= 1
