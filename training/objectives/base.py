"""The shape of a training method, as the loop sees it."""

from __future__ import annotations

from typing import Any, Callable, Iterator

import numpy as np
import torch
from torch import nn

class Objective:
    """One training method. Subclasses implement ``steps_per_epoch``, ``batches`` and ``loss``.

    The loop calls, in order: ``backbone()`` and ``modules()`` once (the embedding network, and
    extra trainable modules, such as a verification head, trained and checkpointed with it); then
    per epoch ``on_epoch_start``, and for each index tuple batch from ``batches`` the ``loss`` (a
    method with nothing to train has no batches); then ``evaluate`` on every split's
    embeddings, and ``snapshot_outputs`` and ``snapshot_arrays`` for the snapshot.
    ``state_dict``/``load_state_dict`` carry whatever the method changes during training (for
    ``--resume``).
    """

    def __init__(self, config, data, rng: np.random.Generator):
        self.config = config
        self.data = data

    # ------------------------------------------------------------ before training

    def saved_tuples(self) -> dict[str, np.ndarray]:
        """Index arrays for pairs.npz, e.g. ``train_pairs`` (i, j, similar), per split."""
        return {}

    def backbone(self, model_args: dict) -> nn.Module:
        """The network that embeds the images: ``--backbone`` from training.backbones, unless the
        method brings its own (PCA's projection)."""
        from training.backbones import make

        return make(self.config, model_args)

    def modules(self) -> dict[str, nn.Module]:
        """Extra trainable modules beside the backbone, by name."""
        return {}

    # ------------------------------------------------------------ training

    def to(self, device: torch.device) -> "Objective":
        """Move whatever the sampler holds to the training device (batches are drawn there)."""
        return self

    def steps_per_epoch(self) -> int:
        raise NotImplementedError

    def batches(self, epoch: int, generator: torch.Generator) -> Iterator[torch.Tensor]:
        """Index tuples of each batch of one epoch, on the training device, from ``generator``."""
        raise NotImplementedError

    def loss(self, network: nn.Module, images: torch.Tensor, batch: torch.Tensor) -> torch.Tensor:
        """The batch's loss. ``network(x)`` gives float32 embeddings; call it once per step."""
        raise NotImplementedError

    def on_epoch_start(self, epoch: int, embed: Callable[[str], torch.Tensor]) -> None:
        """Per-epoch hook; ``embed(split)`` gives the current embeddings of a split."""

    # ------------------------------------------------------------ monitoring and snapshots

    def evaluate(self, split: str, embeddings: torch.Tensor) -> dict[str, float]:
        """Figures of one split for metrics.csv (``loss``, ``pos_dist``, ``neg_dist``), or {}."""
        return {}

    def snapshot_outputs(self, embeddings: dict[str, torch.Tensor]) -> dict[str, Any]:
        """Extra per-split columns to store with a snapshot, e.g. cluster assignments:
        ``{split: {column: values for every row of the split}}`` (see rundir.SNAPSHOT_COLUMNS)."""
        return {}

    def snapshot_arrays(self, embeddings: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
        """Extra arrays to store with a snapshot, e.g. cluster centres or a head's pair scores
        (see rundir.SNAPSHOT_ARRAYS); written beside it as epoch-NNNNNN.npz."""
        return {}

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass
