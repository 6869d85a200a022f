"""``train --tensorboard DIR``: the run's scalars logged live to TensorBoard as it trains.

It follows the run directory rather than the loop: the trainer's log callback (one line per
epoch, after that epoch's rows are appended to metrics.csv and steps.csv) reads only the bytes
added since the last epoch and writes them as scalars, so the loop knows nothing of TensorBoard
and no epoch rereads the files. Tags are those of ``python -m explorer export --tensorboard``:
``<split>/<figure>`` at each epoch and ``train/step_loss`` at each iteration.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

from training import rundir

RUN_LINE, RESUME_LINE = "run directory: ", "resuming "


class LiveScalars:
    """A log callback for training.trainer: prints the line, then logs what the run added."""

    def __init__(self, log_dir: str | Path):
        self.log_dir = Path(log_dir)
        self.run_dir: Path | None = None
        self.offsets: dict[str, int] = {}
        self.writer = None

    def __call__(self, line: str) -> None:
        from tqdm import tqdm

        tqdm.write(line, file=sys.stderr)
        if line.startswith(RUN_LINE):
            self.follow(Path(line[len(RUN_LINE):]), from_start=True)
        elif line.startswith(RESUME_LINE):  # what came before the resume was logged the first time
            self.follow(Path(line[len(RESUME_LINE):].rsplit(" after epoch", 1)[0]), from_start=False)
        else:
            self.sync()

    def follow(self, run_dir: Path, from_start: bool) -> None:
        from explorer.tensorboard_export import ScalarWriter

        self.run_dir = run_dir
        self.offsets = {name: 0 if from_start else _size(run_dir / name) for name in (rundir.METRICS, rundir.STEPS)}
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.writer = self.writer or ScalarWriter(self.log_dir)
        self.sync()

    def sync(self) -> None:
        import pandas as pd

        if self.writer is None:
            return
        for name, columns in ((rundir.METRICS, rundir.METRIC_COLUMNS), (rundir.STEPS, rundir.STEP_COLUMNS)):
            text = self._new_lines(name)
            if not text:
                continue
            frame = pd.read_csv(io.StringIO(text), names=list(columns), header=None)
            frame = frame[frame["epoch"].astype(str) != "epoch"]  # the header, on the first read
            for column in (c for c in columns if c != "split"):
                frame[column] = pd.to_numeric(frame[column], errors="coerce")
            if name == rundir.METRICS:
                self.writer.add_metrics(frame)
            else:
                self.writer.add_steps(frame)
        self.writer.flush()

    def _new_lines(self, name: str) -> str:
        """The complete lines appended to a run file since the last read."""
        path = self.run_dir / name
        if not path.is_file():
            return ""
        with open(path, "rb") as f:
            f.seek(self.offsets[name])
            data = f.read()
        end = data.rfind(b"\n") + 1
        self.offsets[name] += end
        return data[:end].decode()

    def close(self) -> None:
        if self.writer is not None:
            self.sync()
            self.writer.close()


def _size(path: Path) -> int:
    return path.stat().st_size if path.is_file() else 0
