"""After each epoch: embed every split, record metrics.csv rows, and write the epoch's snapshot.

Monitoring stays on the training device (training.monitor). A snapshot is written once, as its own
file, for epoch 0, every ``snapshot_every``-th epoch and the last epoch; with
``snapshot_max_points`` the snapshots before the last hold a seeded subset of each split's rows,
the same rows every time.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from training import rundir
from training.config import snapshot_plan
from training.model import embed
from training.monitor import knn_accuracy

KNN_NEIGHBOURS = 5
MONITORED = ("train", "val", "test", "shifted")  # metrics.csv rows, in this order
STORED = ("train", "test", "shifted", "heldout")  # splits with images and snapshots


@dataclass
class SplitTensors:
    """One split on the training device, and what a snapshot row says about each point."""
    images: torch.Tensor  # normalised, (n, 1, h, w)
    labels: torch.Tensor
    shift: np.ndarray | None = None
    source_index: np.ndarray | None = None


class Recorder:
    """Writes what each epoch leaves behind. Only rank 0 makes one."""

    def __init__(self, run_dir: Path, config, class_names: list[str], splits: dict[str, SplitTensors],
                 objective):
        self.run_dir = run_dir
        self.config = config
        self.class_names = class_names
        self.splits = splits
        self.objective = objective
        self.kept = set(snapshot_plan(config.epochs, config.snapshot_every))
        self.subsets = self._subsets(config.snapshot_max_points, config.seed)

    def record(self, epoch: int, backbone: torch.nn.Module, train_loss: float | None,
               seconds: float) -> dict[str, dict]:
        """Metrics of the epoch (appended to metrics.csv) and its snapshot; returns the rows."""
        embedded = {split: embed(backbone, part.images) for split, part in self.splits.items()}
        rows = self._metrics(epoch, embedded, train_loss, seconds)
        rundir.append_metrics(self.run_dir, rows.values())
        if epoch in self.kept:
            self._write_snapshot(epoch, embedded)
        return rows

    def _metrics(self, epoch: int, embedded: dict, train_loss: float | None, seconds: float) -> dict:
        train = self.splits["train"]
        rows = {}
        for split in MONITORED:
            if split not in embedded:
                continue
            row = {"epoch": epoch, "split": split, "seconds": seconds if split == "train" else None}
            row.update(self.objective.evaluate(split, embedded[split]))
            if split == "train" and train_loss is not None:
                row["loss"] = train_loss
            if split != "train":
                row["knn_accuracy"] = knn_accuracy(embedded["train"], train.labels, embedded[split],
                                                   self.splits[split].labels, KNN_NEIGHBOURS,
                                                   len(self.class_names))
            rows[split] = row
        return rows

    def _write_snapshot(self, epoch: int, embedded: dict) -> None:
        import pandas as pd

        final = epoch == self.config.epochs
        outputs = self.objective.snapshot_outputs(embedded)
        frames = []
        for split in (s for s in STORED if s in embedded):
            part = self.splits[split]
            rows = None if final else self.subsets.get(split)
            take = (lambda a: a) if rows is None else (lambda a: a[rows])
            frame = rundir.embedding_frame(
                epoch, split, take(embedded[split].cpu().numpy()), take(part.labels.cpu().numpy()),
                self.class_names,
                shifts=None if part.shift is None else take(part.shift),
                source_index=None if part.source_index is None else take(part.source_index),
                rows=rows)
            for column, values in outputs.get(split, {}).items():
                frame[column] = take(np.asarray(values))
            frames.append(frame)
        arrays = self.objective.snapshot_arrays(embedded)
        if arrays:  # before the parquet file, whose appearance announces the snapshot
            rundir.write_snapshot_arrays(self.run_dir, epoch, arrays)
        rundir.write_snapshot(self.run_dir, epoch, pd.concat(frames, ignore_index=True))

    def _subsets(self, max_points: int | None, seed: int) -> dict[str, np.ndarray]:
        """Rows kept by non-final snapshots. Shifted copies follow the test rows they were made
        from, so a subsampled snapshot still pairs each copy with its source."""
        if max_points is None:
            return {}
        rng = np.random.default_rng([seed, 20261123])  # its own stream: training draws stay as they are
        subsets = {}
        for split, part in self.splits.items():
            if split in ("val", "shifted") or len(part.labels) <= max_points:
                continue
            subsets[split] = np.sort(rng.choice(len(part.labels), max_points, replace=False))
        shifted = self.splits.get("shifted")
        if shifted is not None and len(shifted.labels) > max_points:
            test_rows = subsets.get("test", np.arange(len(self.splits["test"].labels)))
            copies = np.flatnonzero(np.isin(shifted.source_index, test_rows))
            if len(copies) > max_points:
                copies = np.sort(rng.choice(copies, max_points, replace=False))
            subsets["shifted"] = copies
        return subsets
