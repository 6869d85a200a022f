"""torchrun with two CPU processes (gloo): one run directory, written by rank 0 alone."""

import shutil
import subprocess
import sys
from pathlib import Path

from conftest import ROOT
from training import rundir


def test_two_gloo_processes_train_one_valid_run(tmp_path):
    torchrun = Path(sys.executable).with_name("torchrun")
    command = [str(torchrun) if torchrun.exists() else shutil.which("torchrun"),
               "--standalone", "--nproc_per_node", "2", "-m", "training", "train",
               "--classes", "4", "9", "--epochs", "2", "--max-train", "200", "--shifts", "3",
               "--device", "cpu", "--runs-dir", str(tmp_path)]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    [run] = rundir.list_run_dirs(tmp_path)
    assert result.stdout.strip().splitlines() == [str(run)]  # printed once, by rank 0
    assert rundir.read_status(run)["state"] == rundir.FINISHED
    assert rundir.snapshot_epochs(run) == [0, 1, 2]
    metrics = rundir.read_metrics(run)
    assert len(metrics) == 3 * 4 and not metrics.duplicated(["epoch", "split"]).any()
    test = metrics[(metrics.split == "test") & (metrics.epoch == 2)]
    assert float(test["knn_accuracy"].iloc[0]) > 0.9
