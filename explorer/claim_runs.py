"""Which runs count for a seed claim: only the runs that are the preset's experiment.

A run counts for a preset when every option that makes the experiment matches the preset's
value: every option the preset sets, and these whether it sets them or not (at the command
line's default then): EXPERIMENT. The only exceptions are FREE_ALWAYS (the seed, where the files
lie, the device) and the options a claim declares free (the swept option of a sweep claim).
Options the preset's method does not read (a magnet run's pair regime) are not compared. A
config.json written before an option existed reads as its default (no contrastive_form: seed000).

A run that records the preset, or that differs from it in a few options, is a *near miss*: listed
apart with the reason ("epochs 2, the preset trains 15"), never counted. Where the data set is free
of files (MNIST's bundled sample, or its own files through --data-dir), every side of a claim is
kept on the same images (``one_data_source``). Two runs with the same
compared options and seed are one run (a form run and a sweep's seed-0 run): counted once.
Imports no torch.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field

import pandas as pd

import runfmt as rundir
from training.config import KNOWN_CLASSES, TrainConfig
from training.objectives import METHOD_OPTIONS, METHODS, used_options
from training.presets import PRESETS

# Compared for every preset, whether the preset names them or leaves them at their default.
EXPERIMENT = ("dataset", "classes", "holdout_classes", "max_train", "loss", "contrastive_form", "regime", "miner",
              "backbone", "freeze", "embedding_dim", "epochs", "normalize", "alpha", "train_shifts")
# Never compared: they do not change the experiment (or name files that differ between machines).
FREE_ALWAYS = ("seed", "runs_dir", "name", "preset", "device", "precision", "compile", "snapshot_every",
               "snapshot_max_points", "data_dir", "pretrained")
NEAR = 3  # a run that differs from a preset in at most this many options (same data set and loss) is a near miss
DEFAULTS = TrainConfig()


def compared_options(preset: str, free: tuple[str, ...] = ()) -> list[str]:
    """The options a run must share with ``preset`` to count for it."""
    options = PRESETS[preset].options
    loss = options.get("loss", DEFAULTS.loss)
    used = set(used_options(loss, options.get("miner", DEFAULTS.miner))) if loss in METHODS else set()
    names = list(dict.fromkeys([*EXPERIMENT, *options]))
    return [n for n in names if n not in FREE_ALWAYS and n not in free
            and not (n in METHOD_OPTIONS and n not in used)]


def _value(config: dict, option: str):
    """An option's value as compared: lists as sorted tuples, class names resolved, numbers as floats."""
    value = config.get(option, getattr(DEFAULTS, option, None))
    if option in ("classes", "holdout_classes"):
        known = KNOWN_CLASSES.get(config.get("dataset"), [])
        names = {known[int(c)] if str(c).isdigit() and int(c) < len(known) and str(c) not in known else str(c)
                 for c in value or []}
        if option == "classes" and (not names or (known and names == set(known))):
            return "all"
        return tuple(sorted(names))
    if isinstance(value, list):
        return tuple(sorted(value))
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return float(value)
    return value


def show(value) -> str:
    if value is None:
        return "all"  # max_train: every training image
    if isinstance(value, tuple):
        return " ".join(map(str, value)) or "none"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def mismatches(config: dict, preset: str, free: tuple[str, ...] = ()) -> list[str]:
    """Each compared option where the run differs from ``preset``, in words:
    "epochs 2, the preset trains 15"."""
    wanted = {**{k: getattr(DEFAULTS, k) for k in EXPERIMENT}, **PRESETS[preset].options}
    words = []
    for option in compared_options(preset, free):
        have, want = _value(config, option), _value({**wanted, "dataset": wanted.get("dataset")}, option)
        if have != want:
            verb = "trains" if option == "epochs" else "has"
            words.append(f"{option.replace('_', ' ')} {show(have)}, the preset {verb} {show(want)}")
    return words


def identity(config: dict, preset: str, free: tuple[str, ...] = ()) -> tuple:
    """What makes two runs the same run for a claim: its compared options, free ones and seed."""
    options = [*compared_options(preset, free), *free]
    return tuple(_value(config, o) for o in options) + (config.get("seed"),)


@dataclass
class Found:
    """The runs of one preset for one claim: finished ones that count (duplicates dropped), runs
    of the experiment still running or stopped, near misses with their reasons, and duplicates."""

    counted: pd.DataFrame
    unfinished: list[str] = field(default_factory=list)          # "name (state)"
    near: list[tuple[str, str]] = field(default_factory=list)    # (name, "not counted: ...")
    duplicates: list[tuple[str, str]] = field(default_factory=list)  # (dropped, the run it repeats)


COLUMNS = ["name", "path", "state", "seed", "config"]


def read_runs(runs_dir: str | os.PathLike) -> pd.DataFrame:
    """Every readable run under ``runs_dir``: name, path, state, seed, config (oldest first, so a
    repeated run keeps its first copy)."""
    rows = []
    for path in sorted(rundir.list_run_dirs(runs_dir), key=lambda p: p.name):
        try:
            config = rundir.read_config(path)
            state = rundir.read_status(path)["state"]
        except (rundir.RunDirError, OSError):
            continue
        rows.append({"name": path.name, "path": str(path), "state": state, "seed": config.get("seed"),
                     "config": config})
    return pd.DataFrame(rows, columns=COLUMNS)


def runs_for(runs: pd.DataFrame, preset: str, free: tuple[str, ...] = (),
             others: tuple[str, ...] = ()) -> Found:
    """The runs of ``preset`` among ``runs`` (read_runs). A run that is exactly the experiment of
    one of ``others`` (the claim's other presets) is not a near miss of this one."""
    counted, unfinished, near, duplicates, seen = [], [], [], [], {}
    for row in runs.itertuples(index=False):
        config = row.config
        wrong = mismatches(config, preset, free)
        if not wrong:
            if row.state != rundir.FINISHED:
                unfinished.append(f"{row.name} ({row.state})")
                continue
            key = identity(config, preset, free)
            if key in seen:
                duplicates.append((row.name, seen[key]))
                continue
            seen[key] = row.name
            counted.append(row._asdict())
            continue
        if any(not mismatches(config, other, free) for other in others if other != preset):
            continue
        same_kind = all(_value(config, k) == _value(PRESETS[preset].options, k) for k in ("dataset", "loss")
                        if k in PRESETS[preset].options)
        if config.get("preset") == preset or (same_kind and len(wrong) <= NEAR):
            near.append((row.name, "not counted: " + "; ".join(wrong)))
    return Found(pd.DataFrame(counted, columns=COLUMNS), unfinished, near, duplicates)


BUNDLED = "the bundled 5,000-image MNIST sample"
FILES = "MNIST's own files"


def data_source(config: dict) -> str:
    """Where an MNIST run's images came from (--data-dir or not); "" for other data sets, whose
    files are needed either way."""
    if config.get("dataset", DEFAULTS.dataset) != "mnist":
        return ""
    return FILES if config.get("data_dir") else BUNDLED


def one_data_source(found: dict[str, Found]) -> None:
    """Keep every side of a claim on the same images. A claim whose counted runs mix MNIST's own
    files and the bundled sample keeps the runs on the files where every side has one, else those
    on the sample where every side has one; where the sides share neither, none counts (a
    comparison across data sets would not be the seeds' experiment). The runs set aside are listed
    as not counted, with why."""
    sources = {p: {data_source(c) for c in f.counted["config"]} for p, f in found.items() if len(f.counted)}
    if len(set().union(*sources.values()) if sources else set()) < 2:
        return
    kept = next((s for s in (FILES, BUNDLED) if all(s in have for have in sources.values())), None)
    for f in found.values():
        other = f.counted["config"].map(data_source) != kept
        for name, config in zip(f.counted.loc[other, "name"], f.counted.loc[other, "config"]):
            source = data_source(config)
            why = (f"this claim's other runs used {kept}" if kept else
                   f"another side of this claim has runs on {FILES if source == BUNDLED else BUNDLED} only")
            f.near.append((name, f"not counted: it was trained on {source}, and {why}: run every side on the "
                                 "same images"))
        f.counted = f.counted[~other].reset_index(drop=True)


def presets_of(config: dict) -> tuple[str, ...]:
    """Every preset whose experiment this run is (the seed and the files aside)."""
    return tuple(name for name in PRESETS if not mismatches(config, name))


def config_fields() -> set[str]:
    return {f.name for f in dataclasses.fields(TrainConfig)}
