"""What the map draws over its points for a selection: lines from selected test images (or the
sources of selected shifted ones) to every shifted copy, and the point looked at closer with its
nearest training neighbours and, for a shifted image, its source and its other shifts."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from ui import cached_analyses
from ui.widgets import SPLIT_TITLES

if TYPE_CHECKING:
    from ui.inspect.map import MapChoice

MAX_LINKED_SOURCES = 300  # lines from at most this many selected sources to their shifted copies


def _sources(frame: pd.DataFrame, selected) -> list[int]:
    """The test rows behind a selection: selected test images, and the sources of selected shifted ones."""
    shifted = frame[frame["split"] == "shifted"]
    by_row = dict(zip(shifted["row"].astype(int), shifted["source_index"].astype(int)))
    sources = {r for s, r in selected if s == "test"} | {by_row[r] for s, r in selected if s == "shifted" and r in by_row}
    return sorted(sources)[:MAX_LINKED_SOURCES]


def linked_copies(frame: pd.DataFrame, selected, lines: bool) -> list[tuple[str, int]]:
    """With lines on: the shifted copies of the selected sources, lit up with them."""
    if not lines or not selected:
        return []
    copies = frame[(frame["split"] == "shifted") & frame["source_index"].isin(_sources(frame, selected))]
    return [("shifted", int(r)) for r in copies["row"]] + [("test", s) for s in _sources(frame, selected)]


def _xy(frame: pd.DataFrame, keys) -> dict:
    """{(split, row): (x, y)} of those of ``keys`` the map holds (not a dict of every point: a
    map may hold 100k)."""
    wanted = pd.DataFrame([(str(s), int(r)) for s, r in keys], columns=["split", "row"]).drop_duplicates()
    found = wanted.merge(frame[["split", "row", "x", "y"]].astype({"split": str}), on=["split", "row"])
    return {(s, int(r)): (float(x), float(y)) for s, r, x, y in found.itertuples(index=False)}


def add_overlays(fig, run, frame: pd.DataFrame, choice: MapChoice, selected, where: dict,
                 picked: tuple[str, int] | None) -> None:
    """Lines from selected sources to their shifted copies (when asked), and the picked point
    with its nearest training neighbours and, for a shifted point, its source and other shifts."""

    if not selected:
        return  # every overlay starts from a selected point
    if choice.lines and "shifted" in where and "test" in run.splits:
        shifted = frame[frame["split"] == "shifted"]
        sources = _sources(frame, selected)
        copies = shifted[shifted["source_index"].isin(sources)]
        xy = _xy(frame, [("test", s) for s in sources])
        ends = [(xy.get(("test", int(src))), (x, y)) for src, x, y in zip(copies["source_index"], copies["x"], copies["y"])]
        ends = [(a, b) for a, b in ends if a is not None]
        if ends:
            panel = where["shifted"]
            (x0, y0), (x1, y1) = zip(*[a for a, _ in ends]), zip(*[b for _, b in ends])
            fig.add_links(panel, x0, y0, x1, y1, color="#333", width=1.0, opacity=0.6)
            src = [xy[("test", s)] for s in sources if ("test", s) in xy]
            fig.add_marks(panel, [p[0] for p in src], [p[1] for p in src], symbol="star", size=12,
                           color="#111", width=1, text=[f"source: test row {s}" for s in sources if ("test", s) in xy])
    if picked is None:
        return
    split, row = picked
    try:
        neighbours = cached_analyses.gallery(run.path, choice.epoch, split, row, k=10)
    except ValueError:
        neighbours = pd.DataFrame()
    point = frame[(frame["split"] == split) & (frame["row"] == row)]
    source = int(point["source_index"].iloc[0]) if split == "shifted" and len(point) else -1
    xy = _xy(frame, [picked, ("test", source)] + [("train", r) for r in neighbours.get("row", [])])
    if picked not in xy:
        return
    x, y = xy[picked]
    panel = where.get(split)
    if panel is None:
        return
    fig.add_marks(panel, [x], [y], symbol="circle-open", size=22, color="#000", width=3,
                   text=[f"picked: {SPLIT_TITLES.get(split, split)} row {row}"])
    ends = [xy.get(("train", int(r))) for r in neighbours.get("row", [])]
    ends = [e for e in ends if e is not None]
    if ends and "train" in where:
        train = where["train"]
        fig.add_links(train, [x] * len(ends), [y] * len(ends), [e[0] for e in ends], [e[1] for e in ends],
                       color="#000", width=1.2, dash="dot", opacity=0.8)
        fig.add_marks(train, [e[0] for e in ends], [e[1] for e in ends], symbol="circle-open", size=14,
                       color="#000", width=1.5, text=[f"neighbour #{k}" for k in range(1, len(ends) + 1)])
        if train != panel:
            fig.add_marks(train, [x], [y], symbol="x-thin-open", size=16, color="#000", width=3,
                           text=[f"where {SPLIT_TITLES.get(split, split)} row {row} lies"])
    if source >= 0:
        siblings = frame[(frame["split"] == "shifted") & (frame["source_index"] == source)]
        if ("test", source) in xy:
            sx, sy = xy[("test", source)]
            fig.add_links(panel, [sx] * len(siblings), [sy] * len(siblings), siblings["x"], siblings["y"],
                           color="#d62728", width=2, opacity=0.9)
            fig.add_marks(panel, [sx], [sy], symbol="star", size=16, color="#d62728", width=1,
                           text=[f"its source: test row {source}"])
            if "test" in where and where["test"] != panel:
                fig.add_marks(where["test"], [sx], [sy], symbol="circle-open", size=22, color="#d62728",
                               width=3, text=[f"the source: test row {source}"])
        fig.add_marks(panel, siblings["x"], siblings["y"], symbol="circle-open", size=16, color="#d62728",
                       width=2, text=[f"shift {int(s):+d} px" for s in siblings["shift"]])
