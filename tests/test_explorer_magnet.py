import math

import numpy as np
import pytest
from fakerun import add_magnet_clusters, make_fake_run

from explorer import magnet
from explorer.projections import projection
from explorer.runs import load_run
from explorer.summary import summarize
from training import rundir


def softmax_by_hand(x, centres, classes, sigma2, L, n_classes):
    """Seed 001's evaluation, point by point: the L closest centres, exp(−d²/σ²), normalised."""
    d2 = [sum((a - b) ** 2 for a, b in zip(x, c)) for c in centres]
    closest = sorted(range(len(centres)), key=lambda i: (d2[i], i))[:L]
    total = sum(math.exp(-d2[i] / sigma2) for i in closest)
    mass = [0.0] * n_classes
    for i in closest:
        mass[classes[i]] += math.exp(-d2[i] / sigma2) / total
    return mass


@pytest.mark.parametrize("L", [1, 2, 5, 12, 40])
@pytest.mark.parametrize("sigma2", [0.3, 1.0, 4.0])
def test_magnet_evaluation_equals_a_brute_force_softmax_over_the_l_closest_clusters(L, sigma2):
    rng = np.random.default_rng(L)
    centres = rng.normal(size=(12, 3)) * 2
    classes = np.repeat(np.arange(4), 3)
    X = rng.normal(size=(50, 3)) * 2
    got = magnet.magnet_probabilities(X, centres, classes, sigma2, L, 4)
    expected = np.array([softmax_by_hand(x, centres, classes, sigma2, L, 4) for x in X])
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(magnet.magnet_predict(X, centres, classes, sigma2, L, 4), expected.argmax(1))


def test_far_points_do_not_underflow():
    centres = np.array([[0.0, 0.0], [1.0, 0.0]])
    probabilities = magnet.magnet_probabilities(np.array([[1000.0, 0.0]]), centres, np.array([0, 1]), 0.01, 2)
    np.testing.assert_allclose(probabilities, [[0.0, 1.0]])  # the nearer centre wins, not a tie of zeros


def test_bad_inputs_raise_a_sentence():
    with pytest.raises(ValueError, match="sigma2 must be positive"):
        magnet.magnet_probabilities(np.zeros((1, 2)), np.zeros((1, 2)), np.array([0]), 0.0, 1)
    with pytest.raises(ValueError, match="same width"):
        magnet.magnet_probabilities(np.zeros((1, 3)), np.zeros((1, 2)), np.array([0]), 1.0, 1)
    with pytest.raises(ValueError, match="L"):
        magnet.magnet_probabilities(np.zeros((1, 2)), np.zeros((1, 2)), np.array([0]), 1.0, 0)


@pytest.fixture(scope="module")
def magnet_run(tmp_path_factory):
    """A fake magnet run: two clusters per class, their centres and σ² saved with the last snapshot."""
    path = make_fake_run(tmp_path_factory.mktemp("runs"), n_classes=3, dim=2, epochs=2, loss="magnet")
    rundir.write_json(path / rundir.CONFIG, {**rundir.read_json(path / rundir.CONFIG), "magnet_l": 4})
    add_magnet_clusters(path, 2)
    return path


def test_a_magnet_run_reports_its_accuracy_per_split_and_shift(magnet_run):
    run = load_run(magnet_run)
    found = magnet.clusters(run)
    assert found["l"] == 4 and found["centres"].shape == (6, 2)
    evaluations = magnet.magnet_evaluations(run)
    assert [e.subset for e in evaluations] == ["test", "shifted", "shift -6", "shift -3", "shift +3", "shift +6"]
    test = run.points(2, "test")
    expected = magnet.magnet_predict(test[["e0", "e1"]].to_numpy(), found["centres"], found["centre_classes"],
                                     found["sigma2"], 4, 3)
    assert evaluations[0].accuracy == pytest.approx(np.mean(expected == test["label"].to_numpy()))
    assert evaluations[0].confusion.shape[0] == 3
    summary = magnet.magnet_summary(run)
    assert summary["magnet_accuracy"] == evaluations[0].accuracy > 0.8
    assert set(summary["magnet_accuracy_by_shift"]) == {-6, -3, 3, 6}
    assert magnet.magnet_summary(run, epoch=1)["magnet_accuracy"] is None  # no clusters saved there


def test_the_summary_has_magnet_accuracy_only_for_magnet_runs(magnet_run, tmp_path):
    summary = summarize(load_run(magnet_run))
    assert 0.8 < summary["magnet_accuracy"] <= 1 and summary["magnet_shifted_accuracy"] is not None
    other = summarize(load_run(make_fake_run(tmp_path, n_classes=2, epochs=1)))
    assert other["magnet_accuracy"] is None and other["head_auc"] is None


def test_centres_are_drawn_where_they_are_on_a_raw_map(magnet_run):
    run = load_run(magnet_run)
    frame = magnet.centres_frame(run)
    assert frame["size"].sum() == run.snapshots.rows["train"] and len(frame) == 6
    assert frame["class_name"].tolist() == [c for c in run.class_names for _ in range(2)]
    placed = magnet.centres_on_map(projection(run, 2, "raw", cache=False), run.points(2))
    np.testing.assert_allclose(placed[["x", "y"]].to_numpy(), frame[["e0", "e1"]].to_numpy(), rtol=1e-5)
    assert magnet.centres_frame(run, epoch=1) is None
    with pytest.raises(ValueError, match="magnet_cluster"):
        magnet.centres_on_map(projection(run, 1, "raw", cache=False), run.points(1))


def test_colour_by_cluster_gives_each_class_a_family_of_shades(magnet_run):
    from explorer.palette import class_colors, cluster_colors
    from explorer.maps import Panel, map_figure

    run = load_run(magnet_run)
    found = magnet.clusters(run)
    colours = cluster_colors(found["centre_classes"], 3)
    assert len(set(colours)) == 6  # every cluster its own shade
    assert cluster_colors([0], 3) == [class_colors(3)[0].lower()]  # a lone cluster keeps its class's colour
    frame = magnet.with_clusters(projection(run, 2, "raw", cache=False), run.points(2), found["centre_classes"], 3)
    train = frame[frame["split"] == "train"]
    points = run.points(2, "train").set_index("row")
    assert (train["cluster"].to_numpy() == points.loc[train["row"], "magnet_cluster"].to_numpy()).all()
    assert (train["cluster_colour"].to_numpy() == np.asarray(colours)[train["cluster"].to_numpy()]).all()
    fig = map_figure([Panel("train", train)], run.class_names, "cluster")
    assert set(fig.data[0].marker.color) == set(colours)
    marks = magnet.centre_marks(frame, run.points(2), found["centre_classes"], run.class_names)
    assert list(marks["colour"]) == [colours[c] for c in marks["cluster"]]
    assert all("centre of cluster" in t for t in marks["text"])
    with pytest.raises(ValueError, match="cluster"):
        map_figure([Panel("train", train.drop(columns="cluster_colour"))], run.class_names, "cluster")
