"""One training run, top to bottom: prepare, create the run directory, train; or resume one.

``prepare`` reads the data and draws everything the method needs, so any bad input fails before a
run directory exists. ``train`` and ``resume`` then hand over to the loop (training.loop) and make
sure the run ends ``finished``, ``cancelled`` or ``failed``, whatever happens.
"""

from __future__ import annotations

import dataclasses
import os
import platform
import signal
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from training import distributed, rundir
from training.config import TrainConfig
from training.data import DataSplits, load_splits
from training.errors import Cancelled, InputError
from training.loop import build_engine, fit
from training.objectives import make_objective
from training.objectives.base import Objective
from training.shift import Shifted, shift_images, with_train_shifts


@dataclass
class Prepared:
    """Everything a run needs before its directory exists; any bad input fails while preparing."""
    config: TrainConfig
    data: DataSplits
    shifted: Shifted
    objective: Objective
    rng: np.random.Generator  # drew the objective's tuples; saved with each checkpoint
    device: torch.device


def prepare(config: TrainConfig) -> Prepared:
    config.validate()
    device = distributed.rank_device(resolve_device(config.device))
    config = config.resolved(device.type)
    data = with_train_shifts(load_splits(config), config.train_shifts)
    shifted = shift_images(data.test.images, config.shifts)
    rng = np.random.default_rng(config.seed)
    objective = make_objective(config, data, rng)
    return Prepared(config, data, shifted, objective, rng, device)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda was asked for but no CUDA device is available; use --device cpu")
    return torch.device(name)


def train(config: TrainConfig, log: Callable[[str], None] | None = None,
          run_dir: Path | None = None) -> Path | None:
    """Prepare, create the run directory, train, and return the run directory.

    Raises InputError before any directory exists. After that, the run ends ``finished``,
    ``cancelled`` (Cancelled is re-raised) or ``failed`` (the exception is re-raised).
    A given ``run_dir`` (made by training.launch) is used instead of a new one, and records
    bad input as a failed run, so whoever launched it can see why. Under torchrun, ranks other
    than 0 write nothing and return None.
    """
    log = log or _log_beside_progress_bar
    with cancel_on_signals():
        try:
            prepared = prepare(config)
            ranks = distributed.from_environment(prepared.device)
            engine = build_engine(prepared, model_args(prepared))  # --pretrained may not fit
        except (InputError, Cancelled, KeyboardInterrupt) as e:
            if run_dir is not None:
                _record_early_end(run_dir, config, e)
            raise
        if ranks.main:
            run_dir = start_run_dir(prepared, engine.network.backbone, run_dir)
            log(f"run directory: {run_dir}")
    _fit_to_the_end(prepared, engine, run_dir if ranks.main else None, ranks, log)
    return run_dir if ranks.main else None


def resume(run_dir: Path, log: Callable[[str], None] | None = None) -> Path | None:
    """Continue a run that did not finish from its last complete checkpoint, RNG states included.

    Raises InputError, changing nothing, if ``run_dir`` is not a run that can be resumed.
    """
    log = log or _log_beside_progress_bar
    run_dir = Path(run_dir)
    with cancel_on_signals():
        config, checkpoint = resumable(run_dir)
        if checkpoint is not None:  # its weights replace any --pretrained ones
            config = dataclasses.replace(config, pretrained=None)
        prepared = prepare(config)
        ranks = distributed.from_environment(prepared.device)
        engine = build_engine(prepared, model_args(prepared))
        if checkpoint is not None:
            engine.restore(checkpoint, prepared.objective)
        if ranks.main:
            rundir.truncate_metrics(run_dir, engine.epoch if checkpoint is not None else -1)
            rundir.truncate_steps(run_dir, engine.epoch if checkpoint is not None else -1)
            rundir.remove_snapshots_after(run_dir, engine.epoch if checkpoint is not None else -1)
            rundir.write_status(run_dir, rundir.RUNNING, engine.epoch, config.epochs, resumed_at=time.time())
            log(f"resuming {run_dir} after epoch {engine.epoch}")
    _fit_to_the_end(prepared, engine, run_dir if ranks.main else None, ranks, log)
    return run_dir if ranks.main else None


def resumable(run_dir: Path) -> tuple[TrainConfig, dict | None]:
    """The config and last checkpoint (None before the first epoch) of a run that can resume."""
    if not rundir.is_run_dir(run_dir):
        raise InputError(f"--resume {run_dir}: not a run directory (it has no {rundir.CONFIG})")
    try:
        saved, status = rundir.read_config(run_dir), rundir.read_status(run_dir)
    except rundir.RunDirError as e:
        raise InputError(f"--resume {run_dir}: {e}") from None
    if status["state"] == rundir.FINISHED:
        raise InputError(f"--resume {run_dir}: the run has already finished")
    if status["state"] == rundir.RUNNING and status.get("pid") != os.getpid():
        # (training.launch.resume marks the run running under this process's pid as it starts it)
        raise InputError(f"--resume {run_dir}: the run is still running (pid {status.get('pid')})")
    if saved.get("format_version") != rundir.FORMAT_VERSION:
        raise InputError(f"--resume {run_dir}: format {saved.get('format_version')} runs cannot be "
                         f"resumed; start a new run with the same options")
    config = TrainConfig.from_dict(saved)
    if not (run_dir / rundir.CHECKPOINT).exists():
        return config, None
    try:
        return config, rundir.read_checkpoint(run_dir)
    except rundir.RunDirError as e:
        raise InputError(f"--resume {run_dir}: {e}") from None


def _fit_to_the_end(prepared: Prepared, engine, run_dir: Path | None, ranks, log) -> None:
    try:
        with cancel_on_signals():
            fit(prepared, engine, run_dir, ranks, log)
    except (Cancelled, KeyboardInterrupt):
        if run_dir is not None:
            _end(run_dir, rundir.CANCELLED, "cancelled by the user")
        raise Cancelled(str(run_dir or "")) from None
    except BaseException as e:
        if run_dir is not None:
            _end(run_dir, rundir.FAILED, rundir.failure_reason(e))
        raise
    if run_dir is not None:
        rundir.write_status(run_dir, rundir.FINISHED, prepared.config.epochs, prepared.config.epochs)


def start_run_dir(prepared: Prepared, backbone, run_dir: Path | None = None) -> Path:
    config, data = prepared.config, prepared.data
    if run_dir is None:
        run_dir = rundir.new_run_dir(config.runs_dir, config.run_name_hint())
    extra = {}
    if (run_dir / rundir.CONFIG).exists():
        extra = {k: v for k, v in rundir.read_json(run_dir / rundir.CONFIG).items()
                 if k == "launch_fingerprint"}
    rundir.write_config(run_dir, {
        **config.to_dict(),
        "class_names": data.class_names,
        "mean": data.mean,
        "std": data.std,
        "sizes": {"train": len(data.train), "val": len(data.val), "test": len(data.test),
                  "shifted": len(prepared.shifted.images),
                  **({"heldout": len(data.heldout)} if data.heldout is not None else {})},
        "model": {"name": type(backbone).__name__, "backbone": backbone.name, "args": backbone.constructor_args},
        "device_used": str(prepared.device),
        "created_at": time.time(),
        "versions": _versions(),
        **extra,
    })
    rundir.write_status(run_dir, rundir.RUNNING, 0, config.epochs)
    images = {"train": data.train.images, "test": data.test.images, "shifted": prepared.shifted.images}
    if data.heldout is not None:
        images["heldout"] = data.heldout.images
    for split, split_images in images.items():
        rundir.write_images(run_dir, split, split_images)
    rundir.write_pairs(run_dir, prepared.objective.saved_tuples())
    return run_dir


def model_args(prepared: Prepared) -> dict:
    return {"image_size": int(prepared.data.train.images.shape[1]),
            "embedding_dim": prepared.config.embedding_dim, "normalize": prepared.config.normalize}


def _record_early_end(run_dir: Path, config: TrainConfig, error: BaseException) -> None:
    cancelled = not isinstance(error, InputError)
    rundir.write_status(run_dir, rundir.CANCELLED if cancelled else rundir.FAILED, 0, config.epochs,
                        error="cancelled by the user" if cancelled else str(error))


def _log_beside_progress_bar(line: str) -> None:
    from tqdm import tqdm

    tqdm.write(line, file=sys.stderr)


def _end(run_dir: Path, state: str, error: str) -> None:
    try:
        epoch = int(rundir.read_json(run_dir / rundir.STATUS).get("epoch", 0))
        epochs = int(rundir.read_config(run_dir)["epochs"])
    except (rundir.RunDirError, KeyError, ValueError):
        epoch, epochs = 0, 0
    try:
        rundir.write_status(run_dir, state, epoch, epochs, error=error)
    except OSError as e:  # the disk that failed the run may refuse its status too: it then reads interrupted
        _log_beside_progress_bar(f"could not record the end of the run: {rundir.failure_reason(e)}")


@contextmanager
def cancel_on_signals():
    """Turn SIGTERM into Cancelled for the duration, so the run can record how it ended."""
    def handler(signum, frame):
        raise Cancelled(signal.Signals(signum).name)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _versions() -> dict:
    from importlib.metadata import version  # torchvision itself takes seconds to import

    return {"python": platform.python_version(), "torch": torch.__version__,
            "torchvision": version("torchvision"), "numpy": np.__version__}
