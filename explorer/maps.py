"""The interactive embedding maps: panels side by side or overlaid, a selection highlighted, marks
and lines laid over them, and the replay of every epoch as one plotly animation.

Every panel is ONE ``Scattergl`` trace (trace i = panel i), its colour and shape per point in
``marker``, and ``customdata`` = [split code, row, ...] per point as numbers (the code indexes
``SPLITS``, ``split_of`` turns it back; see ``hover`` for the rest). Numbers, not strings: a
100k-point map travels to the browser as JSON, which Streamlit stringifies and re-parses twice
more there (its theming), so every byte per point counts.
Marks, lines and legend entries are extra traces after the panels, with no customdata, so a
selection names points exactly.

Shifts read apart at a glance: colour by shift uses ``palette.shift_palette`` (blues left, reds
right, darker further), and the shape always carries the shift: a circle for none, a triangle
pointing the way of the shift, bigger and outlined for larger shifts. Shapes are filled, so they
stay visible in an overlay; shifted points are drawn over train and test points, and smaller shifts
over larger ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from explorer.palette import (
    CORRECT_COLORS,
    CORRECT_NAMES,
    SPLIT_COLORS,
    class_colors,
    shift_palette,
)
from explorer.projection_methods import AXIS_NAMES

COLOR_BY = ("class", "shift", "split", "correct", "cluster")
COLOR_TITLES = {"class": "class", "shift": "shift", "split": "split", "correct": "k-NN", "cluster": "cluster"}
SPLIT_ORDER = {"train": 0, "val": 1, "test": 2, "shifted": 3, "heldout": 4}
SPLITS = tuple(SPLIT_ORDER)  # customdata's split codes
UNSELECTED_OPACITY = 0.12


@dataclass
class Panel:
    """One map panel: its subtitle and its points (columns split, row, label, class_name, shift, x,
    y; optional correct and cluster)."""

    title: str
    frame: pd.DataFrame


def base_marker_size(n_points: int) -> float:
    """Marker size in px for a panel of n points: big enough to tell shapes apart on small maps,
    small enough not to bury each other on large ones."""
    return 8.0 if n_points <= 2_000 else 6.0 if n_points <= 10_000 else 4.5 if n_points <= 50_000 else 3.0


def shift_markers(shifts) -> dict[int, tuple[str, float, float]]:
    """Per shift: (symbol, size factor, outline width). A circle for no shift; a triangle pointing
    left or right for the direction; each larger magnitude bigger, with a dark outline."""
    markers = {0: ("circle", 1.0, 0.0)}
    for sign, name in ((-1, "left"), (1, "right")):
        magnitudes = sorted({abs(int(s)) for s in shifts if np.sign(s) == sign})
        for i, m in enumerate(magnitudes):
            markers[sign * m] = (f"triangle-{name}", 1.3 + 0.4 * i, 0.0 if i == 0 else 1.0)
    return markers


def shift_name(shift: int) -> str:
    return f"shift {int(shift):+d} px" if shift else "no shift"


def _ordered(frame: pd.DataFrame) -> pd.DataFrame:
    """Draw order: train, test, then shifted; among shifted, larger shifts first, so smaller ones
    (and the unshifted) sit on top of them."""
    order = frame["split"].map(SPLIT_ORDER).fillna(9).to_numpy() * 1000 - frame["shift"].abs().to_numpy()
    return frame.iloc[np.argsort(order, kind="stable")]


def point_style(frame: pd.DataFrame, class_names: list[str], color_by: str, size: float,
                shifts=None) -> dict:
    """Per-point marker colours, symbols, sizes and outlines, and the legend entries
    [(name, colour, symbol, size, group)] for ``frame``."""
    if color_by not in COLOR_BY:
        raise ValueError(f"color_by must be one of {', '.join(COLOR_BY)}, got {color_by!r}")
    if color_by == "correct" and "correct" not in frame:
        raise ValueError("color_by='correct' needs a 'correct' column (see classifiers.knn_correct)")
    if color_by == "cluster" and not {"cluster", "cluster_colour"} <= set(frame):
        raise ValueError("color_by='cluster' needs 'cluster' and 'cluster_colour' columns (see magnet.with_clusters)")
    labels = frame["label"].to_numpy(np.int64)
    shift = frame["shift"].to_numpy(np.int64)
    all_shifts = sorted(set(shift.tolist()) | set(int(s) for s in (shifts or [])))
    markers = shift_markers(all_shifts)
    splits = frame["split"].astype(str).to_numpy()
    legend = []
    if color_by == "class":
        palette = class_colors(len(class_names))
        colors = [palette[i] if 0 <= i < len(palette) else "#7f7f7f" for i in labels]
        legend = [(name, palette[i], "circle", 9, "class") for i, name in enumerate(class_names) if (labels == i).any()]
    elif color_by == "shift":
        palette = shift_palette(all_shifts)
        colors = [palette[s] for s in shift]
    elif color_by == "cluster":
        colors = frame["cluster_colour"].astype(str).tolist()
        palette = class_colors(len(class_names))
        legend = [(f"{name}: its clusters", palette[i], "circle", 9, "class")
                  for i, name in enumerate(class_names) if (labels == i).any()]
    elif color_by == "split":
        colors = [SPLIT_COLORS.get(s, "#7f7f7f") for s in splits]
        legend = [(s, SPLIT_COLORS.get(s, "#7f7f7f"), "circle", 9, "split") for s in dict.fromkeys(splits)]
    else:
        values = [None if v is None or (isinstance(v, float) and np.isnan(v)) else bool(v) for v in frame["correct"]]
        colors = [CORRECT_COLORS[v] for v in values]
        legend = [(CORRECT_NAMES[v], CORRECT_COLORS[v], "circle", 9, "k-NN") for v in (True, False, None) if v in values]
    present = sorted(set(shift.tolist()))
    if len(present) > 1 or color_by == "shift":
        palette = shift_palette(all_shifts)
        for s in present:
            symbol, factor, _ = markers[s]
            color = palette[s] if color_by == "shift" else "#555555"
            legend.append((shift_name(s), color, symbol, round(9 * factor), "shift"))
    # numpy arrays, not lists: plotly copies a figure's data several times on its way to the browser
    # and one value where every point has the same: large maps go to the browser as JSON
    symbol, factor, width = (np.asarray([markers[s][k] for s in shift]) for k in range(3))
    return {
        "color": np.asarray(colors, dtype=str),
        "symbol": _one_or_all(symbol.astype(str)),
        "size": _one_or_all((size * factor.astype(np.float64)).astype(np.float32)),
        "line": {"width": _one_or_all(width.astype(np.float32)), "color": "rgba(30,30,30,0.9)"},  # 0: none
        "legend": legend,
    }


def _one_or_all(values: np.ndarray):
    """A per-point array, or its one value when every point has it (float for numbers)."""
    if len(values) and (values == values[0]).all():
        return values[0].item()
    return values


def split_of(code) -> str:
    """The split of a customdata split code (see SPLITS)."""
    return SPLITS[int(code)]


def split_codes(splits: np.ndarray) -> np.ndarray:
    """Each split's code, its index in SPLITS."""
    unknown = sorted(set(splits.tolist()) - set(SPLITS))
    if unknown:
        raise ValueError(f"unknown split {unknown[0]!r}; a map's splits are {', '.join(SPLITS)}")
    return pd.Series(splits).map(SPLIT_ORDER).to_numpy(np.int32)


def hover(frame: pd.DataFrame) -> dict:
    """The hover of a panel's points: ``customdata`` (columns split code and row, then shift and
    cluster where the panel has them), ``text`` (the class name, and k-NN's verdict where known),
    ``hovertext`` (the split, on a panel of several) and the ``hovertemplate`` that lays them out.

    Per-point values are numbers or plain words, because plotly's JSON writes each ``<`` and
    ``/`` as six characters: in HTML strings, and in the base64 of a typed array. customdata is
    float32 (exact for rows below 2**24), whose bytes for small whole numbers, negative ones
    too, hold few runs of ones and so few ``/``; int32's -3 is ``/f///``."""
    splits = frame["split"].astype(str).to_numpy()
    columns = [split_codes(splits), frame["row"].to_numpy(np.int64)]
    names = (frame["class_name"] if "class_name" in frame else frame["label"]).to_numpy(dtype=str)
    one_split = len(set(splits.tolist())) <= 1
    where = (str(splits[0]) if len(splits) else "") if one_split else "%{hovertext}"
    template = f"<b>%{{text}}</b><br>{where} row %{{customdata[1]}}"
    shift = frame["shift"].to_numpy(np.int64)
    if shift.any():
        template += f"<br>shift %{{customdata[{len(columns)}]:+d}} px"
        columns.append(shift)
    if "cluster" in frame:
        template += f"<br>cluster %{{customdata[{len(columns)}]}}"
        columns.append(frame["cluster"].to_numpy(np.int64))
    if "correct" in frame:
        names = np.char.add(names, _verdicts(frame["correct"]))
    return {"customdata": np.column_stack(columns).astype(np.float32), "text": names.astype(str),
            "hovertext": None if one_split else splits, "hovertemplate": template + "<extra></extra>"}


def _verdicts(correct: pd.Series) -> np.ndarray:
    """Per point, " · k-NN right", " · k-NN wrong", or "" where k-NN has no verdict."""
    verdict = pd.Series(correct.to_numpy(), dtype=object)
    known = verdict.notna().to_numpy()
    right = np.array([bool(v) if k else False for v, k in zip(verdict, known)], dtype=bool)
    return np.where(known, np.where(right, " · k-NN right", " · k-NN wrong"), "")


def points_trace(panel: Panel, class_names: list[str], color_by: str = "class", size: float | None = None,
                 selected=None, shifts=None) -> tuple[go.Scattergl, list]:
    """The one Scattergl trace of a panel, and its legend entries. ``selected`` is a collection of
    (split, row) pairs to highlight (None or empty: no highlight)."""
    frame = _ordered(panel.frame)
    size = base_marker_size(len(frame)) if size is None else size
    style = point_style(frame, class_names, color_by, size, shifts)
    # Built from values made here, unvalidated: plotly's per-point validation of the colour,
    # symbol and size lists costs seconds on large maps.
    trace = go.Scattergl(
        x=frame["x"].to_numpy(np.float32), y=frame["y"].to_numpy(np.float32), mode="markers", name=panel.title or "points",
        showlegend=False, **hover(frame),
        marker={"color": style["color"], "symbol": style["symbol"], "size": style["size"], "opacity": 0.85,
                "line": style["line"]}, _validate=False,
    )
    if selected:
        keys = pd.MultiIndex.from_arrays([frame["split"].astype(str), frame["row"].astype(np.int64)])
        chosen = pd.MultiIndex.from_tuples([(str(s), int(r)) for s, r in selected])
        trace.selectedpoints = np.flatnonzero(keys.isin(chosen))
        trace.selected = {"marker": {"opacity": 1.0}}
        trace.unselected = {"marker": {"opacity": UNSELECTED_OPACITY}}
    return trace, style["legend"]


def data_ranges(frames, pad: float = 0.05) -> dict[str, list[float]]:
    """{"x": [low, high], "y": [low, high]} covering every frame's points, padded by ``pad`` of the
    span: one range for every panel and every epoch, so maps can be compared by eye."""
    frames = [f for f in frames if len(f)]
    if not frames:
        return {"x": [-1.0, 1.0], "y": [-1.0, 1.0]}
    ranges = {}
    for axis in ("x", "y"):
        low = float(min(np.nanmin(f[axis].to_numpy(np.float64)) for f in frames))
        high = float(max(np.nanmax(f[axis].to_numpy(np.float64)) for f in frames))
        span = (high - low) or 1.0
        ranges[axis] = [low - pad * span, high + pad * span]
    return ranges


def _axis_titles(frames) -> tuple[str, str]:
    method = next((f.attrs.get("method", "") for f in frames if len(f)), "")
    axis = AXIS_NAMES.get(method, "dimension ")
    return (f"{axis}0", f"{axis}1") if method == "raw" else (f"{axis} 1", f"{axis} 2")


def map_figure(panels: list[Panel], class_names, color_by: str = "class", *, title: str = "",
               height: int = 560, selected=None, ranges: dict | None = None, shared_axes: bool = True,
               equal_aspect: bool = True, uirevision: str | None = None, marker_size: float | None = None,
               dragmode: str = "lasso") -> go.Figure:
    """Panels side by side (one is the overlay), one Scattergl trace each, then legend entries.

    ``class_names`` is one list for every panel, or one list per panel (runs with other classes).
    ``selected`` (split, row) pairs are drawn at full strength and the rest faded, in every panel.
    ``ranges`` fixes the axes (e.g. the same for every epoch); else ``shared_axes`` gives every panel
    the range of all of them, or each its own. ``equal_aspect`` keeps one unit as long on x as on
    y, so distances read true (a thin PCA map stays thin). ``uirevision`` keeps the user's zoom
    across redraws of the same view.
    """
    if not panels:
        raise ValueError("map_figure needs at least one panel")
    panels = [p if isinstance(p, Panel) else Panel(*p) for p in panels]
    per_panel = bool(class_names) and isinstance(class_names[0], (list, tuple))
    n = len(panels)
    grid = make_subplots(rows=1, cols=n, subplot_titles=[p.title for p in panels],
                         horizontal_spacing=0.025 if shared_axes else 0.05)
    shifts = sorted(set().union(*(set(p.frame["shift"].astype(int)) for p in panels)))
    size = marker_size or base_marker_size(max(len(p.frame) for p in panels))
    legend: dict[str, tuple] = {}
    traces = []
    for i, panel in enumerate(panels):
        trace, entries = points_trace(panel, class_names[i] if per_panel else class_names, color_by, size,
                                      selected, shifts)
        trace.xaxis, trace.yaxis = _axes_of(i + 1)
        traces.append(trace)
        for entry in entries:
            legend.setdefault(entry[0], entry)
    fig = go.Figure(data=traces, layout=grid.layout, _validate=False)  # the points traces are unvalidated
    fig._validate = True  # what is added from here on is checked again
    fig._grid_ref, fig._grid_str = grid._grid_ref, grid._grid_str  # row= and col= keep working
    groups = {}
    for name, color, symbol, marker, group in legend.values():
        first = group not in groups
        groups[group] = True
        fig.add_trace(go.Scattergl(x=[None], y=[None], mode="markers", name=name, legendgroup=group,
                                   legendgrouptitle_text=COLOR_TITLES.get(group, group) if first else None,
                                   hoverinfo="skip",
                                   marker={"color": color, "symbol": symbol, "size": marker}), row=1, col=1)
    frames = [p.frame for p in panels]
    x_title, y_title = _axis_titles(frames)
    for i, panel in enumerate(panels):
        box = ranges or (data_ranges(frames) if shared_axes else data_ranges([panel.frame]))
        suffix = "" if i == 0 else str(i + 1)
        fig.update_xaxes(range=box["x"], title_text=x_title, row=1, col=i + 1, zeroline=False)
        fig.update_yaxes(range=box["y"], row=1, col=i + 1, zeroline=False,
                         showticklabels=not shared_axes or i == 0, title_text=y_title if i == 0 else None)
        if equal_aspect:
            fig.update_yaxes(scaleanchor=f"x{suffix}", scaleratio=1, row=1, col=i + 1)
    fig.update_layout(title=title, template="plotly_white", height=height, dragmode=dragmode,
                      legend={"itemsizing": "trace", "tracegroupgap": 6}, margin={"t": 80, "l": 50, "r": 10, "b": 40},
                      uirevision=uirevision, hovermode="closest")
    return fig


def _axes_of(panel: int) -> tuple[str, str]:
    suffix = "" if panel <= 1 else str(panel)
    return f"x{suffix}", f"y{suffix}"


def add_links(fig: go.Figure, panel: int, x0, y0, x1, y1, *, color: str = "#222", width: float = 1.2,
              name: str = "", dash: str | None = None, opacity: float = 0.75) -> go.Figure:
    """Straight lines from (x0, y0) to (x1, y1) on panel ``panel`` (1 = the first), one trace."""
    x0, y0, x1, y1 = (np.asarray(v, dtype=np.float64).ravel() for v in (x0, y0, x1, y1))
    if not (len(x0) == len(y0) == len(x1) == len(y1)):
        raise ValueError("x0, y0, x1 and y1 must have the same length")
    xs = np.column_stack([x0, x1, np.full(len(x0), np.nan)]).ravel()
    ys = np.column_stack([y0, y1, np.full(len(y0), np.nan)]).ravel()
    xaxis, yaxis = _axes_of(panel)
    fig.add_trace(go.Scattergl(x=xs, y=ys, mode="lines", name=name, showlegend=False, hoverinfo="skip",
                               opacity=opacity, line={"color": color, "width": width, "dash": dash or "solid"},
                               xaxis=xaxis, yaxis=yaxis))
    return fig


def add_marks(fig: go.Figure, panel: int, x, y, *, text=None, symbol: str = "circle-open", size: float = 16,
              color="#111", width: float = 2.5, name: str = "", outline: str | None = None) -> go.Figure:
    """Rings (or other symbols) around points of panel ``panel``, with hover text, one trace.
    ``color`` may be one colour or one per mark; ``outline`` (default: ``color``) rims them."""
    x, y = np.asarray(x, dtype=np.float64).ravel(), np.asarray(y, dtype=np.float64).ravel()
    xaxis, yaxis = _axes_of(panel)
    fig.add_trace(go.Scatter(x=x, y=y, mode="markers", name=name, showlegend=False, xaxis=xaxis, yaxis=yaxis,
                             text=list(text) if text is not None else None,
                             hovertemplate="%{text}<extra></extra>" if text is not None else None,
                             hoverinfo=None if text is not None else "skip",
                             marker={"symbol": symbol, "size": size, "color": color,
                                     "line": {"width": width, "color": outline or color}}))
    return fig


def animation_figure(epoch_panels: list[tuple[int, list[Panel]]], class_names, color_by: str = "class", *,
                     title: str = "", height: int = 560, ranges: dict | None = None,
                     seconds_per_epoch: float = 0.8) -> go.Figure:
    """Every epoch's map as one plotly animation: a frame per epoch, a Play button and an epoch
    slider that moves as it plays, axes fixed over all epochs (so the map's spreading shows).
    It opens on the first epoch and stops on the last. ``title`` may hold ``{epoch}``."""
    if not epoch_panels:
        raise ValueError("animation_figure needs at least one epoch")
    ranges = ranges or data_ranges([p.frame if isinstance(p, Panel) else p[1]
                                    for _, panels in epoch_panels for p in panels])
    first_epoch, first = epoch_panels[0]
    fig = map_figure(first, class_names, color_by, title=title.format(epoch=first_epoch), height=height,
                     ranges=ranges, uirevision="replay")
    n = len(fig.layout.annotations)
    per_panel = bool(class_names) and isinstance(class_names[0], (list, tuple))
    shifts = sorted(set().union(*(set(p.frame["shift"].astype(int)) for _, ps in epoch_panels
                                  for p in (q if isinstance(q, Panel) else Panel(*q) for q in ps))))
    frames = []
    for epoch, panels in epoch_panels:
        panels = [p if isinstance(p, Panel) else Panel(*p) for p in panels]
        size = base_marker_size(max(len(p.frame) for p in panels))
        traces = [points_trace(p, class_names[i] if per_panel else class_names, color_by, size, None, shifts)[0]
                  for i, p in enumerate(panels)]
        layout = {"title": {"text": title.format(epoch=epoch)}}
        if len(panels) == n:  # subtitles may name the epoch's point counts
            layout["annotations"] = [{**a.to_plotly_json(), "text": p.title}
                                     for a, p in zip(fig.layout.annotations, panels)]
        frames.append(go.Frame(name=str(epoch), data=traces, traces=list(range(len(panels))), layout=layout))
    fig.frames = frames
    duration = int(seconds_per_epoch * 1000)
    play = {"frame": {"duration": duration, "redraw": True}, "fromcurrent": True, "transition": {"duration": 0},
            "mode": "immediate"}
    fig.update_layout(
        updatemenus=[{"type": "buttons", "direction": "left", "showactive": False, "x": 0.0, "y": -0.1,
                      "xanchor": "left", "yanchor": "top", "pad": {"r": 10, "t": 40},
                      "buttons": [{"label": "▶ Play", "method": "animate", "args": [None, play]},
                                  {"label": "❚❚ Pause", "method": "animate",
                                   "args": [[None], {"frame": {"duration": 0, "redraw": False}, "mode": "immediate"}]}]}],
        sliders=[{"active": 0, "x": 0.22, "len": 0.78, "y": -0.1, "yanchor": "top", "pad": {"t": 30},
                  "currentvalue": {"prefix": "epoch ", "font": {"size": 14}, "xanchor": "left"},
                  "steps": [{"label": str(e), "method": "animate",
                             "args": [[str(e)], {"frame": {"duration": 0, "redraw": True}, "mode": "immediate",
                                                 "transition": {"duration": 0}}]} for e, _ in epoch_panels]}],
        margin={"b": 140}, height=height + 90, dragmode="pan")
    return fig
