"""Embedding networks. Both images of a pair pass through the same network, hence the same weights.

``Backbone`` is what every network of ``training.backbones`` shares: the arguments that rebuild it,
an optional L2 normalisation of the embedding (``--normalize``), and a ``head``, the layer new to
the task, which alone trains under ``--freeze``. ``Network`` puts a backbone and a method's extra
modules (a verification head, a decoder) into the one module the loop trains.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class Backbone(nn.Module):
    """An embedding network: ``constructor_args`` rebuild it (a checkpoint stores them), ``name``
    is its key in ``training.backbones.REGISTRY``, ``head`` the part that ``--freeze`` trains.

    Frozen (``training.backbones.freeze``), every module outside the head stays in evaluation
    mode, so batch-norm statistics and dropout stay fixed too, as in Keras's ``trainable=False``.
    """

    name = ""
    frozen = False

    def __init__(self, image_size: int, embedding_dim: int, normalize: bool):
        super().__init__()
        self.constructor_args = {"image_size": image_size, "embedding_dim": embedding_dim,
                                 "normalize": normalize}
        self.normalize = normalize

    @property
    def head(self) -> nn.Module:
        raise NotImplementedError

    def finish(self, out: torch.Tensor) -> torch.Tensor:
        """The embedding: L2-normalised with ``normalize`` (seed 004), here in the backbone, so that
        the maps, histograms and classifiers see the same unit vectors as the loss."""
        if self.normalize:
            out = F.normalize(out.float(), dim=1)  # in float32 whatever autocast computed
        return out

    def train(self, mode: bool = True) -> "Backbone":
        super().train(mode)
        if self.frozen:
            head = set(self.head.modules())
            for module in self.modules():
                if module is not self and module not in head:
                    module.training = False
        return self

    def adapt_weights(self, state: dict) -> dict:
        """Weights saved elsewhere (``--pretrained``), renamed and reshaped to fit this network."""
        return state


class EmbeddingNet(Backbone):
    """Seed 000's starter CNN (``seed-cnn``), for square grayscale images of any size from 16 px up:
    two convolutions, each with PReLU and a 2×2 max-pool, then fully connected layers with PReLU and
    the embedding. Subclasses change only the widths (``small-cnn``, training.backbones.SmallCNN)."""

    name = "seed-cnn"
    convolutions = ((32, 5), (64, 5))  # (channels, kernel size) of each convolution
    hidden = (256, 256)  # widths of the fully connected layers before the embedding

    def __init__(self, image_size: int = 28, embedding_dim: int = 2, normalize: bool = False):
        super().__init__(image_size, embedding_dim, normalize)
        layers, channels, side = [], 1, image_size
        for out, kernel in self.convolutions:
            layers += [nn.Conv2d(channels, out, kernel), nn.PReLU(), nn.MaxPool2d(2, stride=2)]
            channels, side = out, (side - kernel + 1) // 2
        self.convnet = nn.Sequential(*layers)
        dense, width = [], channels * side * side
        for out in self.hidden:
            dense += [nn.Linear(width, out), nn.PReLU()]
            width = out
        self.fc = nn.Sequential(*dense, nn.Linear(width, embedding_dim))

    @property
    def head(self) -> nn.Module:
        return self.fc[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.finish(self.fc(self.convnet(x).flatten(1)))


class PairHead(nn.Module):
    """Seed 004's Siamese verification head: the two embeddings of a pair, concatenated, through a
    small MLP with one output. ``forward`` gives the logit; sigmoid(logit) is the probability that
    the pair is of one class."""

    def __init__(self, embedding_dim: int, hidden: int = 64):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(2 * embedding_dim, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def forward(self, embeddings: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Logits of the pairs (embeddings[a], embeddings[b]), in float32."""
        pairs = torch.cat([embeddings[a], embeddings[b]], dim=1)
        return self.mlp(pairs).squeeze(1).float()


@torch.no_grad()
def embed(model: nn.Module, images: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
    """Embeddings of a stack of normalised images, in evaluation mode (batch-norm statistics and no
    dropout), batch by batch."""
    was_training = model.training
    model.eval()
    out = [model(images[i:i + batch_size]) for i in range(0, len(images), batch_size)]
    model.train(was_training)
    if not out:
        return images.new_zeros((0, model.constructor_args["embedding_dim"]))
    return torch.cat(out)


class Network(nn.Module):
    """What the loop trains: the backbone and the method's extra modules (e.g. a verification head).

    ``network(x)`` gives the backbone's embeddings in float32, whatever autocast computed them in,
    so every loss sees full-precision distances. ``network(x, {name: args})`` also runs extra
    modules on those embeddings, as ``extra[name](embeddings, *args)``, inside the same forward
    call (the one DistributedDataParallel and torch.compile see), and returns
    ``(embeddings, {name: output})``.
    """

    def __init__(self, backbone: nn.Module, extra: dict[str, nn.Module] | None = None):
        super().__init__()
        self.backbone = backbone
        self.extra = nn.ModuleDict(extra or {})

    def forward(self, x: torch.Tensor, extra_inputs: dict[str, tuple] | None = None):
        embeddings = self.backbone(x).float()
        if extra_inputs is None:
            return embeddings
        return embeddings, {name: self.extra[name](embeddings, *args) for name, args in extra_inputs.items()}
