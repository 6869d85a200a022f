"""Magnet loss (seed 001): clusters, their refresh, neighbourhood batches, state and resume."""

import numpy as np
import pytest
import torch
from test_training_objectives import tiny_data

from training import rundir
from training.config import TrainConfig
from training.errors import Cancelled, InputError
from training.objectives import make_objective
from training.objectives.magnet import fit_clusters, nearest_impostors
from training.trainer import resume, train


def quiet(line):
    pass


def blobs(n_per_class=30, classes=3, k=2, seed=0, dim=2):
    """Points in ``classes`` classes, each made of ``k`` well separated blobs, labelled as
    ``magnet_data`` labels its training images (0, 1, 2, 0, 1, 2, ...): (X, labels, blob)."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n_per_class * classes) % classes
    sub = (np.arange(len(labels)) // classes) % k
    centres = rng.normal(scale=20, size=(classes, k, dim))
    return centres[labels, sub] + rng.normal(scale=0.5, size=(len(labels), dim)), labels, sub


magnet_data = tiny_data  # three classes of random 16 px images, labels cycling


def magnet(data=None, **options):
    config = TrainConfig(loss="magnet", embedding_dim=2, **options).validate()
    return make_objective(config, data or magnet_data(), np.random.default_rng(0)).to(torch.device("cpu"))


def test_kmeans_finds_k_clusters_inside_each_class():
    X, labels, sub = blobs(k=2)
    assignments, centres, classes = fit_clusters(X, labels, 2, seed=0)
    assert centres.shape == (6, 2) and classes.tolist() == [0, 0, 1, 1, 2, 2]
    assert (classes[assignments] == labels).all()  # a cluster holds one class
    for c in range(3):  # and recovers the blobs of that class
        members = labels == c
        pairs = set(zip(assignments[members], sub[members]))
        assert len(pairs) == 2
    for cluster in range(6):
        np.testing.assert_allclose(centres[cluster], X[assignments == cluster].mean(0), rtol=1e-5)
    again = fit_clusters(X, labels, 2, seed=0)
    np.testing.assert_array_equal(again[0], assignments)


def test_a_class_with_fewer_distinct_points_than_k_gets_fewer_clusters_never_an_empty_one():
    X = np.array([[0.0, 0], [0, 0], [0, 0], [5, 5], [6, 5], [5, 6], [9, 9]])
    labels = np.array([0, 0, 0, 1, 1, 1, 1])
    assignments, centres, classes = fit_clusters(X, labels, 3, seed=1)
    assert classes.tolist() == [0, 1, 1, 1]
    assert set(assignments) == set(range(4))


def test_nearest_impostors_are_the_closest_clusters_of_other_classes():
    centres = torch.tensor([[0.0, 0], [1, 0], [3, 0], [10, 0], [2.2, 0]])
    classes = torch.tensor([0, 0, 1, 1, 2])
    table = nearest_impostors(centres, classes, 2)
    assert table.tolist() == [[4, 2], [4, 2], [4, 1], [4, 1], [2, 1]]
    assert nearest_impostors(centres, classes, 7).shape == (5, 3)  # never more than there are


def test_more_clusters_than_a_class_has_images_is_refused():
    data = magnet_data()
    smallest = int(np.bincount(data.train.labels).min())
    assert magnet(magnet_k=smallest).config.magnet_k == smallest
    with pytest.raises(InputError, match=f"--magnet-k {smallest + 1} is more clusters than the {smallest} training"):
        magnet(magnet_k=smallest + 1)


def test_a_batch_is_a_seed_cluster_and_its_nearest_impostors_with_d_examples_each():
    objective = magnet(magnet_k=2, magnet_m=3, magnet_d=4)
    X, _, _ = blobs(n_per_class=12, classes=3, k=2, seed=3)
    objective.on_epoch_start(1, lambda split: torch.from_numpy(X).float())
    assignments = objective.assignments
    generator = torch.Generator().manual_seed(0)
    batches = list(objective.batches(1, generator))
    assert len(batches) == objective.steps_per_epoch() == -(-36 // 12)
    for batch in batches:
        images, clusters = batch[:, 0], batch[:, 1]
        assert len(batch) == 3 * 4
        assert (assignments[images] == clusters).all()  # each example comes from its cluster
        order = clusters.reshape(3, 4)
        assert (order == order[:, :1]).all()  # d examples of each of m clusters
        seed, impostors = int(order[0, 0]), order[1:, 0].tolist()
        assert impostors == objective.impostors[seed].tolist()
        labels = objective.labels
        assert all(objective.centre_classes[c] != objective.centre_classes[seed] for c in impostors)
        for row in order:  # clusters of 6 give d = 4 different examples
            members = images[clusters == row[0]]
            assert len(set(members.tolist())) == 4
        assert set(labels[images].tolist()) >= {int(objective.centre_classes[seed])}


def test_the_cluster_refresh_follows_the_representation():
    objective = magnet(magnet_k=2, magnet_refresh=2)
    X, labels, sub = blobs(n_per_class=12, classes=3, k=2, seed=0)
    moved = X.copy()
    # a new representation: within each class, swap which half of the points sit together
    regroup = (np.arange(len(labels)) // 3) // 6  # the first and last six of each class
    rng = np.random.default_rng(5)
    offsets = rng.normal(scale=30, size=(3, 2, 2))
    moved = offsets[labels, regroup] + rng.normal(scale=0.3, size=X.shape)
    calls = []

    def embed_from(points):
        return lambda split: calls.append(split) or torch.from_numpy(points).float()

    objective.on_epoch_start(1, embed_from(X))
    first = objective.assignments.clone()
    together = lambda a, grouping: all(len(set(a[(labels == c) & (grouping == g)].tolist())) == 1
                                       for c in range(3) for g in range(2))
    assert together(first.numpy(), sub)
    objective.on_epoch_start(2, embed_from(moved))  # refresh every 2 epochs: not at epoch 2
    assert torch.equal(objective.assignments, first) and calls == ["train"]
    objective.on_epoch_start(3, embed_from(moved))  # epoch 3 refreshes on the moved points
    assert together(objective.assignments.numpy(), regroup) and not torch.equal(objective.assignments, first)
    assert objective.refreshed_at == 3 and calls == ["train", "train"]


def test_the_state_round_trip_draws_the_same_batches():
    objective = magnet(magnet_k=2, magnet_m=3, magnet_d=2)
    X, _, _ = blobs(n_per_class=12, classes=3, k=2, seed=1)
    objective.on_epoch_start(1, lambda split: torch.from_numpy(X).float())
    state = objective.state_dict()
    fresh = magnet(magnet_k=2, magnet_m=3, magnet_d=2)
    fresh.load_state_dict(state)
    a = torch.cat(list(objective.batches(2, torch.Generator().manual_seed(3))))
    b = torch.cat(list(fresh.batches(2, torch.Generator().manual_seed(3))))
    assert torch.equal(a, b)


def test_snapshots_carry_each_points_cluster_and_the_centres():
    objective = magnet(magnet_k=2)
    X, labels, _ = blobs(n_per_class=12, classes=3, k=2, seed=2)
    train = torch.from_numpy(X).float()
    test = train[::3] + 0.01
    embedded = {"train": train, "test": test, "shifted": test[:4]}
    before = objective.snapshot_outputs(embedded)  # the untrained network's snapshot: epoch 1's clusters
    assert objective.assignments is None  # ... computed for the snapshot, not kept
    objective.on_epoch_start(1, lambda split: train)
    objective.evaluate("train", train)
    outputs, arrays = objective.snapshot_outputs(embedded), objective.snapshot_arrays(embedded)
    np.testing.assert_array_equal(before["train"]["magnet_cluster"], outputs["train"]["magnet_cluster"])
    np.testing.assert_array_equal(outputs["train"]["magnet_cluster"], objective.assignments.numpy())
    centres = arrays["magnet_centres"]
    for split in ("test", "shifted"):
        nearest = np.linalg.norm(embedded[split].numpy()[:, None] - centres[None], axis=2).argmin(1)
        np.testing.assert_array_equal(outputs[split]["magnet_cluster"], nearest)
    cluster = outputs["train"]["magnet_cluster"]
    for c in range(len(centres)):
        np.testing.assert_allclose(centres[c], X[cluster == c].mean(0), rtol=1e-5)
    assert (arrays["magnet_centre_classes"][cluster] == labels).all()
    own = ((X - centres[cluster]) ** 2).sum(1)
    assert float(arrays["magnet_sigma2"]) == pytest.approx(own.sum() / (len(X) - 1), rel=1e-5)


def test_the_validation_loss_uses_the_training_centres():
    objective = magnet(magnet_k=1)
    X, labels, _ = blobs(n_per_class=12, classes=3, k=1, seed=4)
    train = torch.from_numpy(X).float()
    objective.on_epoch_start(1, lambda split: train)
    figures = objective.evaluate("train", train)
    assert {"pos_dist", "neg_dist"} <= set(figures)
    val = objective.evaluate("val", torch.randn(12, 2) * 0.1)
    assert np.isfinite(val["loss"]) and val["loss"] >= 0


def test_magnet_trains_and_resumes_to_identical_results(tmp_path):
    """Clusters refreshed every 2 epochs: a run cut after epoch 1 must carry epoch 1's clusters
    (its state in the checkpoint) into epoch 2, which does not refresh them."""
    options = dict(loss="magnet", classes=["4", "9"], epochs=2, max_train=100, shifts=[3], device="cpu",
                   magnet_k=2, magnet_m=4, magnet_d=4, magnet_refresh=2)
    whole = train(TrainConfig(**options, runs_dir=str(tmp_path / "whole")), log=quiet)

    def stop_after_epoch_1(line):
        if line.startswith("epoch 1/"):
            raise KeyboardInterrupt

    with pytest.raises(Cancelled):
        train(TrainConfig(**options, runs_dir=str(tmp_path / "cut")), log=stop_after_epoch_1)
    [cut] = rundir.list_run_dirs(tmp_path / "cut")
    assert rundir.read_status(cut)["state"] == rundir.CANCELLED
    assert rundir.read_checkpoint(cut)["objective_state"]["refreshed_at"] == 1
    resume(cut, log=quiet)
    assert rundir.read_status(cut)["state"] == rundir.FINISHED
    for epoch in (1, 2):
        a, b = rundir.read_snapshot(whole, epoch), rundir.read_snapshot(cut, epoch)
        columns = rundir.embedding_columns(a)
        np.testing.assert_allclose(b[columns].to_numpy(), a[columns].to_numpy(), atol=1e-5)
        np.testing.assert_array_equal(b["magnet_cluster"], a["magnet_cluster"])
        arrays_a, arrays_b = rundir.read_snapshot_arrays(whole, epoch), rundir.read_snapshot_arrays(cut, epoch)
        np.testing.assert_allclose(arrays_b["magnet_centres"], arrays_a["magnet_centres"], atol=1e-5)
    assert rundir.read_checkpoint(whole)["objective_state"]["refreshed_at"] == 1  # none at epoch 2
