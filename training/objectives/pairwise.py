"""Contrastive and triplet losses on tuples drawn once by a pair regime (seeds 000 and 004).

Each training anchor gets one positive and one negative partner under the regime (random,
nn-other, nn-non-neighbour; see training.pairs). The triplet loss uses the (anchor, positive,
negative) triplets; the contrastive loss sees each as two pairs. Every epoch visits all tuples in
an order drawn on the training device.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np
import torch

from training.losses import ContrastiveLoss, TripletLoss, pair_distances
from training.objectives.base import Objective
from training.pairs import draw_split_tuples

SPLITS_WITH_TUPLES = ("train", "val", "test")


class RegimeTuples(Objective):
    """Tuples drawn by the regime for train, val and test; ``kind`` says which ones train."""

    kind = "pairs"  # "pairs" (i, j, similar) or "triplets" (anchor, positive, negative)

    def __init__(self, config, data, rng: np.random.Generator):
        super().__init__(config, data, rng)
        self.tuples: dict[str, np.ndarray] = {}
        for split in SPLITS_WITH_TUPLES:
            part = getattr(data, split)
            triplets, pairs = draw_split_tuples(part.images, part.labels, config.regime,
                                                config.nn_k, rng, strict=split == "train")
            self.tuples[f"{split}_triplets"], self.tuples[f"{split}_pairs"] = triplets, pairs
        self.criterion = self.make_criterion(config.margin)
        self.train_tuples = torch.from_numpy(self.tuples[f"train_{self.kind}"])
        self.device_tuples: dict[str, torch.Tensor] = {}

    def make_criterion(self, margin: float):
        raise NotImplementedError

    def saved_tuples(self) -> dict[str, np.ndarray]:
        return dict(self.tuples)

    def to(self, device: torch.device) -> "RegimeTuples":
        self.train_tuples = self.train_tuples.to(device)
        self.device_tuples = {k: torch.from_numpy(v).to(device) for k, v in self.tuples.items()}
        return self

    def steps_per_epoch(self) -> int:
        return max(1, -(-len(self.train_tuples) // self.config.batch_size))

    def batches(self, epoch: int, generator: torch.Generator) -> Iterator[torch.Tensor]:
        order = torch.randperm(len(self.train_tuples), generator=generator,
                               device=self.train_tuples.device)
        size = self.config.batch_size
        for start in range(0, len(order), size):
            yield self.train_tuples[order[start:start + size]]

    @torch.no_grad()
    def evaluate(self, split: str, embeddings: torch.Tensor) -> dict[str, float]:
        if split not in SPLITS_WITH_TUPLES:
            return {}
        tuples = self.device_tuples[f"{split}_{self.kind}"]
        pairs = self.device_tuples[f"{split}_pairs"]
        if len(tuples) == 0:
            return {}
        loss = self.criterion(embeddings, tuple(tuples.T))
        d = pair_distances(embeddings, pairs[:, 0], pairs[:, 1])
        similar = pairs[:, 2] == 1
        return {"loss": float(loss), "pos_dist": float(d[similar].mean()),
                "neg_dist": float(d[~similar].mean())}


class Contrastive(RegimeTuples):
    kind = "pairs"

    def make_criterion(self, margin: float):
        return ContrastiveLoss(margin)

    def loss(self, network, images: torch.Tensor, batch: torch.Tensor) -> torch.Tensor:
        """One forward pass over both images of every pair; the pairs index into it."""
        b = len(batch)
        embeddings = network(images[torch.cat([batch[:, 0], batch[:, 1]])])
        local = torch.arange(b, device=batch.device)
        return self.criterion(embeddings, (local, local + b, batch[:, 2]))


class Triplet(RegimeTuples):
    kind = "triplets"

    def make_criterion(self, margin: float):
        return TripletLoss(margin)

    def loss(self, network, images: torch.Tensor, batch: torch.Tensor) -> torch.Tensor:
        """One forward pass over anchors, positives and negatives; the triplets index into it."""
        b = len(batch)
        embeddings = network(images[batch.T.reshape(-1)])
        local = torch.arange(b, device=batch.device)
        return self.criterion(embeddings, (local, local + b, local + 2 * b))
