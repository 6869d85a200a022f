"""Starting and stopping ``python -m training train`` as a separate process, for the app.

The run directory is created here, before the process starts, so the caller knows it at once and
can follow it through status.json and train.log. The same options launched twice within
``DEDUP_SECONDS`` (a double click) give the first run back instead of a second one. Imports no torch.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from training import rundir
from training.config import TrainConfig

DEDUP_SECONDS = 30.0
LAUNCH = "launch.json"


def training_argv(config: TrainConfig, run_dir: Path) -> list[str]:
    """The command line that trains ``config`` into ``run_dir``. The options travel as one JSON
    argument, so no value a form accepts can be read as another option."""
    options = {k: v for k, v in config.to_dict().items() if k != "runs_dir"}
    return [sys.executable, "-m", "training", "train", "--run-dir", str(run_dir),
            "--runs-dir", str(config.runs_dir), "--options", json.dumps(options)]


def fingerprint(config: TrainConfig) -> str:
    options = {k: v for k, v in config.to_dict().items() if k != "runs_dir"}
    return hashlib.sha256(json.dumps(options, sort_keys=True).encode()).hexdigest()[:16]


def start(config: TrainConfig) -> Path:
    """Validate, then start training in its own process session; return its run directory.

    Raises training.errors.InputError for a bad option, before anything is written.
    """
    config.validate()
    key = fingerprint(config)
    recent = _recent_launch(Path(config.runs_dir), key)
    if recent is not None:
        return recent
    run_dir = rundir.new_run_dir(config.runs_dir, config.run_name_hint())
    rundir.write_json(run_dir / LAUNCH, {"fingerprint": key, "launched_at": time.time()})
    start_in(run_dir, config, launch_fingerprint=key)
    return run_dir


def start_in(run_dir: Path, config: TrainConfig, **recorded) -> subprocess.Popen:
    """Train ``config`` into the fresh ``run_dir`` in its own process session. config.json (with
    ``recorded`` beside the options) and a running status are written at once, so listings show
    the run before the process has imported anything."""
    rundir.write_config(run_dir, {**config.to_dict(), **recorded})
    process = spawn(training_argv(config, run_dir), run_dir)
    if not (run_dir / rundir.STATUS).exists():
        rundir.write_status(run_dir, rundir.RUNNING, 0, config.epochs, pid=process.pid)
    return process


def spawn(argv: list[str], run_dir: Path) -> subprocess.Popen:
    """Start ``argv`` in its own process session (a Ctrl-C meant for the caller does not reach
    it), its output appended to the run's train.log."""
    with open(run_dir / rundir.LOG, "ab") as log:
        return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, cwd=os.getcwd(),
                                env={**os.environ, "PYTHONUNBUFFERED": "1"})


def resume(run_dir: str | os.PathLike) -> Path:
    """Start ``python -m training train --resume RUN_DIR`` for a run that stopped early.

    Raises training.errors.InputError, starting nothing, if the run cannot be resumed.
    """
    resume_process(run_dir)
    return Path(run_dir)


def resume_process(run_dir: str | os.PathLike) -> subprocess.Popen:
    """``resume``, returning the training process."""
    from training.errors import InputError

    run_dir = Path(run_dir)
    try:
        status = rundir.read_status(run_dir)
    except rundir.RunDirError as e:
        raise InputError(f"cannot resume {run_dir.name}: {e}") from None
    if status["state"] not in rundir.RESUMABLE:
        raise InputError(f"cannot resume {run_dir.name}: it is {status['state']}")
    epoch, epochs = status.get("epoch", 0), status.get("epochs", 0)
    process = spawn([sys.executable, "-m", "training", "train", "--resume", str(run_dir)], run_dir)
    rundir.write_status(run_dir, rundir.RUNNING, epoch, epochs, pid=process.pid)  # a double click finds it running
    return process


def cancel(run_dir: str | os.PathLike) -> bool:
    """Ask a running training process to stop; it records itself as cancelled. True if signalled."""
    status = rundir.read_status(Path(run_dir))
    pid = status.get("pid")
    if status["state"] != rundir.RUNNING or not isinstance(pid, int):
        return False
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    except PermissionError:
        os.kill(pid, signal.SIGTERM)
    return True


def log_tail(run_dir: str | os.PathLike, lines: int = 20) -> list[str]:
    """The last lines of the run's train.log, with progress-bar carriage returns resolved."""
    path = Path(run_dir) / rundir.LOG
    if not path.exists():
        return []
    with open(path, "rb") as f:
        f.seek(max(0, path.stat().st_size - 64_000))
        text = f.read().decode("utf-8", errors="replace")
    shown = [line.split("\r")[-1] for line in text.splitlines()]
    return [line for line in shown if line.strip()][-lines:]


def _recent_launch(runs_dir: Path, key: str) -> Path | None:
    now = time.time()
    for path in rundir.list_run_dirs(runs_dir):
        try:
            launch = rundir.read_json(path / LAUNCH)
        except rundir.RunDirError:
            continue
        if launch.get("fingerprint") != key or now - launch.get("launched_at", 0) > DEDUP_SECONDS:
            continue
        try:
            if rundir.read_status(path)["state"] == rundir.RUNNING:
                return path
        except rundir.RunDirError:
            return path  # launched a moment ago; its status is not written yet
    return None
