"""Cached calls into explorer/: every run and analysis the pages show, keyed by (run path, mtime, ...).

Nothing here computes an analysis itself; it only decides what is cached and for how long. Caches
are keyed by the run's path and the modification time of its files (``run_mtime``), never by
arrays (st.cache_data hashes only a sample of a large array), so a run that is still writing gets
fresh results and a finished run is computed once per server process. Opened runs (memory-mapped
images, the last few snapshots) are read-only and live in st.cache_resource; derived frames and
prepared downloads in st.cache_data.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from training import rundir

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
    """Latest modification time of a run's own files: the cache key of everything read from it.
    The snapshots folder's mtime changes whenever a snapshot file is added (format 2)."""
    path = Path(path)
    names = (rundir.CONFIG, rundir.STATUS, rundir.METRICS, rundir.EMBEDDINGS, rundir.EMBEDDINGS_V1,
             rundir.PAIRS)
    times = []
    for name in names:
        try:
            times.append((path / name).stat().st_mtime)
        except OSError:
            pass
    return max(times, default=0.0)


@st.cache_resource(max_entries=24, show_spinner=False)
def _open_run(path: str, mtime: float):
    from explorer.runs import load_run

    return load_run(path)


def open_run(path: str | Path):
    """The explorer's Run for a run directory, reopened only when its files change."""
    return _open_run(str(path), run_mtime(path))


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


@st.cache_data(max_entries=64, show_spinner=False)
def _projection(path: str, mtime: float, epoch: int, method: str, params: str, mode: str) -> pd.DataFrame:
    from explorer.projections import projection

    return projection(open_run(path), epoch, method, json.loads(params), mode, device=map_device(method))


def map_device(method: str) -> str:
    """Where the app's maps are computed: t-SNE and UMAP on the GPU where there is one."""
    from explorer.projections import resolve_device

    return resolve_device("auto", method)


def projection(path, epoch: int, method: str, params: dict, mode: str = "shared") -> pd.DataFrame:
    """The explorer's 2-D map. A map not yet on disk is computed here with a progress bar (long
    t-SNE and UMAP fits), then read through the cache."""
    from explorer.projections import projection as compute

    run = open_run(path)
    if not projection_is_cached(path, epoch, method, params, mode):
        bar = st.progress(0.0, text=f"{method}: starting")
        try:
            compute(run, epoch, method, params, mode, device=map_device(method),
                    progress=lambda fraction, message: bar.progress(min(max(fraction, 0.0), 1.0), text=message))
        finally:
            bar.empty()
    path, mtime = _key(path)
    return _projection(path, mtime, int(epoch), method, projection_params_key(params), mode)


@st.cache_data(max_entries=8, show_spinner=False)
def _replay(path: str, mtime: float, epochs: tuple[int, ...], method: str, params: str, mode: str) -> pd.DataFrame:
    from explorer.projections import replay

    return replay(open_run(path), list(epochs), method, json.loads(params), mode, device=map_device(method))


def replay(path, epochs: list[int], method: str, params: dict, mode: str = "shared") -> pd.DataFrame:
    """explorer.projections.replay: the maps of ``epochs``, each started from and aligned to the
    one before, with an ``epoch`` column. Computed here with a progress bar the first time (as
    ``projection``), then read through the cache."""
    from explorer.projections import check_params, replay_cache_path
    from explorer.projections import replay as compute

    run = open_run(path)
    device = map_device(method)
    if not replay_cache_path(run, list(epochs), method, check_params(method, params), mode, 0, device=device).exists():
        bar = st.progress(0.0, text=f"{method}: the maps of {len(epochs)} epochs, each aligned to the one before")
        try:
            compute(run, list(epochs), method, params, mode, device=device,
                    progress=lambda fraction, message: bar.progress(min(max(fraction, 0.0), 1.0), text=message))
        finally:
            bar.empty()
    path, mtime = _key(path)
    return _replay(path, mtime, tuple(int(e) for e in epochs), method, projection_params_key(params), mode)


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


@st.cache_data(max_entries=16, show_spinner=False)
def _split_sizes(path: str, mtime: float) -> dict[str, int]:
    run = open_run(path)
    return {split: int(len(run.images(split))) for split in run.splits}


def split_sizes(path) -> dict[str, int]:
    """How many images each split has (a snapshot may hold only some of them)."""
    return _split_sizes(*_key(path))


@st.cache_data(max_entries=64, show_spinner=False)
def _epoch_counts(path: str, mtime: float, epoch: int) -> dict[str, int]:
    points = open_run(path).points(epoch)
    return {str(k): int(v) for k, v in points["split"].value_counts().items()}


def subsampled(path, epoch: int) -> dict[str, tuple[int, int]]:
    """{split: (points in this epoch's snapshot, images of the split)} for the splits whose
    snapshot holds only some rows (``--snapshot-max-points``); empty when the epoch has all."""
    counts, sizes = _epoch_counts(*_key(path), int(epoch)), split_sizes(path)
    return {s: (counts.get(s, 0), n) for s, n in sizes.items() if counts.get(s, 0) < n}


# ---------------------------------------------------------------- analyses of one epoch


@st.cache_data(max_entries=32, show_spinner=False)
def _classify(path: str, mtime: float, epoch: int, classifiers: tuple[str, ...]):
    from explorer.classifiers import classify as run_classify
    from explorer.magnet import magnet_evaluations

    run = open_run(path)
    fitted = tuple(c for c in classifiers if c != "magnet")
    found = run_classify(run, epoch, classifiers=fitted) if fitted else []
    return found + (magnet_evaluations(run, epoch) if "magnet" in classifiers else [])


def classifiers_of(path) -> tuple[str, ...]:
    """The classifiers a run offers: those fitted on its train embeddings, and a magnet run's own
    (softmax over the L closest cluster centres)."""
    from explorer.classifiers import CLASSIFIERS

    return CLASSIFIERS + (("magnet",) if open_run(path).config.get("loss") == "magnet" else ())


def classify(path, epoch: int, classifiers: tuple[str, ...] | None = None):
    """explorer.classifiers.classify (and, for a magnet run, magnet.magnet_evaluations): a list of
    Evaluation (classifier x test/shifted/each shift)."""
    return _classify(*_key(path), int(epoch), tuple(classifiers or classifiers_of(path)))


def evaluation(path, epoch: int, classifier: str, subset: str):
    for e in classify(path, epoch, (classifier,)):
        if e.subset == subset:
            return e
    raise ValueError(f"no {classifier} evaluation on {subset} at epoch {epoch}")


@st.cache_resource(max_entries=8, show_spinner=False)
def _fitted_knn(path: str, mtime: float, epoch: int):
    from explorer.classifiers import fitted

    return fitted(open_run(path), epoch, "knn")[0]


def knn_predictions_of(path, epoch: int, keys) -> dict[str, dict[int, int]]:
    """k-NN's predicted label of a few test or shifted points, {split: {row: label}}, as
    knn_predictions has them, without predicting every point of a large run."""
    from explorer.classifiers import predict_points

    keys = [(str(s), int(r)) for s, r in keys if s in ("test", "shifted")]
    if not keys:
        return {}
    return predict_points(_fitted_knn(*_key(path), int(epoch)), open_run(path), epoch, keys)


def knn_predictions(path, epoch: int) -> dict[str, dict[int, int]]:
    """k-NN's predicted label per row of the test and shifted splits ({} where unavailable)."""
    predicted = {}
    for split in ("test", "shifted"):
        try:
            e = evaluation(path, epoch, "knn", split)
        except ValueError:
            continue
        predicted[split] = dict(zip(e.split_rows().tolist(), e.y_pred.tolist()))
    return predicted


@st.cache_data(max_entries=32, show_spinner=False)
def _pair_sets(path: str, mtime: float, epoch: int) -> pd.DataFrame:
    from explorer.verification import run_pair_sets

    return run_pair_sets(open_run(path), epoch)


def pair_sets(path, epoch: int) -> pd.DataFrame:
    """explorer.verification.run_pair_sets: set (test, test_own, train), i, j, y, distance, labels."""
    return _pair_sets(*_key(path), int(epoch))


@st.cache_data(max_entries=32, show_spinner=False)
def _verification(path: str, mtime: float, epoch: int, pair_set: str, far: float):
    from explorer import distances

    rows = _pair_sets(path, mtime, epoch)
    rows = rows[rows["set"] == pair_set]
    return (distances.histogram(rows["distance"], rows["y"]), distances.roc(rows["distance"], rows["y"]),
            distances.verification(rows["distance"], rows["y"], far))


def verification(path, epoch: int, pair_set: str = "test", far: float = 0.01):
    """(histogram, roc, verification summary) of one pair set at one epoch."""
    return _verification(*_key(path), int(epoch), pair_set, float(far))


@st.cache_data(max_entries=16, show_spinner=False)
def _head(path: str, mtime: float, epoch: int, far: float):
    from explorer import distances, head

    pairs = head.head_pairs(open_run(path), epoch)
    if pairs is None or pairs["y"].nunique() < 2:
        return None
    return {"pairs": len(pairs),
            "head": (head.head_roc(pairs["score"], pairs["y"]), head.head_verification(pairs["score"], pairs["y"], far)),
            "distance": (distances.roc(pairs["distance"], pairs["y"]),
                         distances.verification(pairs["distance"], pairs["y"], far))}


def head_verification(path, epoch: int, far: float = 0.01) -> dict | None:
    """A BCE run's head against the embedding distance on the same (its own test) pairs:
    {"pairs": n, "head": (roc, summary), "distance": (roc, summary)}, or None without a head."""
    return _head(*_key(path), int(epoch), float(far))


@st.cache_data(max_entries=16, show_spinner=False)
def _typed_pairs(path: str, mtime: float, epoch: int, split: str):
    from explorer import pairtypes

    frame = pairtypes.typed_pair_distances(open_run(path), epoch, split)
    if frame is None or frame.empty:
        return None
    return pairtypes.type_histogram(frame), pairtypes.type_summary(frame)


def typed_pairs(path, epoch: int, split: str = "test"):
    """A three-way run's (type histogram, type summary) of its own ``split`` pairs, or None."""
    return _typed_pairs(*_key(path), int(epoch), split)


@st.cache_data(max_entries=32, show_spinner=False)
def _magnet_clusters(path: str, mtime: float, epoch: int):
    from explorer.magnet import clusters

    return clusters(open_run(path), epoch)


def magnet_clusters(path, epoch: int) -> dict | None:
    """explorer.magnet.clusters of one snapshot (centres, their classes, σ², L), read once."""
    return _magnet_clusters(*_key(path), int(epoch))


@st.cache_data(max_entries=16, show_spinner=False)
def _reconstructions(path: str, mtime: float, epoch: int):
    from training import rundir

    arrays = rundir.read_snapshot_arrays(Path(path), epoch)
    if "reconstructions" not in arrays or "reconstruction_rows" not in arrays:
        return None
    return arrays["reconstruction_rows"], arrays["reconstructions"]


def reconstructions(path, epoch: int):
    """(test rows, uint8 images) an autoencoder or PCA snapshot reconstructed, or None."""
    return _reconstructions(*_key(path), int(epoch))


@st.cache_data(max_entries=16, show_spinner=False)
def _enrolment(path: str, mtime: float, epoch: int, shots: int, distractors: bool):
    from explorer.enrol import enrol

    return enrol(open_run(path), epoch, shots=shots, distractors=distractors)


def enrolment(path, epoch: int, shots: int, distractors: bool):
    """explorer.enrol.enrol of the run's held-out classes."""
    return _enrolment(*_key(path), int(epoch), int(shots), bool(distractors))


@st.cache_data(max_entries=16, show_spinner=False)
def _unseen(path: str, mtime: float, epoch: int, far: float):
    from explorer import distances
    from explorer.enrol import unseen_pairs

    d, y = unseen_pairs(open_run(path), epoch)
    return distances.histogram(d, y), distances.roc(d, y), distances.verification(d, y, far)


def unseen_verification(path, epoch: int, far: float = 0.01):
    """(histogram, roc, summary) of seeded pairs of held-out images."""
    return _unseen(*_key(path), int(epoch), float(far))


@st.cache_data(max_entries=32, show_spinner=False)
def _pair_set_summary(path: str, mtime: float, epoch: int, far: float) -> pd.DataFrame:
    from explorer.verification import pair_set_summary

    return pair_set_summary(_pair_sets(path, mtime, epoch), far)


def pair_set_summary(path, epoch: int, far: float = 0.01) -> pd.DataFrame:
    return _pair_set_summary(*_key(path), int(epoch), float(far))


@st.cache_data(max_entries=32, show_spinner=False)
def _per_class(path: str, mtime: float, epoch: int, pair_set: str) -> pd.DataFrame:
    from explorer.verification import per_class_verification

    rows = _pair_sets(path, mtime, epoch)
    rows = rows[rows["set"] == pair_set]
    return per_class_verification(rows["distance"], rows["y"], rows["label_i"], rows["label_j"],
                                  open_run(path).class_names)


def per_class_verification(path, epoch: int, pair_set: str) -> pd.DataFrame:
    return _per_class(*_key(path), int(epoch), pair_set)


@st.cache_data(max_entries=16, show_spinner=False)
def _hard_pairs(path: str, mtime: float, epoch: int, split: str) -> pd.DataFrame:
    from explorer.hardpairs import class_pair, run_hard_pairs

    frame = run_hard_pairs(open_run(path), epoch, split)
    frame["class_pair"] = class_pair(frame).to_numpy()
    return frame


def hard_pairs(path, epoch: int, split: str = "train") -> pd.DataFrame:
    """explorer.hardpairs.run_hard_pairs with a class_pair column, hardest first."""
    return _hard_pairs(*_key(path), int(epoch), split)


@st.cache_data(max_entries=16, show_spinner=False)
def _suspicious(path: str, mtime: float, epoch: int, split: str, k: int) -> pd.DataFrame:
    from explorer.suspicious import run_suspicious

    return run_suspicious(open_run(path), epoch, split, k)


def suspicious(path, epoch: int, split: str = "train", k: int = 10) -> pd.DataFrame:
    return _suspicious(*_key(path), int(epoch), split, int(k))


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


# ---------------------------------------------------------------- downloads, prepared before offered


@st.cache_data(max_entries=8, show_spinner=False)
def _epoch_csv(path: str, mtime: float, epoch: int) -> bytes:
    return open_run(path).points(epoch).to_csv(index=False).encode()


def epoch_csv(path, epoch: int) -> bytes:
    """One epoch's embeddings as CSV bytes (identity columns and e0..e{D-1})."""
    return _epoch_csv(*_key(path), int(epoch))


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


# ---------------------------------------------------------------- images for hover


ATLAS_MAX_PIXELS = 16_000_000  # about 20,000 MNIST-sized images in one PNG
ATLAS_WIDTH = 1456  # px; st.image resizes images wider than 1460 px


@st.cache_data(max_entries=8, show_spinner=False)
def _atlas(path: str, mtime: float, splits: tuple[str, ...]) -> dict | None:
    from PIL import Image

    run = open_run(path)
    arrays = [np.asarray(run.images(s)) for s in splits]
    total = sum(len(a) for a in arrays)
    if not total:
        return None
    h, w = arrays[0].shape[1:3]
    if total * h * w > ATLAS_MAX_PIXELS or any(a.shape[1:3] != (h, w) for a in arrays):
        return None
    columns = max(1, min(total, ATLAS_WIDTH // w))  # st.image would shrink a wider image
    grid_rows = int(np.ceil(total / columns))
    cells = np.zeros((grid_rows * columns, h, w), np.uint8)
    offsets, start = {}, 0
    for split, images in zip(splits, arrays):
        offsets[split] = start
        cells[start:start + len(images)] = images
        start += len(images)
    sheet = cells.reshape(grid_rows, columns, h, w).transpose(0, 2, 1, 3).reshape(grid_rows * h, columns * w)
    buffer = io.BytesIO()
    Image.fromarray(sheet).save(buffer, format="PNG", optimize=False, compress_level=3)
    return {"png": buffer.getvalue(), "columns": columns, "height": int(h), "width": int(w),
            "offsets": offsets, "count": total}


def image_atlas(path) -> dict | None:
    """Every image of the run's splits in one grayscale PNG sheet, for the map's hover images:
    {png, columns, height, width, offsets: {split: first index}, count}. None above
    ATLAS_MAX_PIXELS (or with images of different sizes)."""
    run = open_run(path)
    images_dir = Path(path) / rundir.IMAGES_DIR
    try:
        mtime = images_dir.stat().st_mtime
    except OSError:
        return None
    splits = tuple(s for s in run.splits if (images_dir / f"{s}.npy").exists())
    return _atlas(str(path), mtime, splits)


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

