"""Pair types of a three-way contrastive run (``--loss contrastive-3way``; seed 000, idea 2).

Such a run stores, beside each split's ``<split>_pairs`` (i, j, similar), ``<split>_pair_types``:
0 true positive (an anchor and one of its nearest same-class neighbours), 1 false negative (same
class, not a neighbour), 2 negative (another class); see ``training.rundir.PAIR_TYPES``. Here the
distances of those pairs at an epoch, by type, for histograms with three populations.
Nothing here needs torch.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from explorer import distances
from explorer.runs import Run
import runfmt as rundir

TYPE_NAMES = rundir.PAIR_TYPES


def has_pair_types(run: Run, split: str = "test") -> bool:
    return f"{split}_pair_types" in run.pairs()


def typed_pair_distances(run: Run, epoch: int | None = None, split: str = "test") -> pd.DataFrame | None:
    """The run's own pairs of ``split`` (train or test) with their type and distance at ``epoch``:
    columns i, j, y, type, type_name, distance. None for a run without pair types. Pairs with a
    point that the snapshot lacks are left out."""
    stored = run.pairs()
    if f"{split}_pair_types" not in stored or f"{split}_pairs" not in stored:
        return None
    if split not in run.splits:
        raise ValueError(f"split {split!r} has no embeddings in this run; available: {run.splits}")
    pairs = np.asarray(stored[f"{split}_pairs"], dtype=np.int64).reshape(-1, 3)
    types = np.asarray(stored[f"{split}_pair_types"], dtype=np.int64)
    if len(types) != len(pairs):
        raise rundir.RunDirError(f"{split}_pair_types in {run.path} has {len(types)} rows for "
                                 f"{len(pairs)} pairs")
    points = run.points(epoch, split)
    index = pd.Index(points["row"].to_numpy())
    i, j = index.get_indexer(pairs[:, 0]), index.get_indexer(pairs[:, 1])
    kept = (i >= 0) & (j >= 0)
    X = points[rundir.embedding_columns(points)].to_numpy(np.float64)
    d, y = distances.pair_distances(X, np.stack([i[kept], j[kept], pairs[kept, 2]], 1))
    kinds = types[kept]
    return pd.DataFrame({"i": pairs[kept, 0], "j": pairs[kept, 1], "y": y, "type": kinds,
                         "type_name": np.asarray(TYPE_NAMES, dtype=object)[kinds], "distance": d})


def type_histogram(frame: pd.DataFrame, bins: int = 50) -> pd.DataFrame:
    """Density histograms of the distances of each pair type on shared bins: columns left, right
    and one per type name (each integrating to 1; zeros for a type without pairs)."""
    d = frame["distance"].to_numpy(np.float64)
    if not len(d):
        raise ValueError("there are no pair distances")
    edges = np.histogram_bin_edges(d, bins=bins)
    out = {"left": edges[:-1], "right": edges[1:]}
    for kind, name in enumerate(TYPE_NAMES):
        part = d[frame["type"].to_numpy() == kind]
        out[name] = np.histogram(part, edges, density=True)[0] if len(part) else np.zeros(len(edges) - 1)
    return pd.DataFrame(out)


def type_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Per type: type, type_name, pairs, mean and median distance."""
    rows = []
    for kind, name in enumerate(TYPE_NAMES):
        d = frame.loc[frame["type"] == kind, "distance"]
        rows.append({"type": kind, "type_name": name, "pairs": len(d),
                     "mean_distance": float(d.mean()) if len(d) else None,
                     "median_distance": float(d.median()) if len(d) else None})
    return pd.DataFrame(rows, columns=["type", "type_name", "pairs", "mean_distance", "median_distance"])
