"""The seeds' losses. Each takes the embeddings of a batch and index tuples into it, chosen by a
sampler (training.pairs, training.objectives.samplers) or a miner, as in pytorch-metric-learning.
With no tuple it returns a zero that still supports backward."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


def pair_distances(embeddings: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Euclidean distances between rows a and b, with a finite gradient at zero distance."""
    squared = (embeddings[a] - embeddings[b]).pow(2).sum(dim=1)
    return squared.clamp_min(1e-30).sqrt()


CONTRASTIVE_FORMS = {  # --contrastive-form: each seed's contrastive loss per pair (y = 1: similar)
    "seed000": "½·y·d² + ½·(1−y)·max(0, m − d)²",
    "seed002": "y·d² + (1−y)·max(m − d, 0)",
    "seed004": "y·d + (1−y)·max(m − d, 0)",
}


class ContrastiveLoss(nn.Module):
    """The seeds' contrastive losses (CONTRASTIVE_FORMS), averaged over pairs; y = 1 for a similar
    pair. seed000 (the default) squares both terms and halves them; seed002 squares only the
    similar term; seed004 squares nothing."""

    def __init__(self, margin: float = 1.0, form: str = "seed000"):
        super().__init__()
        if form not in CONTRASTIVE_FORMS:
            raise ValueError(f"unknown contrastive form {form!r}; choose one of {', '.join(CONTRASTIVE_FORMS)}")
        self.margin, self.form = margin, form

    def forward(self, embeddings: torch.Tensor, pairs: tuple[torch.Tensor, ...]) -> torch.Tensor:
        a, b, similar = pairs
        if len(a) == 0:
            return embeddings.sum() * 0
        y = similar.to(embeddings.dtype)
        squared = (embeddings[a] - embeddings[b]).pow(2).sum(dim=1)
        d = squared.clamp_min(1e-30).sqrt()
        hinge = torch.relu(self.margin - d)
        if self.form == "seed002":
            loss = y * squared + (1 - y) * hinge
        elif self.form == "seed004":
            loss = y * d + (1 - y) * hinge
        else:
            loss = 0.5 * y * squared + 0.5 * (1 - y) * hinge.pow(2)
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


TRUE_POSITIVE, FALSE_NEGATIVE, NEGATIVE = 0, 1, 2  # the pair types of the three-way loss


class ThreeWayContrastiveLoss(nn.Module):
    """Seed 000, out-lab idea 2: a pair is a true positive (type 0: an anchor and one of its
    nearest same-class neighbours), a false negative (type 1: same class, not a neighbour) or a
    negative (type 2: another class). Per pair, averaged:

    ½·d² (type 0); ½·w_fn·max(0, m_fn − d)² (type 1); ½·max(0, m − d)² (type 2).

    With m_fn < m and w_fn < 1, false negatives are pushed away less than true negatives.
    """

    def __init__(self, margin: float = 1.0, margin_fn: float = 0.5, weight_fn: float = 0.5):
        super().__init__()
        self.margin, self.margin_fn, self.weight_fn = margin, margin_fn, weight_fn

    def forward(self, embeddings: torch.Tensor, pairs: tuple[torch.Tensor, ...]) -> torch.Tensor:
        a, b, kind = pairs
        if len(a) == 0:
            return embeddings.sum() * 0
        squared = (embeddings[a] - embeddings[b]).pow(2).sum(dim=1)
        d = squared.clamp_min(1e-30).sqrt()
        pull = 0.5 * squared
        push_fn = 0.5 * self.weight_fn * torch.relu(self.margin_fn - d).pow(2)
        push = 0.5 * torch.relu(self.margin - d).pow(2)
        loss = torch.where(kind == TRUE_POSITIVE, pull, torch.where(kind == FALSE_NEGATIVE, push_fn, push))
        return loss.mean()


class SiameseBCELoss(nn.Module):
    """Seeds 002 and 004: binary cross-entropy of a verification head's output, averaged over
    pairs: −[y·log σ(z) + (1 − y)·log(1 − σ(z))] for a pair's logit z (y = 1: same class)."""

    def forward(self, logits: torch.Tensor, similar: torch.Tensor) -> torch.Tensor:
        if len(logits) == 0:
            return logits.sum() * 0
        return F.binary_cross_entropy_with_logits(logits.float(), similar.float())


class MagnetLoss(nn.Module):
    """Seed 001's magnet loss over a neighbourhood batch, averaged over its N examples:

    { −log( exp(−|r_n − μ(r_n)|²/σ² − α) / Σ_{c ≠ C(r_n)} Σ_k exp(−|r_n − μ_k^c|²/σ²) ) }₊

    ``clusters`` names each example's cluster and ``classes`` its class. μ are the batch means of
    each cluster's examples and σ² = Σ_n |r_n − μ(r_n)|² / (N − 1), both estimated on the batch
    (gradients flow through them). The sum runs over the batch's clusters of other classes; an
    example with none (a batch of one class) contributes 0, as the {·}₊ of −log(x/0) does.
    """

    def __init__(self, alpha: float = 1.0):
        super().__init__()
        self.alpha = alpha

    def forward(self, embeddings: torch.Tensor, clusters: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
        n = len(embeddings)
        if n == 0:
            return embeddings.sum() * 0
        ids, member = torch.unique(clusters, return_inverse=True)
        sums = embeddings.new_zeros(len(ids), embeddings.shape[1]).index_add(0, member, embeddings)
        counts = torch.bincount(member, minlength=len(ids)).to(embeddings.dtype)
        means = sums / counts[:, None]
        cluster_class = torch.zeros(len(ids), dtype=classes.dtype, device=classes.device)
        cluster_class[member] = classes
        squared = (embeddings[:, None, :] - means[None, :, :]).pow(2).sum(dim=2)  # (N, M)
        own = squared[torch.arange(n, device=embeddings.device), member]
        variance = (own.sum() / max(n - 1, 1)).clamp_min(1e-12)
        return magnet_terms(own / variance, squared / variance,
                            cluster_class[None, :] != classes[:, None], self.alpha).mean()


def magnet_terms(own: torch.Tensor, scaled: torch.Tensor, impostor: torch.Tensor,
                 alpha: float) -> torch.Tensor:
    """Per example: {own + α + log Σ_impostors exp(−scaled)}₊, 0 where there is no impostor.

    ``own`` is |r − μ(r)|²/σ² (N,), ``scaled`` |r − μ|²/σ² for every cluster (N, M), and
    ``impostor`` (N, M) marks the clusters of other classes.
    """
    has = impostor.any(dim=1)
    logits = torch.where(impostor, -scaled, torch.full_like(scaled, float("-inf")))
    logits = torch.where(has[:, None], logits, torch.zeros_like(logits))  # keeps the gradient finite
    terms = torch.relu(own + alpha + torch.logsumexp(logits, dim=1))
    return torch.where(has, terms, torch.zeros_like(terms))
