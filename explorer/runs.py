"""Opening run directories: what a run holds, whatever state it is in.

Every file name and reader comes from ``runfmt`` (the contract). A run that is still
running, or that failed, was cancelled or interrupted, opens with whatever it has and says so in
``notes``; a finished run must be complete. A missing or damaged file raises ``RunDirError``
naming it.

Opening is lazy: ``load_run`` reads the config, status, metrics and the index of snapshots (plus
the ``split`` and ``row`` columns of the last snapshot, to know its splits and check its images),
so its time and memory do not grow with the number of epochs. ``Run.points`` reads one epoch
when asked and keeps the last few in memory.
"""

from __future__ import annotations

import dataclasses
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

import runfmt as rundir
from runfmt import RunDirError, Snapshots

# Identity of a point: which split, which row of it, and what it is.
IDENTITY_COLUMNS = ("split", "row", "label", "class_name", "shift", "source_index")

CACHED_SNAPSHOTS = 4  # (epoch, split) frames a Run keeps in memory, least recently used dropped

STATE_NOTES = {rundir.RUNNING: "is still running", rundir.FAILED: "failed",
               rundir.CANCELLED: "was cancelled", rundir.INTERRUPTED: "was interrupted"}


class _LRU:
    """A small least-recently-used map, safe to share between threads (the app's sessions)."""

    def __init__(self, size: int):
        self.size, self._items, self._lock = size, OrderedDict(), threading.Lock()

    def get(self, key):
        with self._lock:
            if key not in self._items:
                return None
            self._items.move_to_end(key)
            return self._items[key]

    def put(self, key, value) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)


@dataclass
class Run:
    """An opened run directory. Cheap to keep: images are memory-mapped, and only the last few
    epochs' points asked for are held in memory."""

    path: Path
    config: dict
    status: dict
    metrics: pd.DataFrame
    snapshots: Snapshots = field(default_factory=Snapshots)
    notes: list[str] = field(default_factory=list)
    _images: dict = field(default_factory=dict, repr=False)
    _pairs: dict | None = field(default=None, repr=False)
    _points: _LRU = field(default_factory=lambda: _LRU(CACHED_SNAPSHOTS), repr=False)

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
        return self.snapshots.dim or int(self.config.get("embedding_dim", 0))

    @property
    def shifts(self) -> list[int]:
        return [int(s) for s in self.config.get("shifts", [])]

    @property
    def epochs(self) -> list[int]:
        """Snapshot epochs, ascending (0 is the untrained net)."""
        return list(self.snapshots.epochs)

    @property
    def last_epoch(self) -> int:
        if not self.snapshots.epochs:
            raise RunDirError(f"{rundir.EMBEDDINGS} has no snapshot in {self.path}: the run has no snapshot yet")
        return self.snapshots.epochs[-1]

    @property
    def splits(self) -> list[str]:
        """Splits with embeddings in the last snapshot, in the order of rundir.SPLITS."""
        return self.snapshots.splits

    @property
    def mtime(self) -> float:
        """Latest modification time of the run's files; a cache key together with the path."""
        return rundir.last_changed(self.path)

    def describe(self) -> str:
        """One line: name, state, progress and what is missing."""
        line = f"{self.name}: {self.state}, epoch {self.status.get('epoch', '?')} of {self.status.get('epochs', '?')}"
        if self.status.get("error"):
            line += f" ({self.status['error']})"
        return "; ".join([line, *self.notes])

    def points(self, epoch: int | None = None, split: str | None = None) -> pd.DataFrame:
        """Identity columns and e0..e{D-1} of one epoch (default: the last), one or all splits,
        sorted by split and row. A snapshot before the last may hold only some rows of a split
        (see ``row``). Raises RunDirError naming the snapshot file if it is missing or damaged."""
        epoch = self.last_epoch if epoch is None else int(epoch)
        if epoch not in self.snapshots.epochs:
            raise ValueError(f"epoch {epoch} has no snapshot in this run; available: {self.epochs}")
        if split is not None and split not in self.splits:
            raise ValueError(f"split {split!r} has no embeddings in this run; available: {self.splits}")
        return self._snapshot(epoch, split).copy(deep=False)  # callers may add columns

    def _snapshot(self, epoch: int, split: str | None) -> pd.DataFrame:
        whole = self._points.get((epoch, None))
        if whole is not None:
            return whole if split is None else whole[whole["split"] == split].reset_index(drop=True)
        frame = self._points.get((epoch, split))
        if frame is None:
            frame = _sorted(rundir.read_snapshot(self.path, epoch, split))
            self._points.put((epoch, split), frame)
        return frame

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

    def steps(self) -> pd.DataFrame:
        """The training loss of every step (epoch, step, iteration, loss), read when asked for;
        empty for a run written before steps.csv existed."""
        return rundir.read_steps(self.path)

    def subsample(self, max_points: int, seed: int = 0) -> "Run":
        """This run with at most ``max_points`` points per split in every snapshot: a seeded choice
        of rows, the same at every epoch; shifted copies are drawn among those of the kept test
        rows, so each still meets its source. ``notes`` says so. The run itself if no split is
        larger."""
        if isinstance(max_points, bool) or not isinstance(max_points, (int, np.integer)) or max_points < 1:
            raise ValueError(f"max_points must be a whole number of 1 or more, got {max_points!r}")
        rows = self.snapshots.rows
        if not rows or max(rows.values()) <= max_points:
            return self
        rng = np.random.default_rng([seed, 11])
        keep = {split: np.sort(rng.choice(n, max_points, replace=False))
                for split, n in rows.items() if split != "shifted" and n > max_points}
        if rows.get("shifted", 0) > max_points:
            shifted = self._snapshot(self.last_epoch, "shifted")
            sources = keep.get("test")
            copies = shifted["row"].to_numpy()
            if sources is not None:
                copies = copies[np.isin(shifted["source_index"].to_numpy(), sources)]
            if len(copies) > max_points:
                copies = rng.choice(copies, max_points, replace=False)
            keep["shifted"] = np.sort(copies)
        shown = ", ".join(f"{split} {len(kept)} of {rows[split]}" for split, kept in keep.items())
        note = (f"subsampled to at most {max_points} points per split (seed {seed}): {shown}; "
                f"the figures are estimates from these points")
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(Run)}
        return _Subsampled(**{**fields, "notes": [*self.notes, note]}, keep=keep, note=note)


@dataclass
class _Subsampled(Run):
    """A run whose snapshots are read through a fixed choice of rows per split (Run.subsample)."""

    keep: dict = field(default_factory=dict)  # split -> sorted rows kept
    note: str = ""

    def _snapshot(self, epoch: int, split: str | None) -> pd.DataFrame:
        frame = super()._snapshot(epoch, split)
        mask = np.ones(len(frame), bool)
        for name, rows in self.keep.items():
            mask &= (frame["split"] != name).to_numpy() | np.isin(frame["row"].to_numpy(), rows)
        return frame if mask.all() else frame[mask].reset_index(drop=True)


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(["split", "row"], key=_split_order).reset_index(drop=True)


def _split_order(column: pd.Series) -> pd.Series:
    if column.name == "split":
        return column.map({s: i for i, s in enumerate(rundir.ALL_SPLITS)})
    return column


def load_run(path: str | os.PathLike) -> Run:
    """Open a run directory. Raises RunDirError naming the file that is missing or damaged."""
    path = Path(path)
    if path.is_symlink() and not rundir.is_inside(path, path.parent):
        raise RunDirError(f"{path} is a symbolic link to {path.resolve()}, outside {path.parent}: "
                          f"open the run where it lives")
    if path.exists() and not path.is_dir():
        raise RunDirError(f"{path} is a file, not a run directory")
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
        state = STATE_NOTES.get(status["state"], status["state"])
        notes.append(f"the run {state}; showing what it has written so far")

    if not (path / rundir.METRICS).exists():
        notes.append(f"{rundir.METRICS} is missing: no per-epoch metrics")
    snapshots = read_snapshot_index(path)
    if not snapshots.epochs:
        if complete:
            raise RunDirError(f"{rundir.EMBEDDINGS} in {path} holds no snapshot: {rundir.RESTORE}")
        notes.append(f"no snapshot in {rundir.EMBEDDINGS} yet")
    elif complete and snapshots.epochs[-1] < status.get("epoch", 0):
        notes.append(f"the snapshot of the last epoch ({status['epoch']}) is missing: the last one is of "
                     f"epoch {snapshots.epochs[-1]}")

    run = Run(path=path, config=config, status=status, metrics=metrics, snapshots=snapshots, notes=notes)
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


read_snapshot_index = rundir.read_snapshot_index  # the explorer's name for it, kept for its callers


def _check_images(run: Run, split: str) -> None:
    images = run.images(split)
    n_rows = run.snapshots.rows[split]
    if images.ndim != 3 or len(images) < n_rows:
        raise RunDirError(
            f"{rundir.IMAGES_DIR}/{split}.npy in {run.path} has shape {images.shape}, "
            f"but the snapshot of epoch {run.last_epoch} refers to {n_rows} rows"
        )


def list_runs(root: str | os.PathLike | None = None, strict: bool = False) -> pd.DataFrame:
    """One row per run directory under ``root`` (default: $EXPLORER_RUNS_DIR or runs/), newest first.

    ``test_knn_accuracy`` is the last test k-NN accuracy in metrics.csv (None before the first).
    A run that cannot be read is listed with state ``unreadable`` and the reason in ``error``. A
    ``root`` that is a file or cannot be listed has no runs, or, ``strict``, raises RunDirError.
    """
    root = rundir.default_runs_dir() if root is None else Path(root)
    rows = []
    for path in rundir.list_run_dirs(root, strict):
        row = {"name": path.name, "path": str(path), "state": "unreadable", "epoch": None,
               "epochs": None, "dataset": None, "loss": None, "regime": None,
               "embedding_dim": None, "test_knn_accuracy": None, "error": None, "method": None}
        try:
            config = rundir.read_config(path)
            status = rundir.read_status(path)
            metrics = rundir.read_metrics(path)
        except RunDirError as e:
            row["error"] = str(e)
        else:
            row.update({k: config.get(k) for k in ("dataset", "loss", "regime", "embedding_dim")})
            row["regime"] = sampling(config)
            row["method"] = method_words(config)
            row.update({k: status.get(k) for k in ("state", "epoch", "epochs", "error")})
            test = metrics[(metrics["split"] == "test") & metrics["knn_accuracy"].notna()]
            if len(test):
                row["test_knn_accuracy"] = float(test.sort_values("epoch")["knn_accuracy"].iloc[-1])
        rows.append(row)
    columns = ["name", "path", "state", "epoch", "epochs", "dataset", "loss", "regime",
               "embedding_dim", "test_knn_accuracy", "error", "method"]
    return pd.DataFrame(rows, columns=columns)


def sampling(config: dict) -> str | None:
    """How the run drew its batches: the pair regime where its method reads one, else the miner
    (mined triplets) or None (magnet's neighbourhoods, three-way's own pair types)."""
    from training.objectives import METHODS, used_options

    loss, miner = config.get("loss"), config.get("miner") or "none"
    if loss not in METHODS or "regime" in used_options(loss, miner):
        return config.get("regime")
    return miner if miner != "none" else None


def sampling_words(config: dict) -> str | None:
    """``sampling`` in words: "nn-other pairs", "batch-hard miner", or None (the method draws its own)."""
    found = sampling(config)
    if not found or not isinstance(found, str):
        return None
    miner = config.get("miner") or "none"
    return f"{found} miner" if found == miner and miner != "none" else f"{found} pairs"


def method_words(config: dict) -> str:
    """The run's loss and how it drew its batches, as every title and picker names it:
    "triplet, batch-hard miner", "contrastive (seed 004 form), random pairs", "magnet"."""
    loss = str(config.get("loss") or "?")
    form = config.get("contrastive_form") or "seed000"
    if loss == "contrastive" and form != "seed000":
        loss += f" (seed {form[4:]} form)"
    how = sampling_words(config)
    return f"{loss}, {how}" if how else loss
