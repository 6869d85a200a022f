"""Horizontal shifts (seed 000): the shifted-augmented test set, and ``--train-shifts``, shifted
copies of the training images that join training (seed 000, question 8: reduce the confusion of
shifted images by training on them).

With ``--train-shifts`` the training split holds the original images first, then their copies in
shift-major order (``DataSplits.train_copies`` says which shift and source row each has). An image
and its own copies count as similar: they share its class, so class-based methods (a classifier,
P×K mining, magnet) see them as one class; under a pair regime, each copy takes its source's
tuples with the source itself as the positive (``tuples_with_copies``). Validation, test and the
normalisation statistics stay those of the original images.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from training.data import DataSplits, ImageSet


@dataclass
class Shifted:
    """Shifted copies of a split's images."""
    images: np.ndarray  # uint8, (n, h, w)
    shift: np.ndarray  # int32 px per copy; positive moves right
    source_index: np.ndarray  # int64, the row of the split each copy was made from


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


# ---------------------------------------------------------------- --train-shifts


def with_train_shifts(data: DataSplits, shifts: list[int]) -> DataSplits:
    """``data`` with shifted copies of its training images appended to train, same labels."""
    if not shifts:
        return data
    copies = shift_images(data.train.images, shifts)
    train = ImageSet(np.concatenate([data.train.images, copies.images]),
                     np.concatenate([data.train.labels, data.train.labels[copies.source_index]]))
    return dataclasses.replace(data, train=train, train_copies=copies)


def originals(train: ImageSet, copies: Shifted | None) -> ImageSet:
    """The training images without their shifted copies (the first rows)."""
    return train if copies is None else train.subset(np.arange(len(train) - len(copies.images)))


def tuples_with_copies(drawn: dict[str, np.ndarray], copies: Shifted | None,
                       first_copy: int) -> dict[str, np.ndarray]:
    """The tuples a regime drew on the original training images, and for every copy (rows from
    ``first_copy`` on) its source's tuples with the copy as anchor and the source as positive:
    triplet (a, p, n) → (copy, source, n); pair (a, j, 1) → (copy, source, 1); pair (a, j, 0) →
    (copy, j, 0). Arrays aligned with the pairs (``pair_types``) follow their rows."""
    if copies is None:
        return drawn
    source = copies.source_index
    out = dict(drawn)
    if "triplets" in drawn:
        rows, copy = _rows_anchored_at(drawn["triplets"][:, 0], source)
        added = drawn["triplets"][rows].copy()
        added[:, 0], added[:, 1] = first_copy + copy, source[copy]
        out["triplets"] = np.concatenate([drawn["triplets"], added])
    if "pairs" in drawn:
        rows, copy = _rows_anchored_at(drawn["pairs"][:, 0], source)
        added = drawn["pairs"][rows].copy()
        added[:, 0] = first_copy + copy
        similar = added[:, 2] == 1
        added[similar, 1] = source[copy][similar]
        out["pairs"] = np.concatenate([drawn["pairs"], added])
        for name, values in drawn.items():
            if name not in ("pairs", "triplets") and len(values) == len(drawn["pairs"]):
                out[name] = np.concatenate([values, values[rows]])
    return out


def _rows_anchored_at(anchors: np.ndarray, source: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every row whose anchor is ``source[k]``, for each k: ``(rows, k of each row)``."""
    order = np.argsort(anchors, kind="stable")
    starts = np.searchsorted(anchors[order], source, "left")
    counts = np.searchsorted(anchors[order], source, "right") - starts
    copy = np.repeat(np.arange(len(source)), counts)
    within = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    return order[np.repeat(starts, counts) + within], copy
