"""``python -m training sweep ... --launcher slurm``: each run of a sweep as a Slurm job, through submitit.

The sweep process stays on the login node: it creates every run directory in the runs directory
(which the nodes must share), submits ``python -m training train --run-dir RUN ...`` (the command a
local sweep starts) as one job per run, and follows the jobs, recording each start and end in the
manifest as a local sweep does. The jobs write their own status.json, so the app's sweep view
follows them as it follows local runs. submitit keeps its job files (the submitted command,
the jobs' logs) in ``RUNS_DIR/sweeps/<sweep>/slurm/``, beside the manifest, never in a run.

A job that Slurm ends before the run records its end (time limit, preemption, node failure) is
marked failed with the job's state. Ctrl-C or SIGTERM cancels the jobs (``scancel``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

from training import launch, rundir
from training.config import TrainConfig
from training.errors import InputError

LAUNCHERS = ("local", "slurm")
OPTIONS = ("launcher", "slurm_partition", "slurm_time", "slurm_cpus", "slurm_gpus")
JOBS_DIR = "slurm"


def add_options(group) -> None:
    group.add_argument("--launcher", choices=LAUNCHERS, default="local",
                       help="local: train on this machine, --parallel at a time; slurm: submit each run as "
                            "a Slurm job through submitit (the runs directory must be on a file system the "
                            "nodes share)")
    group.add_argument("--slurm-partition", default=None, metavar="NAME", help="with slurm: the partition")
    group.add_argument("--slurm-time", type=int, default=60, metavar="MINUTES", help="with slurm: each job's time limit")
    group.add_argument("--slurm-cpus", type=int, default=4, metavar="N", help="with slurm: CPUs per job")
    group.add_argument("--slurm-gpus", type=int, default=0, metavar="N", help="with slurm: GPUs per job")


def check(args: argparse.Namespace) -> None:
    """Refuse, before anything is written, a Slurm sweep that cannot be submitted from here."""
    missing = [command for command in ("sbatch", "srun") if shutil.which(command) is None]
    if missing:
        raise InputError(f"--launcher slurm needs Slurm's {' and '.join(missing)} on the PATH and this machine has "
                         f"none: run the sweep on the cluster's login node, or use --launcher local")
    for name, least in (("slurm_time", 1), ("slurm_cpus", 1), ("slurm_gpus", 0)):
        if getattr(args, name) < least:
            raise InputError(f"--{name.replace('_', '-')} must be at least {least}, got {getattr(args, name)}")


def make_executor(folder: Path, args: argparse.Namespace):
    """submitit's Slurm executor with the job options of the command line."""
    import submitit

    executor = submitit.SlurmExecutor(folder=str(folder))
    parameters = {"time": args.slurm_time, "cpus_per_task": args.slurm_cpus, "job_name": "embedding-sweep"}
    if args.slurm_partition:
        parameters["partition"] = args.slurm_partition
    if args.slurm_gpus:
        parameters["gpus_per_node"] = args.slurm_gpus
    executor.update_parameters(**parameters)
    return executor


class Job:
    """A submitted run, as the sweep's Runner sees a local process: ``poll()`` is None while the
    job is queued or running, then its exit status; ``cancel()`` stops it."""

    def __init__(self, job, run_dir: Path, epochs: int):
        self.job, self.run_dir, self.epochs = job, run_dir, epochs
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None and self.job.done():
            try:
                self.returncode = 0 if self.job.exception() is None else 1
            except Exception:  # noqa: BLE001 - submitit raises for a job it lost track of
                self.returncode = 1
            self._record_unrecorded_end()
        return self.returncode

    def cancel(self) -> None:
        try:
            self.job.cancel(check=False)
        except Exception:  # noqa: BLE001 - a job that already ended
            pass

    def _record_unrecorded_end(self) -> None:
        try:
            status = rundir.read_status(self.run_dir)
        except rundir.RunDirError:
            status = {"state": rundir.RUNNING, "epoch": 0}
        if status["state"] in (rundir.RUNNING, rundir.INTERRUPTED):
            rundir.write_status(self.run_dir, rundir.FAILED, status.get("epoch", 0), self.epochs,
                                error=f"Slurm job {self.job.job_id} ended ({self.job.state}) before the run "
                                      f"recorded its end; see its log in the sweep's {JOBS_DIR}/ folder")


def submit(executor, run_dir: Path, config: TrainConfig | None) -> Job:
    """Submit the training command of a new run (``config``) or of a run to resume (None)."""
    from submitit.helpers import CommandFunction

    if config is not None:
        rundir.write_config(run_dir, config.to_dict())
        argv = launch.training_argv(config, run_dir)
        epochs = config.epochs
    else:
        argv = [sys.executable, "-m", "training", "train", "--resume", str(run_dir)]
        epochs = rundir.read_status(run_dir).get("epochs", 0)
    try:
        job = executor.submit(CommandFunction(argv, cwd=os.getcwd(), verbose=False))
    except Exception as e:  # noqa: BLE001 - sbatch's refusal comes as several types
        why = " ".join(str(e).split())[:300] or type(e).__name__
        rundir.write_status(run_dir, rundir.FAILED, 0, epochs, error=f"Slurm did not take the job: {why}")
        raise InputError(f"Slurm did not take the job: {why}") from None
    rundir.write_status(run_dir, rundir.RUNNING, 0 if config else rundir.read_status(run_dir).get("epoch", 0),
                        epochs, pid=None, host=f"slurm job {job.job_id}", slurm_job=str(job.job_id))
    return Job(job, run_dir, epochs)


def runner(args: argparse.Namespace, given: set[str], base):
    """The sweep's Runner class for ``--launcher``: the local one, or one that submits jobs (all
    at once, unless --parallel is given: Slurm queues them)."""
    if args.launcher != "slurm":
        return base

    class SlurmRunner(base):
        def __init__(self, sweep_dir: Path, manifest: dict, parallel: int):
            super().__init__(sweep_dir, manifest, parallel if "parallel" in given else len(manifest["runs"]))
            self._executor = None

        @property
        def executor(self):
            if self._executor is None:
                try:
                    self._executor = make_executor(self.sweep_dir / JOBS_DIR, args)
                except Exception as e:  # noqa: BLE001 - submitit's checks of the cluster
                    raise InputError(f"submitit cannot submit to Slurm here: {' '.join(str(e).split())}") from None
            return self._executor

        def start_in(self, run_dir: Path, config: TrainConfig):
            return submit(self.executor, run_dir, config)

        def resume_process(self, run_dir: Path):
            return submit(self.executor, run_dir, None)

        def stop_all(self) -> None:
            from training.sweep import mark_cancelled

            for job, _ in self.active.values():
                job.cancel()
            for i, (job, _) in self.active.items():
                entry = self.manifest["runs"][i]
                entry["state"] = mark_cancelled(self.runs_dir / entry["run"])
                self.say(i, f"{entry['state']} (Slurm job {job.job.job_id}): {entry['run']}")
            self.active.clear()
            from training.sweep import save

            save(self.sweep_dir, self.manifest)

    return SlurmRunner
