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
import pandas as pd

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
    if format_version != 1:
        for epoch in range(1, epochs_done + 1):  # four steps an epoch, the loss falling
            rundir.append_steps(path, epoch, 4 * (epoch - 1) + 1, [1.0 / (epoch + s / 4) for s in range(4)])

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


# ---------------------------------------------------------------- a method's own outputs


def add_magnet_clusters(path: Path, epoch: int, per_class: int = 2) -> None:
    """Give a 2-D fake run's snapshot magnet clusters: ``per_class`` per class (split along x),
    every point's ``magnet_cluster``, and the centres, their classes and σ²."""
    frame = rundir.read_snapshot(path, epoch)
    X = frame[["e0", "e1"]].to_numpy()
    labels = frame["label"].to_numpy()
    train = (frame["split"] == "train").to_numpy()
    n_classes = int(labels.max()) + 1
    middle = np.array([X[train & (labels == c), 0].mean() for c in range(n_classes)])
    cluster = labels * per_class + np.minimum((X[:, 0] > middle[labels]).astype(int), per_class - 1)
    centres = np.array([X[train & (cluster == c)].mean(0) for c in range(n_classes * per_class)])
    sigma2 = ((X[train] - centres[cluster[train]]) ** 2).sum() / (train.sum() - 1)
    frame["magnet_cluster"] = cluster
    rundir.write_snapshot(path, epoch, frame)
    rundir.write_snapshot_arrays(path, epoch, {"magnet_centres": centres.astype(np.float32),
                                               "magnet_centre_classes": np.repeat(np.arange(n_classes), per_class),
                                               "magnet_sigma2": np.float64(sigma2)})


def add_head_scores(path: Path, epoch: int) -> None:
    """Give a fake BCE run's snapshot head scores that separate its own test pairs well."""
    test = rundir.read_pairs(path)["test_pairs"]
    rng = np.random.default_rng(0)
    scores = np.clip(0.8 * test[:, 2] + 0.1 + rng.normal(scale=0.05, size=len(test)), 0, 1)
    rundir.write_snapshot_arrays(path, epoch, {"head_test_scores": scores.astype(np.float32)})


def add_pair_types(path: Path) -> None:
    """Give a fake three-way run's test pairs their types: similar ones true positives, the rest
    alternately false negatives and negatives."""
    pairs = rundir.read_pairs(path)
    test = pairs["test_pairs"]
    types = np.where(test[:, 2] == 1, 0, np.arange(len(test)) // 2 % 2 + 1)
    rundir.write_pairs(path, {**pairs, "test_pair_types": types})


def add_heldout(path: Path, n_per_class: int = 30, n_classes: int = 2, separation: float = 6.0) -> None:
    """Give a fake run held-out classes (as --holdout-classes does): new class names, and every
    snapshot a split ``heldout`` of ``n_per_class`` points each, around centres of their own."""
    config = rundir.read_json(path / rundir.CONFIG)
    names = list(config["class_names"])
    held = list(range(len(names), len(names) + n_classes))
    names += [f"unseen{c}" for c in range(n_classes)]
    rundir.write_json(path / rundir.CONFIG, {**config, "class_names": names})
    rng = np.random.default_rng(7)
    labels = np.repeat(held, n_per_class)
    for epoch in rundir.snapshot_epochs(path):
        frame = rundir.read_snapshot(path, epoch)
        dim = len(rundir.embedding_columns(frame))
        centres = rng.normal(size=(n_classes, dim)) * separation
        X = centres[labels - held[0]] + rng.normal(size=(len(labels), dim))
        frame = frame.assign(class_name=frame["class_name"].astype(str))
        extra = rundir.embedding_frame(epoch, "heldout", X, labels, names)
        rundir.write_snapshot(path, epoch, pd.concat([frame, extra], ignore_index=True))
    rundir.write_images(path, "heldout", rng.integers(0, 256, size=(len(labels), 28, 28), dtype=np.uint8))
