import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from sklearn.neighbors import KNeighborsClassifier

from conftest import ROOT
from datafiles import write_class_folders
from training import rundir
from training.config import TrainConfig
from training.model import EmbeddingNet
from training.trainer import train


def quiet(line):
    pass


@pytest.fixture(scope="module")
def mnist_run(tmp_path_factory):
    """The seed-000 lab: MNIST 4 vs 9, contrastive, random pairs, 2-D, a few epochs on CPU."""
    config = TrainConfig(classes=["4", "9"], epochs=3, device="cpu",
                         runs_dir=str(tmp_path_factory.mktemp("runs")))
    return train(config, log=quiet)


def test_five_nn_on_the_2d_embedding_separates_4_from_9(mnist_run):
    last = rundir.read_status(mnist_run)["epoch"]
    frame = rundir.read_snapshot(mnist_run, last)
    train_rows, test_rows = frame[frame.split == "train"], frame[frame.split == "test"]
    knn = KNeighborsClassifier(5).fit(train_rows[["e0", "e1"]], train_rows["label"])
    assert knn.score(test_rows[["e0", "e1"]], test_rows["label"]) >= 0.97


def test_the_run_directory_holds_every_split_with_labels_shifts_and_images(mnist_run):
    config, status = rundir.read_config(mnist_run), rundir.read_status(mnist_run)
    assert status["state"] == "finished" and status["epoch"] == status["epochs"] == 3
    assert config["class_names"] == ["4", "9"] and config["regime"] == "random"
    assert 0 < config["mean"] < 1 and 0 < config["std"] < 1
    assert rundir.snapshot_epochs(mnist_run) == [0, 1, 2, 3]  # the untrained map, then every epoch
    frame = rundir.read_snapshot(mnist_run, 3)
    sizes = config["sizes"]
    for split in ("train", "test", "shifted"):
        rows = frame[(frame.split == split) & (frame.epoch == 3)]
        assert len(rows) == sizes[split] == len(rundir.read_images(mnist_run, split))
        assert set(rows.class_name) == {"4", "9"}
    shifted = frame[(frame.split == "shifted") & (frame.epoch == 3)]
    assert sorted(shifted["shift"].unique()) == [-6, -3, 3, 6]
    assert shifted.source_index.between(0, sizes["test"] - 1).all()
    test_labels = frame[(frame.split == "test") & (frame.epoch == 3)].set_index("row")["label"]
    assert (test_labels.loc[shifted.source_index].to_numpy() == shifted.label.to_numpy()).all()
    images = rundir.read_images(mnist_run, "shifted")
    source = rundir.read_images(mnist_run, "test")
    moved = shifted[shifted["shift"] == 6].iloc[0]
    np.testing.assert_array_equal(images[moved.row, :, 6:], source[moved.source_index, :, :-6])
    assert not images[moved.row, :, :6].any()
    metrics = rundir.read_metrics(mnist_run)
    assert set(metrics.split) == {"train", "val", "test", "shifted"}
    assert len(metrics) == 4 * 4
    train_loss = metrics[metrics.split == "train"].set_index("epoch")["loss"]
    assert train_loss[3] < train_loss[0]


def test_saved_pairs_answer_which_images_form_a_pair(mnist_run):
    pairs = rundir.read_pairs(mnist_run)
    labels = rundir.read_snapshot(mnist_run, 0, split="test").set_index("row")["label"]
    i, j, similar = pairs["test_pairs"][365]  # "which images form the 366th test pair" (seed 000, question 3)
    assert (labels[i] == labels[j]) == bool(similar)
    assert pairs["train_pairs"].shape[1] == 3 and pairs["train_triplets"].shape[1] == 3


def test_checkpoint_rebuilds_the_model_with_weights_only(mnist_run):
    checkpoint = torch.load(mnist_run / rundir.CHECKPOINT, weights_only=True)
    model = EmbeddingNet(**checkpoint["model_args"])
    model.load_state_dict(checkpoint["model_state"])
    assert checkpoint["epoch"] == 3 and checkpoint["config"]["classes"] == ["4", "9"]
    config = rundir.read_config(mnist_run)
    test = torch.from_numpy(rundir.read_images(mnist_run, "test")[:5].astype(np.float32))
    x = ((test / 255 - config["mean"]) / config["std"]).unsqueeze(1)
    model.eval()
    with torch.no_grad():
        again = model(x).numpy()
    saved = rundir.read_snapshot(mnist_run, 3, split="test").sort_values("row")
    np.testing.assert_allclose(again, saved[["e0", "e1"]].to_numpy()[:5], rtol=1e-4, atol=1e-5)


def test_same_seed_gives_identical_pairs_and_cpu_embeddings_after_one_epoch(tmp_path):
    def one_epoch(seed):
        config = TrainConfig(classes=["4", "9"], epochs=1, device="cpu", seed=seed,
                             max_train=200, shifts=[3], runs_dir=str(tmp_path))
        run = train(config, log=quiet)
        return rundir.read_pairs(run), rundir.read_snapshot(run, 1)

    pairs_a, emb_a = one_epoch(0)
    pairs_b, emb_b = one_epoch(0)
    pairs_c, emb_c = one_epoch(1)
    for key in pairs_a:
        np.testing.assert_array_equal(pairs_a[key], pairs_b[key])
    np.testing.assert_array_equal(emb_a[["e0", "e1"]].to_numpy(), emb_b[["e0", "e1"]].to_numpy())
    assert not np.array_equal(emb_a[["e0", "e1"]].to_numpy(), emb_c[["e0", "e1"]].to_numpy())


@pytest.mark.parametrize("regime", ["random", "nn-other", "nn-non-neighbour"])
@pytest.mark.parametrize("loss", ["contrastive", "triplet"])
def test_every_regime_and_loss_trains_on_a_folder_data_set(tmp_path, regime, loss):
    write_class_folders(tmp_path / "data", per_class=16, size=(36, 36))
    config = TrainConfig(dataset="folder", data_dir=str(tmp_path / "data"), image_size=24,
                         regime=regime, loss=loss, nn_k=3, epochs=1, embedding_dim=3,
                         shifts=[-3, 3], runs_dir=str(tmp_path / "runs"))
    run = train(config, log=quiet)
    assert rundir.read_status(run)["state"] == "finished"
    assert rundir.read_images(run, "train").shape[1:] == (24, 24)
    frame = rundir.read_snapshot(run, 1)
    assert rundir.embedding_columns(frame) == ["e0", "e1", "e2"]
    assert set(frame.split) == {"train", "test", "shifted"}
    assert set(frame.class_name) == {"alpha", "beta", "gamma"}


def test_an_exception_ends_the_run_as_failed_with_its_message(tmp_path, monkeypatch):
    import training.trainer as trainer

    def broken(*args, **kwargs):
        raise RuntimeError("the GPU caught fire")

    monkeypatch.setattr(trainer, "fit", broken)
    config = TrainConfig(classes=["4", "9"], epochs=2, max_train=100, runs_dir=str(tmp_path))
    with pytest.raises(RuntimeError):
        train(config, log=quiet)
    [run] = rundir.list_run_dirs(tmp_path)
    status = rundir.read_status(run)
    assert status["state"] == "failed" and "the GPU caught fire" in status["error"]


def test_sigterm_ends_the_run_as_cancelled(tmp_path):
    process = subprocess.Popen(
        [sys.executable, "-m", "training", "train", "--classes", "4", "9", "--epochs", "500",
         "--runs-dir", str(tmp_path)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        text=True)
    deadline = time.time() + 120
    while time.time() < deadline:
        runs = rundir.list_run_dirs(tmp_path)
        if runs and rundir.read_status(runs[0])["epoch"] >= 1:
            break
        time.sleep(0.5)
    process.send_signal(signal.SIGTERM)
    out, _ = process.communicate(timeout=60)
    assert process.returncode == 143
    [run] = rundir.list_run_dirs(tmp_path)
    assert out.strip().splitlines()[-1] == str(run)
    status = rundir.read_status(run)
    assert status["state"] == "cancelled" and 1 <= status["epoch"] < 500
