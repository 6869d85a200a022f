"""The backbones of ``--backbone``: networks that embed an image, registered by name in ``REGISTRY``.

Every backbone takes ``(image_size, embedding_dim, normalize)``, accepts square grayscale images
from 16 px up (28 and 64 px included), and names its ``head``: the layer new to the task, which
alone trains under ``--freeze`` (seed 002, transfer approach 1; without it every layer is
fine-tuned, approach 2). ``--pretrained PATH`` starts the layers below the head from local weights:
a state dict, or a run's checkpoint.pt, read with ``weights_only=True``; nothing is downloaded.
``training.config.BACKBONES`` lists the same names without importing torch.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Callable, NamedTuple

import torch
from torch import nn

from training.errors import InputError
from training.model import Backbone, EmbeddingNet

VGG_DROPOUT = 0.1  # spatial dropout rate of the VGG branch; seed 004's table does not give it


class SmallCNN(EmbeddingNet):
    """Seed 000's out-lab net: conv 1→16 5×5, PReLU, max-pool; conv 16→64 3×3, PReLU, max-pool;
    fully connected 64·s·s → 256 → 64 → D with PReLU (s = 5 at 28 px)."""

    name = "small-cnn"
    convolutions = ((16, 5), (64, 3))
    hidden = (256, 64)


class VGGBranch(Backbone):
    """Seed 004's "SiameseBranch", layer by layer as its table lists them: three blocks of two
    3×3 convolutions (8, 16, 32 channels, same padding), each block followed by batch-norm, an
    activation (ReLU) and spatial dropout, and the first two by a 2×2 max-pool (the table flattens
    7·7·32 at 28 px); then dense 256, batch-norm, ReLU, and the dense embedding. The table shows no
    activation between a block's two convolutions, so there is none here."""

    name = "vgg"

    def __init__(self, image_size: int = 28, embedding_dim: int = 32, normalize: bool = False):
        super().__init__(image_size, embedding_dim, normalize)
        layers: list[nn.Module] = []
        for block, (cin, cout) in enumerate(((1, 8), (8, 16), (16, 32))):
            layers += [nn.Conv2d(cin, cout, 3, padding=1), nn.Conv2d(cout, cout, 3, padding=1),
                       nn.BatchNorm2d(cout), nn.ReLU(), nn.Dropout2d(VGG_DROPOUT)]
            if block < 2:
                layers.append(nn.MaxPool2d(2))
        self.features = nn.Sequential(*layers)
        side = image_size // 4
        self.dense = nn.Sequential(nn.Linear(32 * side * side, 256), nn.BatchNorm1d(256), nn.ReLU())
        self.embedding = nn.Linear(256, embedding_dim)

    @property
    def head(self) -> nn.Module:
        return self.embedding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.finish(self.embedding(self.dense(self.features(x).flatten(1))))


class ResNet18(Backbone):
    """torchvision's ResNet-18 (``weights=None``) with a stem for small one-channel images: a 3×3
    convolution with stride 1 and no max-pool, so a 28 px image still has 4×4 cells in its last
    stage; its classifier ``fc`` is replaced by the head to D."""

    name = "resnet18"

    def __init__(self, image_size: int = 28, embedding_dim: int = 2, normalize: bool = False):
        super().__init__(image_size, embedding_dim, normalize)
        from torchvision.models import resnet18  # torchvision takes seconds to import

        self.body = resnet18(weights=None)
        self.body.conv1 = nn.Conv2d(1, 64, 3, stride=1, padding=1, bias=False)
        self.body.maxpool = nn.Identity()
        self.body.fc = nn.Linear(self.body.fc.in_features, embedding_dim)

    @property
    def head(self) -> nn.Module:
        return self.body.fc

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.finish(self.body(x))

    def adapt_weights(self, state: dict) -> dict:
        """torchvision's own keys (an ImageNet file) gain the ``body.`` prefix; an RGB stem is
        summed over its colour channels, and a 7×7 one cut to its centre 3×3."""
        if not any(k.startswith("body.") for k in state):
            state = {f"body.{k}": v for k, v in state.items()}
        stem = state.get("body.conv1.weight")
        if isinstance(stem, torch.Tensor) and stem.ndim == 4:
            stem = stem.sum(dim=1, keepdim=True) if stem.shape[1] == 3 else stem
            cut = (stem.shape[-1] - 3) // 2
            if cut > 0 and stem.shape[-1] == stem.shape[-2]:
                stem = stem[..., cut:cut + 3, cut:cut + 3]
            state = {**state, "body.conv1.weight": stem.contiguous()}
        return state


class Entry(NamedTuple):
    build: Callable[..., Backbone]
    help: str  # one line for the docs and the app


REGISTRY: dict[str, Entry] = {
    "seed-cnn": Entry(EmbeddingNet, "seed 000's starter CNN: conv 32 and 64 5×5, fully connected 256, 256, D"),
    "small-cnn": Entry(SmallCNN, "seed 000's out-lab net: conv 16 5×5 and 64 3×3, fully connected 256, 64, D"),
    "vgg": Entry(VGGBranch, "seed 004's VGG branch: three blocks of two 3×3 convs (8, 16, 32) with "
                            "batch-norm and spatial dropout, dense 256, D"),
    "resnet18": Entry(ResNet18, "torchvision's ResNet-18 with a one-channel 3×3 stem, no max-pool, "
                                "a new head to D"),
}


def build(name: str, **args) -> Backbone:
    return REGISTRY[name].build(**args)


def make(config, model_args: dict) -> Backbone:
    """The run's backbone: ``--backbone`` built from ``model_args``, started from ``--pretrained``
    weights and frozen below its head with ``--freeze``."""
    backbone = build(config.backbone, **model_args)
    if config.pretrained:
        load_pretrained(backbone, config.pretrained)
    if config.freeze:
        freeze(backbone)
    return backbone


def freeze(backbone: Backbone) -> None:
    """Train only the head: every other parameter stops taking gradients, and every other module
    stays in evaluation mode."""
    head = {id(p) for p in backbone.head.parameters()}
    for p in backbone.parameters():
        p.requires_grad_(id(p) in head)
    backbone.frozen = True
    backbone.train(backbone.training)


def load_pretrained(backbone: Backbone, path: str) -> None:
    """Load every weight below the head from ``path``; InputError, in one line, if it does not fit."""
    state = _read_state_dict(path)
    state = backbone.adapt_weights(state)
    own = backbone.state_dict()
    head = _head_prefix(backbone)
    wanted = [k for k in own if not k.startswith(head)]
    missing = [k for k in wanted if k not in state]
    if missing:
        raise InputError(f"--pretrained {path} does not fit --backbone {backbone.name}: it lacks "
                         f"{len(missing)} of the {len(wanted)} weights below the head (first: {missing[0]})")
    for k in wanted:
        if tuple(state[k].shape) != tuple(own[k].shape):
            raise InputError(f"--pretrained {path} does not fit --backbone {backbone.name}: {k} is "
                             f"{tuple(state[k].shape)} there and {tuple(own[k].shape)} here")
    backbone.load_state_dict({k: state[k] for k in wanted}, strict=False)


def _read_state_dict(path: str) -> dict:
    file = Path(path).expanduser()
    if not file.is_file():
        raise InputError(f"--pretrained {path} does not exist or is not a file")
    try:
        with warnings.catch_warnings():  # torch's two lines about a pickle protocol would precede ours
            warnings.simplefilter("ignore", UserWarning)
            saved = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises several types for a file that is not weights
        raise InputError(f"--pretrained {path} cannot be read as weights ({type(e).__name__})") from None
    if isinstance(saved, dict):
        saved = saved.get("model_state", saved.get("state_dict", saved))  # a checkpoint, or weights
    if not isinstance(saved, dict) or not saved or not all(isinstance(v, torch.Tensor) for v in saved.values()):
        raise InputError(f"--pretrained {path} holds no state dict of weights")
    return saved


def _head_prefix(backbone: Backbone) -> str:
    name = next(n for n, m in backbone.named_modules() if m is backbone.head)
    return f"{name}."
