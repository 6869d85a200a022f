"""Magnet loss (seed 001; Rippel et al., "Metric learning with adaptive density discrimination").

- Clusters: K per class (``--magnet-k``), by k-means on the current training embeddings, refreshed
  at the start of epochs 1, 1 + r, 1 + 2r, ... (``--magnet-refresh`` r), so they follow the
  representation. Each k-means is seeded by the run's seed and the epoch alone, so a refresh gives
  the same clusters on every rank and after ``--resume``.
- Batches: a neighbourhood. A seed cluster drawn uniformly, and its m − 1 nearest impostor clusters
  (clusters of other classes, nearest by centre); each gives d examples (``--magnet-m``,
  ``--magnet-d``). An epoch is n_train / (m·d) batches.
- Loss: training.losses.MagnetLoss, with margin α (``--alpha``) and σ² estimated on the batch.
- Evaluation: a point takes the class with the largest softmax mass among its L closest cluster
  centres (``--magnet-l``); the explorer reports it as ``magnet_accuracy``.
- Saved with each snapshot: each point's cluster (column ``magnet_cluster``), and the centres, their
  classes and σ² (arrays ``magnet_centres``, ``magnet_centre_classes``, ``magnet_sigma2``).

The regime's random pairs are still drawn and saved, for the pair-distance monitoring and the
explorer's histograms.
"""

from __future__ import annotations

from typing import Callable, Iterator

import numpy as np
import torch

from training import rundir
from training.errors import InputError
from training.losses import MagnetLoss, magnet_terms
from training.objectives.pairwise import RegimeTuples
from training.objectives.samplers import Groups


def fit_clusters(embeddings: np.ndarray, labels: np.ndarray, k: int,
                 seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """k-means with ``k`` clusters in each class: ``(assignments, centres, centre_classes)``.

    ``assignments[n]`` indexes the rows of ``centres``. A class with fewer than ``k`` distinct
    points gets fewer clusters, never an empty one.
    """
    from sklearn.cluster import KMeans

    X = np.asarray(embeddings, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    assignments = np.full(len(labels), -1, np.int64)
    centres, classes = [], []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        distinct = len(np.unique(X[members], axis=0))
        n_clusters = max(1, min(k, distinct))
        state = int(np.random.SeedSequence([seed, int(c)]).generate_state(1)[0])
        found = KMeans(n_clusters, n_init=1, random_state=state).fit(X[members]).labels_
        used, found = np.unique(found, return_inverse=True)  # drop clusters left empty
        assignments[members] = len(centres) + found
        for cluster in range(len(used)):
            centres.append(X[members[found == cluster]].mean(axis=0))
            classes.append(int(c))
    return assignments, np.asarray(centres, np.float32), np.asarray(classes, np.int64)


def _check_clusters_fit(k: int, labels: np.ndarray, class_names: list[str]) -> None:
    """k clusters per class need at least k training images in every class."""
    counts = np.bincount(labels, minlength=len(class_names))
    present = np.flatnonzero(counts)
    smallest = present[counts[present].argmin()]
    if k > counts[smallest]:
        raise InputError(f"--magnet-k {k} is more clusters than the {counts[smallest]} training images of class "
                         f"{class_names[smallest]!r}; use at most {counts[smallest]}, or more training images")


def cluster_means(embeddings: torch.Tensor, assignments: torch.Tensor, n_clusters: int) -> torch.Tensor:
    """Each cluster's mean embedding."""
    sums = embeddings.new_zeros(n_clusters, embeddings.shape[1]).index_add(0, assignments, embeddings)
    counts = torch.bincount(assignments, minlength=n_clusters).clamp_min(1).to(embeddings.dtype)
    return sums / counts[:, None]


def cluster_variance(embeddings: torch.Tensor, assignments: torch.Tensor, centres: torch.Tensor) -> float:
    """σ² = Σ_n |r_n − μ(r_n)|² / (N − 1)."""
    squared = (embeddings - centres[assignments]).pow(2).sum(dim=1)
    return float(squared.sum() / max(len(embeddings) - 1, 1))


class Magnet(RegimeTuples):
    kind = "pairs"  # the regime's pairs: monitoring and the saved pairs only

    def __init__(self, config, data, rng: np.random.Generator):
        super().__init__(config, data, rng)
        self.labels = torch.from_numpy(np.asarray(data.train.labels, np.int64))
        _check_clusters_fit(config.magnet_k, np.asarray(data.train.labels, np.int64), data.class_names)
        self.split_labels = {s: torch.from_numpy(np.asarray(getattr(data, s).labels, np.int64))
                             for s in ("val", "test")}
        self.assignments: torch.Tensor | None = None  # training image -> cluster, from the last k-means
        self.centre_classes: torch.Tensor | None = None  # cluster -> class
        self.refreshed_at: int | None = None  # the epoch whose start fitted the clusters
        self.impostors: torch.Tensor | None = None  # cluster -> its nearest impostor clusters
        self.members: Groups | None = None
        self.device = torch.device("cpu")
        self._epoch_clusters: dict | None = None  # the last recorded epoch's centres and σ²

    def make_criterion(self):
        return MagnetLoss(self.config.alpha)

    # ------------------------------------------------------------ clusters

    def on_epoch_start(self, epoch: int, embed: Callable[[str], torch.Tensor]) -> None:
        if self.assignments is None or (epoch - 1) % self.config.magnet_refresh == 0:
            self.refresh(embed("train"), epoch)

    def refresh(self, train_embeddings: torch.Tensor, epoch: int) -> None:
        """k-means on the current embeddings; the sampler's tables follow."""
        assignments, centres, classes = fit_clusters(
            train_embeddings.float().cpu().numpy(), self.labels.cpu().numpy(), self.config.magnet_k,
            seed=self._kmeans_seed(epoch))
        self._set_clusters(torch.from_numpy(assignments), torch.from_numpy(classes),
                           torch.from_numpy(centres), epoch)

    def _kmeans_seed(self, epoch: int) -> int:
        return int(np.random.SeedSequence([self.config.seed, epoch]).generate_state(1)[0])

    def _set_clusters(self, assignments: torch.Tensor, classes: torch.Tensor, centres: torch.Tensor,
                      epoch: int) -> None:
        self.assignments = assignments.to(self.device)
        self.centre_classes = classes.to(self.device)
        self.refreshed_at = int(epoch)
        self.members = Groups(assignments.cpu().numpy(), len(classes)).to(self.device)
        self.impostors = nearest_impostors(centres.to(self.device), self.centre_classes, self.config.magnet_m - 1)

    def to(self, device: torch.device) -> "Magnet":
        super().to(device)
        self.device = torch.device(device)
        self.labels = self.labels.to(device)
        self.split_labels = {s: labels.to(device) for s, labels in self.split_labels.items()}
        if self.assignments is not None:
            self.assignments, self.centre_classes = self.assignments.to(device), self.centre_classes.to(device)
            self.members.to(device)
            self.impostors = self.impostors.to(device)
        return self

    # ------------------------------------------------------------ training

    def steps_per_epoch(self) -> int:
        return max(1, -(-len(self.labels) // (self.config.magnet_m * self.config.magnet_d)))

    def batches(self, epoch: int, generator: torch.Generator) -> Iterator[torch.Tensor]:
        """Rows (training image, its cluster): a seed cluster and its nearest impostors, d each."""
        n_clusters = len(self.centre_classes)
        for _ in range(self.steps_per_epoch()):
            seed = torch.randint(n_clusters, (1,), generator=generator, device=self.device)
            clusters = torch.cat([seed, self.impostors[seed[0]]])
            images = self.members.draw(clusters, self.config.magnet_d, generator)
            yield torch.stack([images.reshape(-1), clusters.repeat_interleave(self.config.magnet_d)], dim=1)

    def loss(self, network, images: torch.Tensor, batch: torch.Tensor) -> torch.Tensor:
        embeddings = network(images[batch[:, 0]])
        return self.criterion(embeddings, batch[:, 1], self.labels[batch[:, 0]])

    # ------------------------------------------------------------ monitoring and snapshots

    def clusters_now(self, train_embeddings: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, float]:
        """(assignments, centres, centre classes, σ²) with the centres and σ² of the current
        embeddings. Before the first refresh (the untrained network's snapshot) the clusters are
        fitted as epoch 1's refresh will fit them, without keeping them."""
        assignments, classes = self.assignments, self.centre_classes
        if assignments is None:
            found, _, found_classes = fit_clusters(train_embeddings.float().cpu().numpy(),
                                                   self.labels.cpu().numpy(), self.config.magnet_k,
                                                   seed=self._kmeans_seed(1))
            assignments = torch.from_numpy(found).to(train_embeddings.device)
            classes = torch.from_numpy(found_classes).to(train_embeddings.device)
        train = train_embeddings.float()
        centres = cluster_means(train, assignments, len(classes))
        return assignments, centres, classes, cluster_variance(train, assignments, centres)

    @torch.no_grad()
    def evaluate(self, split: str, embeddings: torch.Tensor) -> dict[str, float]:
        if split == "train":  # recorded first: the epoch's centres then serve the other splits
            self._epoch_clusters = dict(zip(("assignments", "centres", "classes", "sigma2"),
                                            self.clusters_now(embeddings)), train=embeddings)
        return super().evaluate(split, embeddings)

    def split_loss(self, split: str, embeddings: torch.Tensor) -> torch.Tensor:
        """The seed's formula over the whole split, against the training clusters' centres and σ²:
        a point's own cluster is the nearest centre of its class."""
        if self._epoch_clusters is None:
            return torch.tensor(float("nan"))
        found = self._epoch_clusters
        labels = self.split_labels[split] if split in self.split_labels else self.labels
        scaled = torch.cdist(embeddings.float(), found["centres"]).pow(2) / max(found["sigma2"], 1e-12)
        same = found["classes"][None, :] == labels[:, None]
        own = torch.where(same, scaled, torch.full_like(scaled, float("inf"))).min(dim=1).values
        return magnet_terms(own, scaled, ~same, self.config.alpha).mean()

    def snapshot_outputs(self, embeddings: dict[str, torch.Tensor]) -> dict:
        assignments, centres, _, _ = self._snapshot_clusters(embeddings)
        outputs = {}
        for split, points in embeddings.items():
            if split == "train":
                cluster = assignments
            else:
                cluster = torch.cdist(points.float(), centres).argmin(dim=1) if len(points) else points.new_zeros(0)
            outputs[split] = {rundir.MAGNET_CLUSTER: cluster.long().cpu().numpy()}
        return outputs

    def snapshot_arrays(self, embeddings: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
        _, centres, classes, sigma2 = self._snapshot_clusters(embeddings)
        return {rundir.MAGNET_CENTRES: centres.cpu().numpy().astype(np.float32),
                rundir.MAGNET_CENTRE_CLASSES: classes.cpu().numpy().astype(np.int64),
                rundir.MAGNET_SIGMA2: np.float64(sigma2)}

    def _snapshot_clusters(self, embeddings: dict[str, torch.Tensor]):
        found = self._epoch_clusters
        if found is not None and found["train"] is embeddings["train"]:  # evaluated on these
            return found["assignments"], found["centres"], found["classes"], found["sigma2"]
        return self.clusters_now(embeddings["train"])

    def state_dict(self) -> dict:
        if self.assignments is None:
            return {}
        return {"assignments": self.assignments.cpu(), "centre_classes": self.centre_classes.cpu(),
                "impostors": self.impostors.cpu(), "refreshed_at": self.refreshed_at}

    def load_state_dict(self, state: dict) -> None:
        if not state:
            return
        self.assignments = state["assignments"].to(self.device)
        self.centre_classes = state["centre_classes"].to(self.device)
        self.refreshed_at = int(state["refreshed_at"])
        self.members = Groups(self.assignments.cpu().numpy(), len(self.centre_classes)).to(self.device)
        self.impostors = state["impostors"].to(self.device)


def nearest_impostors(centres: torch.Tensor, classes: torch.Tensor, count: int) -> torch.Tensor:
    """(clusters, m') for each cluster its nearest clusters of other classes by centre distance,
    nearest first; m' = ``count``, or fewer where some cluster has fewer impostors."""
    distances = torch.cdist(centres.float(), centres.float())
    same = classes[:, None] == classes[None, :]
    distances = torch.where(same, torch.full_like(distances, float("inf")), distances)
    available = int((~same).sum(dim=1).min())
    return distances.argsort(dim=1, stable=True)[:, :min(count, available)]
