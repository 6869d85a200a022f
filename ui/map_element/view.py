"""The app's map choices as the element's spec: colours and legend, panels, filter, selection,
overlays, images; and ``show``, which mounts it with the tables it names."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import streamlit as st

from explorer.palette import CORRECT_COLORS, CORRECT_NAMES, SPLIT_COLORS, class_colors, shift_palette
from explorer.maps import SPLITS, shift_name
from ui.map_element import element, images, table as tables
from ui.map_element.images import ImageSource
from ui.map_element.table import SPLIT_CODES, PointTable

SPLIT_TITLES = {"train": "train", "val": "validation", "test": "test", "shifted": "shifted test",
                "heldout": "held-out classes"}


@dataclass
class PanelSpec:
    title: str
    splits: list[str]
    part: tuple[int, int] | None = None  # Compare: the run's ids
    empty: str = "No points here."
    bounds: list[float] | None = None  # the panel's own axes (Compare's runs), else the map's
    class_names: list[str] | None = None  # the panel's own (Compare's runs of other classes), else the map's

    def to_json(self) -> dict:
        found = {"title": self.title, "splits": [SPLIT_CODES[s] for s in self.splits], "empty": self.empty}
        if self.class_names is not None:
            found["class_names"] = [str(c) for c in self.class_names]
        if self.bounds is not None:
            found["bounds"] = [float(b) for b in self.bounds]
        if self.part is not None:
            found["range"] = [int(self.part[0]), int(self.part[1])]
        return found


@dataclass
class MapSpec:
    """What one map element shows (see ``show``)."""

    table: PointTable
    class_names: list[str]
    colour: str
    panels: list[PanelSpec]
    title: str = ""
    height: int = 540
    layout: str = "side by side"
    classes: list[int] = field(default_factory=list)
    shifts: list[int] = field(default_factory=list)
    knn: str = "all"
    selected_ids: np.ndarray | None = None
    overlays: list[dict] = field(default_factory=list)
    images: ImageSource | None = None  # the points' pictures (hover, thumbnails); see images.py
    bounds: list[float] | None = None
    replay: list[tuple[int, pd.DataFrame]] | None = None  # (epoch, positions) of a replay
    moved: pd.DataFrame | None = None  # a live map's newest positions (x, y per table row)
    extra_tables: dict = field(default_factory=dict)


def colours(spec: MapSpec) -> tuple[dict, list[dict], dict[str, pd.DataFrame]]:
    """The colouring ({by, palette}), the legend, and the extra per-point tables it needs."""
    frame = spec.table.frame
    labels = frame["label"].to_numpy(np.int64)
    present_labels = set(np.unique(labels).tolist())
    shift_values = sorted(set(frame["shift"].astype(int).unique().tolist()) | {0})
    extras: dict[str, pd.DataFrame] = {}
    legend: list[dict] = []
    by = spec.colour
    if by == "shift":
        palette_of = shift_palette(shift_values)
        palette = [palette_of[s] for s in shift_values]
    elif by == "split":
        palette = [SPLIT_COLORS.get(s, "#7f7f7f") for s in SPLITS]
        present = set(frame["split"].astype(str).unique())
        legend = [_key(SPLIT_TITLES.get(s, s), SPLIT_COLORS.get(s, "#7f7f7f")) for s in SPLITS if s in present]
    elif by == "correct":
        codes = tables.correct_codes(spec.table)
        if codes is None:
            raise ValueError("colouring by k-NN right/wrong needs k-NN's verdicts (a 'correct' column)")
        extras["correct"] = codes
        palette = [CORRECT_COLORS[False], CORRECT_COLORS[True], CORRECT_COLORS[None]]
        present = set(codes["correct"].unique().tolist())
        legend = [_key(CORRECT_NAMES[v], CORRECT_COLORS[v]) for v, c in ((True, 1), (False, 0), (None, 2)) if c in present]
    elif by == "cluster":
        found = tables.cluster_codes(spec.table)
        if found is None:
            raise ValueError("colouring by magnet cluster needs the clusters (a 'cluster_colour' column)")
        extras["cluster"], palette = found
        names = class_colors(len(spec.class_names))
        legend = [_key(f"{n}: its clusters", names[i]) for i, n in enumerate(spec.class_names) if i in present_labels]
    else:
        by = "class"
        palette = class_colors(max(len(spec.class_names), 1))
        legend = [_key(n, palette[i]) for i, n in enumerate(spec.class_names) if i in present_labels]
    if spec.knn != "all" and "correct" not in extras:
        codes = tables.correct_codes(spec.table)
        if codes is not None:
            extras["correct"] = codes
    present_shifts = sorted(set(frame["shift"].astype(int).unique().tolist()))
    if len(present_shifts) > 1 or by == "shift":
        shade = shift_palette(shift_values)
        for s in present_shifts:
            symbol = "circle" if s == 0 else "triangle-left" if s < 0 else "triangle-right"
            legend.append(_key(shift_name(s), shade[s] if by == "shift" else "#555555", symbol))
    return {"by": by, "palette": palette}, legend, extras


def _key(name: str, colour: str, symbol: str = "circle") -> dict:
    return {"name": str(name), "color": colour, "symbol": symbol}


def show(scope: str, spec: MapSpec, *, on_selection, on_cleared) -> dict:
    """Mount the element for ``spec``; returns the JSON spec it was given (for tests)."""
    colour, legend, extras = colours(spec)
    named = {spec.table.hash: spec.table.columns}
    extra_names = {}
    for name, frame in {**extras, **spec.extra_tables}.items():
        h = tables.digest(frame)
        named[h] = frame
        extra_names[name] = h
    if spec.images is not None and spec.images.whole:  # else the courier tells the viewed points' numbers
        cells = tables.image_cells(spec.table, spec.images.offsets)
        h = tables.digest(cells)
        named[h], extra_names["image"] = cells, h
    moved = None
    if spec.moved is not None:  # a live map: the same points at the newest epoch's places (x, y only)
        moved = tables.digest(spec.moved)
        named[moved] = spec.moved
    replay = None
    if spec.replay:
        hashes = []
        for _, frame in spec.replay:
            h = tables.digest(frame)
            named[h] = frame
            hashes.append(h)
        replay = {"epochs": [int(e) for e, _ in spec.replay], "hashes": hashes}
    bounds = spec.bounds or tables.bounds([spec.table.frame])
    json_spec = {
        "title": spec.title, "height": spec.height, "layout": spec.layout, "n": len(spec.table),
        "points": spec.table.hash, "positions": moved, "extras": extra_names, "bounds": bounds,
        "bounds_key": f"{spec.layout}|{np.round(bounds, 4).tolist()}",
        "panels": [p.to_json() for p in spec.panels], "colour": colour, "legend": legend,
        "filter": {"classes": [int(c) for c in spec.classes], "shifts": [int(s) for s in spec.shifts], "knn": spec.knn},
        "selected": element.encode_selection(spec.selected_ids if spec.selected_ids is not None else [], len(spec.table)),
        "overlays": spec.overlays, "class_names": [str(c) for c in spec.class_names],
        "split_names": [SPLIT_TITLES.get(s, s) for s in SPLITS],
        "shifts": sorted(set(spec.table.frame["shift"].astype(int).unique().tolist()) | {0}),
        "images": images.show(scope, spec.images, spec.table),
        "replay": replay,
    }
    st.session_state[f"_map-table-{scope}"] = spec.table  # what its row ids mean (a reference, not a copy)
    element.mount(scope, json_spec, named, on_selection=on_selection, on_cleared=on_cleared)
    return json_spec
