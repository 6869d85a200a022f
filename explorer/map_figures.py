"""Plotly figures of the map of points, one map (``scatter_figure``) or several side by side
(``maps_figure``).

The map keeps every point in ONE ``Scattergl`` trace, trace 0, with ``customdata`` = [split, row]
per point, so a selection's point indices and customdata name the points exactly. Colour shows
the class, marker symbol the shift; the legend is made of empty legend-only traces after it
(clicking them does not hide points).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from explorer.figures import _titles
from explorer.palette import CORRECT_COLORS, CORRECT_NAMES, SPLIT_COLORS, class_colors, shift_symbols
from explorer.projection_methods import AXIS_NAMES

COLOR_BY = ("class", "shift", "split", "correct")


def scatter_figure(frame: pd.DataFrame, class_names: list[str] | None = None, title: str | None = None,
                   color_by: str = "class", marker_size: float = 6, height: int = 600) -> go.Figure:
    """The 2-D map of ``frame`` (columns split, row, label, class_name, shift, x, y), one trace.

    ``color_by`` is "class" (default), "shift", "split" or "correct" (needs a ``correct`` column of
    True, False or None, e.g. from classifiers.knn_correct); the symbol always shows the shift.
    """
    if color_by not in COLOR_BY:
        raise ValueError(f"color_by must be one of {', '.join(COLOR_BY)}, got {color_by!r}")
    if color_by == "correct" and "correct" not in frame:
        raise ValueError("color_by='correct' needs a 'correct' column (see classifiers.knn_correct)")
    missing = {"split", "row", "label", "shift", "x", "y"} - set(frame.columns)
    if missing:
        raise ValueError(f"frame lacks the columns {', '.join(sorted(missing))}")
    labels = frame["label"].to_numpy(np.int64)
    if class_names is None:
        class_names = [str(c) for c in range(int(labels.max()) + 1 if len(labels) else 0)]
    shifts = frame["shift"].to_numpy(np.int64)
    symbols = shift_symbols(np.unique(shifts))
    splits = frame["split"].astype(str).to_numpy()

    if color_by == "class":
        palette = class_colors(len(class_names))
        colors = np.asarray(palette, dtype=object)[labels] if len(labels) else []
        legend = [(name, palette[i], "circle", "class") for i, name in enumerate(class_names) if (labels == i).any()]
    elif color_by == "shift":
        values = sorted(set(shifts.tolist()))
        palette = dict(zip(values, qualitative.Set1))
        colors = [palette[s] for s in shifts]
        legend = [(f"shift {s:+d} px" if s else "no shift", palette[s], symbols[s], "shift") for s in values]
    elif color_by == "split":
        colors = [SPLIT_COLORS.get(s, "#7f7f7f") for s in splits]
        legend = [(s, SPLIT_COLORS.get(s, "#7f7f7f"), "circle", "split") for s in dict.fromkeys(splits)]
    else:
        values = [None if v is None or (isinstance(v, float) and np.isnan(v)) else bool(v) for v in frame["correct"]]
        colors = [CORRECT_COLORS[v] for v in values]
        legend = [(CORRECT_NAMES[v], CORRECT_COLORS[v], "circle", "k-NN") for v in (True, False, None) if v in values]
    if color_by != "shift" and len(symbols) > 1:
        legend += [(f"shift {s:+d} px" if s else "no shift", "#555555", symbols[s], "shift")
                   for s in sorted(set(shifts.tolist()))]

    names = frame["class_name"].astype(str).to_numpy() if "class_name" in frame else labels.astype(str)
    hover = [f"{n}<br>{sp} row {r}" + (f"<br>shift {s:+d} px" if s else "")
             for n, sp, r, s in zip(names, splits, frame["row"], shifts)]
    fig = go.Figure(go.Scattergl(
        x=frame["x"].to_numpy(), y=frame["y"].to_numpy(), mode="markers", name="points",
        showlegend=False, customdata=np.stack([splits, frame["row"].to_numpy()], axis=1).astype(object),
        text=hover, hovertemplate="%{text}<extra></extra>",
        marker={"color": colors, "symbol": [symbols[s] for s in shifts], "size": marker_size,
                "opacity": 0.8, "line": {"width": 0}},
    ))
    for name, color, symbol, group in legend:  # legend-only entries: no points
        fig.add_trace(go.Scattergl(x=[None], y=[None], mode="markers", name=name, legendgroup=group,
                                   legendgrouptitle_text=group, hoverinfo="skip",
                                   marker={"color": color, "symbol": symbol, "size": 9}))
    method = frame.attrs.get("method", "")
    axis = AXIS_NAMES.get(method, "dimension ")
    x_title, y_title = (f"{axis}0", f"{axis}1") if method == "raw" else (f"{axis} 1", f"{axis} 2")
    if title is None:
        title = f"{method or 'map'} of {', '.join(dict.fromkeys(splits))}"
        if frame.attrs.get("note"):
            title += f"<br><sup>{frame.attrs['note']}</sup>"
    _titles(fig, title, x_title, y_title)
    fig.update_layout(height=height, legend={"itemsizing": "constant"}, dragmode="lasso")
    fig.update_yaxes(scaleanchor="x", scaleratio=1)
    return fig


def maps_figure(panels: list[tuple[str, pd.DataFrame]], class_names, color_by: str = "class",
                title: str = "", height: int = 520, run_ids: list[str] | None = None,
                shared_axes: bool = True) -> go.Figure:
    """Maps side by side in one figure: ``panels`` is [(subtitle, frame)], ``class_names`` one list
    for all panels or one list per panel.

    Trace i is panel i's points (one Scattergl each), customdata [split, row], plus the panel's run
    id when ``run_ids`` is given; legend-only traces follow. ``shared_axes`` gives every panel the
    same ranges (splits of one map); without it each keeps its own (runs on other scales).
    """
    n = len(panels)
    if not n:
        raise ValueError("maps_figure needs at least one panel")
    per_panel = bool(class_names) and isinstance(class_names[0], (list, tuple))
    fig = make_subplots(rows=1, cols=n, subplot_titles=[t for t, _ in panels],
                        horizontal_spacing=0.03 if shared_axes else 0.06, shared_yaxes=shared_axes)
    legend = {}
    for i, (_, frame) in enumerate(panels):
        part = scatter_figure(frame, class_names[i] if per_panel else class_names, color_by=color_by,
                              marker_size=4)
        points = part.data[0]
        if run_ids is not None:
            ids = np.full(len(frame), run_ids[i], dtype=object)
            points.customdata = np.column_stack([np.asarray(points.customdata, dtype=object).reshape(len(frame), -1), ids])
        fig.add_trace(points, row=1, col=i + 1)
        for trace in part.data[1:]:
            legend.setdefault(trace.name, trace)
    for trace in legend.values():
        fig.add_trace(trace, row=1, col=1)
    frames = [f for _, f in panels if len(f)]
    if shared_axes and frames:
        everything = pd.concat(frames)
        for axis, update in (("x", fig.update_xaxes), ("y", fig.update_yaxes)):
            low, high = everything[axis].min(), everything[axis].max()
            pad = 0.05 * ((high - low) or 1)
            update(range=[low - pad, high + pad])
    method = frames[0].attrs.get("method", "") if frames else ""
    axis = AXIS_NAMES.get(method, "dimension ")
    fig.update_xaxes(title_text=f"{axis}0" if method == "raw" else f"{axis} 1")
    fig.update_yaxes(title_text=f"{axis}1" if method == "raw" else f"{axis} 2", row=1, col=1)
    fig.update_layout(title=title, template="plotly_white", height=height, dragmode="lasso",
                      legend={"itemsizing": "constant"}, margin={"t": 80})
    return fig
