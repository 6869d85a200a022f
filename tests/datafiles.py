"""Tiny data sets written on the fly, in the formats users bring: IDX files and class folders."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
from PIL import Image


def write_idx(folder: Path, n_train: int = 60, n_test: int = 20, n_classes: int = 10, seed: int = 0,
              prefix: str = "") -> Path:
    """MNIST-style IDX files (uncompressed) with digit-like blobs whose position encodes the class."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for split, n in (("train", n_train), ("t10k", n_test)):
        labels = np.arange(n) % n_classes
        images = rng.integers(0, 40, size=(n, 28, 28), dtype=np.uint8)
        for i, c in enumerate(labels):
            row, col = divmod(int(c), 4)
            images[i, 3 + 6 * row: 9 + 6 * row, 3 + 6 * col: 9 + 6 * col] = 250
        with open(folder / f"{prefix}{split}-images-idx3-ubyte", "wb") as f:
            f.write(struct.pack(">BBBBIII", 0, 0, 8, 3, n, 28, 28) + images.tobytes())
        with open(folder / f"{prefix}{split}-labels-idx1-ubyte", "wb") as f:
            f.write(struct.pack(">BBBBI", 0, 0, 8, 1, n) + labels.astype(np.uint8).tobytes())
    return folder


def write_class_folders(root: Path, classes=("alpha", "beta", "gamma"), per_class: int = 12,
                        size: tuple[int, int] = (40, 30), seed: int = 0) -> Path:
    """RGB PNGs in one folder per class; each class is a bright square in its own corner."""
    rng = np.random.default_rng(seed)
    for c, name in enumerate(classes):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            pixels = rng.integers(0, 50, size=(size[1], size[0], 3), dtype=np.uint8)
            top, left = (0, 0) if c == 0 else (size[1] // 2, 0) if c == 1 else (0, size[0] // 2)
            pixels[top: top + size[1] // 2, left: left + size[0] // 2] = 230
            Image.fromarray(pixels).save(root / name / f"{i:03d}.png")
    return root
