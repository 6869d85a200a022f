"""Losses with one learnable vector per class, from pytorch-metric-learning: ArcFace and Proxy-Anchor.

- ``arcface``: ``losses.ArcFaceLoss``, an additive angular margin (``--arcface-margin`` degrees)
  between an embedding and its class's weight vector, softmax at ``--arcface-scale``.
- ``proxy-anchor``: ``losses.ProxyAnchorLoss``, each class's proxy the anchor of its positives
  and negatives in the batch (``--proxy-margin`` δ, ``--proxy-alpha`` α).

Both draw batches of training images (every image once per epoch, as the classifier does) and
need no pairs. The loss, with its class vectors, is the method's module: the loop trains it with
the backbone (Adam over both), checkpoints it and resumes it like the BCE head. The regime's
pairs serve the monitoring, pairs.npz and the explorer's histograms, as for the baselines.
"""

from __future__ import annotations

import torch
from torch import nn

from training.objectives.baselines import ImageBatches


class ClassVectors(ImageBatches):
    """A pytorch-metric-learning loss over (embeddings, labels) whose class vectors train."""

    name = ""  # the module's name in the network and its checkpoint

    def build(self, n_classes: int) -> nn.Module:
        raise NotImplementedError

    def make_criterion(self):
        return self.seeded(lambda: self.build(len(self.data.class_names)))

    def modules(self) -> dict[str, nn.Module]:
        return {self.name: self.criterion}

    def loss(self, network, images: torch.Tensor, batch: torch.Tensor) -> torch.Tensor:
        """One forward pass; the loss runs inside it, as a module of the network (DDP sees it)."""
        _, outputs = network(images[batch], {self.name: (self.labels["train"][batch],)})
        return outputs[self.name]

    def split_loss(self, split: str, embeddings: torch.Tensor) -> torch.Tensor:
        return self.criterion(embeddings.float(), self.labels[split])


class ArcFace(ClassVectors):
    name = "arcface"

    def build(self, n_classes: int) -> nn.Module:
        from pytorch_metric_learning import losses

        return losses.ArcFaceLoss(n_classes, self.config.embedding_dim, margin=self.config.arcface_margin,
                                  scale=self.config.arcface_scale)


class ProxyAnchor(ClassVectors):
    name = "proxy-anchor"

    def build(self, n_classes: int) -> nn.Module:
        from pytorch_metric_learning import losses

        return losses.ProxyAnchorLoss(n_classes, self.config.embedding_dim, margin=self.config.proxy_margin,
                                      alpha=self.config.proxy_alpha)
