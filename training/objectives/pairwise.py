"""Losses on pairs and triplets: contrastive, triplet (seeds 000 and 004) and three-way contrastive.

Each training anchor gets one positive and one negative partner under the regime (random,
nn-other, nn-non-neighbour; see training.pairs). The triplet loss uses the (anchor, positive,
negative) triplets; the contrastive loss sees each as two pairs. Every epoch visits all tuples in
an order drawn on the training device.

With ``--miner batch-hard`` or ``semi-hard`` the triplet loss instead draws class-balanced batches
of P classes × K images and mines its triplets inside each batch with pytorch-metric-learning; the
regime's triplets then serve only for the validation loss and the saved pairs.

The three-way contrastive loss (seed 000, out-lab idea 2) gives each anchor a true positive (one of
its nearest same-class neighbours), a false negative (a same-class image that is not a neighbour)
and a negative (another class), and weighs the three kinds differently.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np
import torch

from training.losses import ContrastiveLoss, ThreeWayContrastiveLoss, TripletLoss, pair_distances
from training.objectives.base import Objective
from training.objectives.samplers import ClassBalancedSampler
from training.pairs import draw_split_tuples, draw_typed_pairs
from training.shift import originals, tuples_with_copies

SPLITS_WITH_TUPLES = ("train", "val", "test")


class RegimeTuples(Objective):
    """Tuples drawn once, before training, for train, val and test; ``kind`` says which ones train.

    ``draw`` gives each split's arrays for pairs.npz; every method keeps ``pairs`` (i, j, similar),
    so the explorer's histograms work alike for all. Each epoch visits all training rows of
    ``kind`` in an order drawn on the device.
    """

    kind = "pairs"  # the rows each batch holds: "pairs" (i, j, similar) or "triplets" (a, p, n)

    def __init__(self, config, data, rng: np.random.Generator):
        super().__init__(config, data, rng)
        self.tuples: dict[str, np.ndarray] = {}
        for split in SPLITS_WITH_TUPLES:
            copies = data.train_copies if split == "train" else None  # --train-shifts
            part = originals(getattr(data, split), copies)
            drawn = self.draw(part.images, part.labels, rng, strict=split == "train")
            for name, rows in tuples_with_copies(drawn, copies, len(part)).items():
                self.tuples[f"{split}_{name}"] = rows
        self.criterion = self.make_criterion()
        self.train_tuples = torch.from_numpy(self.rows("train"))
        self.device_tuples: dict[str, torch.Tensor] = {}
        self.device_rows: dict[str, torch.Tensor] = {}

    def draw(self, images: np.ndarray, labels: np.ndarray, rng: np.random.Generator,
             strict: bool) -> dict[str, np.ndarray]:
        """One split's arrays for pairs.npz, without the split prefix: here the regime's."""
        triplets, pairs = draw_split_tuples(images, labels, self.config.regime, self.config.nn_k,
                                            rng, strict=strict)
        return {"triplets": triplets, "pairs": pairs}

    def rows(self, split: str) -> np.ndarray:
        """The rows of ``split`` that the loss takes."""
        return self.tuples[f"{split}_{self.kind}"]

    def make_criterion(self):
        raise NotImplementedError

    def saved_tuples(self) -> dict[str, np.ndarray]:
        return dict(self.tuples)

    def to(self, device: torch.device) -> "RegimeTuples":
        self.train_tuples = self.train_tuples.to(device)
        self.device_tuples = {k: torch.from_numpy(v).to(device) for k, v in self.tuples.items()}
        self.device_rows = {s: torch.from_numpy(self.rows(s)).to(device) for s in SPLITS_WITH_TUPLES}
        return self

    def steps_per_epoch(self) -> int:
        return max(1, -(-len(self.train_tuples) // self.config.batch_size))

    def batches(self, epoch: int, generator: torch.Generator) -> Iterator[torch.Tensor]:
        order = torch.randperm(len(self.train_tuples), generator=generator,
                               device=self.train_tuples.device)
        size = self.config.batch_size
        for start in range(0, len(order), size):
            yield self.train_tuples[order[start:start + size]]

    def split_loss(self, split: str, embeddings: torch.Tensor) -> torch.Tensor:
        """The loss over all of a split's rows (validation and test monitoring)."""
        return self.criterion(embeddings, tuple(self.device_rows[split].T))

    @torch.no_grad()
    def evaluate(self, split: str, embeddings: torch.Tensor) -> dict[str, float]:
        if split not in SPLITS_WITH_TUPLES or len(self.device_rows[split]) == 0:
            return {}
        pairs = self.device_tuples[f"{split}_pairs"]
        d = pair_distances(embeddings, pairs[:, 0], pairs[:, 1])
        similar = pairs[:, 2] == 1
        return {"loss": float(self.split_loss(split, embeddings)), "pos_dist": float(d[similar].mean()),
                "neg_dist": float(d[~similar].mean())}


class Contrastive(RegimeTuples):
    kind = "pairs"

    def make_criterion(self):
        return ContrastiveLoss(self.config.margin, getattr(self.config, "contrastive_form", "seed000"))

    def loss(self, network, images: torch.Tensor, batch: torch.Tensor) -> torch.Tensor:
        """One forward pass over both images of every pair; the pairs index into it."""
        b = len(batch)
        embeddings = network(images[torch.cat([batch[:, 0], batch[:, 1]])])
        local = torch.arange(b, device=batch.device)
        return self.criterion(embeddings, (local, local + b, batch[:, 2]))


class Triplet(RegimeTuples):
    """The regime's triplets, or (with a miner) triplets mined in P×K batches."""

    kind = "triplets"

    def __init__(self, config, data, rng: np.random.Generator):
        super().__init__(config, data, rng)
        self.miner = None
        if config.miner != "none":
            self.sampler = ClassBalancedSampler(data.train.labels, config.classes_per_batch,
                                                config.images_per_class)
            self.miner = make_miner(config.miner, config.margin)
            self.train_labels = torch.from_numpy(np.asarray(data.train.labels, np.int64))

    def make_criterion(self):
        return TripletLoss(self.config.margin)

    def to(self, device: torch.device) -> "Triplet":
        super().to(device)
        if self.miner is not None:
            self.sampler.to(device)
            self.train_labels = self.train_labels.to(device)
        return self

    def steps_per_epoch(self) -> int:
        return self.sampler.steps_per_epoch() if self.miner is not None else super().steps_per_epoch()

    def batches(self, epoch: int, generator: torch.Generator) -> Iterator[torch.Tensor]:
        if self.miner is None:
            yield from super().batches(epoch, generator)
            return
        for _ in range(self.steps_per_epoch()):
            yield self.sampler.draw(generator)

    def loss(self, network, images: torch.Tensor, batch: torch.Tensor) -> torch.Tensor:
        if self.miner is not None:  # batch: image indices, P classes × K images
            embeddings = network(images[batch])
            return self.criterion(embeddings, self.miner(embeddings, self.train_labels[batch]))
        # one forward pass over anchors, positives and negatives; the triplets index into it
        b = len(batch)
        embeddings = network(images[batch.T.reshape(-1)])
        local = torch.arange(b, device=batch.device)
        return self.criterion(embeddings, (local, local + b, local + 2 * b))


def make_miner(name: str, margin: float):
    """pytorch-metric-learning's miner for ``--miner``, on plain Euclidean distances (PML's default
    distance would L2-normalise; ``--normalize`` does that in the network where it is wanted).

    batch-hard: for each anchor, its farthest positive and nearest negative in the batch.
    semi-hard: every triplet with d(a, p) < d(a, n) ≤ d(a, p) + margin.
    Both return (anchor, positive, negative) index tensors into the batch; none may be empty.
    """
    from pytorch_metric_learning import distances, miners

    distance = distances.LpDistance(normalize_embeddings=False, p=2, power=1)
    if name == "batch-hard":
        return miners.BatchHardMiner(distance=distance)
    if name == "semi-hard":
        return miners.TripletMarginMiner(margin=margin, type_of_triplets="semihard", distance=distance)
    raise ValueError(f"unknown miner {name!r}")


class ThreeWayContrastive(Contrastive):
    """Seed 000's three pair types, each anchor with one pair of each type (fewer where a small
    class has no non-neighbour), trained on (i, j, type) rows: pairs like the contrastive loss's,
    with a type where it has similar."""

    kind = "typed_pairs"

    def draw(self, images: np.ndarray, labels: np.ndarray, rng: np.random.Generator,
             strict: bool) -> dict[str, np.ndarray]:
        pairs, types = draw_typed_pairs(images, labels, self.config.nn_k, rng, strict=strict)
        return {"pairs": pairs, "pair_types": types}

    def rows(self, split: str) -> np.ndarray:
        pairs, types = self.tuples[f"{split}_pairs"], self.tuples[f"{split}_pair_types"]
        return np.column_stack([pairs[:, :2], types]).astype(np.int64).reshape(-1, 3)

    def make_criterion(self):
        config = self.config
        return ThreeWayContrastiveLoss(config.margin, config.false_negative_margin(), config.weight_fn)
