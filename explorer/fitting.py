"""One 2-D map fitted on arrays: PCA, t-SNE (openTSNE), UMAP, or the raw coordinates of a 2-D
embedding, with the method's parameters checked first.

``fit_transform`` fits a method on some points and places others into the fitted map. Placing
new points: PCA projects them; UMAP uses ``UMAP.transform`` on exact neighbours; t-SNE uses
openTSNE's ``TSNEEmbedding.transform`` (each point starts at the median of its 25 nearest fitted
points and is optimised with perplexity 5 for ``transform_iter`` iterations while the map stays
fixed), so placed points tend to sit a little tighter than fitted ones. ``device="cuda"`` fits
t-SNE and UMAP on the GPU with torchdr instead (``explorer.gpu_maps``).

``explorer.projections`` makes and caches the maps of a run with it.
"""

from __future__ import annotations

import math
import time
import warnings
from typing import Callable, Sequence

import numpy as np

from explorer import gpu_maps
from explorer.projection_methods import METHODS

METRICS = ("euclidean", "cosine", "manhattan", "chebyshev")
DEVICES = ("cpu", "cuda", "auto")  # auto: cuda where gpu_maps.cuda_available()
GPU_METHODS = ("tsne", "umap")
MAX_ITERATIONS = 100_000  # more is a typo, and would run for days
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
