"""``python -m training train|sweep|embed|list|presets``: the command line of the training side.

Exit status: 0 done, 2 bad input (one line on stderr), 1 the run failed, 143 cancelled.
``train`` prints the run directory as the last line of its standard output; ``sweep``
(training/sweep.py) prints its sweep folder last.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from training import embed as embedding
from training import presets, rundir
from training import sweep as sweeps
from training.config import OUTPUT, TrainConfig
from training.objectives import METHODS
from training.options import add_arguments
from training.errors import Cancelled, InputError
from training.tensorboard_log import LiveScalars

EXIT_BAD_INPUT, EXIT_FAILED, EXIT_CANCELLED = 2, 1, 143


class DefaultsFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows a default only where there is one worth showing."""

    def _get_help_string(self, action):
        if action.default in (None, [], argparse.SUPPRESS) or "default" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


class OneLineParser(argparse.ArgumentParser):
    """argparse prints usage and an error over several lines; we print one line that says what to fix."""

    def error(self, message: str):
        self.exit(EXIT_BAD_INPUT, f"error: {message} (see --help)\n")


def build_parser(suppress_defaults: bool = False) -> argparse.ArgumentParser:
    """The command line. With ``suppress_defaults``, an option left out is absent from the parsed
    namespace, rather than at its default (see ``given_options``)."""
    parser = OneLineParser(prog="python -m training",
                           description="Train embedding networks, sweep their options and list their run "
                                       "directories.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)

    train = commands.add_parser("train", help="train one network and write its run directory",
                                formatter_class=DefaultsFormatter)
    output = add_train_options(train)
    output.add_argument("--run-dir", default=None,
                        help="write into this directory instead of a new one under --runs-dir "
                             "(used by the app, which creates it first)")
    output.add_argument("--options", default=None, metavar="JSON",
                        help="every option as one JSON object instead of flags (how the app starts runs)")
    output.add_argument("--resume", default=None, metavar="RUN_DIR",
                        help="continue this interrupted, cancelled or failed run from its last complete "
                             "epoch, with its own options (others given here are ignored)")
    output.add_argument("--tensorboard", default=None, metavar="DIR",
                        help="also log the metrics and step losses to this TensorBoard folder as the run "
                             "trains (training/tensorboard_log.py)")

    sweep = commands.add_parser("sweep", help="train one run per combination of the options given several "
                                "values, and per seed", formatter_class=DefaultsFormatter,
                                conflict_handler="resolve", description=sweeps.DESCRIPTION)
    add_train_options(sweep)
    sweeps.add_sweep_options(sweep)

    embedding.add_command(commands, add_train_options, OneLineParser, DefaultsFormatter)

    listing = commands.add_parser("list", help="list run directories with state and epochs")
    _add_runs_dir(listing)
    commands.add_parser("presets", help="list the presets of --preset, one line each")
    if suppress_defaults:
        for command in (train, sweep):
            for action in command._actions:
                action.default = argparse.SUPPRESS
    return parser


def given_options(argv: list[str] | None) -> set[str]:
    """The options that ``argv`` writes out, even at their default value (a preset fills the rest)."""
    return set(vars(build_parser(suppress_defaults=True).parse_args(argv))) - {"command"}


def add_train_options(train: argparse.ArgumentParser):
    """The options of one run, shared by ``train`` and ``sweep``; returns the output group."""
    train.add_argument("--preset", choices=list(presets.PRESETS), default=None, metavar="NAME",
                       help="fill every option from one of the seeds' experiments (python -m training "
                            "presets lists them); options given here override it")
    groups = add_arguments(train, TrainConfig)  # every option from its declaration (training.options)
    _add_runs_dir(groups[OUTPUT])
    return groups[OUTPUT]


def _add_runs_dir(group) -> None:
    group.add_argument("--runs-dir", default=None,
                       help=f"where runs live (default: ${rundir.ENV_RUNS_DIR} or ./{rundir.DEFAULT_RUNS_DIR})")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    if args.command == "presets":
        print("\n".join(presets.lines()))
        return 0
    if args.command == "embed":
        return embedding.main(args)
    if args.command == "sweep":
        return sweeps.main(args, given_options(argv), ["python", "-m", "training", *argv])
    runs_dir = args.runs_dir or str(rundir.default_runs_dir())
    if args.command == "list":
        return list_runs(runs_dir)
    try:
        config = config_from_args(args, runs_dir, given_options(argv) if args.preset else None)
        if not args.resume and not args.run_dir:
            config.validate()  # bad options answered at once, before torch is even imported
        if args.run_dir and not rundir.is_inside(args.run_dir, runs_dir):
            raise InputError(f"--run-dir {args.run_dir} is not inside the runs directory {runs_dir}: "
                             f"give a folder under --runs-dir")
    except InputError as e:
        print(f"error: {_one_line(e)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    log = LiveScalars(args.tensorboard) if args.tensorboard else None
    if args.resume:
        return train(config, Path(args.resume), resume=True, log=log)
    return train(config, Path(args.run_dir) if args.run_dir else None, log=log)


def config_from_args(args: argparse.Namespace, runs_dir: str, given: set[str] | None = None) -> TrainConfig:
    """The run's options: the flags, or, with ``--options``, that one JSON object (how the app
    starts runs, so that no value, such as a class named ``--lr``, can be read as a flag). With
    ``--preset``, the preset's options, under those of the flags that ``given`` names."""
    if args.options is None:
        options = {k: v for k, v in vars(args).items() if k not in ("command", "run_dir", "resume", "options", "tensorboard")}
        if args.preset:
            options = presets.options_for(args.preset, {k: options[k] for k in options if k in (given or ())})
        return TrainConfig(**{**options, "runs_dir": runs_dir})
    try:
        options = json.loads(args.options)
    except json.JSONDecodeError as e:
        raise InputError(f"--options is not valid JSON ({e})") from None
    if not isinstance(options, dict):
        raise InputError("--options must be one JSON object of option names and values")
    known = {f.name for f in dataclasses.fields(TrainConfig)} - {"runs_dir"}
    unknown = sorted(set(options) - known)
    if unknown:
        raise InputError(f"--options has unknown option {unknown[0]!r}")
    return TrainConfig(**{**options, "runs_dir": runs_dir})


def train(config: TrainConfig, run_dir: Path | None = None, resume: bool = False, log=None) -> int:
    previous = signal.signal(signal.SIGTERM, _cancel)  # torch takes seconds to import: cover that too
    try:
        from training import trainer

        if resume:
            run_dir = trainer.resume(run_dir, log=log)
        else:
            run_dir = trainer.train(config, log=log, run_dir=run_dir)
    except InputError as e:
        print(f"error: {_one_line(e)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (Cancelled, KeyboardInterrupt) as e:
        if run_dir is not None and (Path(run_dir) / rundir.CONFIG).exists():
            _mark_cancelled(Path(run_dir), config)
        where = f"; the run is marked cancelled in {e}" if str(e) else ""
        print(f"cancelled{where}", file=sys.stderr)
        if str(e):
            print(e)
        return EXIT_CANCELLED
    except Exception as e:
        print(f"error: training failed: {rundir.failure_reason(e)}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        signal.signal(signal.SIGTERM, previous)
        _leave_process_group()
        if log is not None:
            log.close()
    if run_dir is not None:  # under torchrun, ranks other than 0 have none
        precompute_maps(run_dir)
        print(run_dir)
    return 0


ENV_PRECOMPUTE = "EXPLORER_PRECOMPUTE_MAPS"


def precompute_maps(run_dir: Path) -> None:
    """Map the last epoch in the background as the run finishes, so the app's first look is
    instant. ``EXPLORER_PRECOMPUTE_MAPS=0`` turns it off."""
    if os.environ.get(ENV_PRECOMPUTE, "1") == "0":
        return
    # explorer.projection_methods says which maps are worth having ready (t-SNE: PCA and raw take a moment)
    subprocess.Popen([sys.executable, "-m", "explorer", "project", str(run_dir), "--precomputed",
                      "--device", "auto"],  # as the app maps: on the GPU where there is one
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                     start_new_session=True)

def _leave_process_group() -> None:
    if "torch" in sys.modules:
        from training.distributed import shutdown

        shutdown()


def _cancel(signum, frame):
    raise Cancelled("")


def _mark_cancelled(run_dir: Path, config: TrainConfig) -> None:
    """Cancelled before training began: say so, unless the trainer already recorded an end."""
    try:
        if rundir.read_json(run_dir / rundir.STATUS).get("state") != rundir.RUNNING:
            return
    except rundir.RunDirError:
        pass
    rundir.write_status(run_dir, rundir.CANCELLED, 0, config.epochs, error="cancelled by the user")


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split())


def _sampling(config: dict) -> str:
    """How the run drew its batches: its pair regime, its miner, or "-" for a method with neither."""
    loss, miner = config.get("loss"), config.get("miner") or "none"
    if loss == "triplet" and miner != "none":
        return f"{miner} miner"
    if loss in METHODS and "regime" not in METHODS[loss].options:
        return "-"
    return str(config.get("regime"))


def list_runs(runs_dir: str) -> int:
    try:
        runs, links = rundir.list_run_dirs(runs_dir, strict=True), rundir.outside_links(runs_dir)
    except rundir.RunDirError as e:
        print(f"error: {_one_line(e)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    for link in links:
        print(f"note: ignored {link.name}: a link to {link.resolve()}, outside {runs_dir}", file=sys.stderr)
    if not runs:
        print(f"no runs in {runs_dir}" + ("" if Path(runs_dir).exists() else " (the folder does not exist yet)"))
        return 0
    print(f"{'RUN':<60} {'STATE':<10} {'EPOCH':>7}  DATASET / LOSS / REGIME")
    for path in runs:
        try:
            config, status = rundir.read_config(path), rundir.read_status(path)
        except rundir.RunDirError as e:
            print(f"{path.name:<60} {'unreadable':<10} {'':>7}  {_one_line(e)}")
            continue
        epochs = f"{status.get('epoch', '?')}/{status.get('epochs', '?')}"
        classes = config.get("classes")
        classes = " ".join(map(str, classes)) if isinstance(classes, list) else ""
        what = f"{config.get('dataset')} {classes} / {config.get('loss')} / {_sampling(config)}"
        print(f"{path.name:<60} {status['state']:<10} {epochs:>7}  {what}")
    return 0
