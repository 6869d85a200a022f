import sys
import subprocess

import numpy as np
import pytest
import torch

from conftest import ROOT
from training.config import LOSSES, TrainConfig
from training.data import DataSplits, ImageSet
from training.model import EmbeddingNet, Network
from training.objectives import METHODS, make_objective, objective_class
from training.objectives.base import Objective


def tiny_data(n_per_class=12, classes=3, size=16, seed=0) -> DataSplits:
    rng = np.random.default_rng(seed)

    def part(n):
        labels = np.arange(n * classes) % classes
        return ImageSet(rng.integers(0, 255, (len(labels), size, size), dtype=np.uint8), labels)

    return DataSplits(part(n_per_class), part(4), part(4), [f"c{c}" for c in range(classes)], 0.5, 0.3)


def test_every_registered_method_is_an_objective_and_a_loss_choice():
    assert set(METHODS) == set(LOSSES)
    for name in METHODS:
        assert issubclass(objective_class(name), Objective)


def test_listing_the_methods_imports_no_torch():
    code = "import sys, training.objectives, training.config; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.stdout.strip() == "False", out.stderr


@pytest.mark.parametrize("loss", sorted(METHODS))
def test_a_method_yields_batches_covering_its_tuples_and_a_finite_loss(loss):
    config = TrainConfig(loss=loss, batch_size=10, epochs=1, image_size=16)
    objective = make_objective(config, tiny_data(), np.random.default_rng(0))
    generator = torch.Generator().manual_seed(0)
    batches = list(objective.batches(1, generator))
    assert len(batches) == objective.steps_per_epoch()
    assert all(len(b) <= 10 for b in batches)
    network = Network(EmbeddingNet(16, 3))
    images = torch.randn(36, 1, 16, 16)
    loss_value = objective.loss(network, images, batches[0])
    assert loss_value.ndim == 0 and torch.isfinite(loss_value)
    loss_value.backward()
    assert any(p.grad is not None for p in network.parameters())


def test_the_same_generator_state_draws_the_same_batches():
    config = TrainConfig(batch_size=8)
    objective = make_objective(config, tiny_data(), np.random.default_rng(0))
    first = torch.cat(list(objective.batches(1, torch.Generator().manual_seed(4))))
    again = torch.cat(list(objective.batches(1, torch.Generator().manual_seed(4))))
    other = torch.cat(list(objective.batches(1, torch.Generator().manual_seed(5))))
    assert torch.equal(first, again) and not torch.equal(first, other)
    assert sorted(map(tuple, first.tolist())) == sorted(map(tuple, objective.saved_tuples()["train_pairs"].tolist()))


def test_the_loop_names_no_method():
    source = (ROOT / "training" / "loop.py").read_text()
    for name in METHODS:
        assert f'"{name}"' not in source
    assert "triplet" not in source.lower()
