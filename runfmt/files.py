"""Reading and writing a run's files atomically: JSON (config, status with its liveness check),
the appended CSVs (metrics, steps), images and pairs. Snapshots are in ``runfmt.snapshots``."""

from __future__ import annotations

import csv
import io
import json
import os
import socket
import tempfile
import time
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from runfmt.layout import (CONFIG, FORMAT_VERSION, IMAGES_DIR, METRIC_COLUMNS, METRICS, PAIRS, READABLE_VERSIONS,
                           RESTORE, RUNNING, STATES, STATUS, STEP_COLUMNS, STEPS, INTERRUPTED, RunDirError, RunWriteError,
                           contained, damaged)


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
    if status["state"] == RUNNING and not process_alive(status):
        status["state"] = INTERRUPTED
        status["error"] = (f"the training process stopped without recording an end, after epoch "
                           f"{status.get('epoch', 0)}; resume it with --resume")
    return status


def process_alive(status: dict) -> bool:
    """The liveness check: whether the process that wrote a running status is still alive (a
    process on another host, or one we may not signal, is trusted to be)."""
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




__all__ = [n for n, v in dict(globals()).items() if not n.startswith("_") and not isinstance(v, type(os))
           and getattr(v, "__module__", __name__) == __name__]
