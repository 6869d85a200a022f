"""--loss arcface and --loss proxy-anchor: pytorch-metric-learning's losses against hand-written
formulas, their class vectors trained and checkpointed, and a killed run resumed exactly."""

import math
import subprocess
import sys

import numpy as np
import pytest
import torch

from conftest import ROOT
from datafiles import tiny_splits
from test_training_resume import train_until_killed
from training import rundir
from training.config import TrainConfig
from training.model import EmbeddingNet, Network
from training.objectives import METHODS, make_objective


def objective_for(loss: str, classes: int = 3, **options):
    options = {"embedding_dim": 3, "batch_size": 8, **options}
    config = TrainConfig(loss=loss, **options).validate().resolved("cpu")
    data = tiny_splits(12, classes=classes, n_held=4)
    return make_objective(config, data, np.random.default_rng(0)).to(torch.device("cpu"))


def cosines(embeddings, vectors):
    """cos of the angle between each embedding (rows) and each class vector (rows), one by one."""
    return torch.tensor([[float(e @ v / (e.norm() * v.norm())) for v in vectors] for e in embeddings])


def arcface_by_hand(embeddings, W, labels, margin_degrees, scale):
    total = 0.0
    cos = cosines(embeddings, W.T)
    for row, y in zip(cos, labels):
        logits = [scale * (math.cos(math.acos(float(c)) + math.radians(margin_degrees)) if k == y else float(c))
                  for k, c in enumerate(row)]
        total += -logits[y] + math.log(sum(math.exp(v) for v in logits))
    return total / len(labels)


def proxy_anchor_by_hand(embeddings, proxies, labels, margin, alpha):
    cos = cosines(embeddings, proxies)
    labels = [int(y) for y in labels]
    present = sorted(set(labels))
    positive = sum(math.log(1 + sum(math.exp(-alpha * (float(cos[i, c]) - margin))
                                    for i, y in enumerate(labels) if y == c)) for c in present)
    negative = sum(math.log(1 + sum(math.exp(alpha * (float(cos[i, c]) + margin))
                                    for i, y in enumerate(labels) if y != c)) for c in range(len(proxies)))
    return positive / len(present) + negative / len(proxies)


def test_both_are_registered_methods_that_read_their_own_options():
    assert set(METHODS["arcface"].options) == {"batch_size", "arcface_margin", "arcface_scale"}
    assert set(METHODS["proxy-anchor"].options) == {"batch_size", "proxy_margin", "proxy_alpha"}


@pytest.mark.parametrize("loss, options", [("arcface", {"arcface_margin": 20.0, "arcface_scale": 8.0}),
                                           ("proxy-anchor", {"proxy_margin": 0.2, "proxy_alpha": 4.0})])
def test_the_loss_is_the_hand_written_formula_and_its_class_vectors_get_gradients(loss, options):
    objective = objective_for(loss, **options)
    [(name, module)] = objective.modules().items()
    network = Network(EmbeddingNet(16, 3), objective.modules())
    images = torch.randn(36, 1, 16, 16)
    batch = next(iter(objective.batches(1, torch.Generator().manual_seed(0))))
    value = objective.loss(network, images, batch)
    embeddings = network(images[batch]).detach()
    labels = torch.from_numpy(tiny_splits(12, n_held=4).train.labels)[batch]
    if loss == "arcface":
        expected = arcface_by_hand(embeddings, module.W.detach(), labels, 20.0, 8.0)
    else:
        expected = proxy_anchor_by_hand(embeddings, module.proxies.detach(), labels, 0.2, 4.0)
    assert float(value.detach()) == pytest.approx(expected, rel=1e-4)
    value.backward()
    vectors = module.W if loss == "arcface" else module.proxies
    assert vectors.grad is not None and vectors.grad.abs().sum() > 0


def test_the_class_vectors_are_seeded():
    a, b = (objective_for("proxy-anchor", seed=3).criterion.proxies for _ in range(2))
    torch.testing.assert_close(a, b)


@pytest.mark.parametrize("loss, key", [("arcface", "arcface.W"), ("proxy-anchor", "proxy-anchor.proxies")])
def test_a_run_trains_and_checkpoints_the_class_vectors(tmp_path, loss, key):
    from explorer.runs import load_run
    from training.trainer import train

    config = TrainConfig(loss=loss, classes=["4", "9"], epochs=2, max_train=100, shifts=[3], device="cpu",
                         embedding_dim=3, batch_size=16, runs_dir=str(tmp_path))
    path = train(config, log=lambda line: None)
    saved = rundir.read_checkpoint(path)["extra_state"][key]
    untrained = objective_for(loss, classes=2).criterion.state_dict()[key.split(".")[1]]
    assert saved.shape == untrained.shape and not torch.allclose(saved, untrained)
    run = load_run(path)
    assert run.epochs == [0, 1, 2] and run.config[f"{loss.split('-')[0]}_margin"] > 0


TRAIN = [sys.executable, "-m", "training", "train", "--loss", "proxy-anchor", "--classes", "4", "9",
         "--epochs", "4", "--max-train", "400", "--shifts", "3", "--device", "cpu", "--batch-size", "32"]


def test_a_killed_proxy_anchor_run_resumes_to_the_same_proxies_and_embeddings(tmp_path, cli):
    whole = subprocess.run([*TRAIN, "--runs-dir", str(tmp_path / "whole")], cwd=ROOT, capture_output=True,
                           text=True)
    assert whole.returncode == 0, whole.stderr
    [uninterrupted] = rundir.list_run_dirs(tmp_path / "whole")

    run = train_until_killed(tmp_path / "cut", 2, TRAIN)
    assert rundir.read_status(run)["state"] == rundir.INTERRUPTED

    result = cli("training", "train", "--resume", str(run))
    assert result.returncode == 0, result.stderr
    a, b = rundir.read_checkpoint(uninterrupted), rundir.read_checkpoint(run)
    torch.testing.assert_close(b["extra_state"]["proxy-anchor.proxies"], a["extra_state"]["proxy-anchor.proxies"],
                               atol=1e-5, rtol=1e-5)
    assert not torch.allclose(a["extra_state"]["proxy-anchor.proxies"],
                              objective_for("proxy-anchor", classes=2, embedding_dim=2).criterion.proxies)
    x, y = rundir.read_snapshot(uninterrupted, 4), rundir.read_snapshot(run, 4)
    columns = rundir.embedding_columns(x)
    np.testing.assert_allclose(y[columns].to_numpy(), x[columns].to_numpy(), atol=1e-5)
