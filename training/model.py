"""Embedding networks. Both images of a pair pass through the same network, hence the same weights."""

from __future__ import annotations

import torch
from torch import nn


class EmbeddingNet(nn.Module):
    """Seed 000's starter CNN, for square grayscale images of any size from 16 px up."""

    def __init__(self, image_size: int = 28, embedding_dim: int = 2):
        super().__init__()
        self.constructor_args = {"image_size": image_size, "embedding_dim": embedding_dim}
        self.convnet = nn.Sequential(
            nn.Conv2d(1, 32, 5), nn.PReLU(), nn.MaxPool2d(2, stride=2),
            nn.Conv2d(32, 64, 5), nn.PReLU(), nn.MaxPool2d(2, stride=2),
        )
        side = ((image_size - 4) // 2 - 4) // 2
        self.fc = nn.Sequential(
            nn.Linear(64 * side * side, 256), nn.PReLU(),
            nn.Linear(256, 256), nn.PReLU(),
            nn.Linear(256, embedding_dim),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.convnet(x).flatten(1))


@torch.no_grad()
def embed(model: nn.Module, images: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
    """Embeddings of a stack of normalised images, in evaluation mode, batch by batch."""
    was_training = model.training
    model.eval()
    out = [model(images[i:i + batch_size]) for i in range(0, len(images), batch_size)]
    model.train(was_training)
    if not out:
        return images.new_zeros((0, model.constructor_args["embedding_dim"]))
    return torch.cat(out)


class Network(nn.Module):
    """What the loop trains: the backbone and the method's extra modules (e.g. a verification head).

    ``forward`` gives the backbone's embeddings in float32, whatever autocast computed them in, so
    every loss sees full-precision distances.
    """

    def __init__(self, backbone: nn.Module, extra: dict[str, nn.Module] | None = None):
        super().__init__()
        self.backbone = backbone
        self.extra = nn.ModuleDict(extra or {})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone(x).float()
