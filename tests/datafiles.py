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


def tiny_splits(n_per_class: int = 12, classes: int = 3, size: int = 16, seed: int = 0, n_held: int = 4):
    """In-memory DataSplits of random images: ``n_per_class`` training images of each class and
    ``n_held`` each for validation and test (for the objectives, without files)."""
    from training.data import DataSplits, ImageSet

    rng = np.random.default_rng(seed)

    def part(n):
        labels = np.arange(n * classes) % classes
        return ImageSet(rng.integers(0, 255, (len(labels), size, size), dtype=np.uint8), labels)

    return DataSplits(part(n_per_class), part(n_held), part(n_held), [f"c{c}" for c in range(classes)], 0.5, 0.3)
