"""Runs launched together, and runs read while they are written."""

import subprocess
import sys
import time

from conftest import ROOT
from explorer.runs import list_runs, load_run
from training import launch, rundir
from training.config import TrainConfig

TINY = {"classes": ["4", "9"], "epochs": 2, "max_train": 200, "shifts": [3], "device": "cpu"}


def test_three_runs_started_in_the_same_second_get_their_own_directories_and_all_finish(tmp_path):
    """One from the command line and one from each of two browser tabs (launch.start, as the app's
    form does), all at once; meanwhile the runs directory is listed and every run opened, again
    and again, as the app does while they are written."""
    cli = subprocess.Popen([sys.executable, "-m", "training", "train", "--runs-dir", str(tmp_path),
                            "--classes", "4", "9", "--epochs", "2", "--max-train", "200", "--shifts", "3",
                            "--device", "cpu"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    tabs = [launch.start(TrainConfig(**TINY, seed=seed, runs_dir=str(tmp_path))) for seed in (1, 2)]
    reads, seen_snapshots = 0, set()
    deadline = time.time() + 300
    while time.time() < deadline:
        table = list_runs(tmp_path)
        assert (table["state"] != "unreadable").all(), table[["name", "error"]].to_string()
        for path in table["path"]:
            run = load_run(path)
            if run.epochs:
                points = run.points(run.last_epoch)
                assert points["split"].value_counts().to_dict() == run.snapshots.rows  # whole, never half
                seen_snapshots.add((path, run.last_epoch))
            run.metrics, run.steps()
            reads += 1
        if len(table) == 3 and (table["state"] != rundir.RUNNING).all() and cli.poll() is not None:
            break
        time.sleep(0.05)
    out, err = cli.communicate(timeout=60)
    assert cli.returncode == 0, err
    paths = sorted(str(p) for p in rundir.list_run_dirs(tmp_path))
    assert len(paths) == 3 and out.strip().splitlines()[-1] in paths
    assert {str(t) for t in tabs} < set(paths)
    assert all(rundir.read_status(p)["state"] == rundir.FINISHED for p in paths)
    assert reads >= 100 and len(seen_snapshots) >= 3  # read often, while snapshots were appearing
