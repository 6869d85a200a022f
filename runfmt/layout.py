"""The run directory's layout: file names, the format version, states and splits, the errors
its readers raise, where runs live, and when a run last changed. No torch, no pandas at import.


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

import errno
import os
import re
from pathlib import Path

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
MAGNET_CLUSTER = "magnet_cluster"
SNAPSHOT_COLUMNS = (MAGNET_CLUSTER,)

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
MAGNET_CENTRES = "magnet_centres"
MAGNET_CENTRE_CLASSES = "magnet_centre_classes"
MAGNET_SIGMA2 = "magnet_sigma2"
HEAD_TEST_SCORES = "head_test_scores"
RECONSTRUCTIONS = "reconstructions"
RECONSTRUCTION_ROWS = "reconstruction_rows"
SNAPSHOT_ARRAYS = (MAGNET_CENTRES, MAGNET_CENTRE_CLASSES, MAGNET_SIGMA2, HEAD_TEST_SCORES, RECONSTRUCTIONS,
                   RECONSTRUCTION_ROWS)

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
STEP_COLUMNS = ("epoch", "step", "iteration", "loss")  # steps.csv

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


def safe_name(text: str, limit: int = 80) -> str:
    """``text`` as one plain file name: letters, digits, ``_ . -`` only, never ``..``, no leading
    dot, at most ``limit`` characters. Run names are built from it, so no name, however odd, can
    point outside the runs directory."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", text)
    name = re.sub(r"\.{2,}", "_", name).lstrip(".-")
    return name[:limit]


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




# ---------------------------------------------------------------- when a run last changed

# The files whose times say a run changed: a new snapshot changes the embeddings folder's time
# (format 2), a rewritten embeddings.parquet its own (format 1).
CHANGING_FILES = (CONFIG, STATUS, METRICS, EMBEDDINGS, EMBEDDINGS_V1, PAIRS)


def last_changed(run_dir: str | os.PathLike) -> float:
    """Latest modification time of a run's own files (config, status, metrics, snapshots, pairs):
    the key of anything cached from the run; 0.0 for a run with none of them."""
    times = []
    for name in CHANGING_FILES:
        try:
            times.append((Path(run_dir) / name).stat().st_mtime)
        except OSError:
            pass
    return max(times, default=0.0)


def snapshot_marker(run_dir: str | os.PathLike) -> float:
    """Changes whenever a snapshot is added (the snapshots folder's mtime; format 1: its file)."""
    for name in (EMBEDDINGS, EMBEDDINGS_V1):
        try:
            return (Path(run_dir) / name).stat().st_mtime
        except OSError:
            continue
    return 0.0


__all__ = [n for n, v in dict(globals()).items() if not n.startswith("_") and not isinstance(v, type(os))
           and getattr(v, "__module__", __name__) == __name__]
