"""Faults while a run is written: a full disk and a denied permission, injected at epoch 2 of 3.

The run must end ``failed`` with the reason in one line of status.json (the file, and what to do),
the command must exit 1, no temporary file may be left behind, and the snapshots written before
the fault must still open with explorer.runs.load_run. After the fault is gone, --resume finishes
the run.
"""

from __future__ import annotations

import builtins
import errno
from pathlib import Path

import pandas as pd
import pytest
import torch

from datafiles import write_class_folders
from explorer.runs import load_run
import runfmt.files
from training import rundir
from training.cli import main


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return write_class_folders(tmp_path_factory.mktemp("data") / "classes", per_class=8, size=(16, 16))


def train(data: Path, runs: Path, capsys, *extra: str) -> tuple[int, str]:
    code = main(["train", "--runs-dir", str(runs), "--dataset", "folder", "--data-dir", str(data),
                 "--image-size", "16", "--epochs", "3", "--device", "cpu", *extra])
    return code, capsys.readouterr().err


def only_run(runs: Path) -> Path:
    [run] = rundir.list_run_dirs(runs)
    return run


def assert_failed_cleanly(run: Path, err: str, reason: str, snapshots: list[int]) -> None:
    status = rundir.read_status(run)
    assert status["state"] == rundir.FAILED
    assert status["error"] == reason and "\n" not in status["error"]
    assert err.strip().splitlines()[-1] == f"error: training failed: {reason}"
    assert "Traceback" not in err
    leftovers = [p.name for p in run.rglob("*.tmp")]
    assert leftovers == []
    opened = load_run(run)  # what was written before the fault opens, as a failed run
    assert opened.state == rundir.FAILED and opened.epochs == snapshots
    for epoch in snapshots:
        points = opened.points(epoch)
        assert len(points) == sum(rundir.read_config(run)["sizes"][s] for s in ("train", "test", "shifted"))
    assert any("failed" in note for note in opened.notes)


def fail_at_epoch_2(original, error: OSError):
    """A writer that raises ``error`` when it writes anything of epoch 2."""
    def writer(self, *args, **kwargs):
        if isinstance(self, pd.DataFrame) and "epoch" in self.columns and (self["epoch"] == 2).any():
            raise error
        return original(self, *args, **kwargs)
    return writer


def test_disk_full_while_writing_a_snapshot(data, tmp_path, monkeypatch, capsys):
    runs = tmp_path / "runs"
    monkeypatch.setattr(pd.DataFrame, "to_parquet",
                        fail_at_epoch_2(pd.DataFrame.to_parquet, OSError(errno.ENOSPC, "No space left on device")))
    code, err = train(data, runs, capsys)
    assert code == 1
    run = only_run(runs)
    reason = "disk full while writing embeddings/epoch-000002.parquet: free space and --resume"
    assert_failed_cleanly(run, err, reason, snapshots=[0, 1])
    assert not rundir.snapshot_path(run, 2).exists()
    assert set(rundir.read_metrics(run)["epoch"]) == {0, 1, 2}  # epoch 2's figures were recorded first

    monkeypatch.undo()  # space freed: resume finishes the run from epoch 1's checkpoint
    assert main(["train", "--resume", str(run)]) == 0
    capsys.readouterr()
    finished = load_run(run)
    assert finished.state == rundir.FINISHED and finished.epochs == [0, 1, 2, 3]
    assert sorted(rundir.read_metrics(run)["epoch"].value_counts().to_dict().items()) == [(e, 4) for e in range(4)]


def test_permission_denied_while_appending_metrics(data, tmp_path, monkeypatch, capsys):
    runs = tmp_path / "runs"
    appends = []
    original = builtins.open

    def guarded_open(file, mode="r", *args, **kwargs):
        if Path(str(file)).name == rundir.METRICS and "a" in mode:
            appends.append(file)
            if len(appends) == 2:  # epoch 1 appends, epoch 2 is refused
                raise PermissionError(errno.EACCES, "Permission denied", str(file))
        return original(file, mode, *args, **kwargs)

    monkeypatch.setattr(runfmt.files, "open", guarded_open, raising=False)
    code, err = train(data, runs, capsys)
    assert code == 1 and len(appends) == 2
    run = only_run(runs)
    reason = "permission denied while writing metrics.csv: make its folder writable and --resume"
    assert_failed_cleanly(run, err, reason, snapshots=[0, 1])
    assert set(rundir.read_metrics(run)["epoch"]) == {0, 1}


def test_disk_full_while_writing_a_checkpoint(data, tmp_path, monkeypatch, capsys):
    runs = tmp_path / "runs"
    original = torch.save

    def save(obj, f, *args, **kwargs):
        if isinstance(obj, dict) and obj.get("epoch") == 2:
            f.write(b"half a checkpoint")
            raise OSError(errno.ENOSPC, "No space left on device")
        return original(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", save)
    code, err = train(data, runs, capsys)
    assert code == 1
    run = only_run(runs)
    assert_failed_cleanly(run, err, "disk full while writing checkpoint.pt: free space and --resume",
                          snapshots=[0, 1, 2])
    assert rundir.read_checkpoint(run)["epoch"] == 1  # the half-written one never replaced it


def test_a_disk_too_full_to_record_the_failure_leaves_every_file_whole(data, tmp_path, monkeypatch, capsys):
    """From epoch 2 on nothing can be written, status.json included: the run cannot say it failed
    (a later reader sees it interrupted, with its last complete epoch), yet every file it has
    is whole and the command still ends with one line naming the cause."""
    runs = tmp_path / "runs"
    original = rundir.atomic_write
    full = {"now": False}

    def atomic_write(path, write, mode="w", run_dir=None):
        if Path(path).name == rundir.snapshot_path(".", 2).name:
            full["now"] = True
        if full["now"]:
            raise rundir.RunWriteError(errno.ENOSPC, Path(path).name)
        return original(path, write, mode, run_dir=run_dir)

    monkeypatch.setattr(runfmt.files, "atomic_write", atomic_write)
    code, err = train(data, runs, capsys)
    assert code == 1
    assert "could not record the end of the run: disk full while writing status.json" in err
    assert err.strip().splitlines()[-1] == ("error: training failed: disk full while writing "
                                            "epoch-000002.parquet: free space and --resume")
    run = only_run(runs)
    status = rundir.read_json(run / rundir.STATUS)  # whole, and at the last epoch it could record
    assert status["state"] == rundir.RUNNING and status["epoch"] == 1
    monkeypatch.undo()
    opened = load_run(run)
    assert opened.epochs == [0, 1] and len(opened.points(1)) > 0
