"""2-D maps of embeddings: PCA, t-SNE (openTSNE), UMAP, or the raw coordinates of a 2-D embedding.

``projection`` fits a map (``explorer.fitting``) for a run: in the *shared* mode the map is fitted on the training split
and the test and shifted splits are placed into it with ``transform``, so the three splits are
comparable; the *joint* mode fits all splits together. Above ``max_fit_points`` the fit uses a
seeded subsample and every other point is placed by ``transform``. Results are cached under the
run's ``projections/`` directory, keyed by method, parameters, epoch, mode and seed.

Placing new points: PCA projects them; UMAP uses ``UMAP.transform`` (on exact neighbours); t-SNE uses openTSNE's
``TSNEEmbedding.transform`` (each point starts at the median of its 25 nearest fitted points and is
optimised with perplexity 5 for ``transform_iter`` iterations while the map stays fixed), so
placed points tend to sit a little tighter than fitted ones.

``device="cuda"`` (or ``"auto"`` where ``gpu_maps.cuda_available()``) fits t-SNE and UMAP on the
GPU with torchdr instead (``explorer.gpu_maps``); a map's device is part of its cache key when it
is not the CPU, and is recorded in ``frame.attrs["device"]``.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

import runfmt as rundir

from explorer import gpu_maps
from explorer.fitting import (  # noqa: F401 - the fitting's public names, as callers know them here
    DEVICES, GPU_METHODS, MAX_ITERATIONS, METRICS, Progress, check_params, fit_transform, import_umap,
    parse_params, resolve_device, warm_up)
from explorer.projection_methods import METHODS  # noqa: F401 - the methods, as callers know them here
from explorer.runs import IDENTITY_COLUMNS, Run

MODES = ("shared", "joint")
_PLACED = f"placed points sit at the median of their {gpu_maps.PLACE_NEIGHBORS} nearest fitted points"
GPU_NOTES = {  # what a map made on the GPU says of itself: not the CPU's algorithm in every detail
    "umap": f"fitted on the GPU with torchdr's UMAP; {_PLACED}",
    "tsne": f"fitted on the GPU with torchdr's InfoTSNE (t-SNE with sampled negatives); {_PLACED}",
}
# t-SNE is fitted on at most this many points (seeded); the others are placed into the map by
# transform, 20 iterations from the median of their neighbours. bench/projection_speed.py: 20k
# points in about 7 s on two busy cores, trustworthiness within 0.003 of a fit on all of them.
MAX_FIT_POINTS = 5_000
# On the GPU the fit takes every point up to this many (the goal: 1M points in under a minute).
GPU_MAX_FIT_POINTS = 1_000_000
CACHE_VERSION = 2



def projection(run: Run, epoch: int | None = None, method: str = "pca", params: dict | None = None,
               mode: str = "shared", random_state: int = 0, max_fit_points: int | None = None,
               progress: Progress | None = None, cache: bool = True, device: str = "cpu") -> pd.DataFrame:
    """The 2-D map of every point of one epoch: identity columns, ``x``, ``y`` and ``fitted``.

    ``fitted`` is True for the points the map was fitted on; the others were placed by
    ``transform``. ``frame.attrs`` holds ``note`` (a sentence, e.g. about subsampling), ``method``,
    ``params``, ``mode``, ``epoch``, ``random_state``, ``device`` (where the map was computed)
    and ``seconds`` (the time the fit took). ``max_fit_points`` defaults to ``MAX_FIT_POINTS`` on
    the CPU and ``GPU_MAX_FIT_POINTS`` on the GPU.
    """
    device = resolve_device(device, method)
    max_fit_points = _fit_points(max_fit_points, device)
    params = _check_map_options(method, params, mode, max_fit_points)
    epoch = run.last_epoch if epoch is None else int(epoch)
    path = cache_path(run, epoch, method, params, mode, random_state, max_fit_points, device)
    cached = _read_cache(path) if cache else None
    if cached is not None:
        return cached

    if method == "imported":  # the map an imported run brought along
        from explorer.importer import imported_projection

        frame = imported_projection(run, epoch, mode, random_state)
    else:
        frame = _compute(run.points(epoch), epoch, method, params, mode, random_state, max_fit_points, progress,
                         device=device)
    if cache:
        _write_cache(path, frame)
    return frame


def _compute(points: pd.DataFrame, epoch: int, method: str, params: dict, mode: str,
             random_state: int, max_fit_points: int, progress: Progress | None,
             previous: pd.DataFrame | None = None, device: str = "cpu") -> pd.DataFrame:
    """One epoch's map; with ``previous`` (an earlier map), started from it where it can be."""
    X = points[rundir.embedding_columns(points)].to_numpy(np.float64)
    fit_mask = np.ones(len(points), bool) if mode == "joint" else (points["split"] == "train").to_numpy()
    if not fit_mask.any():
        raise ValueError(f"epoch {epoch} has no training points to fit the shared map on; use mode='joint'")
    fit_rows = np.flatnonzero(fit_mask)
    note = ""
    if len(fit_rows) > max_fit_points and method != "raw":
        rng = np.random.default_rng(random_state)
        fit_rows = np.sort(rng.choice(fit_rows, size=max_fit_points, replace=False))
        note = (f"fitted on a seeded subsample (seed {random_state}) of {max_fit_points} of "
                f"{int(fit_mask.sum())} points; the others were placed by transform")
    if device != "cpu":
        note = "; ".join(filter(None, [note, GPU_NOTES[method]]))
    other_rows = np.setdiff1d(np.arange(len(points)), fit_rows)
    init = _positions_in(previous, points.iloc[fit_rows]) if previous is not None else None

    started = time.perf_counter()
    Y_fit, (Y_other,) = fit_transform(X[fit_rows], [X[other_rows]], method, random_state,
                                      progress, init=init, device=device, **params)
    Y = np.empty((len(points), 2))
    Y[fit_rows], Y[other_rows] = Y_fit, Y_other

    frame = points[list(IDENTITY_COLUMNS)].copy()
    frame["x"], frame["y"] = Y[:, 0], Y[:, 1]
    frame["fitted"] = np.isin(np.arange(len(points)), fit_rows)
    frame.attrs.update({"note": note, "method": method, "params": params, "mode": mode,
                        "epoch": epoch, "random_state": random_state, "device": device,
                        "seconds": round(time.perf_counter() - started, 3)})
    return frame


def _positions_in(previous: pd.DataFrame, points: pd.DataFrame) -> np.ndarray | None:
    """The (x, y) of ``points`` in an earlier map, or None unless it has every one of them."""
    found = previous.set_index(["split", "row"])[["x", "y"]].reindex(
        pd.MultiIndex.from_frame(points[["split", "row"]]))
    return None if found.isna().any().any() else found.to_numpy(np.float64)


# ---------------------------------------------------------------- epoch replay, aligned


def replay(run: Run, epochs: Sequence[int] | None = None, method: str = "pca", params: dict | None = None,
           mode: str = "shared", random_state: int = 0, max_fit_points: int | None = None,
           progress: Progress | None = None, cache: bool = True, device: str = "cpu") -> pd.DataFrame:
    """The maps of several epochs (default: every snapshot), aligned so that a replay shows the
    clusters forming instead of jumping: one frame with an ``epoch`` column.

    Each epoch's t-SNE or UMAP starts from the previous epoch's map; every map is then rotated
    (or reflected) and shifted onto the previous one over the points both hold (orthogonal
    Procrustes, no scaling, so a map that spreads out is seen to spread out). ``device`` as for
    ``projection``.
    """
    device = resolve_device(device, method)
    max_fit_points = _fit_points(max_fit_points, device)
    params = _check_map_options(method, params, mode, max_fit_points)
    epochs = list(run.epochs if epochs is None else epochs)
    if not epochs:
        raise ValueError("the run has no snapshot to replay yet")
    path = replay_cache_path(run, epochs, method, params, mode, random_state, max_fit_points, device)
    cached = _read_cache(path) if cache else None
    if cached is not None:
        return cached
    report = progress or (lambda fraction, message: None)
    frames, previous = [], None
    for i, epoch in enumerate(epochs):
        report(i / len(epochs), f"{method}: map of epoch {epoch} ({i + 1} of {len(epochs)})")
        frame = _compute(run.points(epoch), epoch, method, params, mode, random_state,
                         max_fit_points, None, previous, device=device)
        if previous is not None:
            frame = align(frame, previous)
        frames.append(frame.assign(epoch=epoch))
        previous = frame
    report(1.0, f"{method}: {len(epochs)} maps aligned")
    series = pd.concat(frames, ignore_index=True)
    series.attrs.update({"note": frames[-1].attrs.get("note", ""), "method": method, "params": params,
                         "mode": mode, "epochs": epochs, "random_state": random_state, "device": device})
    if cache:
        _write_cache(path, series)
    return series


def align(frame: pd.DataFrame, reference: pd.DataFrame) -> pd.DataFrame:
    """``frame`` rotated (or reflected) and shifted to lie best on ``reference``, over the points
    (split, row) both hold. Distances within the map are unchanged."""
    from scipy.linalg import orthogonal_procrustes

    keys = ["split", "row"]
    common = frame[keys + ["x", "y"]].merge(reference[keys + ["x", "y"]], on=keys, suffixes=("", "_ref"))
    if len(common) < 3:
        return frame
    A, B = common[["x", "y"]].to_numpy(), common[["x_ref", "y_ref"]].to_numpy()
    a_mean, b_mean = A.mean(axis=0), B.mean(axis=0)
    rotation, _ = orthogonal_procrustes(A - a_mean, B - b_mean)
    moved = (frame[["x", "y"]].to_numpy() - a_mean) @ rotation + b_mean
    aligned = frame.copy()
    aligned["x"], aligned["y"] = moved[:, 0], moved[:, 1]
    return aligned


def replay_cache_path(run: Run, epochs: list[int], method: str, params: dict, mode: str,
                      random_state: int, max_fit_points: int | None = None, device: str = "cpu") -> Path:
    max_fit_points = _fit_points(max_fit_points, device)
    key = {"method": method, "params": params, "epochs": epochs, "mode": mode,
           "random_state": random_state, "max_fit_points": max_fit_points, "version": CACHE_VERSION}
    if device != "cpu":  # as in cache_path
        key["device"] = device
    digest = hashlib.sha1(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:10]
    return run.path / rundir.PROJECTIONS_DIR / f"replay-{method}-{mode}-seed{random_state}-{digest}.parquet"


def cache_path(run: Run, epoch: int, method: str, params: dict, mode: str, random_state: int,
               max_fit_points: int | None = None, device: str = "cpu") -> Path:
    max_fit_points = _fit_points(max_fit_points, device)
    key = {"method": method, "params": params, "epoch": epoch, "mode": mode,
           "random_state": random_state, "max_fit_points": max_fit_points, "version": CACHE_VERSION}
    if device != "cpu":  # so that the CPU's maps keep the keys they were cached under
        key["device"] = device
    digest = hashlib.sha1(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:10]
    return run.path / rundir.PROJECTIONS_DIR / f"{method}-{mode}-epoch{epoch}-seed{random_state}-{digest}.parquet"


def _fit_points(max_fit_points: int | None, device: str) -> int:
    if max_fit_points is not None:
        return max_fit_points
    return MAX_FIT_POINTS if device == "cpu" else GPU_MAX_FIT_POINTS


def _check_map_options(method: str, params: dict | None, mode: str, max_fit_points: int) -> dict:
    params = check_params(method, params)
    if mode not in MODES:
        raise ValueError(f"unknown projection mode {mode!r}; choose one of {', '.join(MODES)}")
    if int(max_fit_points) < 3:
        raise ValueError(f"max_fit_points must be at least 3, got {max_fit_points}")
    return params


def _read_cache(path: Path) -> pd.DataFrame | None:
    """A cached map, or None; a damaged cache file, or one of another shape, counts as none (it is
    recomputed and replaced), and so does a link that leads out of the run."""
    if not path.is_file() or not rundir.is_inside(path, path.parent.parent):
        return None
    try:
        frame = pd.read_parquet(path)
    except Exception:  # pyarrow raises several types for a damaged file
        return None
    wanted = {*IDENTITY_COLUMNS, "x", "y"}
    if not wanted <= set(frame.columns) or not {"params", "method"} <= set(frame.attrs):
        return None
    return frame


def _write_cache(path: Path, frame: pd.DataFrame) -> None:
    """Write atomically; a run directory we may not write to just goes without a cache."""
    try:
        rundir.atomic_write(path, lambda f: frame.to_parquet(f, index=False), "wb", run_dir=path.parent.parent)
    except (OSError, rundir.RunDirError):
        pass
