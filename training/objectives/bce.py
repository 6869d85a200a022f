"""A Siamese network with a verification head, trained with binary cross-entropy (seeds 002, 004).

Both images of a pair go through the backbone; their two embeddings, concatenated, go through a
small MLP with one sigmoid output: the probability that the pair is of one class. Pairs are the
regime's: with ``--regime random`` each anchor has a random same-class and a random other-class
partner, so half the pairs are positive. The head is trained and checkpointed with the backbone
(``modules``), and the maps show the backbone's embedding. Each snapshot stores the head's score
of every test pair (``head_test_scores``, aligned with pairs.npz's ``test_pairs``), so the
explorer can put the head's ROC beside the distance's: seed 004's point is that BCE verifies well
and embeds poorly.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from training import rundir
from training.losses import SiameseBCELoss
from training.model import PairHead
from training.objectives.pairwise import RegimeTuples

HEAD_HIDDEN = 64  # units of the head's hidden layer


class SiameseBCE(RegimeTuples):
    kind = "pairs"

    def __init__(self, config, data, rng: np.random.Generator):
        super().__init__(config, data, rng)
        with torch.random.fork_rng(devices=[]):  # seeded weights, the global stream left untouched
            torch.manual_seed(config.seed)
            self.head = PairHead(config.embedding_dim, HEAD_HIDDEN)

    def make_criterion(self):
        return SiameseBCELoss()

    def modules(self) -> dict[str, nn.Module]:
        return {"head": self.head}

    def loss(self, network, images: torch.Tensor, batch: torch.Tensor) -> torch.Tensor:
        """One forward pass over both images of every pair, the head scoring the pairs in it."""
        b = len(batch)
        local = torch.arange(b, device=batch.device)
        _, outputs = network(images[torch.cat([batch[:, 0], batch[:, 1]])], {"head": (local, local + b)})
        return self.criterion(outputs["head"], batch[:, 2])

    @torch.no_grad()
    def scores(self, embeddings: torch.Tensor, pairs: torch.Tensor) -> torch.Tensor:
        """The head's probability that each (i, j, ·) pair is of one class."""
        was_training = self.head.training
        self.head.eval()
        logits = self.head(embeddings.float(), pairs[:, 0], pairs[:, 1])
        self.head.train(was_training)
        return torch.sigmoid(logits)

    def split_loss(self, split: str, embeddings: torch.Tensor) -> torch.Tensor:
        pairs = self.device_rows[split]
        return self.criterion(self.head(embeddings.float(), pairs[:, 0], pairs[:, 1]), pairs[:, 2])

    def snapshot_arrays(self, embeddings: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
        pairs = self.device_tuples.get("test_pairs")
        if pairs is None or "test" not in embeddings:
            return {}
        return {rundir.HEAD_TEST_SCORES: self.scores(embeddings["test"], pairs).cpu().numpy().astype(np.float32)}
