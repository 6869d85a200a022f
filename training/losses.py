"""The seeds' losses. Each takes the embeddings of a batch and index tuples into it, chosen by a
sampler (training.pairs), as in pytorch-metric-learning. With no tuple it returns a zero that
still supports backward."""

from __future__ import annotations

import torch
from torch import nn


def pair_distances(embeddings: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Euclidean distances between rows a and b, with a finite gradient at zero distance."""
    squared = (embeddings[a] - embeddings[b]).pow(2).sum(dim=1)
    return squared.clamp_min(1e-30).sqrt()


class ContrastiveLoss(nn.Module):
    """Seed 000: ½·y·d² + ½·(1−y)·max(0, m − d)², averaged over pairs; y = 1 for a similar pair."""

    def __init__(self, margin: float = 1.0):
        super().__init__()
        self.margin = margin

    def forward(self, embeddings: torch.Tensor, pairs: tuple[torch.Tensor, ...]) -> torch.Tensor:
        a, b, similar = pairs
        if len(a) == 0:
            return embeddings.sum() * 0
        y = similar.to(embeddings.dtype)
        squared = (embeddings[a] - embeddings[b]).pow(2).sum(dim=1)
        d = squared.clamp_min(1e-30).sqrt()
        loss = 0.5 * y * squared + 0.5 * (1 - y) * torch.relu(self.margin - d).pow(2)
        return loss.mean()


class TripletLoss(nn.Module):
    """Seed 004: max(d(a, p) − d(a, n) + margin, 0), averaged over triplets."""

    def __init__(self, margin: float = 1.0):
        super().__init__()
        self.margin = margin

    def forward(self, embeddings: torch.Tensor, triplets: tuple[torch.Tensor, ...]) -> torch.Tensor:
        a, p, n = triplets
        if len(a) == 0:
            return embeddings.sum() * 0
        d_ap = pair_distances(embeddings, a, p)
        d_an = pair_distances(embeddings, a, n)
        return torch.relu(d_ap - d_an + self.margin).mean()


def make_loss(name: str, margin: float) -> nn.Module:
    return {"contrastive": ContrastiveLoss, "triplet": TripletLoss}[name](margin)
