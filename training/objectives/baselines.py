"""Baselines on the same data and splits (seeds 002 and 004): a classifier, an autoencoder, PCA.

- ``classifier``: cross-entropy on a linear head over the embedding (seed 004's "DCNN +
  categorical cross-entropy"); the embedding is the layer before the head.
- ``autoencoder``: the backbone encodes, a convolutional decoder (the method's module) rebuilds
  the normalised image; mean squared error. The bottleneck is the embedding (seed 002).
- ``pca``: no training. The embedding is the projection of the normalised pixels on their first D
  principal axes, fitted on the training split with numpy; every epoch has zero steps, so each
  snapshot and metrics row shows the same projection.

The autoencoder and PCA store, with each snapshot, the reconstructions of the first
``RECONSTRUCTED`` test images (arrays ``reconstructions`` and ``reconstruction_rows``). Like
magnet, each still draws the regime's random pairs, for the pair-distance monitoring, pairs.npz
and the explorer's histograms; ``loss`` in metrics.csv is each method's own (cross-entropy, or
the mean squared reconstruction error of the normalised pixels).
"""

from __future__ import annotations

from typing import Iterator

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from training import rundir
from training.errors import InputError
from training.model import Backbone
from training.objectives.pairwise import SPLITS_WITH_TUPLES, RegimeTuples

RECONSTRUCTED = 64  # test images whose reconstructions each snapshot keeps
CHUNK = 1024  # images decoded at once when a whole split is scored


class Baseline(RegimeTuples):
    """A method with a loss of its own; the regime's pairs serve monitoring and pairs.npz only."""

    kind = "pairs"

    @torch.no_grad()
    def evaluate(self, split: str, embeddings: torch.Tensor) -> dict[str, float]:
        """The pair distances where the split has pairs, and the method's loss even where it has
        none (a tiny validation split)."""
        figures = super().evaluate(split, embeddings)
        if split in SPLITS_WITH_TUPLES and "loss" not in figures:
            figures["loss"] = float(self.split_loss(split, embeddings))
        return figures


class ImageBatches(Baseline):
    """Batches of training-image indices, every image once per epoch in a fresh order."""

    def __init__(self, config, data, rng: np.random.Generator):
        super().__init__(config, data, rng)
        self.labels = {s: torch.from_numpy(np.asarray(getattr(data, s).labels, np.int64))
                       for s in SPLITS_WITH_TUPLES}

    def to(self, device: torch.device) -> "ImageBatches":
        super().to(device)
        self.labels = {s: labels.to(device) for s, labels in self.labels.items()}
        return self

    def steps_per_epoch(self) -> int:
        return len(self.stops()) - 1

    def stops(self) -> list[int]:
        """Where the batches of an epoch start and end. A last batch of a single image joins the
        one before it: batch-norm cannot train on one image."""
        n, size = len(self.labels["train"]), self.config.batch_size
        stops = [*range(0, n, size), n]
        if len(stops) > 2 and stops[-1] - stops[-2] == 1:
            stops.pop(-2)
        return stops

    def batches(self, epoch: int, generator: torch.Generator) -> Iterator[torch.Tensor]:
        order = torch.randperm(len(self.labels["train"]), generator=generator, device=generator.device)
        stops = self.stops()
        for start, stop in zip(stops, stops[1:]):
            yield order[start:stop]

    def seeded(self, build):
        """A module built from the run's seed, the global random stream left untouched."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.config.seed)
            return build()


class Classifier(ImageBatches):
    def __init__(self, config, data, rng: np.random.Generator):
        super().__init__(config, data, rng)
        self.head = self.seeded(lambda: nn.Linear(config.embedding_dim, len(data.class_names)))

    def make_criterion(self):
        return nn.CrossEntropyLoss()

    def modules(self) -> dict[str, nn.Module]:
        return {"classifier": self.head}

    def loss(self, network, images: torch.Tensor, batch: torch.Tensor) -> torch.Tensor:
        _, outputs = network(images[batch], {"classifier": ()})
        return self.criterion(outputs["classifier"].float(), self.labels["train"][batch])

    def split_loss(self, split: str, embeddings: torch.Tensor) -> torch.Tensor:
        return self.criterion(self.head(embeddings.float()), self.labels[split])


class ConvDecoder(nn.Module):
    """The embedding back to an image: dense to 64 maps of a quarter of the side, then two 2×
    transposed convolutions (the last to one channel), cut to the image's size."""

    def __init__(self, embedding_dim: int, image_size: int):
        super().__init__()
        self.image_size, self.side = image_size, -(-image_size // 4)
        self.dense = nn.Sequential(nn.Linear(embedding_dim, 64 * self.side * self.side), nn.ReLU())
        self.deconv = nn.Sequential(nn.ConvTranspose2d(64, 32, 4, stride=2, padding=1), nn.ReLU(),
                                    nn.ConvTranspose2d(32, 1, 4, stride=2, padding=1))

    def forward(self, embeddings: torch.Tensor) -> torch.Tensor:
        maps = self.dense(embeddings).view(-1, 64, self.side, self.side)
        return self.deconv(maps)[..., :self.image_size, :self.image_size]


class Autoencoder(ImageBatches):
    def __init__(self, config, data, rng: np.random.Generator):
        super().__init__(config, data, rng)
        size = data.train.images.shape[1]
        self.decoder = self.seeded(lambda: ConvDecoder(config.embedding_dim, size))
        self.images = {s: torch.from_numpy(data.normalise(getattr(data, s).images)).unsqueeze(1)
                       for s in ("val", "test")}  # what the validation and test losses compare with

    def to(self, device: torch.device) -> "Autoencoder":
        super().to(device)
        self.images = {s: images.to(device) for s, images in self.images.items()}
        return self

    def make_criterion(self):
        return nn.MSELoss()

    def modules(self) -> dict[str, nn.Module]:
        return {"decoder": self.decoder}

    def loss(self, network, images: torch.Tensor, batch: torch.Tensor) -> torch.Tensor:
        x = images[batch]
        _, outputs = network(x, {"decoder": ()})
        return self.criterion(outputs["decoder"].float(), x.float())

    def split_loss(self, split: str, embeddings: torch.Tensor) -> torch.Tensor:
        """Val and test: their reconstruction error. Train: none here (the loop records the mean
        loss of the epoch's steps; the training split is not kept twice on the device)."""
        if split not in self.images or len(embeddings) == 0:
            return torch.tensor(float("nan"))
        total = sum(F.mse_loss(self.decoder(embeddings[i:i + CHUNK].float()),
                               self.images[split][i:i + CHUNK], reduction="sum")
                    for i in range(0, len(embeddings), CHUNK))
        return total / self.images[split].numel()

    @torch.no_grad()
    def snapshot_arrays(self, embeddings: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
        test = embeddings.get("test")
        if test is None:
            return {}
        return reconstructions(self.decoder(test[:RECONSTRUCTED].float()), self.data)


class PCAProjection(Backbone):
    """The normalised pixels minus their training mean, projected on D principal axes (buffers,
    so a checkpoint holds the fitted projection)."""

    name = "pca"

    def __init__(self, image_size: int = 28, embedding_dim: int = 2, normalize: bool = False):
        super().__init__(image_size, embedding_dim, normalize)
        self.register_buffer("mean", torch.zeros(image_size * image_size))
        self.register_buffer("components", torch.zeros(embedding_dim, image_size * image_size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.finish((x.flatten(1).float() - self.mean) @ self.components.T)


class PCA(Baseline):
    def __init__(self, config, data, rng: np.random.Generator):
        super().__init__(config, data, rng)
        self.mean, self.components, variances = fit_pca(data.normalise(data.train.images), config.embedding_dim)
        n, pixels = len(data.train), self.mean.size
        self.errors = {"train": float(variances[config.embedding_dim:].sum() * (n - 1) / n / pixels)}
        for split in ("val", "test"):
            self.errors[split] = self.reconstruction_error(data.normalise(getattr(data, split).images))

    def make_criterion(self):
        return None

    def backbone(self, model_args: dict) -> nn.Module:
        projection = PCAProjection(**model_args)
        projection.mean.copy_(torch.from_numpy(self.mean))
        projection.components.copy_(torch.from_numpy(self.components))
        return projection

    def steps_per_epoch(self) -> int:
        return 0

    def batches(self, epoch: int, generator: torch.Generator) -> Iterator[torch.Tensor]:
        return iter(())

    def loss(self, network, images: torch.Tensor, batch: torch.Tensor) -> torch.Tensor:
        raise RuntimeError("PCA has no training steps")

    def reconstruction_error(self, images: np.ndarray) -> float:
        if len(images) == 0:
            return float("nan")
        x = images.reshape(len(images), -1) - self.mean
        residual = x - (x @ self.components.T) @ self.components
        return float(np.mean(residual ** 2))

    def split_loss(self, split: str, embeddings: torch.Tensor) -> torch.Tensor:
        return torch.tensor(self.errors[split])

    def snapshot_arrays(self, embeddings: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
        test = embeddings.get("test")
        if test is None or self.config.normalize:  # unit vectors no longer decode
            return {}
        components = torch.from_numpy(self.components).to(test.device)
        mean = torch.from_numpy(self.mean).to(test.device)
        size = self.data.train.images.shape[1]
        decoded = (test[:RECONSTRUCTED].float() @ components + mean).view(-1, 1, size, size)
        return reconstructions(decoded, self.data)


def fit_pca(images: np.ndarray, n_components: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(mean, components, variances)`` of float images ``(n, h, w)``: the pixel mean, the first
    ``n_components`` principal axes as rows (each signed so that its largest entry is positive),
    and the variance along every axis, largest first. The covariance is summed in chunks, in
    float64, and decomposed with numpy."""
    n = len(images)
    flat = images.reshape(n, -1)
    limit = min(flat.shape[1], n - 1)
    if n_components > limit:
        raise InputError(f"--embedding-dim {n_components} is more than PCA can give here: at most "
                         f"{limit} ({n} training images of {flat.shape[1]} pixels)")
    total, gram = np.zeros(flat.shape[1]), np.zeros((flat.shape[1], flat.shape[1]))
    for start in range(0, n, 4096):
        chunk = flat[start:start + 4096].astype(np.float64)
        total += chunk.sum(axis=0)
        gram += chunk.T @ chunk
    mean = total / n
    covariance = (gram - n * np.outer(mean, mean)) / (n - 1)
    variances, axes = np.linalg.eigh(covariance)
    variances, axes = np.clip(variances[::-1], 0, None), axes[:, ::-1]
    components = axes[:, :n_components].T
    components *= np.sign(components[np.arange(n_components), np.abs(components).argmax(axis=1)])[:, None]
    return mean.astype(np.float32), np.ascontiguousarray(components, np.float32), variances


def reconstructions(decoded: torch.Tensor, data) -> dict[str, np.ndarray]:
    """Decoded normalised images (k, 1, h, w) as the snapshot's uint8 ``reconstructions`` of test
    rows 0..k-1."""
    pixels = (decoded.squeeze(1).float().cpu().numpy() * data.std + data.mean) * 255
    return {rundir.RECONSTRUCTIONS: np.clip(np.rint(pixels), 0, 255).astype(np.uint8),
            rundir.RECONSTRUCTION_ROWS: np.arange(len(pixels), dtype=np.int64)}
