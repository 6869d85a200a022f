import numpy as np
import pytest
from fakerun import make_fake_run

from explorer.classifiers import (KMeansClassifier, accuracy_table, classify, confused_examples,
                                  evaluate, fitted, make_classifier, map_clusters, most_confused_pairs,
                                  predict_points)
from explorer.runs import load_run


def blobs(n=300, k=4, dim=3, spread=0.3, seed=0, noise_seed=None):
    """k Gaussian blobs around centres drawn from ``seed``; ``noise_seed`` draws other points."""
    centres = np.random.default_rng(seed).normal(size=(k, dim)) * 10
    labels = np.arange(n) % k
    noise = np.random.default_rng(seed + 1 if noise_seed is None else noise_seed).normal(size=(n, dim))
    return centres[labels] + spread * noise, labels


@pytest.mark.parametrize("name", ["knn", "svm", "centroid", "kmeans", "kmeans_majority"])
def test_separated_blobs_are_classified_almost_perfectly(name):
    X, y = blobs()
    X_test, y_test = blobs(n=120, noise_seed=99)
    model = make_classifier(name, random_state=0).fit(X, y)
    assert np.mean(model.predict(X_test) == y_test) >= 0.98


def test_permuted_clusters_are_mapped_back():
    labels = np.repeat(np.arange(5), 20)
    permutation = np.array([3, 0, 4, 1, 2])
    clusters = permutation[labels]
    mapping = map_clusters(clusters, labels)
    np.testing.assert_array_equal(mapping[clusters], labels)
    np.testing.assert_array_equal(mapping, np.argsort(permutation))


def test_hungarian_gives_each_class_one_cluster_majority_may_not():
    labels = np.array([0] * 10 + [1] * 10)
    clusters = np.array([0] * 10 + [1] * 3 + [0] * 7)  # cluster 0 mostly class 1 too
    assert sorted(map_clusters(clusters, labels).tolist()) == [0, 1]
    majority = map_clusters(clusters, labels, method="majority")
    assert majority.tolist() == [0, 1]
    labels = np.array([0, 0, 0, 0, 1, 0, 0, 0, 1, 1])
    clusters = np.array([0, 0, 0, 0, 0, 1, 1, 1, 1, 1])
    assert map_clusters(clusters, labels, "majority").tolist() == [0, 0]  # class 1 gets no cluster
    assert map_clusters(clusters, labels).tolist() == [0, 1]


def test_kmeans_classifier_recovers_classes_whatever_the_cluster_order():
    X, y = blobs(k=6)
    model = KMeansClassifier(random_state=0).fit(X, y)
    assert np.mean(model.predict(X) == y) == 1.0
    assert sorted(model.mapping_.tolist()) == list(range(6))


def test_evaluate_gives_confusion_and_report():
    e = evaluate("knn", "test", [0, 0, 1, 1, 2], [0, 1, 1, 1, 2], ["a", "b", "c"])
    assert e.accuracy == pytest.approx(0.8)
    np.testing.assert_array_equal(e.confusion, [[1, 1, 0], [0, 2, 0], [0, 0, 1]])
    assert e.report.loc["b", "precision"] == pytest.approx(2 / 3)
    assert e.report.loc["a", "recall"] == pytest.approx(0.5)
    unassigned = evaluate("kmeans_majority", "test", [0, 1], [0, -1], ["a", "b"])
    assert unassigned.confusion.shape == (2, 3) and "unassigned" in unassigned.report.index


def test_classify_a_run_on_test_shifted_and_each_shift(tmp_path):
    run = load_run(make_fake_run(tmp_path, n_classes=3, dim=3, epochs=2))
    evaluations = classify(run, classifiers=("knn", "kmeans"))
    table = accuracy_table(evaluations)
    assert list(table["subset"].unique()) == ["test", "shifted", "shift -6", "shift -3", "shift +3", "shift +6"]
    assert table.loc[table["subset"] == "shift +3", "shift"].tolist() == [3, 3]
    assert table.loc[table["subset"] == "test", "accuracy"].min() > 0.85
    for e in evaluations:
        assert e.confusion.shape == (3, 3) and e.confusion.sum() == len(e.y_true)
    early = accuracy_table(classify(run, epoch=0, classifiers=("knn",)))
    assert early["accuracy"].iloc[0] < table["accuracy"].iloc[0]  # untrained is worse


def test_a_few_points_are_predicted_as_classify_predicts_them(tmp_path):
    run = load_run(make_fake_run(tmp_path, n_classes=3, dim=3, epochs=1, separation=0.8))
    shifted = next(e for e in classify(run, classifiers=("knn",)) if e.subset == "shifted")
    assert (shifted.y_pred != shifted.y_true).any()  # some wrong ones to tell apart
    keys = [("shifted", int(r)) for r in shifted.split_rows()[::7]] + [("test", 0), ("test", 10**6)]
    found = predict_points(fitted(run, None, "knn")[0], run, None, keys)
    every = dict(zip(shifted.split_rows().tolist(), shifted.y_pred.tolist()))
    assert found["shifted"] == {r: every[r] for s, r in keys if s == "shifted"}
    assert list(found["test"]) == [0]  # a row the split does not hold is left out


def test_most_confused_pairs_and_their_examples():
    confusion = np.array([[8, 2, 0], [5, 5, 0], [0, 1, 9]])
    pairs = most_confused_pairs(confusion, ["a", "b", "c"])
    assert pairs[["class_a", "class_b", "count"]].values.tolist() == [["a", "b", 7], ["b", "c", 1]]
    assert pairs["rate"].iloc[0] == pytest.approx(7 / 20)
    y_true = np.array([0, 0, 1, 1, 1, 2])
    y_pred = np.array([1, 0, 0, 0, 1, 2])
    examples = confused_examples(y_true, y_pred, 0, 1, n=5)
    assert examples["index"].tolist() == [0, 2, 3]
    assert (examples["true"] != examples["predicted"]).all()


def test_the_svm_fits_on_a_stratified_subsample_of_a_large_training_set_and_says_so(monkeypatch, tmp_path):
    from explorer import classifiers

    X = np.random.default_rng(0).normal(size=(300, 2))
    y = np.repeat([0, 1, 2], [200, 50, 50])
    monkeypatch.setattr(classifiers, "MAX_SVM_POINTS", 60)
    X_fit, y_fit, note = classifiers.fit_points("svm", X, y)
    assert len(X_fit) == 60 and np.bincount(y_fit).tolist() == [40, 10, 10]
    assert "60 of the 300 training points" in note
    assert classifiers.fit_points("knn", X, y)[2] == "" and len(classifiers.fit_points("knn", X, y)[0]) == 300
    run = load_run(make_fake_run(tmp_path, n_train=120, epochs=1))
    evaluations = classifiers.classify(run, classifiers=("svm", "knn"))
    assert {e.classifier for e in evaluations if e.note} == {"svm"}
