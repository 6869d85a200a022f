"""sweep --launcher slurm: each run a submitit job (here submitit's local executor), followed
like a local run; without sbatch, one line and exit 2."""

import json
import os

import submitit

from explorer.sweeps import read_sweep, sweep_table
from training import rundir, slurm
from training.cli import main

SWEEP = ["sweep", "--embedding-dim", "2", "3", "--classes", "4", "9", "--epochs", "1", "--max-train", "40",
         "--device", "cpu", "--launcher", "slurm", "--slurm-time", "10", "--slurm-cpus", "1"]


def test_each_run_is_a_job_and_the_sweep_view_follows_them(tmp_path, monkeypatch, capsys):
    submitted = []

    def local_executor(folder, args):
        executor = submitit.LocalExecutor(folder=str(folder))
        executor.update_parameters(timeout_min=args.slurm_time)
        submitted.append(folder)
        return executor

    monkeypatch.setattr(slurm.shutil, "which", lambda name: f"/opt/slurm/bin/{name}")
    monkeypatch.setattr(slurm, "make_executor", local_executor)
    code = main([*SWEEP, "--runs-dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0, out
    sweep_dir = out.strip().splitlines()[-1]
    assert submitted == [tmp_path.resolve() / "sweeps" / os.path.basename(sweep_dir) / slurm.JOBS_DIR]
    table = sweep_table(read_sweep(sweep_dir), with_auc=False)
    assert table["state"].tolist() == ["finished", "finished"] and table["embedding_dim"].tolist() == [2, 3]
    manifest = json.loads((tmp_path / "sweeps" / os.path.basename(sweep_dir) / "sweep.json").read_text())
    for entry in manifest["runs"]:
        assert entry["state"] == "finished"
        assert rundir.read_config(tmp_path / entry["run"])["embedding_dim"] == entry["values"]["embedding_dim"]
    assert list(submitted[0].glob("*_log.out"))  # submitit's logs stay beside the manifest, not in a run


def test_without_sbatch_slurm_is_refused_in_one_line(cli, tmp_path):
    result = cli("training", *SWEEP, "--runs-dir", str(tmp_path), env={"PATH": "/usr/bin:/bin"})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [result.stderr.strip()] and "sbatch" in result.stderr
    assert not (tmp_path / "sweeps").exists()


class EndedJob:
    job_id, state = "4242", "TIMEOUT"

    def done(self):
        return True

    def exception(self):
        return RuntimeError("time limit")


def test_a_job_that_slurm_ends_before_the_run_records_it_reads_failed(tmp_path):
    run_dir = rundir.new_run_dir(tmp_path, "x")
    rundir.write_config(run_dir, {"epochs": 5})
    rundir.write_status(run_dir, rundir.RUNNING, 2, 5, host="another node")
    job = slurm.Job(EndedJob(), run_dir, 5)
    assert job.poll() == 1
    status = rundir.read_status(run_dir)
    assert status["state"] == "failed" and status["epoch"] == 2 and "Slurm job 4242 ended (TIMEOUT)" in status["error"]
