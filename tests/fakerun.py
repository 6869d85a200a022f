"""A small synthetic run directory, written only through ``training.rundir``.

Explorer and app tests use it instead of training a network. Classes are Gaussian blobs whose
centres move apart over the epochs (epoch 0 is the "untrained" net: all classes on top of each
other); shifted copies of test points are displaced in proportion to the shift, so large shifts
move further and sometimes change class.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root, for `training`

from training import rundir  # noqa: E402

SHIFTS = (-6, -3, 3, 6)


def make_fake_run(root: str | os.PathLike, name: str = "fake-run", n_classes: int = 2, dim: int = 2,
                  epochs: int = 2, state: str = "finished", epochs_done: int | None = None,
                  n_train: int = 120, n_test: int = 60, n_pairs: int = 200,
                  shifts: tuple[int, ...] = SHIFTS, loss: str = "contrastive",
                  separation: float = 4.0, image_size: int = 28, seed: int = 0,
                  format_version: int = rundir.FORMAT_VERSION) -> Path:
    """Write a complete run directory ``root/name`` and return its path.

    ``epochs_done`` (default: all of them) is how many training epochs have snapshots, for a
    running, failed or cancelled run. Labels cycle through the classes, so every class is present.
    ``format_version=1`` writes the old layout: every epoch in one embeddings.parquet.
    """
    rng = np.random.default_rng(seed)
    path = Path(root) / name
    path.mkdir(parents=True, exist_ok=True)
    epochs_done = epochs if epochs_done is None else epochs_done
    class_names = [f"class{c}" for c in range(n_classes)]

    train_labels = np.arange(n_train) % n_classes
    test_labels = np.arange(n_test) % n_classes
    source = np.repeat(np.arange(n_test), len(shifts))
    shift_of = np.tile(np.asarray(shifts, dtype=np.int32), n_test)
    shifted_labels = test_labels[source]

    directions = rng.normal(size=(n_classes, dim))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    train_noise = rng.normal(size=(n_train, dim))
    test_noise = rng.normal(size=(n_test, dim))
    shift_noise = rng.normal(size=(len(source), dim))

    rundir.write_config(path, {
        "dataset": "fake", "classes": list(range(n_classes)), "class_names": class_names,
        "loss": loss, "regime": "random", "embedding_dim": dim, "margin": 1.0, "epochs": epochs,
        "batch_size": 32, "lr": 1e-3, "seed": seed, "shifts": list(shifts),
        "image_size": image_size, "mean": 0.13, "std": 0.3, "nn_k": 5, "versions": {},
    })

    import pandas as pd

    frames, metrics = [], []
    for epoch in range(epochs_done + 1):
        centres = directions * separation * epoch / max(epochs, 1)
        train = centres[train_labels] + train_noise
        test = centres[test_labels] + test_noise
        shifted = test[source] + 0.4 * np.abs(shift_of)[:, None] * shift_noise
        snapshot = pd.concat([
            rundir.embedding_frame(epoch, "train", train, train_labels, class_names),
            rundir.embedding_frame(epoch, "test", test, test_labels, class_names),
            rundir.embedding_frame(epoch, "shifted", shifted, shifted_labels, class_names,
                                   shifts=shift_of, source_index=source),
        ], ignore_index=True)
        if format_version == 1:
            frames.append(snapshot)
        else:
            rundir.write_snapshot(path, epoch, snapshot)
        if epoch > 0:
            for split in ("train", "val", "test", "shifted"):
                metrics.append({"epoch": epoch, "split": split, "loss": 1.0 / (epoch + 1),
                                "pos_dist": 1.0, "neg_dist": 1.0 + epoch,
                                "knn_accuracy": 0.5 + 0.4 * epoch / epochs, "seconds": 0.1})
    if format_version == 1:
        pd.concat(frames, ignore_index=True).to_parquet(path / rundir.EMBEDDINGS_V1, index=False)
        config = rundir.read_json(path / rundir.CONFIG)
        rundir.write_json(path / rundir.CONFIG, {**config, "format_version": 1})
    rundir.write_metrics(path, metrics)

    def images(n: int) -> np.ndarray:
        return rng.integers(0, 256, size=(n, image_size, image_size), dtype=np.uint8)

    rundir.write_images(path, "train", images(n_train))
    rundir.write_images(path, "test", images(n_test))
    rundir.write_images(path, "shifted", images(len(source)))
    rundir.write_pairs(path, {
        "train_pairs": _pairs(train_labels, n_pairs, rng),
        "test_pairs": _pairs(test_labels, n_pairs // 2, rng),
        "train_triplets": _triplets(train_labels, n_pairs, rng),
    })

    error = "fake failure" if state == rundir.FAILED else None
    rundir.write_status(path, state, epoch=epochs_done, epochs=epochs, error=error)
    return path


def _pairs(labels: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Half similar, half dissimilar (i, j, y) rows."""
    rows = []
    for k in range(n):
        i = rng.integers(len(labels))
        same = k % 2 == 0
        candidates = np.flatnonzero((labels == labels[i]) == same)
        candidates = candidates[candidates != i]
        rows.append((i, rng.choice(candidates), int(same)))
    return np.asarray(rows, dtype=np.int64)


def _triplets(labels: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    anchors = rng.integers(len(labels), size=n)
    rows = []
    for a in anchors:
        positives = np.flatnonzero(labels == labels[a])
        rows.append((a, rng.choice(positives[positives != a]), rng.choice(np.flatnonzero(labels != labels[a]))))
    return np.asarray(rows, dtype=np.int64)
