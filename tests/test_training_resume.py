"""A run killed mid-way reads as interrupted, and --resume finishes it as if nothing happened."""

import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from conftest import ROOT
from training import rundir

TRAIN = [sys.executable, "-m", "training", "train", "--classes", "4", "9", "--epochs", "4",
         "--max-train", "400", "--shifts", "3", "--device", "cpu"]


def train_until_killed(runs_dir, after_epoch: int, argv: list[str] = TRAIN):
    """The run of ``argv`` in ``runs_dir``, killed (SIGKILL) once it has written epoch ``after_epoch``."""
    process = subprocess.Popen([*argv, "--runs-dir", str(runs_dir)], cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 180
    while time.time() < deadline and process.poll() is None:
        runs = rundir.list_run_dirs(runs_dir)
        try:
            if runs and rundir.read_status(runs[0])["epoch"] >= after_epoch:
                break
        except rundir.RunDirError:
            pass
        time.sleep(0.01)
    assert process.poll() is None, "the run ended before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait()
    [run] = rundir.list_run_dirs(runs_dir)
    return run


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    runs = tmp_path_factory.mktemp("whole")
    result = subprocess.run([*TRAIN, "--runs-dir", str(runs)], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return rundir.list_run_dirs(runs)[0]


def test_a_killed_run_reads_as_interrupted_and_resumes_to_the_same_embeddings(tmp_path, uninterrupted, cli):
    run = train_until_killed(tmp_path, after_epoch=2)
    status = rundir.read_status(run)
    assert status["state"] == rundir.INTERRUPTED and 2 <= status["epoch"] < 4
    assert "--resume" in status["error"]

    result = cli("training", "train", "--resume", str(run))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == str(run)
    assert rundir.read_status(run)["state"] == rundir.FINISHED
    assert rundir.snapshot_epochs(run) == [0, 1, 2, 3, 4]
    for epoch in (2, 4):
        a, b = rundir.read_snapshot(uninterrupted, epoch), rundir.read_snapshot(run, epoch)
        columns = rundir.embedding_columns(a)
        np.testing.assert_allclose(b[columns].to_numpy(), a[columns].to_numpy(), atol=1e-5)
    metrics = rundir.read_metrics(run)
    assert len(metrics) == 5 * 4 and not metrics.duplicated(["epoch", "split"]).any()
    steps, whole = rundir.read_steps(run), rundir.read_steps(uninterrupted)
    assert steps["iteration"].tolist() == whole["iteration"].tolist() == list(range(1, len(whole) + 1))
    np.testing.assert_allclose(steps["loss"], whole["loss"], rtol=1e-5)


@pytest.mark.parametrize("state", [rundir.FINISHED, rundir.RUNNING])
def test_a_finished_or_live_run_is_not_resumed(tmp_path, uninterrupted, cli, state):
    if state == rundir.RUNNING:
        rundir.write_json(tmp_path / rundir.CONFIG, rundir.read_json(uninterrupted / rundir.CONFIG))
        rundir.write_status(tmp_path, rundir.RUNNING, 1, 4)  # this test process is alive
        target = tmp_path
    else:
        target = uninterrupted
    result = cli("training", "train", "--resume", str(target))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and ("finished" in result.stderr or "still running" in result.stderr)


def test_resuming_something_that_is_not_a_run_exits_2(tmp_path, cli):
    result = cli("training", "train", "--resume", str(tmp_path))
    assert result.returncode == 2 and "not a run directory" in result.stderr
