"""The shifted-augmented test set of seed 000: test images translated horizontally."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Shifted:
    """Shifted copies of the test images."""
    images: np.ndarray  # uint8, (n, h, w)
    shift: np.ndarray  # int32 px per copy; positive moves right
    source_index: np.ndarray  # int64, the test row each copy was made from


def shift_images(images: np.ndarray, shifts: list[int]) -> Shifted:
    """Translate every image horizontally by every shift, with zero fill and no wrap-around.

    The copies come in shift-major order: all images at the first shift, then at the second, ...
    """
    images = np.asarray(images, dtype=np.uint8)
    if not shifts:
        empty = np.zeros((0, *images.shape[1:]), np.uint8)
        return Shifted(empty, np.zeros(0, np.int32), np.zeros(0, np.int64))
    copies = [_translate(images, int(s)) for s in shifts]
    n = len(images)
    shift = np.repeat(np.asarray(shifts, np.int32), n)
    source = np.tile(np.arange(n, dtype=np.int64), len(shifts))
    return Shifted(np.concatenate(copies), shift, source)


def _translate(images: np.ndarray, shift: int) -> np.ndarray:
    """Every image moved ``shift`` pixels to the right (left if negative), zeros coming in."""
    moved = np.zeros_like(images)
    if shift > 0:
        moved[:, :, shift:] = images[:, :, :-shift]
    elif shift < 0:
        moved[:, :, :shift] = images[:, :, -shift:]
    else:
        moved[:] = images
    return moved
