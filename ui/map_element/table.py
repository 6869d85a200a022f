"""The map's points as binary columns, encoded once: positions as float32, per-point codes as
small integers, each table named by a hash of its bytes (so the browser is sent a table only
when it does not hold it yet; see ui.map_element.element)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from explorer.maps import SPLITS

SPLIT_CODES = {s: i for i, s in enumerate(SPLITS)}
MAX_POINTS = 1_000_000  # above, the map draws a seeded subsample and says so
CORRECT_CODES = {False: 0, True: 1, None: 2}  # k-NN wrong, right, not judged (train)


@dataclass
class PointTable:
    """The points a map draws, in draw order: ``frame`` (split, row, label, shift, x, y, ...
    of each drawn point; its position is the point's row id) and ``columns`` (what the browser
    gets), named by ``hash``. ``parts`` gives each part's [first id, last id + 1] (Compare's
    runs); ``left_out`` counts points without finite coordinates, ``total`` the points before a
    subsample."""

    frame: pd.DataFrame
    columns: pd.DataFrame
    hash: str
    parts: list[tuple[int, int]] = field(default_factory=list)
    left_out: int = 0
    total: int = 0
    keys: np.ndarray | None = None  # (split code << 40 | row) of each point, made when first asked

    def __len__(self) -> int:
        return len(self.frame)

    @property
    def subsampled(self) -> bool:
        return self.total - self.left_out > len(self.frame)


def digest(columns: pd.DataFrame) -> str:
    h = hashlib.blake2b(digest_size=12)
    for name in columns.columns:
        values = np.ascontiguousarray(columns[name].to_numpy())
        h.update(f"{name}:{values.dtype.str}:{len(values)};".encode())
        h.update(values.tobytes())
    return h.hexdigest()


def _ordered(frame: pd.DataFrame) -> pd.DataFrame:
    """Draw order: train, test, then shifted; larger shifts first, so smaller ones sit on top."""
    order = frame["split"].map(SPLIT_CODES).fillna(9).to_numpy() * 1000 - frame["shift"].abs().to_numpy()
    return frame.iloc[np.argsort(order, kind="stable")]


def _small_int(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=np.int64)
    low, high = (int(values.min()), int(values.max())) if len(values) else (0, 0)
    for dtype in (np.uint8, np.int8, np.uint16, np.int16):
        info = np.iinfo(dtype)
        if info.min <= low and high <= info.max:
            return values.astype(dtype)
    return values.astype(np.int32)


def point_table(frames, max_points: int = MAX_POINTS, seed: int = 0) -> PointTable:
    """The table of one map (a frame with split, row, label, shift, x, y) or of several (a list
    of frames, Compare's runs, one part each). Points with NaN or infinite coordinates are left
    out and counted; above ``max_points`` a seeded subsample is kept, each part in proportion."""
    frames = [frames] if isinstance(frames, pd.DataFrame) else list(frames)
    total = sum(len(f) for f in frames)
    kept, left_out = [], 0
    for frame in frames:
        finite = np.isfinite(frame["x"].to_numpy(np.float64)) & np.isfinite(frame["y"].to_numpy(np.float64))
        left_out += int((~finite).sum())
        kept.append(frame[finite])
    drawable = sum(len(f) for f in kept)
    if drawable > max_points:
        rng = np.random.default_rng(seed)
        kept = [f.iloc[np.sort(rng.choice(len(f), size=int(len(f) * max_points / drawable), replace=False))]
                for f in kept]
    parts, start, ordered = [], 0, []
    for frame in kept:
        frame = _ordered(frame)
        ordered.append(frame)
        parts.append((start, start + len(frame)))
        start += len(frame)
    frame = pd.concat(ordered, ignore_index=True) if ordered else pd.DataFrame(columns=["split", "row", "label", "shift", "x", "y"])
    split = frame["split"].astype(str).map(SPLIT_CODES)
    if split.isna().any():
        raise ValueError(f"unknown split {frame['split'][split.isna()].iloc[0]!r}: the map knows {', '.join(SPLITS)}")
    columns = pd.DataFrame({
        "x": frame["x"].to_numpy(np.float32),
        "y": frame["y"].to_numpy(np.float32),
        "label": _small_int(frame["label"].to_numpy()),
        "split": split.to_numpy(np.uint8),
        "shift": _small_int(frame["shift"].to_numpy()),
    })
    return PointTable(frame, columns, digest(columns), parts, left_out, total)


def positions(table: PointTable, frame: pd.DataFrame) -> pd.DataFrame:
    """Another epoch's x, y for the table's points (matched on split and row; NaN where that
    epoch lacks a point), as float32 columns: what a replay or a live map sends per epoch."""
    keys = table.frame[["split", "row"]].astype({"split": str, "row": np.int64})
    other = frame[["split", "row", "x", "y"]].astype({"split": str, "row": np.int64}).drop_duplicates(["split", "row"])
    found = keys.merge(other, on=["split", "row"], how="left")
    return pd.DataFrame({"x": found["x"].to_numpy(np.float32), "y": found["y"].to_numpy(np.float32)})


def correct_codes(table: PointTable) -> pd.DataFrame | None:
    """k-NN's verdict per point as uint8 (0 wrong, 1 right, 2 not judged), or None."""
    if "correct" not in table.frame:
        return None
    codes = [CORRECT_CODES[None if v is None or (isinstance(v, float) and np.isnan(v)) else bool(v)]
             for v in table.frame["correct"]]
    return pd.DataFrame({"correct": np.asarray(codes, np.uint8)})


def cluster_codes(table: PointTable) -> tuple[pd.DataFrame, list[str]] | None:
    """Each point's magnet cluster colour as an index into the returned palette, or None."""
    if "cluster_colour" not in table.frame:
        return None
    colours = table.frame["cluster_colour"].astype(str)
    palette = sorted(colours.unique())
    index = {c: i for i, c in enumerate(palette)}
    return pd.DataFrame({"cluster": colours.map(index).to_numpy(np.uint16)}), palette


def image_numbers(frame: pd.DataFrame, offsets: dict) -> np.ndarray:
    """Each point's image number: its split's offset in ``offsets`` plus its row (-1: none)."""
    split = frame["split"].astype(str).to_numpy()
    rows = frame["row"].to_numpy(np.int64)
    base = np.array([offsets.get(s, -1) for s in split], dtype=np.int64)
    return np.where(base >= 0, base + rows, -1)


def image_cells(table: PointTable, offsets: dict) -> pd.DataFrame:
    """Each point's image number as the browser's table (int32)."""
    return pd.DataFrame({"image": image_numbers(table.frame, offsets).astype(np.int32)})


def bounds(frames, pad: float = 0.0) -> list[float]:
    """[x min, x max, y min, y max] over the finite coordinates of the frames (axes that stay
    fixed through a replay)."""
    xs = [f["x"].to_numpy(np.float64) for f in frames]
    ys = [f["y"].to_numpy(np.float64) for f in frames]
    x = np.concatenate(xs) if xs else np.zeros(0)
    y = np.concatenate(ys) if ys else np.zeros(0)
    x, y = x[np.isfinite(x)], y[np.isfinite(y)]
    if not len(x) or not len(y):
        return [-1.0, 1.0, -1.0, 1.0]
    x0, x1, y0, y1 = float(x.min()), float(x.max()), float(y.min()), float(y.max())
    px, py = (x1 - x0) * pad, (y1 - y0) * pad
    return [x0 - px, x1 + px, y0 - py, y1 + py]


def _key(split_codes: np.ndarray, rows: np.ndarray) -> np.ndarray:
    return split_codes.astype(np.int64) << 40 | rows.astype(np.int64)


def point_keys(points) -> np.ndarray:
    """One int64 key for each (split, row) pair, the same as the tables' own (``frame_keys``)."""
    points = list(points)
    if not points:
        return np.zeros(0, np.int64)
    splits, rows = zip(*points)
    codes = pd.Series(splits, dtype=object).map(SPLIT_CODES).fillna(255).to_numpy(np.int64)
    return _key(codes, np.asarray(rows, np.int64))


def frame_keys(frame: pd.DataFrame) -> np.ndarray:
    """The int64 key of each point of a frame (split, row)."""
    codes = frame["split"].astype(str).map(SPLIT_CODES).fillna(255).to_numpy(np.int64)
    return _key(codes, frame["row"].to_numpy(np.int64))


def ids_of(table: PointTable, points) -> np.ndarray:
    """Row ids of the table's points that are among ``points`` ((split, row) pairs); in
    Compare, the same image in every run's part. One int64 key a point, so a selection of a
    hundred thousand points among a million takes milliseconds, not seconds."""
    points = list(points)
    if not points or not len(table):
        return np.zeros(0, np.int32)
    wanted = point_keys(points)
    if table.keys is None:
        table.keys = _key(table.columns["split"].to_numpy(), table.frame["row"].to_numpy(np.int64))
    return np.flatnonzero(np.isin(table.keys, wanted)).astype(np.int32)


def points_of(table: PointTable, ids) -> list[tuple[str, int]]:
    """The (split, row) of each row id, in order, without repeats."""
    ids = np.asarray(ids, dtype=np.int64)
    ids = ids[(ids >= 0) & (ids < len(table))]
    split = table.frame["split"].astype(str).to_numpy()[ids]
    rows = table.frame["row"].to_numpy(np.int64)[ids]
    return list(dict.fromkeys(zip(split.tolist(), rows.tolist())))
