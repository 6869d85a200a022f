"""``python -m training sweep``: one ordinary run per grid point and seed, grouped by a manifest.

Any option of ``train`` given several values is swept (``--embedding-dim 2 4 8``, ``--loss bce
contrastive triplet``); list options (``--classes``, ``--shifts``, ``--holdout-classes``,
``--train-shifts``) keep their lists. Each combination is trained once per seed of ``--seeds``:
a run directory in the runs directory as usual, trained by ``python -m training train`` in its own
process, one after another or ``--parallel N`` at a time. Every combination is checked before
anything starts.

The manifest, ``RUNS_DIR/sweeps/<sweep-id>/sweep.json`` (explorer/sweeps.py reads it), is written
atomically when the sweep is created and whenever one of its runs starts or ends::

    {"format_version": 1, "name": "<sweep-id>", "created_at": <unix seconds>,
     "command": ["python", "-m", "training", "sweep", ...],
     "base": {<TrainConfig.to_dict() of the fixed options, without seed and the swept options>},
     "swept": {"embedding_dim": [2, 4, 8]},  # TrainConfig field (in its order) -> values, in the order given
     "seeds": [0, 1, 2],
     "preset": "<name>" or null,
     "runs": [{"values": {"embedding_dim": 2}, "seed": 0,
               "run": "<run directory name in RUNS_DIR>" or null before it starts,
               "state": "pending" or the run's last known state}]}

A run's options are ``{**base, **values, "seed": seed}``, its ``name`` a label of the sweep and the
values. ``--resume SWEEP_DIR`` continues a sweep with its own options: finished runs are skipped,
stopped ones continue (``train --resume``), the others start.

Exit status: 0 every run finished, 1 some did not, 2 bad input (one line), 143 cancelled.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from training import launch, presets, rundir, slurm
from training.config import TrainConfig
from training.errors import Cancelled, InputError

FORMAT_VERSION = 1
SWEEPS_DIR = "sweeps"
MANIFEST = "sweep.json"
PENDING = "pending"
NOT_SWEPT = ("runs_dir", "name", "preset", "seed", "data_dir", "pretrained")  # seeds: --seeds
FIELDS = [f.name for f in dataclasses.fields(TrainConfig)]
MAX_RUNS = 1000
MAX_PARALLEL = 64
POLL_SECONDS = 0.2
STOP_SECONDS = 60.0  # a cancelled run has this long to record its end before it is killed
EXIT_BAD_INPUT, EXIT_FAILED, EXIT_CANCELLED = 2, 1, 143

DESCRIPTION = ("Train one run per combination of the options given several values (e.g. --embedding-dim "
               "2 4 8 32 128, --regime random nn-other) and per seed of --seeds; write a manifest "
               "RUNS_DIR/sweeps/<sweep-id>/sweep.json and print that folder as the last line.")


def sweepable() -> list[str]:
    """The options that may take several values: every single-valued option of a run but its
    identity (name, runs directory, seed: see --seeds) and the files it reads."""
    return [f.name for f in dataclasses.fields(TrainConfig)
            if str(f.type) != "bool" and not str(f.type).startswith("list") and f.name not in NOT_SWEPT]


def add_sweep_options(parser: argparse.ArgumentParser) -> None:
    """Turn ``train``'s options on ``parser`` into a sweep's: several values where they may be swept."""
    swept = set(sweepable())
    for action in parser._actions:
        if action.dest in swept:
            action.nargs = "+"
    group = parser.add_argument_group("sweep")
    group.add_argument("--seeds", "--seed", dest="seeds", type=int, nargs="+", default=[TrainConfig.seed],
                       metavar="SEED", help="train every combination once with each of these seeds")
    group.add_argument("--parallel", type=int, default=1, metavar="N", help="train N runs at a time")
    group.add_argument("--resume", default=None, metavar="SWEEP_DIR",
                       help="continue this sweep with its own options: skip its finished runs, resume "
                            "the stopped ones, start the rest")
    slurm.add_options(group)  # --launcher local|slurm and the jobs' options (training/slurm.py)


def main(args: argparse.Namespace, given: set[str], command: list[str]) -> int:
    previous = signal.signal(signal.SIGTERM, _cancel)
    try:
        try:
            _check_parallel(args.parallel)
            if args.launcher == "slurm":
                slurm.check(args)
            sweep_dir, manifest = reopen(args, given) if args.resume else create(args, given, command)
        except InputError as e:
            print(f"error: {_one_line(e)}", file=sys.stderr)
            return EXIT_BAD_INPUT
        return slurm.runner(args, given, Runner)(sweep_dir, manifest, args.parallel).run()
    except (Cancelled, KeyboardInterrupt):
        print("cancelled before any run started", file=sys.stderr)
        return EXIT_CANCELLED
    finally:
        signal.signal(signal.SIGTERM, previous)


# ---------------------------------------------------------------- planning a sweep


def create(args: argparse.Namespace, given: set[str], command: list[str]) -> tuple[Path, dict]:
    """Check every run the command line asks for, then create the sweep's folder and manifest."""
    fixed, swept = split_options(args, given)
    runs_dir = Path(args.runs_dir or rundir.default_runs_dir()).expanduser().resolve()
    base = TrainConfig(**{**fixed, "runs_dir": str(runs_dir)}).to_dict()
    base = {k: v for k, v in base.items() if k != "seed" and k not in swept}
    seeds = _unique("--seeds", args.seeds)
    grid = [dict(zip(swept, values)) for values in itertools.product(*swept.values())]
    if len(grid) * len(seeds) > MAX_RUNS:
        raise InputError(f"the sweep has {len(grid) * len(seeds)} runs; at most {MAX_RUNS} in one sweep")
    manifest = {"format_version": FORMAT_VERSION, "name": None, "created_at": time.time(), "command": command,
                "base": base, "swept": swept, "seeds": seeds, "preset": fixed.get("preset"),
                "runs": [{"values": values, "seed": seed, "run": None, "state": PENDING}
                         for values in grid for seed in seeds]}
    check_runs(manifest)
    sweep_dir = new_sweep_dir(runs_dir, swept)
    manifest["name"] = sweep_dir.name
    save(sweep_dir, manifest)
    return sweep_dir, manifest


def split_options(args: argparse.Namespace, given: set[str]) -> tuple[dict, dict]:
    """The fixed options and the swept ones (field -> values) that the command line and its
    preset ask for. Options left out keep their defaults, or the preset's values."""
    explicit = {name: getattr(args, name) for name in FIELDS if name in given and name != "runs_dir"}
    several = set(sweepable())
    swept = {k: _unique(f"--{k.replace('_', '-')}", v) for k, v in explicit.items() if k in several and len(v) > 1}
    fixed = {k: (v[0] if k in several else v) for k, v in explicit.items() if k not in swept}
    if args.preset:
        fixed = presets.options_for(args.preset, fixed, sweep=True)
        swept = {**{k: v for k, v in presets.preset(args.preset).swept.items() if k not in explicit}, **swept}
    return fixed, {k: swept[k] for k in FIELDS if k in swept}


def check_runs(manifest: dict) -> None:
    """Validate every run of the sweep, so a bad combination is refused before anything starts."""
    for entry in manifest["runs"]:
        try:
            run_config(manifest, entry).validate()
        except InputError as e:
            where = describe(entry["values"], entry["seed"]) if manifest["swept"] else f"seed {entry['seed']}"
            raise InputError(f"{where}: {e}") from None


def run_config(manifest: dict, entry: dict) -> TrainConfig:
    label = "-".join(f"{k}_{v}" for k, v in entry["values"].items())
    short = f"sweep_{manifest['name'][-6:]}" if manifest["name"] else None
    name = "-".join(filter(None, [manifest["base"].get("name"), short, label, f"seed_{entry['seed']}"]))
    return TrainConfig.from_dict({**manifest["base"], **entry["values"], "seed": entry["seed"], "name": name})


def describe(values: dict, seed: int) -> str:
    return ", ".join([*(f"{k} {v}" for k, v in values.items()), f"seed {seed}"])


def new_sweep_dir(runs_dir: Path, swept: dict) -> Path:
    """A fresh folder RUNS_DIR/sweeps/<date>-<time>-sweep-<swept options>-<random>."""
    label = rundir.safe_name("-".join(swept) or "seeds", 60)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    try:
        (runs_dir / SWEEPS_DIR).mkdir(parents=True, exist_ok=True)
        for _ in range(100):
            path = runs_dir / SWEEPS_DIR / f"{stamp}-sweep-{label}-{uuid.uuid4().hex[:6]}"
            try:
                path.mkdir()
                return path
            except FileExistsError:
                continue
    except OSError as e:
        raise InputError(f"--runs-dir {runs_dir} cannot hold the sweep ({e.strerror}): make it writable "
                         f"or choose another folder") from None
    raise InputError(f"could not create a unique sweep folder in {runs_dir / SWEEPS_DIR}")


def save(sweep_dir: Path, manifest: dict) -> None:
    rundir.write_json(sweep_dir / MANIFEST, manifest)


# ---------------------------------------------------------------- continuing a sweep


def reopen(args: argparse.Namespace, given: set[str]) -> tuple[Path, dict]:
    """The sweep that ``--resume`` names, checked again, with none of its runs still running."""
    others = sorted(given - {"resume", "parallel", *slurm.OPTIONS})
    if others:
        raise InputError(f"--resume continues a sweep with its own options: give only --parallel beside it, "
                         f"not --{others[0].replace('_', '-')}")
    sweep_dir = Path(args.resume).expanduser()
    if sweep_dir.name == MANIFEST and sweep_dir.is_file():
        sweep_dir = sweep_dir.parent
    manifest = read_manifest(sweep_dir)
    runs_dir = sweep_dir.resolve().parent.parent
    manifest["base"]["runs_dir"] = str(runs_dir)  # the runs lie beside the sweeps folder, wherever it moved
    for entry in manifest["runs"]:
        state = current_state(runs_dir, entry)
        if state == rundir.RUNNING:
            raise InputError(f"run {entry['run']} of this sweep is still running: wait for it to end, or "
                             f"cancel it, then --resume again")
    check_runs(manifest)
    return sweep_dir, manifest


def read_manifest(sweep_dir: Path) -> dict:
    shown = f"--resume {sweep_dir}"
    if not (sweep_dir / MANIFEST).is_file():
        raise InputError(f"{shown}: not a sweep folder (it has no {MANIFEST})")
    try:
        manifest = rundir.read_json(sweep_dir / MANIFEST)
    except rundir.RunDirError as e:
        raise InputError(f"{shown}: {e}") from None
    if manifest.get("format_version") != FORMAT_VERSION:
        raise InputError(f"{shown}: {MANIFEST} has format {str(manifest.get('format_version'))[:20]!r}, "
                         f"not {FORMAT_VERSION}")
    shape = {"name": str, "base": dict, "swept": dict, "seeds": list, "runs": list}
    for key, kind in shape.items():
        if not isinstance(manifest.get(key), kind):
            raise InputError(f"{shown}: {MANIFEST} has no valid {key!r}; it is damaged")
    for entry in manifest["runs"]:
        if not (isinstance(entry, dict) and isinstance(entry.get("values"), dict)
                and isinstance(entry.get("seed"), int) and (entry.get("run") is None or _plain_name(entry["run"]))):
            raise InputError(f"{shown}: {MANIFEST} has a damaged run entry {str(entry)[:80]!r}")
    return manifest


def _plain_name(run) -> bool:
    """A run named in a manifest is a folder right inside the runs directory, never a path."""
    return isinstance(run, str) and run != "" and rundir.safe_name(run, limit=len(run)) == run


def current_state(runs_dir: Path, entry: dict) -> str:
    """The state of an entry's run as its run directory tells it; pending before it has one."""
    if entry.get("run") is None:
        return PENDING
    try:
        return rundir.read_status(runs_dir / entry["run"])["state"]
    except rundir.RunDirError:
        return PENDING  # created, but the process never wrote its status: start it again


def resumable(run_dir: Path) -> bool:
    """A run that stopped early and that ``train --resume`` can continue (format 2, its own options)."""
    try:
        return (rundir.read_status(run_dir)["state"] in rundir.RESUMABLE
                and rundir.read_config(run_dir).get("format_version") == rundir.FORMAT_VERSION)
    except rundir.RunDirError:
        return False


# ---------------------------------------------------------------- running a sweep


class Runner:
    """Starts the sweep's runs as separate processes, ``parallel`` at a time, and records each
    start and end in the manifest. Ctrl-C or SIGTERM cancels the running ones."""

    def __init__(self, sweep_dir: Path, manifest: dict, parallel: int):
        self.sweep_dir, self.manifest, self.parallel = sweep_dir, manifest, parallel
        self.runs_dir = Path(manifest["base"]["runs_dir"])
        self.active: dict[int, tuple[subprocess.Popen, float]] = {}  # entry index -> process, start time

    def run(self) -> int:
        todo = []
        for i, entry in enumerate(self.manifest["runs"]):
            entry["state"] = current_state(self.runs_dir, entry)
            if entry["state"] == rundir.FINISHED:
                self.say(i, f"skipped {describe(entry['values'], entry['seed'])}: finished already, {entry['run']}")
            else:
                todo.append(i)
        save(self.sweep_dir, self.manifest)
        try:
            while todo or self.active:
                while todo and len(self.active) < self.parallel:
                    self.start(todo.pop(0))
                self.reap()
                time.sleep(POLL_SECONDS)
        except (Cancelled, KeyboardInterrupt):
            self.stop_all()
            print(f"cancelled; continue with python -m training sweep --resume {self.sweep_dir}", file=sys.stderr)
            print(self.sweep_dir, flush=True)
            return EXIT_CANCELLED
        runs = self.manifest["runs"]
        finished = sum(entry["state"] == rundir.FINISHED for entry in runs)
        print(f"{finished} of {len(runs)} runs finished", flush=True)
        print(self.sweep_dir, flush=True)
        return 0 if finished == len(runs) else EXIT_FAILED

    def start(self, i: int) -> None:
        entry = self.manifest["runs"][i]
        what = describe(entry["values"], entry["seed"])
        previous = self.runs_dir / entry["run"] if entry["run"] else None
        try:
            if previous is not None and resumable(previous):
                run_dir, verb, process = previous, "resumed", self.resume_process(previous)
            else:
                config = run_config(self.manifest, entry)
                run_dir, verb = rundir.new_run_dir(self.runs_dir, config.run_name_hint()), "started"
                process = self.start_in(run_dir, config)
        except (InputError, OSError, rundir.RunDirError) as e:
            entry["state"] = rundir.FAILED
            save(self.sweep_dir, self.manifest)
            self.say(i, f"failed to start {what}: {_one_line(e)}")
            return
        entry.update(run=run_dir.name, state=rundir.RUNNING)
        self.active[i] = (process, time.monotonic())
        save(self.sweep_dir, self.manifest)
        self.say(i, f"{verb} {what}: {run_dir.name}")

    def start_in(self, run_dir: Path, config: TrainConfig):
        return launch.start_in(run_dir, config)

    def resume_process(self, run_dir: Path):
        return launch.resume_process(run_dir)

    def reap(self) -> None:
        for i, (process, started) in list(self.active.items()):
            if process.poll() is None:
                continue
            del self.active[i]
            entry = self.manifest["runs"][i]
            entry["state"], error = end_state(self.runs_dir / entry["run"], process.returncode)
            save(self.sweep_dir, self.manifest)
            why = f" ({error})" if error and entry["state"] != rundir.FINISHED else ""
            self.say(i, f"{entry['state']} {describe(entry['values'], entry['seed'])} in "
                        f"{time.monotonic() - started:.0f} s: {entry['run']}{why}")

    def stop_all(self) -> None:
        """Ask every running run to stop (SIGTERM to its process group, as launch.cancel does),
        wait for them to record it, and mark any that could not as cancelled."""
        held = {signum: signal.signal(signum, signal.SIG_IGN)  # a second Ctrl-C must not cut this short
                for signum in (signal.SIGINT, signal.SIGTERM)}
        try:
            for process, _ in self.active.values():
                _signal_group(process, signal.SIGTERM)
            deadline = time.monotonic() + STOP_SECONDS
            for i, (process, _) in self.active.items():
                try:
                    process.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    _signal_group(process, signal.SIGKILL)
                    process.wait()
                entry = self.manifest["runs"][i]
                run_dir = self.runs_dir / entry["run"]
                entry["state"], _ = end_state(run_dir, process.returncode)
                if entry["state"] != rundir.FINISHED:
                    entry["state"] = mark_cancelled(run_dir)
                self.say(i, f"{entry['state']} {describe(entry['values'], entry['seed'])}: {entry['run']}")
            self.active.clear()
            save(self.sweep_dir, self.manifest)
        finally:
            for signum, handler in held.items():
                signal.signal(signum, handler)

    def say(self, i: int, text: str) -> None:
        print(f"[{i + 1}/{len(self.manifest['runs'])}] {text}", flush=True)


def end_state(run_dir: Path, returncode: int) -> tuple[str, str | None]:
    """How a run's process ended, as its status.json says (else as its exit status does), and why."""
    try:
        status = rundir.read_status(run_dir)
        return status["state"], status.get("error")
    except rundir.RunDirError as e:
        state = {0: rundir.FINISHED, EXIT_CANCELLED: rundir.CANCELLED}.get(returncode, rundir.FAILED)
        return state, _one_line(e)


def mark_cancelled(run_dir: Path) -> str:
    """A run stopped with its sweep reads as cancelled, also when its process died before it could
    record that (it was still starting up)."""
    try:
        status = rundir.read_status(run_dir)
    except rundir.RunDirError:
        return rundir.CANCELLED
    if status["state"] in (rundir.RUNNING, rundir.INTERRUPTED):
        rundir.write_status(run_dir, rundir.CANCELLED, status.get("epoch", 0), status.get("epochs", 0),
                            error="cancelled with its sweep")
        return rundir.CANCELLED
    return status["state"]


def _signal_group(process: subprocess.Popen, signum: int) -> None:
    try:
        os.killpg(process.pid, signum)  # the run's own session: its process and any it started
    except (ProcessLookupError, PermissionError):
        pass


def _check_parallel(parallel: int) -> None:
    if not 1 <= parallel <= MAX_PARALLEL:
        raise InputError(f"--parallel must be between 1 and {MAX_PARALLEL}, got {parallel}")


def _unique(option: str, values: list) -> list:
    twice = [v for i, v in enumerate(values) if v in values[:i]]
    if twice:
        raise InputError(f"{option} lists {twice[0]} twice")
    return list(values)


def _cancel(signum, frame):
    raise Cancelled("")


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split())
