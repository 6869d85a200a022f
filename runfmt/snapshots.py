"""Snapshots: one parquet file per snapshot epoch, written once and never rewritten (format 2),
with a method's extra arrays beside it; format 1's single ``embeddings.parquet`` is read here too,
in one place (``snapshot_source``)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from runfmt import files
from runfmt.layout import (EMBEDDING_COLUMNS, EMBEDDINGS, EMBEDDINGS_V1, RESTORE, SPLITS, RunDirError, contained,
                           damaged)


# ---------------------------------------------------------------- embeddings


def embedding_frame(epoch: int, split: str, embeddings: np.ndarray, labels: np.ndarray,
                    class_names: list[str], shifts: np.ndarray | None = None,
                    source_index: np.ndarray | None = None, rows: np.ndarray | None = None):
    """One split's embeddings at one epoch, as rows of a snapshot. ``rows`` are the points' rows
    in their split (default 0..n-1); the other arrays are given for those rows only."""
    import pandas as pd

    n = len(labels)
    frame = pd.DataFrame({
        "epoch": np.full(n, epoch, dtype=np.int32),
        "split": split,
        "row": np.arange(n, dtype=np.int64) if rows is None else np.asarray(rows, np.int64),
        "label": np.asarray(labels, dtype=np.int64),
        "class_name": np.asarray(class_names, dtype=object)[np.asarray(labels)],
        "shift": np.zeros(n, np.int32) if shifts is None else np.asarray(shifts, np.int32),
        "source_index": (np.full(n, -1, np.int64) if source_index is None
                         else np.asarray(source_index, np.int64)),
    })
    emb = np.asarray(embeddings, dtype=np.float32)
    for d in range(emb.shape[1]):
        frame[f"e{d}"] = emb[:, d]
    return frame


def snapshot_path(run_dir: Path, epoch: int) -> Path:
    return Path(run_dir) / EMBEDDINGS / f"epoch-{int(epoch):06d}.parquet"


def write_snapshot(run_dir: Path, epoch: int, frame) -> Path:
    """Write one epoch's snapshot, once (format 2). Earlier snapshots are never touched."""
    path = snapshot_path(run_dir, epoch)
    files.atomic_write(path, lambda f: frame.to_parquet(f, index=False), "wb", run_dir=run_dir)
    return path


def remove_snapshots_after(run_dir: Path, epoch: int) -> None:
    """Drop snapshots later than ``epoch``, with their arrays (a resumed run writes them again)."""
    for e in snapshot_epochs(run_dir):
        if e > epoch:
            snapshot_path(run_dir, e).unlink(missing_ok=True)
            snapshot_arrays_path(run_dir, e).unlink(missing_ok=True)


def snapshot_arrays_path(run_dir: Path, epoch: int) -> Path:
    return Path(run_dir) / EMBEDDINGS / f"epoch-{int(epoch):06d}.npz"


def write_snapshot_arrays(run_dir: Path, epoch: int, arrays: dict[str, np.ndarray]) -> Path:
    """Write a method's extra arrays of one snapshot (see SNAPSHOT_ARRAYS), once, atomically."""
    path = snapshot_arrays_path(run_dir, epoch)
    plain = {name: np.asarray(value) for name, value in arrays.items()}
    for name, value in plain.items():
        if value.dtype == object:
            raise ValueError(f"snapshot array {name} must be numeric, not objects")
    files.atomic_write(path, lambda f: np.savez(f, **plain), "wb", run_dir=run_dir)
    return path


def read_snapshot_arrays(run_dir: Path, epoch: int) -> dict[str, np.ndarray]:
    """A snapshot's extra arrays; empty when the method writes none (or the run predates them)."""
    path = contained(run_dir, snapshot_arrays_path(run_dir, epoch))
    if not path.exists():
        return {}
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except Exception as e:  # numpy raises several types for a damaged file
        raise damaged(path.relative_to(Path(run_dir)), run_dir, e) from None


def snapshot_epochs(run_dir: Path) -> list[int]:
    """The epochs that have a snapshot, ascending: the index of snapshots, read without opening
    any of them (format 2: the folder's listing; format 1: the epoch column alone)."""
    run_dir = Path(run_dir)
    folder = run_dir / EMBEDDINGS
    if folder.is_dir():
        epochs = []
        for path in folder.iterdir():
            stem = path.name.removesuffix(".parquet")
            if path.name.endswith(".parquet") and stem.startswith("epoch-") and stem[6:].isdigit():
                epochs.append(int(stem[6:]))
        return sorted(epochs)
    if (run_dir / EMBEDDINGS_V1).exists():
        import pyarrow.parquet as pq

        try:
            column = pq.read_table(run_dir / EMBEDDINGS_V1, columns=["epoch"]).column("epoch")
        except Exception as e:  # pyarrow raises several types for a damaged file
            raise damaged(EMBEDDINGS_V1, run_dir, e) from None
        return sorted(int(e) for e in column.unique().to_pylist())
    return []


def snapshot_source(run_dir: Path, epoch: int) -> tuple[Path, list]:
    """Where one epoch's snapshot lives, and the parquet filters that pick it out: its own file
    (format 2), or the rows of that epoch in format 1's embeddings.parquet. The one place that
    knows format 1."""
    run_dir = Path(run_dir)
    path = snapshot_path(run_dir, epoch)
    if not path.exists() and (run_dir / EMBEDDINGS_V1).exists():
        return run_dir / EMBEDDINGS_V1, [("epoch", "==", int(epoch))]
    return path, []


def read_snapshot(run_dir: Path, epoch: int, split: str | None = None):
    """One epoch's embeddings as a DataFrame, optionally one split only (format 1 or 2)."""
    import pandas as pd

    run_dir = Path(run_dir)
    path, filters = snapshot_source(run_dir, epoch)
    filters = [*filters, ("split", "==", split)] if split is not None else filters
    shown = path.relative_to(run_dir)
    contained(run_dir, path)
    if not path.exists():
        raise RunDirError(f"{shown} is missing in {run_dir}: epoch {epoch} has no snapshot")
    try:
        frame = pd.read_parquet(path, filters=filters or None)
    except Exception as e:  # pyarrow raises several types for a damaged file
        raise damaged(shown, run_dir, e) from None
    _check_columns(frame.columns, shown, run_dir)
    return frame


@dataclass(frozen=True)
class Snapshots:
    """The index of a run's snapshots, known without reading their embeddings."""

    epochs: tuple[int, ...] = ()       # ascending; 0 is the untrained network
    rows: dict = field(default_factory=dict)  # split -> rows it has (largest row + 1), last snapshot
    dim: int = 0                       # embedding columns e0 .. e{dim-1}

    @property
    def splits(self) -> list[str]:
        return [s for s in (*SPLITS, "heldout") if s in self.rows]  # heldout: --holdout-classes


def read_snapshot_index(run_dir: Path) -> Snapshots:
    """The snapshot epochs, and the splits, rows and embedding size of the last snapshot, read
    from the folder listing, the last file's schema and its split and row columns alone."""
    import pyarrow.parquet as pq

    run_dir = Path(run_dir)
    epochs = tuple(snapshot_epochs(run_dir))
    if not epochs:
        return Snapshots()
    file, filters = snapshot_source(run_dir, epochs[-1])
    shown = file.relative_to(run_dir)
    contained(run_dir, file)
    try:
        names = pq.read_schema(file).names
    except Exception as e:  # pyarrow raises several types for a damaged file
        raise damaged(shown, run_dir, e) from None
    _check_columns(names, shown, run_dir)
    try:
        table = pq.read_table(file, columns=["split", "row"], filters=filters or None)
        largest = table.group_by("split").aggregate([("row", "max")]).to_pydict()
        rows = {str(s): int(m) + 1 for s, m in zip(largest["split"], largest["row_max"])}
    except Exception as e:  # pyarrow raises several types for a damaged file
        raise damaged(shown, run_dir, e) from None
    return Snapshots(epochs=epochs, rows=rows, dim=len(embedding_columns(names)))


def _check_columns(names, shown, run_dir) -> None:
    missing = [c for c in EMBEDDING_COLUMNS if c not in names]
    if missing:
        raise RunDirError(f"{shown} in {run_dir} lacks the columns {', '.join(missing)}: {RESTORE}")


def embedding_columns(frame) -> list[str]:
    """The names of the embedding coordinate columns e0, e1, ... in order (of a frame, or of a
    list of column names)."""
    names = frame.columns if hasattr(frame, "columns") else frame
    cols = [c for c in names if c.startswith("e") and c[1:].isdigit()]
    return sorted(cols, key=lambda c: int(c[1:]))


__all__ = [n for n, v in dict(globals()).items() if not n.startswith("_") and not isinstance(v, type(os))
           and getattr(v, "__module__", __name__) == __name__]
