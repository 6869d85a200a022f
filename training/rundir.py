"""The run directory: the one contract between training, the explorer and the app.

Every file of a run is named here and written here, atomically (a temporary file in the same
directory, then ``os.replace``), so a reader never sees half a file. This module imports no torch
at module level: the explorer and the app open finished runs without it.

Layout of a run directory::

    config.json          every option, resolved normalisation, class names, seed, versions
    status.json          state, epoch, epochs, times, pid, error message
    metrics.csv          one row per epoch and split (see METRIC_COLUMNS), appended each epoch
    steps.csv            the training loss of every step (see STEP_COLUMNS), appended each epoch
    embeddings/          one parquet file per snapshot epoch, epoch-000005.parquet, written once
                         (see EMBEDDING_COLUMNS); the listing of this folder is the snapshot index.
                         A method with extra per-snapshot arrays (magnet's cluster centres, a
                         verification head's scores) writes them beside it, epoch-000005.npz
                         (see SNAPSHOT_ARRAYS)
    images/<split>.npy   uint8 images of each split, shape (n, height, width)
    pairs.npz            the pairs and triplets actually drawn, per split
    checkpoint.pt        model constructor arguments, state dict, optimiser state, epoch, config,
                         RNG states (what --resume continues from)
    train.log            the training process's own output (written by whoever launches it)
    projections/         cached 2-D maps, owned by the explorer

Format 1 kept every epoch in one ``embeddings.parquet``, rewritten whole each epoch (its cost grew
with the square of the epochs). Format 2 writes each snapshot once. Readers here open both.
"""

from __future__ import annotations

import csv
import errno
import io
import json
import os
import re
import socket
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Iterable

import numpy as np

FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)

CONFIG = "config.json"
STATUS = "status.json"
METRICS = "metrics.csv"
STEPS = "steps.csv"  # the training loss of every step: epoch, step (within it), iteration, loss
EMBEDDINGS = "embeddings"  # folder of per-epoch snapshots (format 2)
EMBEDDINGS_V1 = "embeddings.parquet"  # every epoch in one file (format 1)
IMAGES_DIR = "images"
PAIRS = "pairs.npz"
CHECKPOINT = "checkpoint.pt"
LOG = "train.log"
PROJECTIONS_DIR = "projections"

RUNNING, FINISHED, FAILED, CANCELLED = "running", "finished", "failed", "cancelled"
INTERRUPTED = "interrupted"  # read, never written: the process died without recording an end
STATES = (RUNNING, FINISHED, FAILED, CANCELLED)
ENDED = (FINISHED, FAILED, CANCELLED, INTERRUPTED)
RESUMABLE = (FAILED, CANCELLED, INTERRUPTED)

# Splits that get embeddings and images. "heldout" (--holdout-classes) joins them when a run has it.
SPLITS = ("train", "test", "shifted")
ALL_SPLITS = ("train", "val", "test", "shifted", "heldout")

# A snapshot (embeddings/epoch-NNNNNN.parquet): these columns, then e0 .. e{dim-1} (float32).
# row is the point's index within its split (and into images/<split>.npy); shift is 0 and
# source_index is -1 for points that are not shifted copies. Shifted copies are the "shifted"
# split (source_index: a test row) and, with --train-shifts, the train rows after the original
# images (source_index: a train row). "heldout" holds every image of the --holdout-classes. The
# epoch column is kept in every file, so a snapshot read alone still says which epoch it is. With
# --snapshot-max-points a snapshot may hold a seeded subset of each split's rows (the same rows at
# every epoch).
EMBEDDING_COLUMNS = ("epoch", "split", "row", "label", "class_name", "shift", "source_index")

# Extra snapshot columns that methods write after the embedding columns, where they apply
# (readers find the embedding with embedding_columns, so they ignore these):
#   magnet_cluster  magnet: the point's cluster, an index into magnet_centres. Train points: the
#                   k-means assignment the sampler used in that epoch (epoch 0: the one epoch 1
#                   starts from); other splits: the nearest centre (of any class).
SNAPSHOT_COLUMNS = ("magnet_cluster",)

# Per-snapshot arrays (embeddings/epoch-NNNNNN.npz, read with allow_pickle=False), where they apply:
#   magnet_centres         magnet: (M, D) float32, each cluster's mean training embedding at the epoch
#   magnet_centre_classes  magnet: (M,) int64, the class of each cluster
#   magnet_sigma2          magnet: () float64, σ² = mean squared distance of the training points to
#                          their cluster's centre (N − 1 in the denominator), for the evaluation softmax
#   head_test_scores       bce: (n,) float32, the verification head's probability that each pair of
#                          pairs.npz's test_pairs is of one class, aligned with its rows
#   reconstructions        autoencoder, pca: (k, h, w) uint8, the decoded embeddings of the test
#                          images of reconstruction_rows (k ≤ 64), as images/test.npy holds images
#   reconstruction_rows    autoencoder, pca: (k,) int64, their rows in the test split (0 .. k-1)
SNAPSHOT_ARRAYS = ("magnet_centres", "magnet_centre_classes", "magnet_sigma2", "head_test_scores",
                   "reconstructions", "reconstruction_rows")

# pairs.npz holds, per split (train, val, test), where the method draws them:
#   <split>_pairs       (n, 3) int64: i, j, similar (1 = a positive pair), for every method
#   <split>_triplets    (n, 3) int64: anchor, positive, negative (regime-drawn triplets)
#   <split>_pair_types  (n,) int64, contrastive-3way: the type of each row of <split>_pairs:
#                       0 true positive, 1 false negative, 2 negative (see PAIR_TYPES)
PAIR_TYPES = ("true positive", "false negative", "negative")

# metrics.csv: loss is the mean pair (or triplet) loss of the split's pairs; pos_dist and
# neg_dist are mean embedding distances of its positive and negative pairs; knn_accuracy is a
# 5-NN classifier fitted on the train embeddings of that epoch. Empty where it does not apply.
METRIC_COLUMNS = ("epoch", "split", "loss", "pos_dist", "neg_dist", "knn_accuracy", "seconds")

ENV_RUNS_DIR = "EXPLORER_RUNS_DIR"
DEFAULT_RUNS_DIR = "runs"


class RunDirError(ValueError):
    """A run directory, or one of its files, is missing or unreadable."""


class RunWriteError(OSError):
    """Writing a run file failed (disk full, permission denied, ...). Its message is one line that
    names the file and says what to do, e.g. ``disk full while writing embeddings/epoch-000002.parquet:
    free space and --resume``; ``errno`` is the operating system's, ``shown`` the file."""

    def __init__(self, code: int | None, shown: str):
        super().__init__(code, os.strerror(code) if code else "write failed")
        self.shown = shown

    def __str__(self) -> str:
        return failure_reason(self)


def failure_reason(error: BaseException, shown: str | None = None, remedy: str = "--resume") -> str:
    """Why a run (or a write) failed, in one line: what happened, to which file, and what to do
    about it; ``remedy`` is the step after freeing space or fixing permissions."""
    if isinstance(error, OSError) and error.errno is not None:
        what = shown or getattr(error, "shown", None) or (
            Path(error.filename).name if error.filename else "the run directory")
        if error.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
            return f"disk full while writing {what}: free space and {remedy}"
        if error.errno in (errno.EACCES, errno.EPERM):
            return f"permission denied while writing {what}: make its folder writable and {remedy}"
        if error.errno == errno.EROFS:
            return f"read-only file system while writing {what}: write somewhere else"
        return f"cannot write {what} ({os.strerror(error.errno)}): fix the cause and {remedy}"
    if isinstance(error, RunWriteError):
        cause = error.__cause__
        return " ".join(f"cannot write {error.shown} ({type(cause).__name__}: {cause}): fix the cause and {remedy}".split())
    return " ".join(f"{type(error).__name__}: {error}".split())


RESTORE = "restore the file or train the run again"


def damaged(shown: str | os.PathLike, run_dir: str | os.PathLike, error: BaseException | str) -> RunDirError:
    """The RunDirError of a run file that is there but cannot be used: one line naming it, why,
    and what to do. A library's advice to unpickle (numpy's) is never passed on."""
    if isinstance(error, BaseException):
        text = str(error).strip()
        if "pickle" in text.lower():
            detail = "it holds pickled objects, which are never loaded"
        else:
            detail = text.splitlines()[0] if text else type(error).__name__
    else:
        detail = error
    return RunDirError(f"{shown} in {run_dir} cannot be read ({detail}): {RESTORE}")


def is_inside(path: str | os.PathLike, root: str | os.PathLike) -> bool:
    """Whether ``path``, with every symbolic link followed, lies inside ``root`` (or is it)."""
    return Path(path).resolve().is_relative_to(Path(root).resolve())


def contained(run_dir: str | os.PathLike, path: str | os.PathLike) -> Path:
    """``path``, a file of ``run_dir``; RunDirError if a symbolic link takes it outside the run:
    nothing outside a run directory is read or written as part of it."""
    path = Path(path)
    if not is_inside(path, run_dir):
        shown = path.relative_to(run_dir) if path.is_relative_to(run_dir) else path
        raise RunDirError(f"{shown} in {run_dir} is a link to {path.resolve()}, outside the run: "
                          f"remove the link")
    return path


def default_runs_dir() -> Path:
    return Path(os.environ.get(ENV_RUNS_DIR) or DEFAULT_RUNS_DIR)


# ---------------------------------------------------------------- creating and naming runs


def safe_name(text: str, limit: int = 80) -> str:
    """``text`` as one plain file name: letters, digits, ``_ . -`` only, never ``..``, no leading
    dot, at most ``limit`` characters. Run names are built from it, so no name, however odd, can
    point outside the runs directory."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", text)
    name = re.sub(r"\.{2,}", "_", name).lstrip(".-")
    return name[:limit]


def new_run_dir(runs_dir: str | os.PathLike, name_hint: str) -> Path:
    """Create and return a fresh, uniquely named run directory under ``runs_dir``.

    Raises training.errors.InputError if ``runs_dir`` is a file or cannot be created or written."""
    from training.errors import InputError

    runs_dir = Path(runs_dir)
    if runs_dir.exists() and not runs_dir.is_dir():
        raise InputError(f"--runs-dir {runs_dir} is a file, not a folder: choose a folder for the runs")
    try:
        runs_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InputError(f"--runs-dir {runs_dir} cannot be created ({e.strerror}): choose another folder") from None
    stamp = time.strftime("%Y%m%d-%H%M%S")
    hint = safe_name(name_hint)
    for _ in range(100):
        path = runs_dir / "-".join(filter(None, [stamp, hint, uuid.uuid4().hex[:6]]))
        try:
            path.mkdir()
        except FileExistsError:
            continue
        except OSError as e:
            raise InputError(f"--runs-dir {runs_dir} is not writable ({e.strerror}): make it writable "
                             f"or choose another folder") from None
        if path.parent != runs_dir or not is_inside(path, runs_dir):  # cannot happen with a safe name
            path.rmdir()
            raise InputError(f"run name {name_hint!r} leads outside {runs_dir}")
        return path
    raise RunDirError(f"could not create a unique run directory in {runs_dir}")


def is_run_dir(path: str | os.PathLike) -> bool:
    return (Path(path) / CONFIG).is_file()


def list_run_dirs(runs_dir: str | os.PathLike, strict: bool = False) -> list[Path]:
    """Run directories under ``runs_dir``, newest first. A missing ``runs_dir`` has none; a
    symbolic link that leads outside ``runs_dir`` is not a run of it (see ``outside_links``).
    A ``runs_dir`` that is a file or cannot be listed has none, or, ``strict``, raises RunDirError
    saying so (the command lines are strict)."""
    return sorted(_entries(runs_dir, strict)[0], key=lambda p: p.name, reverse=True)


def outside_links(runs_dir: str | os.PathLike) -> list[Path]:
    """Entries of ``runs_dir`` that are symbolic links leading outside it, which listings ignore."""
    return sorted(_entries(runs_dir, False)[1])


def _entries(runs_dir: str | os.PathLike, strict: bool) -> tuple[list[Path], list[Path]]:
    runs_dir = Path(runs_dir)
    try:
        if not runs_dir.exists():
            return [], []
        if not runs_dir.is_dir():
            raise RunDirError(f"runs directory {runs_dir} is a file, not a folder: choose the folder that "
                              f"holds the runs")
        try:
            entries = list(runs_dir.iterdir())
        except OSError as e:
            raise RunDirError(f"runs directory {runs_dir} cannot be listed ({e.strerror}): make it "
                              f"readable") from None
    except RunDirError:
        if strict:
            raise
        return [], []
    runs, outside = [], []
    for path in entries:
        try:
            if path.is_symlink() and not is_inside(path, runs_dir):
                outside.append(path)
            elif path.is_dir() and is_run_dir(path):
                runs.append(path)
        except OSError:  # a folder we may not look into is listed, and reads as unreadable
            runs.append(path)
    return runs, outside


# ---------------------------------------------------------------- atomic writes


def atomic_write(path: Path, write: Any, mode: str = "w", run_dir: Path | None = None) -> None:
    """Write ``path`` through ``write(file)`` into a temporary file, then rename it into place.

    With ``run_dir``, ``path`` must stay inside it (RunDirError otherwise). A failure of the
    operating system (disk full, permission denied) raises RunWriteError, one line naming the file.
    """
    path = Path(path)
    base = Path(run_dir) if run_dir is not None else path.parent
    if run_dir is not None:
        contained(run_dir, path.parent)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, mode) as f:
            write(f)
        os.chmod(tmp, 0o644)  # mkstemp makes files private; run files are ordinary, readable files
        os.replace(tmp, path)
    except BaseException as e:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        if isinstance(e, OSError) and not isinstance(e, RunWriteError):
            raise RunWriteError(e.errno, _shown(path, base)) from e
        raise


def _shown(path: Path, base: Path) -> str:
    return path.relative_to(base).as_posix() if path.is_relative_to(base) else str(path)


def _append(run_dir: Path, name: str, text: str) -> None:
    """Add ``text`` to a run file in place, flushed to disk; never through a link out of the run."""
    path = Path(run_dir) / name
    if path.is_symlink():
        raise RunDirError(f"{name} in {run_dir} is a symbolic link: a run's files are its own; remove it")
    try:
        with open(path, "a", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
    except RunWriteError:
        raise
    except OSError as e:
        raise RunWriteError(e.errno, name) from e


def write_json(path: Path, data: dict) -> None:
    atomic_write(Path(path), lambda f: json.dump(data, f, indent=2, sort_keys=True))


def read_json(path: Path) -> dict:
    path = Path(path)
    try:
        with open(contained(path.parent, path)) as f:
            data = json.load(f)
    except FileNotFoundError:
        raise RunDirError(f"{path.name} is missing in {path.parent}: {RESTORE}") from None
    except IsADirectoryError:
        raise RunDirError(f"{path.name} in {path.parent} is a folder, not a file") from None
    except OSError as e:
        raise RunDirError(f"{path.name} in {path.parent} cannot be read ({e.strerror})") from None
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as e:
        raise RunDirError(f"{path.name} in {path.parent} is not valid JSON ({e}): {RESTORE}") from None
    if not isinstance(data, dict):
        raise RunDirError(f"{path.name} in {path.parent} does not hold a JSON object: {RESTORE}")
    return data


# ---------------------------------------------------------------- config and status


def write_config(run_dir: Path, config: dict) -> None:
    write_json(Path(run_dir) / CONFIG, {**config, "format_version": FORMAT_VERSION})


def read_config(run_dir: Path) -> dict:
    config = read_json(Path(run_dir) / CONFIG)
    version = config.get("format_version")
    if version not in READABLE_VERSIONS:
        raise RunDirError(
            f"{CONFIG} in {run_dir} has format version {version!r}; this program reads versions "
            f"{', '.join(map(str, READABLE_VERSIONS))}"
        )
    _check_fields(config, CONFIG, run_dir, CONFIG_FIELDS)
    return config


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# Fields every reader relies on, where present: a check, and what it must be.
CONFIG_FIELDS = {
    "class_names": (lambda v: isinstance(v, list) and all(isinstance(c, (str, int)) for c in v), "a list of names"),
    "embedding_dim": (lambda v: _is_int(v) and v > 0, "a positive whole number"),
    "epochs": (lambda v: _is_int(v) and v >= 0, "a whole number"),
    "shifts": (lambda v: isinstance(v, list) and all(_is_int(s) for s in v), "a list of whole numbers"),
}
STATUS_FIELDS = {
    "epoch": (lambda v: _is_int(v) and v >= 0, "a whole number"),
    "epochs": (lambda v: _is_int(v) and v >= 0, "a whole number"),
    "error": (lambda v: v is None or isinstance(v, str), "text or null"),
}


def _check_fields(data: dict, name: str, run_dir: Path, fields: dict) -> None:
    for key, (ok, wanted) in fields.items():
        if key in data and not ok(data[key]):
            raise RunDirError(f"{name} in {run_dir}: {key} must be {wanted}, got {str(data[key])[:40]!r}: {RESTORE}")


def write_status(run_dir: Path, state: str, epoch: int, epochs: int, **extra: Any) -> dict:
    """Write status.json, keeping the start time of an earlier status of the same run."""
    if state not in STATES:
        raise ValueError(f"unknown run state {state!r}")
    path = Path(run_dir) / STATUS
    now = time.time()
    started = now
    if path.exists():
        try:
            started = read_json(path).get("started_at", now)
        except RunDirError:
            pass
    status = {
        "state": state,
        "epoch": int(epoch),
        "epochs": int(epochs),
        "started_at": started,
        "updated_at": now,
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "error": None,
        **extra,
    }
    if state != RUNNING:
        status["ended_at"] = now
    write_json(path, status)
    return status


def read_status(run_dir: Path) -> dict:
    """status.json, with ``state`` read as ``interrupted`` for a run whose process has died
    (killed, or the machine lost power): ``epoch`` is then its last complete epoch."""
    status = read_json(Path(run_dir) / STATUS)
    if status.get("state") not in STATES:
        raise RunDirError(f"{STATUS} in {run_dir} has unknown state {str(status.get('state'))[:40]!r}: {RESTORE}")
    _check_fields(status, STATUS, run_dir, STATUS_FIELDS)
    if status["state"] == RUNNING and not _process_alive(status):
        status["state"] = INTERRUPTED
        status["error"] = (f"the training process stopped without recording an end, after epoch "
                           f"{status.get('epoch', 0)}; resume it with --resume")
    return status


def _process_alive(status: dict) -> bool:
    if status.get("host") != socket.gethostname():
        return True  # cannot tell from here; trust the file
    pid = status.get("pid")
    if not isinstance(pid, int) or pid <= 0:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (exited, not yet reaped by its parent) counts as ended
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


# ---------------------------------------------------------------- metrics


def write_metrics(run_dir: Path, rows: Iterable[dict]) -> None:
    """Write metrics.csv whole (a new run, or cutting it back when a run resumes)."""
    def write(f: io.TextIOBase) -> None:
        writer = csv.DictWriter(f, fieldnames=METRIC_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _csv_value(row.get(k)) for k in METRIC_COLUMNS})

    atomic_write(Path(run_dir) / METRICS, write, run_dir=run_dir)


def append_metrics(run_dir: Path, rows: Iterable[dict]) -> None:
    """Add one epoch's rows to metrics.csv without rewriting it. A reader that catches the file
    mid-append sees a partial last line, which read_metrics leaves out."""
    path = Path(run_dir) / METRICS
    if not path.exists():
        write_metrics(run_dir, rows)
        return
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=METRIC_COLUMNS, extrasaction="ignore")
    for row in rows:
        writer.writerow({k: _csv_value(row.get(k)) for k in METRIC_COLUMNS})
    _append(run_dir, METRICS, buffer.getvalue())


def truncate_metrics(run_dir: Path, last_epoch: int) -> None:
    """Keep only the rows of epochs up to ``last_epoch`` (a resumed run redoes the rest)."""
    frame = read_metrics(run_dir)
    kept = frame[frame["epoch"] <= last_epoch]
    write_metrics(run_dir, [{k: (None if _missing(v) else v) for k, v in row.items()}
                            for row in kept.to_dict("records")])


STEP_COLUMNS = ("epoch", "step", "iteration", "loss")


def append_steps(run_dir: Path, epoch: int, first_iteration: int, losses: Iterable[float]) -> None:
    """Add one epoch's per-step training losses to steps.csv, once, at the end of the epoch."""
    path = Path(run_dir) / STEPS
    lines = [] if path.exists() else [",".join(STEP_COLUMNS)]
    lines += [f"{epoch},{i + 1},{first_iteration + i},{loss!r}" for i, loss in enumerate(losses)]
    _append(run_dir, STEPS, "\n".join(lines) + "\n")


def read_steps(run_dir: Path):
    """steps.csv as a DataFrame (empty, with the columns, for a run that has none)."""
    frame = _read_appended_csv(run_dir, STEPS, STEP_COLUMNS)
    if list(frame.columns) != list(STEP_COLUMNS):
        raise RunDirError(f"{STEPS} in {run_dir} does not have the columns {', '.join(STEP_COLUMNS)}: {RESTORE}")
    return frame


def truncate_steps(run_dir: Path, last_epoch: int) -> None:
    """Keep only the steps of epochs up to ``last_epoch`` (a resumed run redoes the rest)."""
    path = Path(run_dir) / STEPS
    if not path.exists():
        return
    kept = read_steps(run_dir)
    kept = kept[kept["epoch"] <= last_epoch]
    atomic_write(path, lambda f: kept.to_csv(f, index=False), run_dir=run_dir)


def _read_appended_csv(run_dir: Path, name: str, columns: tuple[str, ...]):
    """A CSV file that is appended to while runs are read: a line still being written is left out."""
    import pandas as pd

    path = contained(run_dir, Path(run_dir) / name)
    if not path.exists():
        return pd.DataFrame(columns=list(columns))
    try:
        text = path.read_bytes()
        return pd.read_csv(io.BytesIO(text[:text.rfind(b"\n") + 1]))
    except Exception as e:  # pandas raises several unrelated types for a damaged file
        raise damaged(name, run_dir, e) from None


def _missing(value: Any) -> bool:
    return isinstance(value, float) and not np.isfinite(value)


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, float) and not np.isfinite(value):
        return ""
    return value


def read_metrics(run_dir: Path):
    """metrics.csv as a pandas DataFrame (empty, with the columns, if not written yet)."""
    frame = _read_appended_csv(run_dir, METRICS, METRIC_COLUMNS)
    missing = [c for c in METRIC_COLUMNS if c not in frame.columns]
    if missing:
        raise RunDirError(f"{METRICS} in {run_dir} lacks the columns {', '.join(missing)}: {RESTORE}")
    return frame


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
    atomic_write(path, lambda f: frame.to_parquet(f, index=False), "wb", run_dir=run_dir)
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
    atomic_write(path, lambda f: np.savez(f, **plain), "wb", run_dir=run_dir)
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


def read_snapshot(run_dir: Path, epoch: int, split: str | None = None):
    """One epoch's embeddings as a DataFrame, optionally one split only (format 1 or 2)."""
    import pandas as pd

    run_dir = Path(run_dir)
    path = snapshot_path(run_dir, epoch)
    filters = [("split", "==", split)] if split is not None else []
    if not path.exists() and (run_dir / EMBEDDINGS_V1).exists():
        path, filters = run_dir / EMBEDDINGS_V1, [("epoch", "==", int(epoch)), *filters]
    shown = path.relative_to(run_dir)
    contained(run_dir, path)
    if not path.exists():
        raise RunDirError(f"{shown} is missing in {run_dir}: epoch {epoch} has no snapshot")
    try:
        frame = pd.read_parquet(path, filters=filters or None)
    except Exception as e:  # pyarrow raises several types for a damaged file
        raise damaged(shown, run_dir, e) from None
    missing = [c for c in EMBEDDING_COLUMNS if c not in frame.columns]
    if missing:
        raise RunDirError(f"{shown} in {run_dir} lacks the columns {', '.join(missing)}: {RESTORE}")
    return frame


def embedding_columns(frame) -> list[str]:
    """The names of the embedding coordinate columns e0, e1, ... in order."""
    cols = [c for c in frame.columns if c.startswith("e") and c[1:].isdigit()]
    return sorted(cols, key=lambda c: int(c[1:]))


# ---------------------------------------------------------------- images and pairs


def write_images(run_dir: Path, split: str, images: np.ndarray) -> None:
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 3:
        raise ValueError(f"images must be uint8 of shape (n, h, w), got {images.dtype} {images.shape}")
    atomic_write(Path(run_dir) / IMAGES_DIR / f"{split}.npy", lambda f: np.save(f, images), "wb", run_dir=run_dir)


def read_images(run_dir: Path, split: str, mmap: bool = True) -> np.ndarray:
    path = contained(run_dir, Path(run_dir) / IMAGES_DIR / f"{split}.npy")
    if not path.exists():
        raise RunDirError(f"{IMAGES_DIR}/{split}.npy is missing in {run_dir}: {RESTORE}")
    try:
        images = np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except Exception as e:
        raise damaged(f"{IMAGES_DIR}/{split}.npy", run_dir, e) from None
    if images.dtype != np.uint8 or images.ndim != 3:
        raise damaged(f"{IMAGES_DIR}/{split}.npy", run_dir,
                      f"{images.dtype} of shape {images.shape}, not uint8 images (n, height, width)")
    return images


def write_pairs(run_dir: Path, arrays: dict[str, np.ndarray]) -> None:
    """Save pair and triplet index arrays, e.g. ``train_pairs`` (n, 3: i, j, similar) and
    ``train_triplets`` (n, 3: anchor, positive, negative), indices into the split's rows."""
    atomic_write(Path(run_dir) / PAIRS, lambda f: np.savez(f, **arrays), "wb", run_dir=run_dir)


def read_pairs(run_dir: Path) -> dict[str, np.ndarray]:
    path = contained(run_dir, Path(run_dir) / PAIRS)
    if not path.exists():
        raise RunDirError(f"{PAIRS} is missing in {run_dir}: {RESTORE}")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except Exception as e:
        raise damaged(PAIRS, run_dir, e) from None
    for name, values in arrays.items():
        rows = name.endswith(("_pairs", "_triplets"))
        shape_ok = values.ndim == 2 and values.shape[1] == 3 if rows else values.ndim == 1
        if values.size and not (values.dtype.kind in "iu" and shape_ok):  # an empty set may be of any shape
            shape = "(n, 3) whole numbers" if rows else "(n,) whole numbers"
            raise damaged(PAIRS, run_dir, f"{name} is {values.dtype} of shape {values.shape}, not {shape}")
    return arrays


# ---------------------------------------------------------------- checkpoint (needs torch)


def write_checkpoint(run_dir: Path, checkpoint: dict) -> None:
    import torch

    atomic_write(Path(run_dir) / CHECKPOINT, lambda f: torch.save(checkpoint, f), "wb", run_dir=run_dir)


def read_checkpoint(run_dir: Path, map_location: str = "cpu") -> dict:
    import torch

    path = contained(run_dir, Path(run_dir) / CHECKPOINT)
    if not path.exists():
        raise RunDirError(f"{CHECKPOINT} is missing in {run_dir}")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:
        raise damaged(CHECKPOINT, run_dir, e) from None
