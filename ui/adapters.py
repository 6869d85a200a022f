"""Stop-gaps for what explorer/ does not offer (yet). Each one is small, says what it stands in
for, and steps aside as soon as explorer/ has the real thing (checked with hasattr at call time).

- ``maps_figure``: several maps side by side in ONE figure on shared axes (splits of a run, or
  runs to compare), each panel one Scattergl trace with customdata [split, row] (+ run), built
  from explorer.figures.scatter_figure. Wanted in explorer.figures.
- ``knn_correct``: per point, did the k-NN classifier (fitted on the train split) get it right?
  Built from explorer.classifiers.classify's predictions. Wanted in explorer.classifiers.
- ``colour_by_correct``: recolour a scatter_figure by that column. Wanted as
  scatter_figure(color_by="correct").
"""

from __future__ import annotations

import numpy as np
import pandas as pd

CORRECT_COLOURS = {True: "#2ca02c", False: "#d62728", None: "#c7c7c7"}
CORRECT_NAMES = {True: "k-NN right", False: "k-NN wrong", None: "train (k-NN fitted here)"}


def knn_correct(points: pd.DataFrame, evaluations) -> pd.Series:
    """True/False per test and shifted point (k-NN evaluation of that split), None for train.

    ``points`` has split and row; ``evaluations`` is classify()'s list for the k-NN classifier,
    whose y_pred follow the split's rows in order.
    """
    from explorer import classifiers as clf

    if hasattr(clf, "knn_correct"):
        return clf.knn_correct(points, evaluations)
    correct = pd.Series([None] * len(points), index=points.index, dtype=object)
    for e in evaluations:
        if e.classifier != "knn" or e.subset not in ("test", "shifted"):
            continue
        mask = (points["split"] == e.subset).to_numpy()
        rows = points.loc[mask, "row"].to_numpy(np.int64)
        if len(rows) and rows.max() < len(e.y_pred):
            correct[mask] = list(e.y_pred[rows] == e.y_true[rows])
    return correct


def scatter(frame: pd.DataFrame, class_names, color_by: str, title: str | None = None,
            height: int = 600, marker_size: float = 5):
    """explorer.figures.scatter_figure, plus colour by k-NN correctness (column ``correct``)."""
    from explorer import figures

    if color_by != "correct":
        return figures.scatter_figure(frame, class_names, title=title, color_by=color_by,
                                      height=height, marker_size=marker_size)
    try:
        return figures.scatter_figure(frame, class_names, title=title, color_by="correct",
                                      height=height, marker_size=marker_size)
    except ValueError:
        pass
    fig = figures.scatter_figure(frame, class_names, title=title, color_by="class", height=height,
                                 marker_size=marker_size)
    return colour_by_correct(fig, frame)


def colour_by_correct(fig, frame: pd.DataFrame):
    import plotly.graph_objects as go

    values = [None if v is None or (isinstance(v, float) and np.isnan(v)) else bool(v)
              for v in frame["correct"]]
    fig.data[0].marker.color = [CORRECT_COLOURS[v] for v in values]
    keep = [t for t in fig.data[1:] if t.legendgroup == "shift"]
    fig.data = fig.data[:1]
    for value in (True, False, None):
        if value in values:
            fig.add_trace(go.Scattergl(x=[None], y=[None], mode="markers", name=CORRECT_NAMES[value],
                                       legendgroup="k-NN", legendgrouptitle_text="k-NN",
                                       hoverinfo="skip", marker={"color": CORRECT_COLOURS[value], "size": 9}))
    for trace in keep:
        fig.add_trace(trace)
    return fig


def maps_figure(panels: list[tuple[str, pd.DataFrame]], class_names, color_by: str = "class",
                title: str = "", height: int = 520, run_ids: list[str] | None = None,
                shared_axes: bool = True):
    """Maps side by side in one figure, on shared axis ranges. ``panels`` is [(title, frame)];
    ``class_names`` is one list for every panel, or one list per panel (runs with other classes).

    customdata of each point is [split, row] (and the panel's run id when ``run_ids`` is given),
    so a selection names its points whatever panel they are in. ``shared_axes=False`` gives each
    panel its own ranges (runs whose embeddings have different scales).
    """
    from explorer import figures

    if hasattr(figures, "maps_figure"):
        return figures.maps_figure(panels, class_names, color_by=color_by, title=title,
                                   height=height, run_ids=run_ids, shared_axes=shared_axes)
    from plotly.subplots import make_subplots

    n = len(panels)
    fig = make_subplots(rows=1, cols=n, subplot_titles=[t for t, _ in panels],
                        horizontal_spacing=0.03 if shared_axes else 0.06, shared_yaxes=shared_axes)
    seen_legend = set()
    per_panel = bool(class_names) and isinstance(class_names[0], (list, tuple))
    for i, (_, frame) in enumerate(panels):
        names = class_names[i] if per_panel else class_names
        part = scatter(frame, names, color_by, height=height, marker_size=4)
        main = part.data[0]
        if run_ids is not None:
            ids = np.full(len(frame), run_ids[i], dtype=object)
            main.customdata = np.column_stack([np.asarray(main.customdata, dtype=object), ids])
        fig.add_trace(main, row=1, col=i + 1)
        for trace in part.data[1:]:
            if trace.name not in seen_legend:
                seen_legend.add(trace.name)
                fig.add_trace(trace, row=1, col=i + 1)
    everything = pd.concat([f for _, f in panels])
    if shared_axes and len(everything):
        pad_x = 0.05 * (everything["x"].max() - everything["x"].min() or 1)
        pad_y = 0.05 * (everything["y"].max() - everything["y"].min() or 1)
        fig.update_xaxes(range=[everything["x"].min() - pad_x, everything["x"].max() + pad_x])
        fig.update_yaxes(range=[everything["y"].min() - pad_y, everything["y"].max() + pad_y])
    fig.update_layout(title=title, template="plotly_white", height=height, dragmode="lasso",
                      legend={"itemsizing": "constant"}, margin={"t": 80})
    return fig
