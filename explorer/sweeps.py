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
and final metrics, ``aggregate`` the mean, std and n over seeds per grid point, ``differences``
which differences between grid points exceed the spread between seeds, and ``sweep_figure`` each
metric against the swept value with mean ± std.

Cheap on purpose: a run's figures come from its metrics.csv (the last epoch's 5-NN accuracies
that training measured), and the verification AUC from one snapshot, remembered per run and file
modification time, so a page that shows a sweep of many runs does not redo heavy analyses.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
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
ALL_PAIRS_UP_TO = 5  # with this many grid points or fewer, every pair is compared; else adjacent ones

DIFFERENCE_RULE = (
    "A difference exceeds the spread between seeds when |Δ mean| is larger than the pooled "
    "standard deviation over seeds of the two grid points (n − 1 in each), i.e. an effect size "
    "above 1; Welch's t-test p-value is given beside it. With fewer than two finished seeds on "
    "a side the spread is unknown, and nothing is claimed.")


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


# ---------------------------------------------------------------- mean ± std over seeds


def aggregate(table: pd.DataFrame, metric: str, by: list[str] | None = None) -> pd.DataFrame:
    """Per grid point (the ``by`` columns, default the swept options): mean, std (n − 1; NaN for
    one seed), n (finished runs with a value) and values (each seed's, as a tuple), over the
    finished runs. Every grid point of the sweep is a row, in the order of the swept values,
    also one with no finished run yet (n 0)."""
    swept = table.attrs.get("swept") or {}
    by = list(by if by is not None else swept)
    if metric not in table:
        raise ValueError(f"the table has no column {metric!r}; it has {', '.join(map(str, table.columns))}")
    missing = [b for b in by if b not in table]
    if missing:
        raise ValueError(f"the table has no swept option {', '.join(missing)}")
    grid = [dict(zip(by, combo)) for combo in itertools.product(*(swept.get(b) or _unique(table[b]) for b in by))]
    done = table[(table["state"] == FINISHED) & table[metric].notna()]
    rows = []
    for point in grid:
        mask = np.ones(len(done), bool)
        for k, v in point.items():
            mask &= np.array([found == v for found in done[k]], bool).reshape(-1)
        found = done[mask]
        values = tuple(float(v) for v in found[metric])
        rows.append({**point, "mean": float(np.mean(values)) if values else np.nan,
                     "std": float(np.std(values, ddof=1)) if len(values) > 1 else np.nan,
                     "n": len(values), "values": values, "seeds": tuple(found["seed"].tolist())})
    frame = pd.DataFrame(rows, columns=[*by, "mean", "std", "n", "values", "seeds"])
    frame.attrs.update(metric=metric, by=by, swept={b: swept.get(b) or _unique(table[b]) for b in by})
    return frame


def _unique(column: pd.Series) -> list:
    return list(dict.fromkeys(v for v in column if v is not None and not (isinstance(v, float) and math.isnan(v))))


def differences(agg: pd.DataFrame, pairs: str = "auto") -> pd.DataFrame:
    """Which differences between grid points exceed the spread between seeds (DIFFERENCE_RULE).

    ``pairs``: "all" compares every two grid points, "adjacent" neighbouring values of one swept
    option with the others held equal, "auto" all pairs up to ALL_PAIRS_UP_TO grid points and
    adjacent ones beyond. Grid points without a finished run are left out. Columns: a, b (the
    points in words), mean_a, mean_b, n_a, n_b, delta (mean_b − mean_a), pooled_std, welch_p,
    exceeds (True, False, or None when a side has fewer than two seeds), verdict (in words).
    ``attrs["rule"]`` states the rule.
    """
    if pairs not in ("auto", "all", "adjacent"):
        raise ValueError(f"pairs must be 'auto', 'all' or 'adjacent', got {pairs!r}")
    by = list(agg.attrs.get("by") or [c for c in agg.columns if c not in ("mean", "std", "n", "values", "seeds")])
    points = agg[agg["n"] > 0].reset_index(drop=True)
    if pairs == "auto":
        pairs = "all" if len(points) <= ALL_PAIRS_UP_TO else "adjacent"
    chosen = []
    if pairs == "all":
        chosen = list(itertools.combinations(range(len(points)), 2))
    else:
        order = agg.attrs.get("swept") or {b: _unique(agg[b]) for b in by}
        for i, j in itertools.combinations(range(len(points)), 2):
            a, b = points.iloc[i], points.iloc[j]
            changed = [k for k in by if a[k] != b[k]]
            if len(changed) == 1:
                values = list(order.get(changed[0]) or [])
                if a[changed[0]] in values and b[changed[0]] in values and \
                        abs(values.index(a[changed[0]]) - values.index(b[changed[0]])) == 1:
                    chosen.append((i, j))
    rows = [_difference(points.iloc[i], points.iloc[j], by) for i, j in chosen]
    frame = pd.DataFrame(rows, columns=["a", "b", "mean_a", "mean_b", "n_a", "n_b", "delta", "pooled_std",
                                        "welch_p", "exceeds", "verdict"])
    frame.attrs.update(rule=DIFFERENCE_RULE, metric=agg.attrs.get("metric"), pairs=pairs)
    return frame


def compare_values(a, b) -> dict:
    """Two sets of per-seed values: their means, the difference b − a, the pooled std, Welch's p
    and whether the difference exceeds the spread between seeds (None: fewer than two seeds on a
    side)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    mean_a, mean_b = (float(a.mean()) if len(a) else np.nan), (float(b.mean()) if len(b) else np.nan)
    delta = mean_b - mean_a
    pooled, p, exceeds = np.nan, np.nan, None
    if len(a) >= 2 and len(b) >= 2:
        pooled = float(np.sqrt(((len(a) - 1) * a.var(ddof=1) + (len(b) - 1) * b.var(ddof=1)) / (len(a) + len(b) - 2)))
        exceeds = bool(abs(delta) > pooled)
        if a.var() > 0 or b.var() > 0:
            import warnings

            from scipy import stats

            with warnings.catch_warnings():  # nearly equal values: scipy warns of precision, p stays usable
                warnings.simplefilter("ignore", RuntimeWarning)
                p = float(stats.ttest_ind(a, b, equal_var=False).pvalue)
        elif delta != 0:
            p = 0.0
    return {"mean_a": mean_a, "mean_b": mean_b, "n_a": len(a), "n_b": len(b), "delta": delta,
            "pooled_std": pooled, "welch_p": p, "exceeds": exceeds}


def _difference(a: pd.Series, b: pd.Series, by: list[str]) -> dict:
    found = compare_values(a["values"], b["values"])
    if found["exceeds"] is None:
        verdict = "too few seeds to tell (fewer than two finished on a side)"
    elif found["exceeds"]:
        verdict = f"yes: {'higher' if found['delta'] > 0 else 'lower'} by more than the spread between seeds"
        if not found["welch_p"] < 0.05:
            verdict += f" (but Welch p {found['welch_p']:.2g}: not significant at 0.05 with these seeds)"
    else:
        verdict = "no: within the spread between seeds"
    return {"a": point_label({k: a[k] for k in by}), "b": point_label({k: b[k] for k in by}), **found,
            "verdict": verdict}


# ---------------------------------------------------------------- the figure


def sweep_figure(table: pd.DataFrame, metrics: list[str] | None = None, x: str | None = None,
                 title: str | None = None):
    """One panel per metric (the METRICS that any finished run has), the metric against the
    swept option ``x`` (default: the one with most values), mean ± std over the finished seeds
    as error bars, one line per value of the other swept options (drawn a little apart), and
    each seed's value as a small faint dot beside its mean. The swept values sit evenly spaced in
    their given order (x positions 0, 1, ...; the ticks name them). A point with one seed has no
    error bar."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    swept = table.attrs.get("swept") or {}
    if not swept:
        raise ValueError("the sweep sweeps no option: there is no value to plot against")
    x = x or max(swept, key=lambda k: len(swept[k]))
    if x not in swept:
        raise ValueError(f"{x!r} is not a swept option; the sweep sweeps {', '.join(swept)}")
    done = table[table["state"] == FINISHED]
    metrics = [m for m in (metrics or list(METRICS)) if m in table and done[m].notna().any()]
    others = [k for k in swept if k != x]
    ticks = [show_value(v) for v in swept[x]]
    fig = make_subplots(rows=1, cols=max(len(metrics), 1), subplot_titles=[METRICS.get(m, m) for m in metrics],
                        horizontal_spacing=0.08)
    palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"]
    position = {v: i for i, v in enumerate(swept[x])}  # the swept values, evenly spaced in their order
    for col, metric in enumerate(metrics, start=1):
        agg = aggregate(table, metric)
        groups = [((), agg)] if not others else list(agg.groupby(others, sort=False))
        for g, (key, part) in enumerate(groups):
            key = key if isinstance(key, tuple) else (key,)
            name = point_label(dict(zip(others, key))) if others else "mean ± std over seeds"
            colour = palette[g % len(palette)]
            dodge = (g - (len(groups) - 1) / 2) * min(0.08, 0.3 / max(len(groups), 1))  # lines side by side
            shown = part[part["n"] > 0]
            where = [position[v] + dodge for v in shown[x]]
            fig.add_trace(go.Scatter(
                x=where, y=shown["mean"],
                error_y={"type": "data", "array": shown["std"].fillna(0).tolist(), "visible": True},
                mode="lines+markers", name=name, legendgroup=name, showlegend=col == 1,
                line={"color": colour}, marker={"size": 8},
                customdata=np.stack([[show_value(v) for v in shown[x]], shown["std"].map(lambda v: f"{v:.4f}"
                                     if np.isfinite(v) else "unknown (one seed)"), shown["n"]], 1) if len(shown) else None,
                hovertemplate=f"{x} %{{customdata[0]}}<br>mean %{{y:.4f}} ± %{{customdata[1]}}<br>"
                              f"%{{customdata[2]}} seeds<extra>{name}</extra>"), row=1, col=col)
            dots_x, dots_y, dots_text = [], [], []
            for _, row in shown.iterrows():  # each seed just right of its mean, so the bar does not hide it
                dots_x += [position[row[x]] + dodge + 0.035] * len(row["values"])
                dots_y += list(row["values"])
                dots_text += [f"{x} {show_value(row[x])}, seed {s}" for s in row["seeds"]]
            fig.add_trace(go.Scatter(x=dots_x, y=dots_y, mode="markers", name="each seed", legendgroup="seeds",
                                     showlegend=col == 1 and g == 0, text=dots_text,
                                     marker={"size": 5, "color": colour, "opacity": 0.45},
                                     hovertemplate="%{text}<br>%{y:.4f}<extra>one seed</extra>"), row=1, col=col)
        fig.update_xaxes(tickmode="array", tickvals=list(range(len(ticks))), ticktext=ticks,
                         range=[-0.5, len(ticks) - 0.5], title_text=x.replace("_", " "), row=1, col=col)
    fig.update_layout(title=title or "Each metric against the swept value: mean ± std over seeds",
                      height=420, margin={"t": 90}, legend={"orientation": "h", "y": -0.2})
    return fig
