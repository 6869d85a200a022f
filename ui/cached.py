"""Cached calls into explorer/: the runs, maps and downloads the pages show, keyed
by (run path, mtime, ...); the analyses of one epoch are cached in ui/cached_analyses.py, with the
same helper.

Nothing here computes an analysis itself; it only decides what is cached and for how long. Every
per-run cache is made by one helper, ``per_run``: it is keyed by the run's path and the
modification time of its files (``run_mtime``, runfmt's last-changed stamp), never by
arrays (st.cache_data hashes only a sample of a large array), so a run that is still writing gets
fresh results and a finished run is computed once per server process. Opened runs (memory-mapped
images, the last few snapshots) are read-only and live in st.cache_resource; derived frames and
prepared downloads in st.cache_data.
"""

from __future__ import annotations

import functools
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

import runfmt as rundir

# ---------------------------------------------------------------- runs on disk


def runs_dir() -> Path:
    """$EXPLORER_RUNS_DIR, default ./runs."""
    return rundir.default_runs_dir()


def runs_dir_problem() -> str | None:
    """Why the runs directory cannot hold runs (it is a file, or cannot be read), or None."""
    import os

    root = runs_dir()
    if root.exists() and not root.is_dir():
        return f"The runs directory {root} is a file, not a folder: set EXPLORER_RUNS_DIR to a folder and restart the app."
    if root.is_dir() and not os.access(root, os.R_OK | os.X_OK):
        return f"The runs directory {root} cannot be read: fix its permissions or set EXPLORER_RUNS_DIR to another folder."
    return None


def run_mtime(path: str | Path) -> float:
    """Latest modification time of a run's own files: the cache key of everything read from it."""
    return rundir.last_changed(path)


def per_run(max_entries: int, resource: bool = False):
    """Cache ``compute(path, *args)`` per run path, the run's last change and the other arguments
    (st.cache_resource with ``resource``: shared read-only objects; else st.cache_data: a copy
    per caller). The decorated function is called as before, ``f(path, *args)``."""
    def decorate(compute):
        def cached(path: str, mtime: float, *args, **kwargs):
            return compute(path, *args, **kwargs)

        # Streamlit keys a cache by the function's module, qualified name and source: give each its own name.
        cached.__module__, cached.__qualname__ = compute.__module__, f"{compute.__qualname__}.cached"
        store = (st.cache_resource if resource else st.cache_data)(max_entries=max_entries, show_spinner=False)(cached)

        @functools.wraps(compute)
        def by_path(path, *args, **kwargs):
            plain = [a.item() if isinstance(a, np.generic) else a for a in args]  # numpy scalars key as numbers
            return store(*_key(path), *plain, **kwargs)

        by_path.clear = store.clear
        return by_path

    return decorate


@per_run(max_entries=24, resource=True)
def open_run(path: str | Path):
    """The explorer's Run for a run directory, reopened only when its files change."""
    from explorer.runs import load_run

    return load_run(path)


def _key(path) -> tuple[str, float]:
    return str(path), run_mtime(path)


def _listing_key(root: Path) -> tuple:
    return tuple((p.name, run_mtime(p)) for p in rundir.list_run_dirs(root))


@st.cache_data(max_entries=8, show_spinner=False)
def _runs_table(root: str, key: tuple) -> pd.DataFrame:
    from explorer.runs import list_runs

    return list_runs(root)


def runs_table(root: Path | None = None) -> pd.DataFrame:
    """One row per run under ``root``, newest first (see explorer.runs.list_runs)."""
    root = runs_dir() if root is None else Path(root)
    return _runs_table(str(root), _listing_key(root))


# ---------------------------------------------------------------- maps


def projection_params_key(params: dict) -> str:
    return json.dumps(params, sort_keys=True, default=str)


@per_run(max_entries=64)
def _projection(path: str, epoch: int, method: str, params: str, mode: str) -> pd.DataFrame:
    from explorer.projections import projection

    return projection(open_run(path), epoch, method, json.loads(params), mode, device=map_device(method))


def map_device(method: str) -> str:
    """Where the app's maps are computed: t-SNE and UMAP on the GPU where there is one."""
    from explorer.projections import resolve_device

    return resolve_device("auto", method)


def _computed_with_progress(on_disk: bool, text: str, compute) -> None:
    """A map not yet on disk is computed here, ``compute(progress)``, with a progress bar (long
    t-SNE and UMAP fits); the caller then reads it through the cache."""
    if on_disk:
        return
    bar = st.progress(0.0, text=text)
    try:
        compute(lambda fraction, message: bar.progress(min(max(fraction, 0.0), 1.0), text=message))
    finally:
        bar.empty()


def projection(path, epoch: int, method: str, params: dict, mode: str = "shared") -> pd.DataFrame:
    """The explorer's 2-D map. A map not yet on disk is computed here with a progress bar (long
    t-SNE and UMAP fits), then read through the cache."""
    from explorer.projections import projection as compute

    _computed_with_progress(
        projection_is_cached(path, epoch, method, params, mode), f"{method}: starting",
        lambda progress: compute(open_run(path), epoch, method, params, mode, device=map_device(method),
                                 progress=progress))
    return _projection(path, int(epoch), method, projection_params_key(params), mode)


@per_run(max_entries=8)
def _replay(path: str, epochs: tuple[int, ...], method: str, params: str, mode: str) -> pd.DataFrame:
    from explorer.projections import replay

    return replay(open_run(path), list(epochs), method, json.loads(params), mode, device=map_device(method))


def replay(path, epochs: list[int], method: str, params: dict, mode: str = "shared") -> pd.DataFrame:
    """explorer.projections.replay: the maps of ``epochs``, each started from and aligned to the
    one before, with an ``epoch`` column. Computed here with a progress bar the first time (as
    ``projection``), then read through the cache."""
    from explorer.projections import check_params, replay_cache_path
    from explorer.projections import replay as compute

    run, device = open_run(path), map_device(method)
    on_disk = replay_cache_path(run, list(epochs), method, check_params(method, params), mode, 0, device=device).exists()
    _computed_with_progress(
        on_disk, f"{method}: the maps of {len(epochs)} epochs, each aligned to the one before",
        lambda progress: compute(run, list(epochs), method, params, mode, device=device, progress=progress))
    return _replay(path, tuple(int(e) for e in epochs), method, projection_params_key(params), mode)


def has_imported_map(path) -> bool:
    """Whether the run was imported with its own x, y (explorer.importer): its map "imported"."""
    from explorer.importer import IMPORTED_MAP

    return (Path(path) / rundir.PROJECTIONS_DIR / IMPORTED_MAP).is_file()


def projection_is_cached(path, epoch: int, method: str, params: dict, mode: str = "shared") -> bool:
    from explorer.projections import cache_path, check_params

    if method == "raw":
        return True
    return cache_path(open_run(path), epoch, method, check_params(method, params), mode, 0,
                      device=map_device(method)).exists()


@per_run(max_entries=16)
def split_sizes(path: str) -> dict[str, int]:
    """How many images each split has (a snapshot may hold only some of them)."""
    run = open_run(path)
    return {split: int(len(run.images(split))) for split in run.splits}


@per_run(max_entries=64)
def _epoch_counts(path: str, epoch: int) -> dict[str, int]:
    points = open_run(path).points(epoch)
    return {str(k): int(v) for k, v in points["split"].value_counts().items()}


def subsampled(path, epoch: int) -> dict[str, tuple[int, int]]:
    """{split: (points in this epoch's snapshot, images of the split)} for the splits whose
    snapshot holds only some rows (``--snapshot-max-points``); empty when the epoch has all."""
    counts, sizes = _epoch_counts(path, int(epoch)), split_sizes(path)
    return {s: (counts.get(s, 0), n) for s, n in sizes.items() if counts.get(s, 0) < n}


# ---------------------------------------------------------------- downloads, prepared before offered


@per_run(max_entries=8)
def epoch_csv(path: str, epoch: int) -> bytes:
    """One epoch's embeddings as CSV bytes (identity columns and e0..e{D-1})."""
    return open_run(path).points(epoch).to_csv(index=False).encode()


def all_epochs_csv(path, progress=None) -> bytes:
    """Every epoch's embeddings in one CSV (an ``epoch`` column first), built one snapshot at a
    time; ``progress(fraction, text)`` is told after each."""
    run = open_run(path)
    out = io.StringIO()
    for i, epoch in enumerate(run.epochs):
        points = run.points(epoch)
        if "epoch" not in points:
            points.insert(0, "epoch", epoch)
        points.to_csv(out, index=False, header=i == 0)
        if progress:
            progress((i + 1) / len(run.epochs), f"epoch {epoch}: {len(points):,} points")
    return out.getvalue().encode()


def frame_csv(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode()


WARM_UP_ENV = "EXPLORER_WARM_UP"  # 0 skips compiling UMAP at the app's start (the tests set it)


@st.cache_resource(show_spinner=False)
def start_warm_up():
    """Compile UMAP's numba functions once per server, in a background thread, so the first UMAP
    map a user asks for does not wait for the compiler. Returns the thread (None when skipped)."""
    import os
    import threading

    if os.environ.get(WARM_UP_ENV, "1") == "0":
        return None
    from explorer.projections import warm_up

    thread = threading.Thread(target=warm_up, args=("umap",), name="umap-warm-up", daemon=True)
    thread.start()
    return thread

