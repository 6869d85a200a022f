"""Sweeps: a grid of training options, each point trained with several seeds, read as one group.

``python -m training sweep`` writes one ordinary run per grid point and seed into the runs
directory, and a manifest ``RUNS_DIR/sweeps/<sweep-id>/sweep.json``::

    {"format_version": 1, "name": "<sweep-id>", "created_at": <unix seconds>, "command": [...],
     "base": {<the fixed options>}, "swept": {"embedding_dim": [2, 4, 8]}, "seeds": [0, 1, 2],
     "preset": "<name or null>",
     "runs": [{"values": {"embedding_dim": 2}, "seed": 0, "run": "<run directory name or null>",
               "state": "finished|running|failed|pending|..."}]}

Here: ``list_sweeps`` reads the manifests (a bad one is listed as unreadable with a one-line
reason, never raised), ``sweep_table`` gives one row per run with its swept values, seed, state
and final metrics, ``state_counts`` how many runs are in each state. The statistics over seeds
(mean ± std per grid point, which differences exceed the seeds' spread, the figure) are in
``explorer.sweep_stats``.

Cheap on purpose: a run's figures come from its metrics.csv (the last epoch's 5-NN accuracies
that training measured), and the verification AUC from one snapshot, remembered per run and file
modification time, so a page that shows a sweep of many runs does not redo heavy analyses.
"""

from __future__ import annotations

import json
import math
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

import runfmt as rundir

SWEEPS_DIR = "sweeps"
MANIFEST = "sweep.json"
FORMAT_VERSION = 1
MAX_MANIFEST_BYTES = 8_000_000  # a manifest of 100,000 runs is well below this

# The figures a sweep compares, and how they are named on screen.
METRICS = {
    "test_knn_accuracy": "test 5-NN accuracy",
    "shifted_knn_accuracy": "shifted test 5-NN accuracy",
    "verification_auc": "verification AUC (fresh test pairs)",
}
TABLE_COLUMNS = ["seed", "state", "run", "path", "epoch", "epochs", *METRICS, "error"]
FINISHED = rundir.FINISHED


class SweepError(ValueError):
    """A manifest that cannot be used; its message is one line naming the file and why."""


@dataclass
class Sweep:
    """One sweep's manifest. ``error`` is set (and the rest may be empty) when it is unreadable."""

    id: str
    path: Path                       # the sweep's folder, RUNS_DIR/sweeps/<id>
    runs_dir: Path
    name: str = ""
    created_at: float | None = None
    command: list = field(default_factory=list)
    base: dict = field(default_factory=dict)
    swept: dict = field(default_factory=dict)   # option -> its values, in the order given
    seeds: list = field(default_factory=list)
    preset: str | None = None
    runs: list = field(default_factory=list)    # {"values", "seed", "run", "state"}
    error: str | None = None
    mtime: float = 0.0

    @property
    def readable(self) -> bool:
        return self.error is None

    @property
    def manifest(self) -> Path:
        return self.path / MANIFEST

    def describe(self) -> str:
        """One line: name, what is swept, seeds and how many runs have finished."""
        if self.error:
            return f"{self.id}: unreadable ({self.error})"
        swept = " × ".join(f"{k} {', '.join(show_value(v) for v in values)}" for k, values in self.swept.items())
        done = sum(1 for r in self.runs if r.get("state") == FINISHED)
        return (f"{self.name}: {swept or 'nothing swept'}; seeds {', '.join(map(str, self.seeds)) or '-'}; "
                f"{done} of {len(self.runs)} runs finished")


# ---------------------------------------------------------------- reading manifests


def sweeps_dir(runs_dir: str | os.PathLike) -> Path:
    return Path(runs_dir) / SWEEPS_DIR


def list_sweeps(runs_dir: str | os.PathLike | None = None) -> list[Sweep]:
    """Every ``sweeps/*/sweep.json`` under ``runs_dir``, newest first (by creation time, then
    name). A manifest that is missing, damaged, of another format or a link out of the runs
    directory is listed with ``error`` set to one line; nothing here raises for a bad file."""
    runs_dir = rundir.default_runs_dir() if runs_dir is None else Path(runs_dir)
    root = sweeps_dir(runs_dir)
    try:
        folders = [p for p in root.iterdir() if p.is_dir() or p.is_symlink()] if root.is_dir() else []
    except OSError:
        return []
    found = []
    for folder in folders:
        try:
            found.append(read_sweep(folder, runs_dir))
        except SweepError as e:
            found.append(Sweep(id=folder.name, path=folder, runs_dir=runs_dir, name=folder.name, error=str(e)))
        except Exception as e:  # noqa: BLE001 - a listing never fails on one bad manifest
            found.append(Sweep(id=folder.name, path=folder, runs_dir=runs_dir, name=folder.name,
                               error=f"{type(e).__name__}: {' '.join(str(e).split())}"))
    return sorted(found, key=lambda s: (s.created_at or 0.0, s.id), reverse=True)


def read_sweep(folder: str | os.PathLike, runs_dir: str | os.PathLike | None = None) -> Sweep:
    """The manifest in ``folder`` (RUNS_DIR/sweeps/<id>). Raises SweepError in one line."""
    folder = Path(folder)
    runs_dir = folder.parent.parent if runs_dir is None else Path(runs_dir)
    data = _read_manifest(folder, runs_dir)
    shown = f"{SWEEPS_DIR}/{folder.name}/{MANIFEST}"
    version = data.get("format_version")
    if version != FORMAT_VERSION:
        raise SweepError(f"{shown} has format version {str(version)[:20]}; this program reads version {FORMAT_VERSION}")
    swept = data.get("swept", {})
    if not isinstance(swept, dict) or not all(isinstance(k, str) and isinstance(v, list) and v
                                              for k, v in swept.items()):
        raise SweepError(f"{shown}: 'swept' must map option names to non-empty lists of values")
    seeds = data.get("seeds", [])
    if not isinstance(seeds, list) or not all(_is_int(s) for s in seeds):
        raise SweepError(f"{shown}: 'seeds' must be a list of whole numbers")
    runs = data.get("runs", [])
    if not isinstance(runs, list):
        raise SweepError(f"{shown}: 'runs' must be a list")
    checked = []
    for i, entry in enumerate(runs):
        if not isinstance(entry, dict) or not isinstance(entry.get("values", {}), dict):
            raise SweepError(f"{shown}: run {i} must be an object with 'values', 'seed', 'run' and 'state'")
        name = entry.get("run")
        if name is not None and not isinstance(name, str):
            raise SweepError(f"{shown}: run {i} names its run directory with a {type(name).__name__}, not text")
        checked.append({"values": {k: _hashable(v) for k, v in entry.get("values", {}).items()},
                        "seed": entry.get("seed") if _is_int(entry.get("seed")) else None,
                        "run": name or None, "state": str(entry.get("state") or "pending")[:40]})
    base = data.get("base") if isinstance(data.get("base"), dict) else {}
    command = data.get("command") if isinstance(data.get("command"), list) else []
    created = data.get("created_at")
    preset = data.get("preset")
    return Sweep(id=folder.name, path=folder, runs_dir=runs_dir,
                 name=str(data.get("name") or folder.name)[:200],
                 created_at=float(created) if isinstance(created, (int, float)) and not isinstance(created, bool)
                 and math.isfinite(created) else None,
                 command=[str(c) for c in command], base=base,
                 swept={k: [_hashable(v) for v in values] for k, values in swept.items()},
                 seeds=list(seeds), preset=str(preset) if isinstance(preset, str) else None,
                 runs=checked, mtime=(folder / MANIFEST).stat().st_mtime)


def _read_manifest(folder: Path, runs_dir: Path) -> dict:
    """The manifest's JSON object, read safely: only inside the runs directory (no link out),
    bounded in size, plain JSON values only (no NaN or Infinity), never anything executable."""
    shown = f"{SWEEPS_DIR}/{folder.name}/{MANIFEST}"
    path = folder / MANIFEST
    if not rundir.is_inside(path, runs_dir):
        raise SweepError(f"{shown} is a link to {path.resolve()}, outside {runs_dir}: remove the link")
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise SweepError(f"{shown} is not a file")
        if size > MAX_MANIFEST_BYTES:
            raise SweepError(f"{shown} is {size:,} bytes, more than a manifest can be ({MAX_MANIFEST_BYTES:,})")
        text = path.read_bytes()
    except FileNotFoundError:
        raise SweepError(f"{shown} is missing: the sweep may still be starting, or its folder is not a sweep") from None
    except OSError as e:
        raise SweepError(f"{shown} cannot be read ({e.strerror})") from None

    def refuse(constant):
        raise ValueError(f"{constant} is not a JSON number")

    try:
        data = json.loads(text.decode("utf-8"), parse_constant=refuse)
    except (ValueError, UnicodeDecodeError, RecursionError) as e:
        raise SweepError(f"{shown} is not valid JSON ({' '.join(str(e).split())[:120]})") from None
    if not isinstance(data, dict):
        raise SweepError(f"{shown} does not hold a JSON object")
    return data


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _hashable(value):
    """A swept value as a table can hold it: lists become tuples."""
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    return value


def show_value(value) -> str:
    """A swept value in words: 32, nn-other, "4 9" for a list."""
    if isinstance(value, (tuple, list)):
        return " ".join(show_value(v) for v in value)
    if isinstance(value, float) and value.is_integer():
        return f"{value:g}"
    return str(value)


def point_label(values: dict) -> str:
    """A grid point in words: "embedding_dim 2, regime nn-other"."""
    return ", ".join(f"{k} {show_value(v)}" for k, v in values.items())


# ---------------------------------------------------------------- the runs of a sweep


_MEMO: OrderedDict = OrderedDict()
_MEMO_LOCK = threading.Lock()
_MEMO_SIZE = 2048


def run_mtime(path: str | os.PathLike) -> float:
    """Latest modification time of a run's own files (config, status, metrics, snapshots, pairs)."""
    return rundir.last_changed(path)


def remembered(path: str | os.PathLike, what: str, compute):
    """``compute()`` for this run, remembered per run path, ``what`` and the run's file times:
    asked again while the run is unchanged, it is not computed again."""
    key = (str(path), what, run_mtime(path))
    with _MEMO_LOCK:
        if key in _MEMO:
            _MEMO.move_to_end(key)
            return _MEMO[key]
    value = compute()
    with _MEMO_LOCK:
        _MEMO[key] = value
        while len(_MEMO) > _MEMO_SIZE:
            _MEMO.popitem(last=False)
    return value


def final_metrics(path: str | os.PathLike) -> dict:
    """The last epoch's 5-NN accuracies that training recorded in metrics.csv:
    {"epoch", "test_knn_accuracy", "shifted_knn_accuracy"} (None where absent)."""
    metrics = rundir.read_metrics(Path(path))
    found = {"epoch": None, "test_knn_accuracy": None, "shifted_knn_accuracy": None}
    for split in ("test", "shifted"):
        rows = metrics[(metrics["split"] == split) & metrics["knn_accuracy"].notna()]
        if len(rows):
            last = rows.sort_values("epoch").iloc[-1]
            found[f"{split}_knn_accuracy"] = float(last["knn_accuracy"])
            found["epoch"] = max(found["epoch"] or 0, int(last["epoch"]))
    return found


def verification_auc(path: str | os.PathLike, n_test_pairs: int = 2000, random_state: int = 0) -> float | None:
    """AUC of the last snapshot on fresh seeded class-based test pairs, drawn as
    ``explorer summary`` draws them (its ``auc``); None for a run without a test snapshot."""
    def compute():
        from explorer import distances
        from explorer.runs import load_run

        run = load_run(path)
        if not run.epochs or "test" not in run.splits:
            return None
        rows = distances.run_pair_distances(run, run.last_epoch, n_test_pairs, random_state=random_state)
        rows = rows[rows["set"] == "test"]
        if rows["y"].nunique() < 2:
            return None
        return distances.verification(rows["distance"].to_numpy(), rows["y"].to_numpy())["auc"]

    return remembered(path, f"auc-{n_test_pairs}-{random_state}", compute)


def sweep_table(sweep: Sweep, with_auc: bool = True) -> pd.DataFrame:
    """One row per run of the sweep, in the manifest's order: its swept values (one column per
    swept option), seed, state, run (directory name), path, epoch (the last in metrics.csv),
    epochs, the figures of METRICS and error.

    The state is the run's own status.json when the run exists (a manifest written before the
    run ended may lag behind); ``missing`` when it names a run directory that is not there;
    ``unreadable`` when the run cannot be read. The verification AUC (``with_auc``) is measured
    for finished runs only. ``attrs["swept"]`` holds the swept options and their values in order.
    """
    if not sweep.readable:
        raise SweepError(f"sweep {sweep.id} is unreadable: {sweep.error}")
    rows = []
    for entry in sweep.runs:
        row = {**{k: entry["values"].get(k) for k in sweep.swept}, "seed": entry["seed"], "state": entry["state"],
               "run": entry["run"], "path": None, "epoch": None, "epochs": None,
               **dict.fromkeys(METRICS), "error": None}
        name = entry["run"]
        if name:
            path = sweep.runs_dir / name
            if Path(name).name != name or name in (".", "..") or not rundir.is_inside(path, sweep.runs_dir):
                row.update(state="unreadable", error=f"run {name[:80]!r} lies outside the runs directory")
            elif not path.is_dir():
                if entry["state"] not in ("pending", rundir.RUNNING):
                    row.update(state="missing", error=f"run directory {name} is missing")
            else:
                row["path"] = str(path)
                try:
                    status = rundir.read_status(path)
                    row.update(state=status["state"], epochs=status.get("epochs"), error=status.get("error"))
                    row.update(final_metrics(path))
                    if with_auc and status["state"] == FINISHED:
                        row["verification_auc"] = verification_auc(path)
                except (rundir.RunDirError, OSError, ValueError) as e:
                    row.update(state="unreadable", error=" ".join(str(e).split()))
        rows.append(row)
    table = pd.DataFrame(rows, columns=[*sweep.swept, *TABLE_COLUMNS])
    for metric in METRICS:
        table[metric] = pd.to_numeric(table[metric], errors="coerce").astype(float)
    table.attrs["swept"] = {k: list(v) for k, v in sweep.swept.items()}
    return table


def state_counts(table: pd.DataFrame) -> dict[str, int]:
    """{state: number of runs}, finished first."""
    counts = table["state"].value_counts().to_dict()
    return dict(sorted(counts.items(), key=lambda kv: (kv[0] != FINISHED, kv[0])))
