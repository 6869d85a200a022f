"""Batch samplers that draw on the training device from the loop's seeded ``torch.Generator``.

pytorch-metric-learning's ``MPerClassSampler`` draws from numpy's global random state on the host,
so it can neither follow the run's seed nor be restored by ``--resume``; these draw the same
batches for the same generator state, wherever the data lives.
"""

from __future__ import annotations

import numpy as np
import torch

from training.errors import InputError


class Groups:
    """Index groups (the images of each class, or of each cluster) as one padded table, so a batch
    can draw from several groups at once on the device."""

    def __init__(self, group_of: np.ndarray, n_groups: int | None = None):
        group_of = np.asarray(group_of, dtype=np.int64)
        n_groups = int(group_of.max()) + 1 if n_groups is None else n_groups
        counts = np.bincount(group_of, minlength=n_groups)
        order = np.argsort(group_of, kind="stable")
        table = np.full((n_groups, max(1, int(counts.max(initial=0)))), -1, np.int64)
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        for g in range(n_groups):
            table[g, :counts[g]] = order[starts[g]:starts[g] + counts[g]]
        self.table = torch.from_numpy(table)  # (groups, largest group), -1 padded
        self.counts = torch.from_numpy(counts)

    def to(self, device: torch.device) -> "Groups":
        self.table, self.counts = self.table.to(device), self.counts.to(device)
        return self

    def draw(self, groups: torch.Tensor, k: int, generator: torch.Generator) -> torch.Tensor:
        """(len(groups), k) members of each group: k different ones, in random order, where the
        group has at least k; a smaller group gives all its members, then repeats them."""
        counts = self.counts[groups]
        keys = torch.rand((len(groups), self.table.shape[1]), generator=generator, device=self.table.device)
        column = torch.arange(self.table.shape[1], device=self.table.device)
        keys = torch.where(column[None, :] < counts[:, None], keys, torch.full_like(keys, 2.0))
        order = keys.argsort(dim=1)  # a random permutation of each group's members comes first
        take = torch.arange(k, device=self.table.device)[None, :] % counts[:, None].clamp_min(1)
        return self.table[groups[:, None], order.gather(1, take)]


class ClassBalancedSampler:
    """P×K batches for mining (seed 004, FaceNet-style): each batch holds P different classes and
    K images of each, different images wherever the class has K or more. An epoch is as many
    batches as it takes to show about every training image once."""

    def __init__(self, labels: np.ndarray, classes_per_batch: int | None, images_per_class: int):
        labels = np.asarray(labels, dtype=np.int64)
        present = np.unique(labels)
        if classes_per_batch is None:
            classes_per_batch = min(len(present), 10)
        if classes_per_batch > len(present):
            raise InputError(f"--classes-per-batch {classes_per_batch} is more than the "
                             f"{len(present)} classes of the training set")
        self.classes = torch.from_numpy(present)
        self.groups = Groups(labels)
        self.p, self.k = int(classes_per_batch), int(images_per_class)
        self.n_images = len(labels)

    @property
    def batch_size(self) -> int:
        return self.p * self.k

    def to(self, device: torch.device) -> "ClassBalancedSampler":
        self.classes = self.classes.to(device)
        self.groups.to(device)
        return self

    def steps_per_epoch(self) -> int:
        return max(1, -(-self.n_images // self.batch_size))

    def draw(self, generator: torch.Generator) -> torch.Tensor:
        """One batch of P·K training-image indices, class by class."""
        chosen = torch.randperm(len(self.classes), generator=generator, device=self.classes.device)[:self.p]
        return self.groups.draw(self.classes[chosen], self.k, generator).reshape(-1)
