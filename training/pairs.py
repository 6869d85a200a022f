"""Pair regimes of seed 000: which images are shown to the network as similar and as dissimilar.

Every anchor image gets one positive and one negative partner, drawn by the regime:

- ``random``: a random same-class image and a random other-class image (the in-lab).
- ``nn-other``: one of the anchor's k nearest same-class neighbours in pixel space, and a random
  other-class image (out-lab regime 1).
- ``nn-non-neighbour``: positive as in ``nn-other``; the negative is drawn from the other-class
  images together with the same-class images that are not nearest neighbours of the anchor (in
  either direction) (out-lab regime 2).

An anchor with its two partners is a triplet (anchor, positive, negative). The contrastive loss sees
it as two pairs, (anchor, positive, 1) and (anchor, negative, 0). Everything is drawn from a seeded
generator, so the same seed gives the same pairs.
"""

from __future__ import annotations

import numpy as np

from training.errors import InputError


def pixel_neighbours(images: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """(n, k) indices of each image's k nearest same-class images, Euclidean in pixel space
    (exact, computed in chunks with torch, never an n×n matrix)."""
    import torch

    flat = torch.from_numpy(np.asarray(images, np.float32).reshape(len(images), -1) / 255.0)
    neighbours = np.empty((len(images), k), np.int64)
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        if len(members) <= k:
            raise InputError(
                f"a class has only {len(members)} training images; choose --nn-k below "
                f"{len(members)} or add images"
            )
        neighbours[members] = members[_nearest_others(flat[members], k)]
    return neighbours


def _nearest_others(points, k: int, chunk_elements: int = 1 << 24) -> np.ndarray:
    """For each row, the positions of its k nearest other rows."""
    import torch

    rows = max(1, chunk_elements // len(points))
    found = []
    for start in range(0, len(points), rows):
        distances = torch.cdist(points[start:start + rows], points)
        own = torch.arange(start, start + len(distances))
        distances[torch.arange(len(distances)), own] = float("inf")  # never its own neighbour
        found.append(distances.topk(k, dim=1, largest=False).indices)
    return torch.cat(found).numpy()


def draw_triplets(labels: np.ndarray, regime: str, rng: np.random.Generator,
                  neighbours: np.ndarray | None = None) -> np.ndarray:
    """(n, 3) triplets (anchor, positive, negative), one per anchor, in a seeded random order."""
    labels = np.asarray(labels)
    n = len(labels)
    counts = np.bincount(labels)
    if (counts[counts > 0] < 2).any() or (counts > 0).sum() < 2:
        raise InputError("every class needs at least two images and there must be two classes")
    anchors = np.arange(n)
    if regime == "random":
        positives = _random_same_class(labels, rng)
    else:
        if neighbours is None:
            raise ValueError(f"regime {regime!r} needs the pixel-space neighbours")
        positives = neighbours[anchors, rng.integers(0, neighbours.shape[1], n)]
    if regime == "nn-non-neighbour":
        negatives = _random_non_neighbour(labels, neighbours, rng)
    elif regime in ("random", "nn-other"):
        negatives = _random_other_class(labels, rng)
    else:
        raise ValueError(f"unknown regime {regime!r}")
    triplets = np.stack([anchors, positives, negatives], axis=1)
    return triplets[rng.permutation(n)]


def triplets_to_pairs(triplets: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(2n, 3) pairs (i, j, similar): each triplet's positive and negative pair, shuffled."""
    positive = np.column_stack([triplets[:, 0], triplets[:, 1], np.ones(len(triplets), np.int64)])
    negative = np.column_stack([triplets[:, 0], triplets[:, 2], np.zeros(len(triplets), np.int64)])
    pairs = np.concatenate([positive, negative])
    return pairs[rng.permutation(len(pairs))]


def draw_split_tuples(images: np.ndarray, labels: np.ndarray, regime: str, nn_k: int,
                      rng: np.random.Generator, strict: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """The triplets and pairs of one split under a regime: ``(triplets, pairs)``.

    With ``strict=False`` (validation and test splits, which may be tiny) classes with a single
    image get no tuples and k shrinks to what the smallest class allows, instead of an error.
    """
    keep = np.arange(len(labels))
    if not strict:
        counts = np.bincount(labels)
        keep = np.flatnonzero(counts[labels] >= 2)
        if len(np.unique(labels[keep])) < 2:
            return np.zeros((0, 3), np.int64), np.zeros((0, 3), np.int64)
        nn_k = int(min(nn_k, counts[labels[keep]].min() - 1))
    labels = labels[keep]
    neighbours = pixel_neighbours(images[keep], labels, nn_k) if regime != "random" else None
    triplets = keep[draw_triplets(labels, regime, rng, neighbours)]
    return triplets, triplets_to_pairs(triplets, rng)


def draw_typed_pairs(images: np.ndarray, labels: np.ndarray, nn_k: int, rng: np.random.Generator,
                     strict: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Seed 000's three pair types (out-lab idea 2), one pair of each per anchor: ``(pairs, types)``.

    Type 0, true positive: the anchor and one of its ``nn_k`` nearest same-class neighbours in
    pixel space. Type 1, false negative: a same-class image that is not a neighbour (in either
    direction); an anchor whose class has none gets no such pair. Type 2, negative: an image of
    another class. ``pairs`` rows are (i, j, similar) with similar = 1 for true positives only (the
    loss pushes the other two apart), shuffled; ``strict=False`` as in ``draw_split_tuples``.
    """
    keep = np.arange(len(labels))
    empty = np.zeros((0, 3), np.int64), np.zeros(0, np.int64)
    if not strict:
        counts = np.bincount(labels)
        keep = np.flatnonzero(counts[labels] >= 2)
        if len(np.unique(labels[keep])) < 2:
            return empty
        nn_k = int(min(nn_k, counts[labels[keep]].min() - 1))
    labels = np.asarray(labels)[keep]
    counts = np.bincount(labels)
    if (counts[counts > 0] < 2).any() or (counts > 0).sum() < 2:
        raise InputError("every class needs at least two images and there must be two classes")
    neighbours = pixel_neighbours(images[keep], labels, nn_k)
    n = len(labels)
    anchors = np.arange(n)
    positives = neighbours[anchors, rng.integers(0, neighbours.shape[1], n)]
    false_negatives = _random_same_class_non_neighbour(labels, neighbours, rng)
    negatives = _random_other_class(labels, rng)
    has_fn = false_negatives >= 0
    pairs = np.concatenate([
        np.column_stack([anchors, positives, np.ones(n, np.int64), np.zeros(n, np.int64)]),
        np.column_stack([anchors[has_fn], false_negatives[has_fn], np.zeros(has_fn.sum(), np.int64),
                         np.ones(has_fn.sum(), np.int64)]),
        np.column_stack([anchors, negatives, np.zeros(n, np.int64), np.full(n, 2, np.int64)]),
    ]).astype(np.int64)
    pairs = pairs[rng.permutation(len(pairs))]
    pairs[:, :2] = keep[pairs[:, :2]]
    return pairs[:, :3].copy(), pairs[:, 3].copy()


def _random_same_class_non_neighbour(labels: np.ndarray, neighbours: np.ndarray,
                                     rng: np.random.Generator, tries: int = 20) -> np.ndarray:
    """For each anchor a uniform same-class image that is neither the anchor nor a nearest
    neighbour of it, nor has it as a nearest neighbour; -1 where the class has none."""
    n = len(labels)
    partners = np.full(n, -1, np.int64)
    order = np.argsort(labels, kind="stable")  # images grouped by class
    counts = np.bincount(labels)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])

    def allowed(anchors: np.ndarray, candidates: np.ndarray) -> np.ndarray:
        return ((candidates != anchors) & ~(neighbours[anchors] == candidates[:, None]).any(1)
                & ~(neighbours[candidates] == anchors[:, None]).any(1))

    todo = np.arange(n)
    for _ in range(tries):  # rejection: almost every draw is fine in a class well above 2k images
        if not len(todo):
            break
        c = labels[todo]
        draw = order[starts[c] + rng.integers(0, counts[c])]
        ok = allowed(todo, draw)
        partners[todo[ok]] = draw[ok]
        todo = todo[~ok]
    for anchor in todo:  # the rest exactly: small classes where most members are neighbours
        members = order[starts[labels[anchor]]:starts[labels[anchor]] + counts[labels[anchor]]]
        candidates = members[allowed(np.full(len(members), anchor), members)]
        if len(candidates):
            partners[anchor] = candidates[rng.integers(0, len(candidates))]
    return partners


def _random_same_class(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    partners = np.empty(len(labels), np.int64)
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        # pick among the other members: draw from len-1 slots and skip the anchor's own slot
        slot = rng.integers(0, len(members) - 1, len(members))
        slot += slot >= np.arange(len(members))
        partners[members] = members[slot]
    return partners


def _random_other_class(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    partners = np.empty(len(labels), np.int64)
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        others = np.flatnonzero(labels != c)
        partners[members] = others[rng.integers(0, len(others), len(members))]
    return partners


def _random_non_neighbour(labels: np.ndarray, neighbours: np.ndarray,
                          rng: np.random.Generator) -> np.ndarray:
    """Uniform over all images except the anchor and its nearest neighbours, both directions."""
    n = len(labels)
    partners = np.full(n, -1, np.int64)
    todo = np.arange(n)
    while len(todo):
        draw = rng.integers(0, n, len(todo))
        same = labels[draw] == labels[todo]
        is_neighbour = (neighbours[todo] == draw[:, None]).any(axis=1)
        is_neighbour |= (neighbours[draw] == todo[:, None]).any(axis=1)
        ok = (draw != todo) & ~(same & is_neighbour)
        partners[todo[ok]] = draw[ok]
        todo = todo[~ok]
    return partners
