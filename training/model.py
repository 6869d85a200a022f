"""Embedding networks. Both images of a pair pass through the same network, hence the same weights."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class EmbeddingNet(nn.Module):
    """Seed 000's starter CNN, for square grayscale images of any size from 16 px up.

    With ``normalize`` the embedding is L2-normalised (seed 004), here in the backbone, so that the
    maps, histograms and classifiers see the same unit vectors as the loss.
    """

    def __init__(self, image_size: int = 28, embedding_dim: int = 2, normalize: bool = False):
        super().__init__()
        self.constructor_args = {"image_size": image_size, "embedding_dim": embedding_dim,
                                 "normalize": normalize}
        self.normalize = normalize
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
        out = self.fc(self.convnet(x).flatten(1))
        if self.normalize:
            out = F.normalize(out.float(), dim=1)  # in float32 whatever autocast computed
        return out


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
