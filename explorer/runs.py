"""Opening run directories: what a run holds, whatever state it is in.

Every file name and reader comes from ``training.rundir`` (the contract). A run that is still
running, or that failed or was cancelled, opens with whatever it has and says so in ``notes``;
a finished run must be complete. A missing or damaged file raises ``RunDirError`` naming it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from training import rundir
from training.rundir import RunDirError

# Identity of a point: which split, which row of it, and what it is.
IDENTITY_COLUMNS = ("split", "row", "label", "class_name", "shift", "source_index")


@dataclass
class Run:
    """An opened run directory. Cheap to keep: images are memory-mapped, embeddings held once."""

    path: Path
    config: dict
    status: dict
    metrics: pd.DataFrame
    frame: pd.DataFrame  # embeddings.parquet, all epochs and splits (empty before the first snapshot)
    notes: list[str] = field(default_factory=list)
    _images: dict = field(default_factory=dict, repr=False)
    _pairs: dict | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def state(self) -> str:
        return self.status["state"]

    @property
    def class_names(self) -> list[str]:
        return [str(c) for c in self.config.get("class_names", [])]

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    @property
    def embedding_dim(self) -> int:
        return len(rundir.embedding_columns(self.frame)) or int(self.config.get("embedding_dim", 0))

    @property
    def shifts(self) -> list[int]:
        return [int(s) for s in self.config.get("shifts", [])]

    @property
    def epochs(self) -> list[int]:
        """Snapshot epochs present in embeddings.parquet, ascending (0 is the untrained net)."""
        return sorted(int(e) for e in self.frame["epoch"].unique()) if len(self.frame) else []

    @property
    def last_epoch(self) -> int:
        if not self.epochs:
            raise RunDirError(f"{rundir.EMBEDDINGS} is missing in {self.path}: the run has no snapshot yet")
        return self.epochs[-1]

    @property
    def splits(self) -> list[str]:
        present = set(self.frame["split"].unique()) if len(self.frame) else set()
        return [s for s in rundir.SPLITS if s in present]

    @property
    def mtime(self) -> float:
        """Latest modification time of the run's files; a cache key together with the path."""
        names = (rundir.CONFIG, rundir.STATUS, rundir.METRICS, rundir.EMBEDDINGS, rundir.PAIRS)
        times = [(self.path / n).stat().st_mtime for n in names if (self.path / n).exists()]
        return max(times, default=0.0)

    def describe(self) -> str:
        """One line: name, state, progress and what is missing."""
        line = f"{self.name}: {self.state}, epoch {self.status.get('epoch', '?')} of {self.status.get('epochs', '?')}"
        if self.status.get("error"):
            line += f" ({self.status['error']})"
        return "; ".join([line, *self.notes])

    def points(self, epoch: int | None = None, split: str | None = None) -> pd.DataFrame:
        """Identity columns and e0..e{D-1} of one epoch (default: the last), one or all splits."""
        epoch = self.last_epoch if epoch is None else int(epoch)
        if epoch not in self.epochs:
            raise ValueError(f"epoch {epoch} has no snapshot in this run; available: {self.epochs}")
        if split is not None and split not in self.splits:
            raise ValueError(f"split {split!r} has no embeddings in this run; available: {self.splits}")
        mask = self.frame["epoch"] == epoch
        if split is not None:
            mask &= self.frame["split"] == split
        return self.frame.loc[mask].sort_values(["split", "row"], key=_split_order).reset_index(drop=True)

    def embeddings(self, epoch: int | None = None, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
        """(X, labels) of one split at one epoch, rows in order."""
        points = self.points(epoch, split)
        return points[rundir.embedding_columns(points)].to_numpy(np.float32), points["label"].to_numpy()

    def images(self, split: str) -> np.ndarray:
        """uint8 images (n, h, w) of a split, memory-mapped."""
        if split not in self._images:
            self._images[split] = rundir.read_images(self.path, split)
        return self._images[split]

    def pairs(self) -> dict[str, np.ndarray]:
        """pairs.npz as a dict (empty if the run has not written it yet)."""
        if self._pairs is None:
            self._pairs = rundir.read_pairs(self.path) if (self.path / rundir.PAIRS).exists() else {}
        return self._pairs


def _split_order(column: pd.Series) -> pd.Series:
    if column.name == "split":
        return column.map({s: i for i, s in enumerate(rundir.ALL_SPLITS)})
    return column


def load_run(path: str | os.PathLike) -> Run:
    """Open a run directory. Raises RunDirError naming the file that is missing or damaged."""
    path = Path(path)
    if not path.is_dir():
        raise RunDirError(f"run directory {path} does not exist")
    if not rundir.is_run_dir(path):
        raise RunDirError(f"{path} is not a run directory: it has no {rundir.CONFIG}")
    config = rundir.read_config(path)
    status = rundir.read_status(path)
    metrics = rundir.read_metrics(path)
    complete = status["state"] == rundir.FINISHED
    notes = []
    if not complete:
        state = {rundir.RUNNING: "is still running", rundir.FAILED: "failed",
                 rundir.CANCELLED: "was cancelled"}[status["state"]]
        notes.append(f"the run {state}; showing what it has written so far")

    if (path / rundir.EMBEDDINGS).exists() or complete:
        frame = rundir.read_embeddings(path)
    else:
        frame = pd.DataFrame(columns=[*rundir.EMBEDDING_COLUMNS])
        notes.append(f"no {rundir.EMBEDDINGS} yet")
    if not len(frame) and complete:
        raise RunDirError(f"{rundir.EMBEDDINGS} in {path} holds no rows")

    run = Run(path=path, config=config, status=status, metrics=metrics, frame=frame, notes=notes)
    for split in run.splits:
        if complete or (path / rundir.IMAGES_DIR / f"{split}.npy").exists():
            _check_images(run, split)
        else:
            notes.append(f"no {rundir.IMAGES_DIR}/{split}.npy yet")
    if complete or (path / rundir.PAIRS).exists():
        run._pairs = rundir.read_pairs(path)
    else:
        notes.append(f"no {rundir.PAIRS} yet")
    return run


def _check_images(run: Run, split: str) -> None:
    images = run.images(split)
    n_rows = int(run.frame.loc[run.frame["split"] == split, "row"].max()) + 1
    if images.ndim != 3 or len(images) < n_rows:
        raise RunDirError(
            f"{rundir.IMAGES_DIR}/{split}.npy in {run.path} has shape {images.shape}, "
            f"but {rundir.EMBEDDINGS} refers to {n_rows} rows"
        )


def list_runs(root: str | os.PathLike | None = None) -> pd.DataFrame:
    """One row per run directory under ``root`` (default: $EXPLORER_RUNS_DIR or runs/), newest first.

    ``test_knn_accuracy`` is the last test k-NN accuracy in metrics.csv (None before the first).
    A run that cannot be read is listed with state ``unreadable`` and the reason in ``error``.
    """
    root = rundir.default_runs_dir() if root is None else Path(root)
    rows = []
    for path in rundir.list_run_dirs(root):
        row = {"name": path.name, "path": str(path), "state": "unreadable", "epoch": None,
               "epochs": None, "dataset": None, "loss": None, "regime": None,
               "embedding_dim": None, "test_knn_accuracy": None, "error": None}
        try:
            config = rundir.read_config(path)
            status = rundir.read_status(path)
            metrics = rundir.read_metrics(path)
        except RunDirError as e:
            row["error"] = str(e)
        else:
            row.update({k: config.get(k) for k in ("dataset", "loss", "regime", "embedding_dim")})
            row.update({k: status.get(k) for k in ("state", "epoch", "epochs", "error")})
            test = metrics[(metrics["split"] == "test") & metrics["knn_accuracy"].notna()]
            if len(test):
                row["test_knn_accuracy"] = float(test.sort_values("epoch")["knn_accuracy"].iloc[-1])
        rows.append(row)
    columns = ["name", "path", "state", "epoch", "epochs", "dataset", "loss", "regime",
               "embedding_dim", "test_knn_accuracy", "error"]
    return pd.DataFrame(rows, columns=columns)
