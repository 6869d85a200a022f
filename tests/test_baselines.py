"""The baselines --loss classifier, autoencoder and pca: their losses against hand-written ones, PCA
against scikit-learn's, and ordinary run directories that the explorer opens."""

import json

import numpy as np
import pytest
import torch

from datafiles import tiny_splits
from training import rundir
from training.config import TrainConfig
from training.errors import InputError
from training.model import EmbeddingNet, Network, embed
from training.objectives import METHODS, make_objective
from training.objectives.baselines import ConvDecoder, fit_pca


def tiny_data(n_per_class=12, **kwargs):
    return tiny_splits(n_per_class, n_held=4, **kwargs)


def objective_for(loss: str, data=None, **options):
    config = TrainConfig(loss=loss, embedding_dim=3, **options).validate().resolved("cpu")
    return make_objective(config, data or tiny_data(), np.random.default_rng(0)).to(torch.device("cpu"))


def test_the_baselines_are_methods_and_only_pca_brings_its_own_embedding():
    assert {"classifier", "autoencoder", "pca"} <= set(METHODS)
    assert [name for name, method in METHODS.items() if not method.backbone] == ["pca"]


def test_the_classifier_is_cross_entropy_on_a_linear_head_over_the_embedding():
    objective = objective_for("classifier", batch_size=8)
    network = Network(EmbeddingNet(16, 3), objective.modules())
    images = torch.randn(36, 1, 16, 16)
    batch = next(iter(objective.batches(1, torch.Generator().manual_seed(0))))
    loss = objective.loss(network, images, batch)
    embeddings = network(images[batch])  # the embedding is the layer before the head
    head = objective.head
    assert (head.in_features, head.out_features) == (3, 3)
    labels = torch.from_numpy(tiny_data().train.labels)[batch]
    by_hand = -torch.stack([torch.log_softmax(head(e), 0)[y] for e, y in zip(embeddings, labels)]).mean()
    torch.testing.assert_close(loss, by_hand)
    loss.backward()
    assert head.weight.grad is not None and network.backbone.fc[0].weight.grad is not None


@pytest.mark.parametrize("size", [16, 28, 30, 64])
def test_the_decoder_gives_back_an_image_of_the_input_size(size):
    assert ConvDecoder(4, size)(torch.randn(5, 4)).shape == (5, 1, size, size)


def test_the_autoencoder_loss_is_the_mean_squared_error_of_its_reconstruction():
    objective = objective_for("autoencoder", batch_size=8)
    network = Network(EmbeddingNet(16, 3), objective.modules())
    images = torch.randn(36, 1, 16, 16)
    batch = torch.tensor([0, 5, 7])
    loss = objective.loss(network, images, batch)
    decoded = objective.decoder(network(images[batch]))
    torch.testing.assert_close(loss, ((decoded - images[batch]) ** 2).mean())
    loss.backward()
    assert all(p.grad is not None for p in objective.decoder.parameters())


def test_image_batches_show_every_image_once_and_never_a_batch_of_one():
    objective = objective_for("autoencoder", batch_size=5)  # 36 images: 5 × 7 + 1
    batches = list(objective.batches(1, torch.Generator().manual_seed(2)))
    assert len(batches) == objective.steps_per_epoch() == 7 and min(map(len, batches)) > 1
    assert sorted(torch.cat(batches).tolist()) == list(range(36))


def test_pca_is_scikit_learns_pca_of_the_normalised_training_pixels():
    from sklearn.decomposition import PCA

    data = tiny_data(n_per_class=30)
    objective = objective_for("pca", data)
    assert objective.steps_per_epoch() == 0 and list(objective.batches(1, torch.Generator())) == []
    projection = objective.backbone({"image_size": 16, "embedding_dim": 3, "normalize": False})
    assert not any(p.requires_grad for p in projection.parameters())
    train, test = (data.normalise(part.images).reshape(len(part), -1) for part in (data.train, data.test))
    reference = PCA(3).fit(train)
    ours = embed(projection, torch.from_numpy(data.normalise(data.test.images)).unsqueeze(1)).numpy()
    theirs = reference.transform(test)
    signs = np.sign((ours * theirs).sum(axis=0))
    np.testing.assert_allclose(ours, theirs * signs, atol=1e-4)
    rebuilt = reference.inverse_transform(theirs)
    assert objective.errors["test"] == pytest.approx(float(np.mean((rebuilt - test) ** 2)), rel=1e-4)
    train_error = np.mean((reference.inverse_transform(reference.transform(train)) - train) ** 2)
    assert objective.errors["train"] == pytest.approx(float(train_error), rel=1e-4)


def test_pca_refuses_more_components_than_the_data_has_and_options_it_ignores():
    with pytest.raises(InputError, match="--embedding-dim 300 is more than PCA can give here: at most 256"):
        fit_pca(np.zeros((400, 16, 16), np.float32), 300)
    for options, flag in (({"backbone": "vgg"}, "--backbone"), ({"freeze": True}, "--freeze"),
                          ({"batch_size": 64}, "--batch-size")):
        with pytest.raises(InputError, match=f"{flag} does not apply to --loss pca"):
            TrainConfig(loss="pca", **options).validate()


# ---------------------------------------------------------------- ordinary run directories


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    from training.trainer import train

    folder = tmp_path_factory.mktemp("runs")
    made = {}
    for loss in ("classifier", "autoencoder", "pca"):
        config = TrainConfig(loss=loss, classes=["4", "9"], epochs=2, max_train=100, shifts=[3], device="cpu",
                             embedding_dim=3, runs_dir=str(folder), **({} if loss == "pca" else {"batch_size": 16}))
        made[loss] = train(config, log=lambda line: None)
    return made


@pytest.mark.parametrize("loss", ["classifier", "autoencoder", "pca"])
def test_each_baseline_writes_an_ordinary_run_that_the_explorer_opens(runs, loss):
    from explorer.runs import load_run
    from explorer.summary import summarize

    path = runs[loss]
    assert rundir.read_status(path)["state"] == rundir.FINISHED
    run = load_run(path)
    assert run.epochs == [0, 1, 2] and run.splits == ["train", "test", "shifted"]
    metrics = rundir.read_metrics(path)
    assert len(metrics) == 3 * 4
    losses = metrics[metrics.split.isin(["val", "test"])]["loss"]
    assert losses.notna().all() and (losses > 0).all()
    summary = summarize(run)
    assert summary["loss"] == loss and 0 <= summary["knn_accuracy"] <= 1 and summary["auc"] is not None
    if loss == "classifier":  # labels taught it: 4 and 9 apart after 12 steps
        assert summary["knn_accuracy"] > 0.8
    assert rundir.read_pairs(path)["test_pairs"].shape[1] == 3


def test_a_pca_run_takes_no_step_and_every_epoch_shows_the_same_projection(runs):
    path = runs["pca"]
    assert rundir.read_steps(path).empty
    checkpoint = rundir.read_checkpoint(path)
    assert checkpoint["optimiser_state"] == {} and checkpoint["backbone"] == "pca"
    first, last = rundir.read_snapshot(path, 0), rundir.read_snapshot(path, 2)
    columns = rundir.embedding_columns(first)
    np.testing.assert_array_equal(first[columns].to_numpy(), last[columns].to_numpy())
    train = rundir.read_metrics(path).query("split == 'train'")["loss"]
    assert train.nunique() == 1 and train.iloc[0] > 0  # the reconstruction error, every epoch


def test_a_pca_run_stores_the_reconstructions_of_the_first_test_images(runs):
    from sklearn.decomposition import PCA

    path = runs["pca"]
    config = rundir.read_config(path)
    arrays = rundir.read_snapshot_arrays(path, 2)
    np.testing.assert_array_equal(arrays["reconstruction_rows"], np.arange(64))
    assert arrays["reconstructions"].dtype == np.uint8 and arrays["reconstructions"].shape == (64, 28, 28)

    def normalise(images):
        return ((images.reshape(len(images), -1) / 255.0) - config["mean"]) / config["std"]

    originals = rundir.read_images(path, "train")
    reference = PCA(3).fit(normalise(originals))
    test = normalise(rundir.read_images(path, "test")[:64])
    rebuilt = (reference.inverse_transform(reference.transform(test)) * config["std"] + config["mean"]) * 255
    expected = np.clip(np.rint(rebuilt), 0, 255).reshape(64, 28, 28)
    assert np.abs(arrays["reconstructions"].astype(int) - expected).max() <= 1


def test_the_autoencoder_reconstructs_better_after_training(runs):
    path = runs["autoencoder"]
    images = rundir.read_images(path, "test")[:64].astype(float)

    def error(epoch):
        arrays = rundir.read_snapshot_arrays(path, epoch)
        assert arrays["reconstructions"].shape == (64, 28, 28)
        return np.mean((arrays["reconstructions"].astype(float) - images) ** 2)

    assert error(2) < 0.8 * error(0)
    assert len(rundir.read_steps(path)) == 2 * 6  # 90 training images in batches of 16


def test_the_summary_command_opens_a_baseline_run(runs, cli):
    result = cli("explorer", "summary", str(runs["pca"]), "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["loss"] == "pca" and summary["knn_accuracy"] > 0.5
