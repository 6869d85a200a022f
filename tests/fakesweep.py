"""Hand-made sweeps and preset runs for the explorer's and the app's tests of sweeps and seed claims.

A sweep is what ``python -m training sweep`` writes: ordinary run directories (tests/fakerun.py)
plus ``RUNS_DIR/sweeps/<id>/sweep.json``. Here each run gets the swept options and a preset in its
config.json and chosen final accuracies in its metrics.csv, so tests know the right answer.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
from fakerun import make_fake_run

from training import rundir


def set_config(path: Path, **options) -> None:
    """Change options of a run's config.json (e.g. preset, regime, embedding_dim)."""
    config = rundir.read_json(Path(path) / rundir.CONFIG)
    rundir.write_json(Path(path) / rundir.CONFIG, {**config, **options})


def set_accuracy(path: Path, test: float, shifted: float | None = None) -> None:
    """Make metrics.csv's last epoch report these 5-NN accuracies (earlier epochs a little lower)."""
    metrics = rundir.read_metrics(Path(path))
    last = metrics["epoch"].max()
    for split, value in (("test", test), ("shifted", shifted if shifted is not None else test - 0.1)):
        mask = metrics["split"] == split
        metrics.loc[mask, "knn_accuracy"] = value - 0.05 * (last - metrics.loc[mask, "epoch"])
    rundir.write_metrics(Path(path), metrics.to_dict("records"))


def edit_snapshot(path: Path, change, epoch: int | None = None) -> None:
    """Rewrite the last (or ``epoch``'s) snapshot: ``change(frame)`` returns the new frame."""
    epoch = rundir.snapshot_epochs(Path(path))[-1] if epoch is None else epoch
    frame = rundir.read_snapshot(Path(path), epoch)
    rundir.write_snapshot(Path(path), epoch, change(frame))


def scale_classes(path: Path, factor: float) -> None:
    """Spread every class ``factor`` times wider around its centroid (test and train)."""
    def change(frame):
        columns = rundir.embedding_columns(frame)
        for split in ("train", "test"):
            rows = frame["split"] == split
            part = frame.loc[rows, columns].to_numpy()
            labels = frame.loc[rows, "label"].to_numpy()
            centres = np.stack([part[labels == c].mean(0) for c in range(labels.max() + 1)])
            frame.loc[rows, columns] = (centres[labels] + factor * (part - centres[labels])).astype(frame[columns[0]].dtype)
        return frame
    edit_snapshot(path, change)


def place_shifted(path: Path, displacement: dict[int, float], seed: int = 0) -> None:
    """Put each shifted copy at its source test point, moved by ``displacement[|shift|]`` in a
    seeded random direction: 0 keeps it on its source (never confused)."""
    rng = np.random.default_rng(seed)

    def change(frame):
        columns = rundir.embedding_columns(frame)
        test = frame[frame["split"] == "test"].set_index("row")[columns]
        rows = frame["split"] == "shifted"
        sources = frame.loc[rows, "source_index"].to_numpy()
        moved = np.array([displacement.get(abs(int(s)), 0.0) for s in frame.loc[rows, "shift"]])
        direction = rng.normal(size=(rows.sum(), len(columns)))
        direction /= np.linalg.norm(direction, axis=1, keepdims=True)
        frame.loc[rows, columns] = (test.loc[sources].to_numpy() + moved[:, None] * direction).astype(frame[columns[0]].dtype)
        return frame
    edit_snapshot(path, change)


def make_sweep(root: Path, sweep_id: str, swept: dict[str, list], seeds=(0, 1, 2), accuracy=None,
               states: dict | None = None, preset: str | None = None, separation=None,
               shuffle: bool = False, created_at: float | None = None, options: dict | None = None,
               change=None) -> dict:
    """Runs for every grid point and seed, and the sweep's manifest. ``accuracy(values, seed)``
    gives each run's final test 5-NN accuracy; ``states[(i, seed)]`` (i: grid point) a state
    other than finished: "running" (a run with one of two epochs), "failed", or "pending" (no
    run directory yet). ``separation(values, seed)`` sets the fake embedding's class separation,
    ``options`` more of every run's config, ``change(path, values, seed)`` anything else.
    Returns the manifest."""
    import itertools

    names = list(swept)
    grid = [dict(zip(names, combo)) for combo in itertools.product(*swept.values())]
    entries = []
    for i, values in enumerate(grid):
        for seed in seeds:
            state = (states or {}).get((i, seed), rundir.FINISHED)
            run = None
            if state != "pending":
                run = f"20260201-00{i:02d}{seed:02d}-{sweep_id}-{i}-s{seed}"
                path = make_fake_run(root, run, seed=seed, epochs=2, state=state,
                                     epochs_done=1 if state != rundir.FINISHED else None,
                                     separation=separation(values, seed) if separation else 4.0)
                set_config(path, **(options or {}), **values, seed=seed, preset=preset)
                if accuracy is not None:
                    set_accuracy(path, accuracy(values, seed))
                if change is not None:
                    change(path, values, seed)
            entries.append({"values": values, "seed": seed, "run": run, "state": state})
    if shuffle:
        entries = entries[::-1]
    manifest = {"format_version": 1, "name": sweep_id, "created_at": created_at or time.time(),
                "command": ["python", "-m", "training", "sweep", "--seeds", *map(str, seeds)],
                "base": {"dataset": "fake", "epochs": 2}, "swept": swept, "seeds": list(seeds),
                "preset": preset, "runs": entries}
    write_manifest(root, sweep_id, manifest)
    return manifest


def write_manifest(root: Path, sweep_id: str, manifest) -> Path:
    folder = Path(root) / "sweeps" / sweep_id
    folder.mkdir(parents=True, exist_ok=True)
    text = manifest if isinstance(manifest, str) else json.dumps(manifest)
    (folder / "sweep.json").write_text(text)
    return folder


def make_preset_run(root: Path, name: str, preset: str | None, record: bool = True, seed: int = 0,
                    n_classes: int = 2, separation: float = 4.0, state: str = rundir.FINISHED,
                    dim: int = 2, **options) -> Path:
    """A fake run standing for a preset's run: ``preset`` in config.json when ``record``, and the
    given options (dataset, loss, regime, ...) written into it."""
    path = make_fake_run(root, name, n_classes=n_classes, dim=dim, seed=seed, separation=separation,
                         state=state, epochs_done=1 if state != rundir.FINISHED else None)
    set_config(path, seed=seed, **({"preset": preset} if record and preset else {}), **options)
    return path


def frame_values(frame: pd.DataFrame, column: str) -> list:
    return frame[column].tolist()
