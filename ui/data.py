"""Cached calls into explorer/: every analysis the pages show, keyed by (run path, file mtime, ...).

Nothing here computes anything itself; it only decides what is cached and for how long. The
``mtime`` argument is the run's ``run_mtime`` at call time, so a run that is still writing gets
fresh results and a finished run is computed once per server process.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import streamlit as st

from ui.common import open_run, run_mtime


def _key(path) -> tuple[str, float]:
    return str(path), run_mtime(path)


# ---------------------------------------------------------------- projections


def projection_params_key(params: dict) -> str:
    return json.dumps(params, sort_keys=True, default=str)


@st.cache_data(max_entries=64, show_spinner=False)
def _projection(path: str, mtime: float, epoch: int, method: str, params: str, mode: str) -> pd.DataFrame:
    from explorer.projections import projection

    frame = projection(open_run(path), epoch, method, json.loads(params), mode)
    return frame


def projection(path, epoch: int, method: str, params: dict, mode: str = "shared") -> pd.DataFrame:
    """The explorer's 2-D map. A map not yet on disk is computed here with a progress bar (long
    t-SNE and UMAP fits), then read through the cache."""
    from explorer.projections import cache_path, check_params
    from explorer.projections import projection as compute

    run = open_run(path)
    full = check_params(method, params)
    if method != "raw" and not cache_path(run, epoch, method, full, mode, 0).exists():
        bar = st.progress(0.0, text=f"{method}: starting")
        try:
            compute(run, epoch, method, params, mode,
                    progress=lambda fraction, message: bar.progress(min(max(fraction, 0.0), 1.0), text=message))
        finally:
            bar.empty()
    path, mtime = _key(path)
    return _projection(path, mtime, int(epoch), method, projection_params_key(params), mode)


def projection_is_cached(path, epoch: int, method: str, params: dict, mode: str = "shared") -> bool:
    from explorer.projections import cache_path, check_params

    if method == "raw":
        return True
    return cache_path(open_run(path), epoch, method, check_params(method, params), mode, 0).exists()


# ---------------------------------------------------------------- analyses of one epoch


@st.cache_data(max_entries=32, show_spinner=False)
def _classify(path: str, mtime: float, epoch: int, classifiers: tuple[str, ...]):
    from explorer.classifiers import classify as run_classify

    return run_classify(open_run(path), epoch, classifiers=classifiers)


def classify(path, epoch: int, classifiers: tuple[str, ...] | None = None):
    """explorer.classifiers.classify: a list of Evaluation (classifier x test/shifted/each shift)."""
    from explorer.classifiers import CLASSIFIERS

    return _classify(*_key(path), int(epoch), tuple(classifiers or CLASSIFIERS))


def evaluation(path, epoch: int, classifier: str, subset: str):
    for e in classify(path, epoch, (classifier,)):
        if e.subset == subset:
            return e
    raise ValueError(f"no {classifier} evaluation on {subset} at epoch {epoch}")


@st.cache_data(max_entries=32, show_spinner=False)
def _pair_distances(path: str, mtime: float, epoch: int) -> pd.DataFrame:
    from explorer.distances import run_pair_distances

    return run_pair_distances(open_run(path), epoch)


def pair_distances(path, epoch: int) -> pd.DataFrame:
    """explorer.distances.run_pair_distances: set (train/test), i, j, y, distance."""
    return _pair_distances(*_key(path), int(epoch))


@st.cache_data(max_entries=32, show_spinner=False)
def _verification(path: str, mtime: float, epoch: int, pair_set: str, far: float):
    from explorer import distances

    rows = _pair_distances(path, mtime, epoch)
    rows = rows[rows["set"] == pair_set]
    return (distances.histogram(rows["distance"], rows["y"]), distances.roc(rows["distance"], rows["y"]),
            distances.verification(rows["distance"], rows["y"], far))


def verification(path, epoch: int, pair_set: str, far: float = 0.01):
    """(histogram, roc, verification summary) of one pair set at one epoch."""
    return _verification(*_key(path), int(epoch), pair_set, float(far))


@st.cache_data(max_entries=32, show_spinner=False)
def _shift_table(path: str, mtime: float, epoch: int, classifier: str) -> pd.DataFrame:
    from explorer.shifts import run_shift_table

    return run_shift_table(open_run(path), epoch, classifier)


def shift_table(path, epoch: int, classifier: str = "knn") -> pd.DataFrame:
    return _shift_table(*_key(path), int(epoch), classifier)


@st.cache_data(max_entries=16, show_spinner=False)
def _geometry(path: str, mtime: float) -> pd.DataFrame:
    from explorer.geometry import geometry_over_epochs

    return geometry_over_epochs(open_run(path))


def geometry_over_epochs(path) -> pd.DataFrame:
    return _geometry(*_key(path))


@st.cache_data(max_entries=32, show_spinner=False)
def _centroids(path: str, mtime: float, epoch: int, split: str) -> np.ndarray:
    from explorer.geometry import centroid_distances

    run = open_run(path)
    X, y = run.embeddings(epoch, split)
    return centroid_distances(X, y, run.n_classes)


def centroid_distances(path, epoch: int, split: str) -> np.ndarray:
    return _centroids(*_key(path), int(epoch), split)


@st.cache_data(max_entries=64, show_spinner=False)
def _gallery(path: str, mtime: float, epoch: int, split: str, row: int, k: int) -> pd.DataFrame:
    from explorer.neighbours import gallery

    return gallery(open_run(path), split, row, epoch, reference="train", k=k)


def gallery(path, epoch: int, split: str, row: int, k: int = 10) -> pd.DataFrame:
    """The k nearest training points of one point, in embedding space."""
    return _gallery(*_key(path), int(epoch), split, int(row), int(k))
