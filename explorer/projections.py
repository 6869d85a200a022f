"""2-D maps of embeddings: PCA, t-SNE (openTSNE), UMAP, or the raw coordinates of a 2-D embedding.

``fit_transform`` fits a method on some points and places others into the fitted map.
``projection`` does this for a run: in the *shared* mode the map is fitted on the training split
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
import math
import time
import warnings
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd

import runfmt as rundir

from explorer import gpu_maps
from explorer.projection_methods import METHODS
from explorer.runs import IDENTITY_COLUMNS, Run

# The main parameters of each method and their defaults: explorer.projection_methods lists them.
METRICS = ("euclidean", "cosine", "manhattan", "chebyshev")
MODES = ("shared", "joint")
DEVICES = ("cpu", "cuda", "auto")  # auto: cuda where gpu_maps.cuda_available()
GPU_METHODS = ("tsne", "umap")
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
MAX_ITERATIONS = 100_000  # more is a typo, and would run for days
CACHE_VERSION = 2

Progress = Callable[[float, str], None]  # progress(fraction done in [0, 1], message)


def check_params(method: str, params: dict | None = None) -> dict:
    """The method's full parameter set: defaults updated with ``params``, validated."""
    if method not in METHODS:
        raise ValueError(f"unknown projection method {method!r}; choose one of {', '.join(METHODS)}")
    params = dict(params or {})
    unknown = sorted(set(params) - set(METHODS[method]))
    if unknown:
        allowed = ", ".join(METHODS[method]) or "none"
        raise ValueError(f"{method} has no parameter {', '.join(unknown)}; its parameters are: {allowed}")
    params = {**METHODS[method], **params}
    for name, value in params.items():
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"{name} must be a finite number, got {value}")
    for name in {"n_iter", "early_exaggeration_iter", "transform_iter", "n_epochs"} & set(params):
        if isinstance(params[name], (int, float)) and params[name] > MAX_ITERATIONS:
            raise ValueError(f"{name} must be at most {MAX_ITERATIONS}, got {params[name]}")
    positive = {"perplexity", "n_iter", "n_neighbors", "dof"}  # transform_iter may be 0: no optimisation
    for name in positive & set(params):
        if not isinstance(params[name], (int, float)) or params[name] <= 0:
            raise ValueError(f"{name} must be a positive number, got {params[name]!r}")
    for name in {"n_iter", "early_exaggeration_iter", "n_neighbors", "transform_iter"} & set(params):
        if int(params[name]) != params[name] or params[name] < 0:
            raise ValueError(f"{name} must be a whole number, got {params[name]!r}")
        params[name] = int(params[name])
    if method == "umap" and params["n_neighbors"] < 2:
        raise ValueError("n_neighbors must be at least 2")
    if method == "umap" and not (isinstance(params["min_dist"], (int, float)) and params["min_dist"] >= 0):
        raise ValueError(f"min_dist must be zero or more, got {params['min_dist']!r}")
    if "metric" in params and params["metric"] not in METRICS:
        raise ValueError(f"metric must be one of {', '.join(METRICS)}, got {params['metric']!r}")
    return params


def parse_params(method: str, items: Sequence[str]) -> dict:
    """Turn ``["perplexity=50", "metric=cosine"]`` into typed, validated parameters."""
    params = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep:
            raise ValueError(f"parameter {item!r} must look like name=value")
        params[name.strip()] = _parse_value(text.strip())
    return check_params(method, params)


def _parse_value(text: str):
    if text.lower() in ("none", "null"):
        return None
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def fit_transform(X: np.ndarray, X_new: Sequence[np.ndarray] = (), method: str = "pca",
                  random_state: int | None = None, progress: Progress | None = None,
                  init: np.ndarray | None = None, device: str = "cpu",
                  **params) -> tuple[np.ndarray, list[np.ndarray]]:
    """Fit ``method`` on X and return (its 2-D map, [each of X_new placed into that map]).

    ``init`` (n, 2) starts t-SNE and UMAP from given positions, e.g. the previous epoch's map, so
    that successive maps stay comparable; PCA has no use for it. ``device`` ("cpu", "cuda" or
    "auto") says where t-SNE and UMAP are fitted (see ``explorer.gpu_maps``)."""
    params = check_params(method, params)
    device = resolve_device(device, method)
    X = _as_matrix(X, "X")
    X_new = [_as_matrix(x, "X_new") for x in X_new]
    if any(x.shape[1] != X.shape[1] for x in X_new):
        raise ValueError("every array in X_new must have as many columns as X")
    if len(X) < 3:
        raise ValueError(f"a map needs at least 3 points to fit, got {len(X)}")
    report = progress or (lambda fraction, message: None)
    if method == "raw":
        if X.shape[1] != 2:
            raise ValueError(f"the raw map needs a 2-D embedding; this one has {X.shape[1]} dimensions")
        return X.copy(), [x.copy() for x in X_new]
    if init is not None and np.shape(init) != (len(X), 2):
        raise ValueError(f"init must have shape ({len(X)}, 2), got {np.shape(init)}")
    if device == "cpu":
        fit = {"pca": _fit_pca, "tsne": _fit_tsne, "umap": _fit_umap}[method]
        Y, transform = fit(X, random_state, report, init=init, **params)
    else:
        Y, transform = gpu_maps.fit_gpu(X, method, random_state, report, init=init, device=device, **params)
    placed = []
    for i, x in enumerate(X_new):
        report(0.9, f"{method}: placing {len(x)} points into the map ({i + 1}/{len(X_new)})")
        placed.append(np.asarray(transform(x), dtype=np.float64) if len(x) else np.empty((0, 2)))
    report(1.0, f"{method}: done")
    return np.asarray(Y, dtype=np.float64), placed


def resolve_device(device: str, method: str) -> str:
    """The device that computes ``method``'s map: "cpu" or "cuda" (PCA and raw: always "cpu")."""
    if device not in DEVICES:
        raise ValueError(f"unknown device {device!r}; choose one of {', '.join(DEVICES)}")
    if device == "cuda" and not gpu_maps.cuda_available():
        raise ValueError(gpu_maps.NO_CUDA)
    if method not in GPU_METHODS or device == "cpu":
        return "cpu"
    return "cuda" if device == "cuda" or gpu_maps.cuda_available() else "cpu"


def _as_matrix(X, name: str) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (points x dimensions), got shape {X.shape}")
    if not np.isfinite(X).all():
        raise ValueError(f"{name} holds NaN or infinite values")
    return X


def _fit_pca(X, random_state, report, whiten, init=None):
    from sklearn.decomposition import PCA

    report(0.0, f"PCA: fitting {len(X)} points")
    pca = PCA(n_components=2, whiten=whiten, random_state=random_state).fit(X)
    return pca.transform(X), pca.transform


def _fit_tsne(X, random_state, report, n_iter, early_exaggeration_iter, perplexity, metric,
              transform_iter, init=None, **params):
    """openTSNE with exact neighbours (explorer.knn), PCA initialisation and a short schedule.

    Below ``EXACT_KNN_POINTS`` the exact, chunked k-NN beats openTSNE's approximate index on two
    cores and lets ``transform`` place new points with the same neighbours.
    """
    from openTSNE import TSNEEmbedding, affinity, initialization

    n_jobs = _cpu_count()
    report(0.0, f"t-SNE: finding the neighbours of {len(X)} points")
    index = _neighbour_index(X, perplexity, metric, n_jobs, random_state)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # openTSNE warns when it lowers a too-high perplexity
        affinities = affinity.PerplexityBasedNN(
            perplexity=min(perplexity, (len(X) - 1) / 3), knn_index=index, n_jobs=n_jobs,
            random_state=random_state, verbose=False)
    if init is None:
        init = initialization.pca(X, random_state=random_state)
    else:
        init = initialization.rescale(np.asarray(init, np.float64))
    # No openTSNE callbacks: each one computes the KL divergence, which costs as much as a step.
    embedding = TSNEEmbedding(init, affinities, n_jobs=n_jobs, random_state=random_state, **params)
    report(0.15, f"t-SNE: {early_exaggeration_iter} iterations with early exaggeration")
    embedding = embedding.optimize(n_iter=early_exaggeration_iter, exaggeration=12, momentum=0.5)
    report(0.45, f"t-SNE: {n_iter} more iterations")
    embedding = embedding.optimize(n_iter=n_iter, momentum=0.8)

    def transform(x):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if transform_iter == 0:  # each new point at the median of its neighbours in the map
                return embedding.prepare_partial(x, initialization="median")
            return embedding.transform(x, n_iter=transform_iter)

    return np.asarray(embedding), transform


EXACT_KNN_POINTS = 60_000  # above this, openTSNE's approximate index (Annoy) is faster


def _neighbour_index(X, perplexity, metric, n_jobs, random_state):
    from openTSNE import nearest_neighbors

    k = int(min(len(X) - 1, 3 * perplexity))
    if metric in ("euclidean", "cosine") and len(X) <= EXACT_KNN_POINTS:
        return _exact_index(X, k, metric, n_jobs, random_state)
    return nearest_neighbors.Annoy(X, k, metric=metric, n_jobs=n_jobs, random_state=random_state)


def _exact_index(X, k, metric, n_jobs, random_state):
    """openTSNE's neighbour index interface over explorer.knn's exact, chunked search."""
    from openTSNE.nearest_neighbors import KNNIndex

    from explorer.knn import knn

    class ExactIndex(KNNIndex):
        VALID_METRICS = ["euclidean", "cosine"]

        def build(self):
            return knn(self.data, self.k, metric=self.metric)

        def query(self, query, k):
            return knn(self.data, k, np.asarray(query), metric=self.metric, exclude_self=False)

    return ExactIndex(X, k, metric=metric, n_jobs=n_jobs, random_state=random_state)


def _cpu_count() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _fit_umap(X, random_state, report, init=None, **params):
    """umap-learn, on exact neighbours (explorer.knn) for the euclidean and cosine metrics up to
    ``EXACT_KNN_POINTS`` fitted points.

    umap-learn's own neighbour search (pynndescent) is compiled by numba in every new process,
    30 to 120 s on two cores, and cannot be cached on disk; the exact, chunked search needs no
    compiler, and ``transform`` asks it for each new point's neighbours as it would ask pynndescent.
    """
    report(0.0, "UMAP: importing umap-learn")
    umap = import_umap()
    exact = params["metric"] in ("euclidean", "cosine") and len(X) <= EXACT_KNN_POINTS
    if exact:
        report(0.05, f"UMAP: finding the neighbours of {len(X)} points")
        search = _ExactSearch(X, params["metric"])
        params = {**params, "precomputed_knn": search.own_neighbours(min(params["n_neighbors"], len(X) - 1) + 1)}
        params["n_neighbors"] = params["precomputed_knn"][0].shape[1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a seed forces one thread; precomputed neighbours have no NNDescent
        report(0.1, f"UMAP: fitting {len(X)} points")
        start = "spectral" if init is None else np.asarray(init, np.float64)
        model = umap.UMAP(n_components=2, random_state=random_state, init=start, **params).fit(X)
    if exact:
        model._knn_search_index = search  # what transform queries for new points' neighbours

    def transform(x):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return model.transform(x)

    return model.embedding_, transform


class _ExactSearch:
    """The part of pynndescent's index that ``UMAP.transform`` uses, over explorer.knn."""

    _angular_trees = False

    def __init__(self, X, metric: str):
        self.X, self.metric = np.asarray(X, np.float32), metric

    def own_neighbours(self, k: int) -> tuple[np.ndarray, np.ndarray, None]:
        """Each fitted point's k nearest, itself first, as umap-learn's ``precomputed_knn``."""
        from explorer.knn import knn

        indices, distances = knn(self.X, k - 1, metric=self.metric)
        own = np.arange(len(self.X))[:, None]
        return (np.hstack([own, indices]).astype(np.int32),
                np.hstack([np.zeros_like(own, np.float32), distances]).astype(np.float32), None)

    def query(self, queries, k: int, epsilon: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        from explorer.knn import knn

        indices, distances = knn(self.X, k, np.asarray(queries, np.float32), metric=self.metric,
                                 exclude_self=False)
        return indices.astype(np.int32), distances


def import_umap():
    """``import umap`` with numba's on-disk cache on for every function it compiles at import, so
    a new process loads them instead of compiling them again (umap-learn caches few of its own)."""
    import functools

    import numba

    saved = numba.njit, numba.jit

    def cached(decorator):
        @functools.wraps(decorator)
        def with_cache(*args, **kwargs):
            kwargs.setdefault("cache", True)
            return decorator(*args, **kwargs)
        return with_cache

    numba.njit, numba.jit = cached(saved[0]), cached(saved[1])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import umap
    finally:
        numba.njit, numba.jit = saved
    return umap


WARM_UP_POINTS = 4200  # above 4,096 points umap-learn takes its nearest-neighbour-descent path


def warm_up(method: str = "umap") -> float:
    """Fit and transform a throwaway map so that numba compiles UMAP's functions now, off the
    user's path (the app does it in a background thread at start). Returns the seconds it took."""
    started = time.perf_counter()
    X = np.random.default_rng(0).normal(size=(WARM_UP_POINTS, 8))
    fit_transform(X, [X[:16]], method, random_state=0)
    return time.perf_counter() - started


# ---------------------------------------------------------------- maps of a run, cached


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
