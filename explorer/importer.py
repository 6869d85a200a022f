"""``python -m explorer import FILE``: embeddings computed elsewhere, as a run directory of ours.

FILE is
- Parquet, one row per sample: the embedding as one list column (``--vector``, found by itself
  when one column holds lists) or as columns e0 .. e{D-1}; a label column (``--label``, default
  ``label``); optionally ``split`` (train / test), ``image`` (a path under ``--images-dir``, or
  PNG/JPEG bytes) and ``x``/``y`` (a precomputed 2-D map, which becomes the map "imported");
- ``.npy`` (an (n, D) array) or ``.npz`` (its ``embeddings`` array, or its only array, and
  optionally ``labels``), with ``--labels FILE`` (one label a line, or a ``.npy``) unless the
  ``.npz`` holds them.

Without a split column, a seeded stratified split puts ``--test-fraction`` of each class in test,
and the note says so. The run directory holds one snapshot (epoch 0 of 0), the images (blank
when none were given), seeded train and test pairs, the test k-NN accuracy, and nothing that
links outside it. Bad input raises ``ImportInputError`` with one line naming the file and column.
Needs no torch.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from training import rundir

SPLITS = ("train", "test")
IMPORTED_MAP = "imported.parquet"  # projections/imported.parquet: split, row, x, y
BLANK_SIDE = 8  # images of a run imported without images: blank squares this many pixels wide
PAIRS_PER_SPLIT = 2000
KNN_NEIGHBOURS = 5


class ImportInputError(ValueError):
    """The file to import, or a column of it, cannot be used: one line naming them."""


@dataclass
class Table:
    """What a file to import holds, checked."""
    vectors: np.ndarray  # float32 (n, D)
    labels: np.ndarray  # strings, (n,)
    split: np.ndarray | None = None  # "train" / "test" per row
    images: list | None = None  # a path (str) or encoded bytes per row
    xy: np.ndarray | None = None  # (n, 2)
    notes: list[str] = field(default_factory=list)


def read_table(path: Path, label: str = "label", vector: str | None = None, labels_file: Path | None = None) -> Table:
    path = Path(path)
    if not path.is_file():
        raise ImportInputError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return _from_parquet(path, label, vector)
    if suffix in (".npy", ".npz"):
        return _from_arrays(path, labels_file)
    raise ImportInputError(f"{path}: unknown kind of file {suffix or '(no suffix)'}; give .parquet, .npy or .npz")


def _from_parquet(path: Path, label: str, vector: str | None) -> Table:
    try:
        frame = pd.read_parquet(path)
    except Exception as e:  # pyarrow raises several types for a file that is not Parquet
        raise ImportInputError(f"{path}: cannot be read as Parquet ({type(e).__name__})") from None
    if label not in frame.columns:
        raise ImportInputError(f"{path}: no label column {label!r} (columns: {', '.join(map(str, frame.columns[:12]))}); "
                               f"name it with --label")
    vectors = _vectors(path, frame, vector)
    table = Table(vectors, _labels(path, label, frame[label].to_numpy()))
    if "split" in frame.columns:
        table.split = frame["split"].astype(str).to_numpy()
        bad = sorted(set(table.split) - set(SPLITS))
        if bad:
            raise ImportInputError(f"{path}: column 'split' holds {bad[0]!r}; only train and test are known")
    if "image" in frame.columns:
        table.images = list(frame["image"])
    if {"x", "y"} <= set(frame.columns):
        table.xy = _finite(path, "x/y", frame[["x", "y"]].to_numpy(np.float64))
    return table


def _vectors(path: Path, frame: pd.DataFrame, vector: str | None) -> np.ndarray:
    columns = [c for c in frame.columns if isinstance(c, str) and c.startswith("e") and c[1:].isdigit()]
    if vector is None:
        lists = [c for c in frame.columns if len(frame) and isinstance(frame[c].iloc[0], (list, np.ndarray))]
        vector = lists[0] if len(lists) == 1 and not columns else None
        if vector is None and not columns:
            raise ImportInputError(f"{path}: no embedding: give a list column with --vector, or columns e0, e1, ...")
    if vector is not None:
        if vector not in frame.columns:
            raise ImportInputError(f"{path}: no column {vector!r} for --vector")
        values = list(frame[vector])
        sizes = np.array([len(v) if isinstance(v, (list, np.ndarray)) else -1 for v in values])
        if len(sizes) and (sizes != sizes[0]).any():
            row = int(np.flatnonzero(sizes != sizes[0])[0])
            raise ImportInputError(f"{path}: column {vector!r} is ragged: row {row} has {_values(sizes[row])}, "
                                   f"row 0 has {_values(sizes[0])}; every embedding needs the same length")
        X = np.asarray(np.stack(values) if values else np.zeros((0, 0)), np.float32)
        return _finite(path, vector, X)
    columns = sorted(columns, key=lambda c: int(c[1:]))
    if [int(c[1:]) for c in columns] != list(range(len(columns))):
        raise ImportInputError(f"{path}: embedding columns {columns[0]} .. {columns[-1]} skip a number; "
                               f"name them e0 .. e{len(columns) - 1}")
    for c in columns:
        _finite(path, c, pd.to_numeric(frame[c], errors="coerce").to_numpy(np.float64))
    return frame[columns].to_numpy(np.float32)


def _values(n: int) -> str:
    return "no list" if n < 0 else f"{n} value" + ("" if n == 1 else "s")


def _finite(path: Path, column: str, values: np.ndarray) -> np.ndarray:
    bad = ~np.isfinite(values)
    if bad.any():
        row = int(np.flatnonzero(bad.reshape(len(values), -1).any(axis=1))[0])
        raise ImportInputError(f"{path}: column {column!r} holds NaN or infinity (first at row {row})")
    return values


def _labels(path: Path, column: str, values: np.ndarray) -> np.ndarray:
    missing = pd.isna(values)
    if missing.any():
        raise ImportInputError(f"{path}: column {column!r} is empty at row {int(np.flatnonzero(missing)[0])}")
    return np.asarray([str(v) for v in values], dtype=object)


def _from_arrays(path: Path, labels_file: Path | None) -> Table:
    try:
        if path.suffix.lower() == ".npy":
            arrays = {"embeddings": np.load(path, allow_pickle=False)}
        else:
            with np.load(path, allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files}
    except Exception as e:  # numpy's advice to unpickle is not passed on
        why = "it holds pickled objects, which are never loaded" if "pickle" in str(e).lower() else type(e).__name__
        raise ImportInputError(f"{path}: cannot be read ({why})") from None
    key = "embeddings" if "embeddings" in arrays else next(iter(arrays)) if len(arrays) == 1 else None
    if key is None:
        raise ImportInputError(f"{path}: holds {', '.join(arrays)}; name the embedding array 'embeddings'")
    X = np.asarray(arrays[key])
    if X.ndim != 2 or X.dtype.kind not in "fiu":
        raise ImportInputError(f"{path}: array {key!r} is {X.dtype} of shape {X.shape}, not (n, D) numbers")
    X = _finite(path, key, X.astype(np.float32))
    if labels_file is not None:
        labels, where = _read_labels_file(Path(labels_file)), Path(labels_file)
    elif "labels" in arrays:
        labels, where = np.asarray(arrays["labels"]), path
    else:
        raise ImportInputError(f"{path}: no labels: give --labels FILE (one label a line, or .npy)")
    if len(labels) != len(X):
        raise ImportInputError(f"{where}: {len(labels)} labels for the {len(X)} embeddings of {path.name}; "
                               f"give one label per embedding")
    return Table(X, _labels(where, "labels", labels))


def _read_labels_file(path: Path) -> np.ndarray:
    if not path.is_file():
        raise ImportInputError(f"{path}: no such labels file")
    if path.suffix.lower() == ".npy":
        try:
            return np.load(path, allow_pickle=False)
        except Exception as e:
            raise ImportInputError(f"{path}: cannot be read as labels ({type(e).__name__})") from None
    return np.asarray(path.read_text().splitlines(), dtype=object)


# ---------------------------------------------------------------- images


def read_images(path: Path, table: Table, images_dir: Path | None, size: int) -> np.ndarray:
    """The ``image`` column as uint8 (n, size, size) grayscale: paths resolved under ``images_dir``
    (never outside it), or encoded bytes; blank squares when the file has no images."""
    if table.images is None:
        return np.zeros((len(table.labels), BLANK_SIDE, BLANK_SIDE), np.uint8)
    out = np.empty((len(table.images), size, size), np.uint8)
    root = images_dir.resolve() if images_dir is not None else None
    for row, value in enumerate(table.images):
        if isinstance(value, (bytes, bytearray)):
            out[row] = _decode(io.BytesIO(value), size, f"{path}: column 'image' row {row}")
            continue
        if not isinstance(value, str):
            raise ImportInputError(f"{path}: column 'image' row {row} is neither a path nor image bytes")
        if root is None:
            raise ImportInputError(f"{path}: column 'image' holds paths; name their folder with --images-dir")
        file = (root / value).resolve()
        if not file.is_relative_to(root):
            raise ImportInputError(f"{path}: column 'image' row {row}: {value} lies outside --images-dir {images_dir}")
        if not file.is_file():
            raise ImportInputError(f"{path}: column 'image' row {row}: {value} is not a file in {images_dir}")
        out[row] = _decode(file, size, f"{path}: column 'image' row {row} ({value})")
    return out


def _decode(source, size: int, where: str) -> np.ndarray:
    from PIL import Image

    try:
        with Image.open(source) as image:
            gray = image.convert("L").resize((size, size), Image.Resampling.BILINEAR)
        return np.asarray(gray, np.uint8)
    except Exception as e:  # PIL raises several types for data that is not an image
        raise ImportInputError(f"{where} cannot be decoded as an image ({type(e).__name__})") from None


# ---------------------------------------------------------------- the run directory


def split_rows(table: Table, test_fraction: float, seed: int) -> np.ndarray:
    """The split of each row: the file's own, or a seeded stratified one (noted)."""
    if table.split is not None:
        return table.split
    from sklearn.model_selection import train_test_split

    rows = np.arange(len(table.labels))
    counts = pd.Series(table.labels).value_counts()
    stratify = table.labels if counts.min() >= 2 else None
    _, test = train_test_split(rows, test_size=test_fraction, random_state=seed, stratify=stratify)
    split = np.full(len(rows), "train", dtype=object)
    split[test] = "test"
    table.notes.append(f"no split column: a seeded {'stratified ' if stratify is not None else ''}split "
                       f"(seed {seed}) put {test_fraction:.0%} of {'each class' if stratify is not None else 'the rows'} "
                       f"in test")
    return split


def write_run(path: Path, table: Table, images: np.ndarray, runs_dir: Path, name: str | None,
              test_fraction: float = 0.2, seed: int = 0) -> Path:
    """Write ``table`` as a finished run directory under ``runs_dir``; return it."""
    split = split_rows(table, test_fraction, seed)
    for part in SPLITS:
        if not (split == part).any():
            raise ImportInputError(f"{path}: column 'split' has no {part} rows; a run needs both train and test")
    class_names = sorted(set(table.labels), key=_natural)
    if len(class_names) < 2:
        raise ImportInputError(f"{path}: the label column holds one class; metric learning needs two or more")
    codes = pd.Categorical(table.labels, categories=class_names).codes.astype(np.int64)
    run_dir = rundir.new_run_dir(runs_dir, rundir.safe_name("-".join(filter(None, [name, "imported", path.stem])), 60))
    rows = {part: np.flatnonzero(split == part) for part in SPLITS}
    config = {"dataset": "imported", "loss": "imported", "embedding_dim": int(table.vectors.shape[1]),
              "class_names": class_names, "classes": [], "shifts": [], "seed": seed, "epochs": 0, "name": name,
              "regime": "random",  # the pairs of pairs.npz: drawn at random, half of one class
              "normalize": False, "sizes": {part: int(len(r)) for part, r in rows.items()},
              "imported_from": {"file": str(path), "notes": table.notes, "command": "python -m explorer import"},
              "created_at": time.time()}
    rundir.write_config(run_dir, config)
    rundir.write_status(run_dir, rundir.RUNNING, 0, 0)
    frames, pairs = [], {}
    rng = np.random.default_rng(seed)
    for part, index in rows.items():
        frames.append(rundir.embedding_frame(0, part, table.vectors[index], codes[index], class_names))
        rundir.write_images(run_dir, part, images[index])
        pairs[f"{part}_pairs"] = _pairs(codes[index], rng)
    rundir.write_pairs(run_dir, pairs)
    rundir.write_metrics(run_dir, _metrics(table.vectors, codes, rows))
    if table.xy is not None:
        xy = pd.DataFrame({"split": split, "row": _rows_in_split(split), "x": table.xy[:, 0], "y": table.xy[:, 1]})
        rundir.atomic_write(run_dir / rundir.PROJECTIONS_DIR / IMPORTED_MAP,
                            lambda f: xy.to_parquet(f, index=False), "wb", run_dir=run_dir)
    rundir.write_snapshot(run_dir, 0, pd.concat(frames, ignore_index=True))
    rundir.write_status(run_dir, rundir.FINISHED, 0, 0)
    return run_dir


def _rows_in_split(split: np.ndarray) -> np.ndarray:
    """Each row's position within its own split."""
    out = np.empty(len(split), np.int64)
    for part in SPLITS:
        mask = split == part
        out[mask] = np.arange(mask.sum())
    return out


def _natural(name: str):
    return (0, int(name), "") if name.lstrip("-").isdigit() else (1, 0, name)


def _pairs(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Seeded pairs of the split, half similar where a class has two points: (i, j, similar)."""
    n = len(labels)
    if n < 2:
        return np.zeros((0, 3), np.int64)
    i = rng.integers(n, size=PAIRS_PER_SPLIT)
    j = rng.integers(n, size=PAIRS_PER_SPLIT)
    order = np.argsort(labels, kind="stable")
    start = np.searchsorted(labels[order], labels[i[::2]], "left")
    end = np.searchsorted(labels[order], labels[i[::2]], "right")
    j[::2] = order[start + (rng.random(len(start)) * (end - start)).astype(np.int64)]
    keep = i != j
    i, j = i[keep], j[keep]
    return np.stack([i, j, (labels[i] == labels[j]).astype(np.int64)], axis=1)


def _metrics(X: np.ndarray, codes: np.ndarray, rows: dict) -> list[dict]:
    from sklearn.neighbors import KNeighborsClassifier

    train, test = rows["train"], rows["test"]
    knn = KNeighborsClassifier(n_neighbors=min(KNN_NEIGHBOURS, len(train))).fit(X[train], codes[train])
    return [{"epoch": 0, "split": "train"},
            {"epoch": 0, "split": "test", "knn_accuracy": float(knn.score(X[test], codes[test]))}]


def import_file(path, runs_dir, label: str = "label", vector: str | None = None, labels_file=None,
                images_dir=None, image_size: int = 28, name: str | None = None, test_fraction: float = 0.2,
                seed: int = 0) -> tuple[Path, list[str]]:
    """Read, check and write; returns the run directory and the notes (e.g. the split made here)."""
    path = Path(path)
    if not 0 < test_fraction < 1:
        raise ImportInputError(f"--test-fraction must be between 0 and 1, got {test_fraction}")
    table = read_table(path, label, vector, labels_file)
    images = read_images(path, table, Path(images_dir) if images_dir else None, image_size)
    run_dir = write_run(path, table, images, Path(runs_dir), name, test_fraction, seed)
    return run_dir, table.notes


def imported_map(run) -> pd.DataFrame | None:
    """The imported run's own 2-D map (split, row, x, y), or None."""
    file = Path(run.path) / rundir.PROJECTIONS_DIR / IMPORTED_MAP
    if not file.is_file():
        return None
    rundir.contained(run.path, file)
    try:
        return pd.read_parquet(file)
    except Exception as e:  # pyarrow raises several types for a damaged file
        raise rundir.damaged(f"{rundir.PROJECTIONS_DIR}/{IMPORTED_MAP}", run.path, e) from None


def imported_projection(run, epoch: int, mode: str = "shared", random_state: int = 0) -> pd.DataFrame:
    """The map "imported" in the shape of explorer.projections.projection's frames."""
    from explorer.runs import IDENTITY_COLUMNS

    xy = imported_map(run)
    if xy is None:
        raise ValueError(f"run {run.name} has no imported map: only a run imported with x and y columns has one")
    points = run.points(epoch)[list(IDENTITY_COLUMNS)]
    frame = points.merge(xy[["split", "row", "x", "y"]], on=["split", "row"], how="left", validate="one_to_one")
    if frame["x"].isna().any():
        raise rundir.damaged(f"{rundir.PROJECTIONS_DIR}/{IMPORTED_MAP}", run.path, "it lacks some points")
    frame["fitted"] = True
    frame.attrs.update({"note": "the map the embeddings were imported with", "method": "imported", "params": {},
                        "mode": mode, "epoch": epoch, "random_state": random_state, "device": "cpu",
                        "seconds": 0.0})
    return frame
