"""Command line: ``python -m explorer summary|report|project|list|seeds|import|export``.

Bad input (a missing or damaged run, an unknown method, a bad parameter) ends with exit status 2
and one line ``error: ...`` on stderr; an unexpected failure with status 1 and one line (set
``EXPLORER_DEBUG=1`` for the traceback). Long work reports its progress on stderr, one line per
stage.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import runfmt as rundir
from runfmt import RunDirError

from explorer import exchange
from explorer.projection_methods import METHODS, PRECOMPUTED
from explorer.projections import DEVICES, MODES, parse_params, resolve_device


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2, no usage block
        raise _UsageError(f"{message} (see python -m explorer {self.prog.split()[-1]} --help)"
                          if " " in self.prog else f"{message} (see python -m explorer --help)")


class _UsageError(Exception):
    pass


def _progress(every_stage: bool = False):
    """A progress callback printing to stderr: each 5 % step, or after a second of silence
    (``every_stage``: every new message, one line per stage)."""
    last = {"time": 0.0, "fraction": -1.0, "message": ""}

    def report(fraction: float, message: str) -> None:
        now = time.monotonic()
        if message != last["message"] and (every_stage or now - last["time"] >= 1.0
                                           or fraction - last["fraction"] >= 0.05 or fraction >= 1.0):
            print(f"[{fraction:4.0%}] {message}", file=sys.stderr, flush=True)
            last.update(time=now, fraction=fraction, message=message)

    return report


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="explorer", description="Analyse the embeddings of a training run.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    summary = commands.add_parser("summary", help="print the run's metrics")
    summary.add_argument("run_dir", help="the run directory")
    summary.add_argument("--json", action="store_true", help="print one JSON object")
    summary.add_argument("--epoch", type=int, help="snapshot epoch to analyse (default: the last)")
    summary.add_argument("--seed", type=int, default=0, help="seed of test pairs, k-means and SVM")
    summary.add_argument("--far", type=float, default=0.01,
                         help="false accept rate at which to report the threshold (default 0.01)")
    summary.add_argument("--max-points", type=int, default=None, metavar="N",
                         help="analyse a seeded subsample of at most N points per split (the same rows "
                              "at every epoch; says so when it subsamples)")

    report = commands.add_parser("report", help="write a self-contained HTML report")
    report.add_argument("run_dir", help="the run directory")
    report.add_argument("-o", "--output", required=True, help="the HTML file to write")
    report.add_argument("--far", type=float, default=0.01,
                        help="false accept rate at which to report the threshold (default 0.01)")
    _map_options(report, method_default=None)

    project = commands.add_parser("project", help="compute (and cache) a 2-D map; print where it is")
    project.add_argument("run_dir", help="the run directory")
    _map_options(project, method_default="pca")
    project.add_argument("--device", default="cpu", choices=DEVICES,
                         help="where t-SNE and UMAP are fitted: cpu, cuda (torchdr on the GPU) or auto "
                              "(cuda when a CUDA GPU is present; default: cpu)")
    project.add_argument("--precomputed", action="store_true",
                         help=f"compute the maps a finished run keeps ready ({', '.join(PRECOMPUTED)}), each at "
                              f"its defaults, instead of --method (training runs this as a run ends)")

    listing = commands.add_parser("list", help="list the run directories under a folder")
    listing.add_argument("root", nargs="?", help="folder of runs (default: $EXPLORER_RUNS_DIR or runs/)")

    claims = commands.add_parser("seeds", help="check the seed documents' claims on the runs under a folder")
    claims.add_argument("root", nargs="?", help="folder of runs (default: $EXPLORER_RUNS_DIR or runs/)")
    claims.add_argument("--json", action="store_true", help="print one JSON list, one object per claim")
    exchange.add_commands(commands)  # import and export (explorer/exchange.py)
    return parser


def _map_options(parser, method_default):
    parser.add_argument("--method", default=method_default,
                        help=f"one of {', '.join(METHODS)}" + ("" if method_default else
                             " (default: raw for a 2-D embedding, else tsne)"))
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                        help="a parameter of the method, e.g. perplexity=50; repeatable")
    parser.add_argument("--mode", default="shared", help=f"one of {', '.join(MODES)} (default: shared)")
    parser.add_argument("--epoch", type=int, help="snapshot epoch (default: the last)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")


def main(argv=None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return _run(args)
    except (_UsageError, RunDirError, ValueError) as e:
        print(f"error: {_one_line(e)}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader of our output went away (| head): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except OSError as e:  # writing the report or a map: disk full, permission denied, a folder
        reason = (rundir.failure_reason(e, remedy="try again") if isinstance(e, rundir.RunWriteError)
                  else f"{e.strerror or type(e).__name__}: {e.filename or ''}")
        print(f"error: {_one_line(reason)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # a bug, or damage no check foresaw: still one line
        if os.environ.get("EXPLORER_DEBUG"):
            raise
        print(f"error: unexpected {type(e).__name__}: {_one_line(e)} (EXPLORER_DEBUG=1 shows the traceback)",
              file=sys.stderr)
        return 1


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def _run(args) -> int:
    from explorer.runs import list_runs, load_run

    if args.command == "seeds":
        return _seeds(args)
    if args.command in ("import", "export"):
        return exchange.run(args)
    if args.command == "list":
        root = rundir.default_runs_dir() if args.root is None else Path(args.root)
        runs = list_runs(root, strict=True)
        for link in rundir.outside_links(root):
            print(f"note: ignored {link.name}: a link to {link.resolve()}, outside {root}", file=sys.stderr)
        for _, row in runs[runs["state"] == "unreadable"].iterrows():
            print(f"note: {row['name']} cannot be opened: {_one_line(row['error'])}", file=sys.stderr)
        print(runs[["name", "state", "epoch", "epochs", "dataset", "loss", "regime", "embedding_dim"]]
              .to_string(index=False) if len(runs) else
              f"no runs in {root}" + ("" if root.exists() else " (the folder does not exist)"))
        return 0
    far = getattr(args, "far", None)
    if far is not None and not 0 <= far <= 1:
        raise ValueError(f"--far must lie in [0, 1], got {far}")
    if args.seed is not None and not 0 <= args.seed < 2**32:
        raise ValueError(f"--seed must be between 0 and {2**32 - 1}, got {args.seed}")
    max_points = getattr(args, "max_points", None)
    if max_points is not None and max_points < 3:
        raise ValueError(f"--max-points must be at least 3, got {max_points}")
    if args.command == "report" and Path(args.output).is_dir():
        raise ValueError(f"-o {args.output} is a folder: give the report a file name, e.g. "
                         f"{Path(args.output) / 'report.html'}")
    if args.command in ("report", "project"):
        if args.mode not in MODES:
            raise ValueError(f"unknown projection mode {args.mode!r}; choose one of {', '.join(MODES)}")
        if args.method is not None:
            params = parse_params(args.method, args.param)  # checks before the run is even opened
    if args.command == "project":
        resolve_device(args.device, args.method)  # no CUDA for --device cuda: say so before opening the run
    run = load_run(args.run_dir)

    if args.command == "summary":
        from explorer.summary import format_summary, summarize

        summary = summarize(run, epoch=args.epoch, far=args.far, random_state=args.seed,
                            progress=_progress(every_stage=True), max_points=max_points)
        if summary.get("subsample"):
            print(f"note: {summary['subsample']['note']}", file=sys.stderr)
        print(json.dumps(summary, indent=2, default=_jsonable) if args.json else format_summary(summary))
        return 0

    if args.method is None:
        from explorer.report import default_method

        args.method = default_method(run)
        params = parse_params(args.method, args.param)
    if args.command == "report":
        from explorer.report import build_report

        out = build_report(run, args.output, args.epoch, args.method, params, args.mode,
                           random_state=args.seed, far=args.far, progress=_progress())
        print(out)
        return 0

    from explorer.projections import cache_path, projection

    for method, chosen in ([(m, {}) for m in PRECOMPUTED] if args.precomputed else [(args.method, params)]):
        frame = projection(run, args.epoch, method, chosen, args.mode, random_state=args.seed,
                           progress=_progress(), device=args.device)
        epoch = frame.attrs.get("epoch", run.last_epoch if args.epoch is None else args.epoch)
        print(cache_path(run, epoch, method, frame.attrs.get("params", chosen), args.mode, args.seed,
                         device=frame.attrs.get("device", "cpu")))
        if frame.attrs.get("note"):
            print(f"note: {frame.attrs['note']}", file=sys.stderr)
    return 0


def _seeds(args) -> int:
    """``seeds [ROOT] [--json]``: every seed claim, reproduced / not reproduced / not yet run."""
    from explorer.seeds import check_claims, format_claims

    root = rundir.default_runs_dir() if args.root is None else Path(args.root)
    if not root.exists():
        raise ValueError(f"runs directory {root} does not exist: give the folder that holds the runs")
    if not root.is_dir():
        raise ValueError(f"runs directory {root} is a file, not a folder: give the folder that holds the runs")
    results = check_claims(root)
    if args.json:
        print(json.dumps([r.as_dict() for r in results], indent=2, default=_jsonable))
    else:
        print(format_claims(results, root))
    return 0


def _jsonable(value):
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")
