"""The run directory as training writes it: everything of ``runfmt`` (the torch-free format package
that owns the layout, atomic writes, status and snapshots), plus the two parts that need training:
creating a run's directory (a bad --runs-dir is an InputError) and the torch checkpoint."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

from runfmt import *  # noqa: F401,F403  (training writes every run file through runfmt)
from runfmt import CHECKPOINT, RunDirError, contained, damaged, is_inside, safe_name


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


def write_checkpoint(run_dir: Path, checkpoint: dict) -> None:
    import torch

    from runfmt import files

    files.atomic_write(Path(run_dir) / CHECKPOINT, lambda f: torch.save(checkpoint, f), "wb", run_dir=run_dir)


def read_checkpoint(run_dir: Path, map_location: str = "cpu") -> dict:
    import torch

    path = contained(run_dir, Path(run_dir) / CHECKPOINT)
    if not path.exists():
        raise RunDirError(f"{CHECKPOINT} is missing in {run_dir}")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:
        raise damaged(CHECKPOINT, run_dir, e) from None
