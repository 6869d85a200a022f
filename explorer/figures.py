"""Plotly figures of the analyses: training curves, heatmaps, pair distances and ROC, shifts and
image grids. Each takes plain arrays or frames (from the other modules) and returns a
``go.Figure``; none computes an analysis itself. The map of points is in ``map_figures``, the
shared colours in ``palette``.
"""

from __future__ import annotations

import base64
import io

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from explorer.palette import SPLIT_COLORS, shift_palette


def _titles(fig: go.Figure, title: str, x: str, y: str) -> go.Figure:
    fig.update_layout(title=title, xaxis_title=x, yaxis_title=y, template="plotly_white")
    return fig


def _epoch_axis(fig: go.Figure, epochs) -> None:
    """Whole epochs on the x axes, about ten ticks at most."""
    span = int(np.nanmax(epochs)) if len(epochs) else 1
    fig.update_xaxes(title_text="epoch", tick0=0, dtick=max(1, -(-span // 10)))


# ---------------------------------------------------------------- training curves


def loss_figure(metrics: pd.DataFrame, title: str = "Loss over epochs") -> go.Figure:
    """Mean pair or triplet loss per epoch, one line per split (train, val, test, shifted)."""
    fig = go.Figure()
    for split, rows in metrics.dropna(subset=["loss"]).groupby("split", sort=False):
        fig.add_trace(go.Scatter(x=rows["epoch"], y=rows["loss"], mode="lines+markers", name=split,
                                 line={"color": SPLIT_COLORS.get(split)}))
    _titles(fig, title, "epoch", "loss")
    _epoch_axis(fig, metrics["epoch"])
    return fig


def metrics_figure(metrics: pd.DataFrame, title: str = "Metrics over epochs") -> go.Figure:
    """Three panels over epochs: loss, k-NN accuracy, and mean positive (solid) and negative
    (dashed) pair distance; one colour per split."""
    fig = make_subplots(rows=1, cols=3, horizontal_spacing=0.08,
                        subplot_titles=("loss", "5-NN accuracy",
                                        "mean pair distance<br><sup>solid: positive, dashed: negative</sup>"))
    for split, rows in metrics.groupby("split", sort=False):
        color = SPLIT_COLORS.get(split)
        style = {"mode": "lines+markers", "legendgroup": split, "line": {"color": color}}
        fig.add_trace(go.Scatter(x=rows["epoch"], y=rows["loss"], name=split, **style), 1, 1)
        fig.add_trace(go.Scatter(x=rows["epoch"], y=rows["knn_accuracy"], name=split, showlegend=False, **style), 1, 2)
        fig.add_trace(go.Scatter(x=rows["epoch"], y=rows["pos_dist"], name=f"{split} positive",
                                 showlegend=False, **style), 1, 3)
        style["line"] = {"color": color, "dash": "dash"}
        fig.add_trace(go.Scatter(x=rows["epoch"], y=rows["neg_dist"], name=f"{split} negative",
                                 showlegend=False, **style), 1, 3)
    _epoch_axis(fig, metrics["epoch"])
    fig.update_yaxes(title_text="loss", row=1, col=1)
    fig.update_yaxes(title_text="accuracy", row=1, col=2)
    fig.update_yaxes(title_text="distance", row=1, col=3)
    fig.update_layout(title=title, template="plotly_white", height=400)
    return fig


MAX_STEP_POINTS = 20_000  # raw per-step losses drawn; above, every n-th (the smoothed line uses all)


def steps_figure(steps: pd.DataFrame, metrics: pd.DataFrame | None = None,
                 title: str = "Training loss at every step") -> go.Figure:
    """The loss of every optimiser step (steps.csv) against the iteration, raw and as a running
    mean, with each epoch's validation and test loss (metrics.csv) at the epoch's last step."""
    steps = steps.sort_values("iteration")
    n = len(steps)
    stride = max(1, -(-n // MAX_STEP_POINTS))
    raw = steps.iloc[::stride]
    window = max(1, n // 50)
    smooth = steps["loss"].rolling(window, min_periods=1, center=True).mean()
    fig = go.Figure([
        go.Scattergl(x=raw["iteration"], y=raw["loss"], mode="lines", name="train, each step"
                     + (f" (1 in {stride} drawn)" if stride > 1 else ""),
                     line={"color": "#9ecae1" if window > 1 else SPLIT_COLORS["train"], "width": 1}),
    ])
    if window > 1:
        fig.add_trace(go.Scattergl(x=steps["iteration"], y=smooth, mode="lines", name=f"train, mean of {window} steps",
                                   line={"color": SPLIT_COLORS["train"], "width": 2.5}))
    if metrics is not None and len(metrics) and n:
        ends = steps.groupby("epoch")["iteration"].max()
        for split in ("val", "test"):
            rows = metrics[(metrics["split"] == split) & metrics["epoch"].isin(ends.index)]
            if len(rows) and rows["loss"].notna().any():
                fig.add_trace(go.Scatter(x=ends.loc[rows["epoch"]].to_numpy(), y=rows["loss"], mode="lines+markers",
                                         name=f"{split}, each epoch", line={"color": SPLIT_COLORS.get(split), "dash": "dash"}))
    fig.update_layout(template="plotly_white", height=380, title=title, legend={"orientation": "h", "y": -0.22})
    return _titles(fig, title, "iteration (optimiser step)", "loss")


def geometry_figure(geometry: pd.DataFrame, title: str = "Cluster size and centroid distance over epochs") -> go.Figure:
    """Mean cluster size and mean centroid distance per epoch (frame of geometry_over_epochs)."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("mean cluster size", "mean centroid distance"))
    for split, rows in geometry.groupby("split", sort=False):
        style = {"mode": "lines+markers", "legendgroup": split, "line": {"color": SPLIT_COLORS.get(split)}}
        fig.add_trace(go.Scatter(x=rows["epoch"], y=rows["mean_cluster_size"], name=split, **style), 1, 1)
        fig.add_trace(go.Scatter(x=rows["epoch"], y=rows["mean_centroid_distance"], name=split,
                                 showlegend=False, **style), 1, 2)
    _epoch_axis(fig, geometry["epoch"])
    fig.update_yaxes(title_text="mean distance to centroid", row=1, col=1)
    fig.update_yaxes(title_text="mean distance between centroids", row=1, col=2)
    fig.update_layout(title=title, template="plotly_white", height=400)
    return fig


# ---------------------------------------------------------------- heatmaps


def confusion_figure(confusion: np.ndarray, class_names: list[str], title: str = "Confusion matrix") -> go.Figure:
    """Counts, true class in rows (top to bottom), predicted in columns; colour is the row fraction."""
    return confusion_grid_figure([confusion], [""], class_names, title)


def confusion_grid_figure(confusions: list[np.ndarray], subtitles: list[str], class_names: list[str],
                          title: str = "Confusion matrices", columns: int = 3) -> go.Figure:
    """Several confusion matrices side by side on one colour scale (fraction of the true class)."""
    n = len(confusions)
    columns = min(columns, n)
    rows = -(-n // columns)
    fig = make_subplots(rows=rows, cols=columns, subplot_titles=subtitles,
                        horizontal_spacing=0.08, vertical_spacing=0.3 / rows if rows > 1 else 0.1)
    k = len(class_names)
    show_text = k <= 15
    for i, confusion in enumerate(confusions):
        counts = np.asarray(confusion)[:, :k]
        fraction = counts / np.maximum(counts.sum(1, keepdims=True), 1)
        fig.add_trace(go.Heatmap(
            z=fraction, x=class_names, y=class_names, zmin=0, zmax=1, colorscale="Blues",
            text=counts, texttemplate="%{text}" if show_text else None, showscale=i == 0,
            colorbar={"title": "fraction of row"},
            hovertemplate="true %{y}<br>predicted %{x}<br>%{text} points (%{z:.1%})<extra></extra>",
        ), row=i // columns + 1, col=i % columns + 1)
    fig.update_xaxes(type="category")
    fig.update_yaxes(autorange="reversed", type="category")
    for col in range(1, columns + 1):  # titles on the outer axes only, clear of the subplot titles
        lowest = (n - col) // columns + 1
        fig.update_xaxes(title_text="predicted class", row=lowest, col=col)
        for empty_row in range(lowest + 1, rows + 1):
            fig.update_xaxes(visible=False, row=empty_row, col=col)
            fig.update_yaxes(visible=False, row=empty_row, col=col)
    for row in range(1, rows + 1):
        fig.update_yaxes(title_text="true class", row=row, col=1)
    side = max(260, 24 * k + 120)
    fig.update_layout(title=title, template="plotly_white", height=rows * side + 80,
                      width=max(columns * side + 120, 500))
    return fig


def centroid_figure(matrix: np.ndarray, class_names: list[str],
                    title: str = "Centroid distances<br><sup>diagonal: cluster size, the mean distance "
                                 "of a class's points to their centroid</sup>") -> go.Figure:
    """The centroid-distance matrix of geometry.centroid_distances, values written in the cells."""
    k = len(class_names)
    fig = go.Figure(go.Heatmap(
        z=matrix, x=class_names, y=class_names, colorscale="Viridis", colorbar={"title": "distance"},
        texttemplate="%{z:.2f}" if k <= 15 else None,
        hovertemplate="%{y} to %{x}: %{z:.3f}<extra></extra>",
    ))
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_xaxes(type="category")
    fig.update_layout(height=max(400, 24 * k + 150), width=max(700, 24 * k + 250))
    return _titles(fig, title, "class", "class")


# ---------------------------------------------------------------- verification


def histogram_figure(histogram: pd.DataFrame, title: str = "Pair distances") -> go.Figure:
    """Overlaid density histograms of similar and dissimilar pair distances (distances.histogram)."""
    centres = (histogram["left"] + histogram["right"]) / 2
    width = histogram["right"] - histogram["left"]
    fig = go.Figure([
        go.Bar(x=centres, y=histogram["positive"], width=width, name="positive (same class)",
               marker_color="#2ca02c", opacity=0.6),
        go.Bar(x=centres, y=histogram["negative"], width=width, name="negative (different class)",
               marker_color="#d62728", opacity=0.6),
    ])
    fig.update_layout(barmode="overlay", bargap=0)
    return _titles(fig, title, "embedding distance", "density")


TYPE_COLORS = ("#2ca02c", "#ff7f0e", "#d62728")  # true positive, false negative, negative


def type_histogram_figure(histogram: pd.DataFrame, type_names, title: str = "Pair distances by type") -> go.Figure:
    """Overlaid density histograms of a three-way run's pair types (pairtypes.type_histogram)."""
    centres = (histogram["left"] + histogram["right"]) / 2
    width = histogram["right"] - histogram["left"]
    fig = go.Figure([go.Bar(x=centres, y=histogram[name], width=width, name=name, marker_color=color, opacity=0.55)
                     for name, color in zip(type_names, TYPE_COLORS) if histogram[name].any()])
    fig.update_layout(barmode="overlay", bargap=0)
    return _titles(fig, title, "embedding distance", "density")


def histograms_figure(histograms: dict[str, pd.DataFrame], title: str = "Pair distances",
                      scales: dict[str, float] | None = None) -> go.Figure:
    """Several runs' pair-distance densities in one figure: a colour per run, positive pairs
    solid, negative pairs dashed. ``scales`` maps a run to the distance drawn as 1, so runs whose
    distances live on other scales (contrastive vs triplet) can share an axis."""
    fig = go.Figure()
    for i, (name, histogram) in enumerate(histograms.items()):
        color = qualitative.Plotly[i % 10]
        scale = float((scales or {}).get(name) or 1.0)
        centres = (histogram["left"] + histogram["right"]) / 2 / scale
        for column, dash, label in (("positive", "solid", "same class"),
                                    ("negative", "dash", "different class")):
            fig.add_trace(go.Scatter(x=centres, y=histogram[column] * scale, mode="lines",
                                     line={"color": color, "dash": dash, "shape": "hvh"},
                                     name=f"{name}: {label}", legendgroup=name))
    x_title = "distance / the run's mean different-class distance" if scales else "embedding distance"
    return _titles(fig, title, x_title, "density")


def roc_figure(curves: dict[str, pd.DataFrame], summaries: dict[str, dict] | None = None,
               title: str = "Verification ROC") -> go.Figure:
    """One ROC line per named curve (distances.roc), with its EER and chosen-FAR points."""
    fig = go.Figure()
    for i, (name, curve) in enumerate(curves.items()):
        color = qualitative.Plotly[i % 10]
        summary = (summaries or {}).get(name)
        label = f"{name} (AUC {summary['auc']:.3f}, EER {summary['eer']:.3f})" if summary else name
        fig.add_trace(go.Scatter(x=curve["far"], y=curve["tar"], mode="lines", name=label,
                                 line={"color": color}, legendgroup=name))
        if summary:
            fig.add_trace(go.Scatter(  # the EER point (x) and the chosen-FAR point (circle)
                x=[summary["eer"], summary["far"]], y=[1 - summary["eer"], summary["tar_at_far"]],
                mode="markers", marker={"color": color, "size": 10, "symbol": ["x", "circle"]},
                text=[f"{name}: equal error rate {summary['eer']:.3f} at threshold {summary['eer_threshold']:.3f}",
                      f"{name}: FAR {summary['far']:g} at threshold {summary['threshold_at_far']:.3f}, "
                      f"TAR {summary['tar_at_far']:.3f}"],
                hovertemplate="%{text}<extra></extra>", showlegend=False, legendgroup=name))
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line={"dash": "dot", "color": "#999"},
                             name="chance", showlegend=False))
    fig.update_xaxes(range=[0, 1])
    fig.update_yaxes(range=[0, 1.02])
    fig.update_layout(title=f"{title}<br><sup>x: equal error rate; circle: threshold at the chosen "
                            "false accept rate</sup>" if summaries else title)
    fig.update_layout(xaxis_title="false accept rate", yaxis_title="true accept rate", template="plotly_white")
    return fig


# ---------------------------------------------------------------- shifts


def accuracy_by_shift_figure(accuracies: pd.DataFrame, title: str = "Accuracy by shift") -> go.Figure:
    """Accuracy against shift in px, one line per classifier (columns classifier, shift, accuracy)."""
    fig = go.Figure()
    # Classifiers often agree exactly (nearest centroid and k-means on well separated classes):
    # each line gets its own dash, marker and width, thinner ones drawn over thicker, so a line
    # lying on another still shows.
    dashes = ["solid", "dash", "dot", "dashdot", "longdash", "longdashdot"]
    symbols = ["circle", "square", "diamond", "triangle-up", "x", "star"]
    groups = list(accuracies.sort_values("shift").groupby("classifier", sort=False))
    for i, (name, rows) in enumerate(groups):
        fig.add_trace(go.Scatter(x=rows["shift"], y=rows["accuracy"], mode="lines+markers", name=name,
                                 line={"dash": dashes[i % len(dashes)], "width": max(1.5, 5 - 1.0 * i),
                                       "color": qualitative.Plotly[i % 10]},
                                 marker={"symbol": symbols[i % len(symbols)], "size": max(6, 13 - 2 * i)},
                                 hovertemplate=f"{name}<br>shift %{{x:+d}} px: %{{y:.3f}}<extra></extra>"))
    fig.update_layout(hovermode="x unified")
    fig.update_xaxes(dtick=1 if accuracies["shift"].abs().max() <= 10 else None)
    fig.update_yaxes(range=[0, 1.02])
    return _titles(fig, title, "shift (px; 0 = the unshifted test set)", "accuracy")


def displacement_figure(table: pd.DataFrame, title: str = "How far shifted copies move from their source") -> go.Figure:
    """Box plot of displacement per shift (shifts.shift_table)."""
    fig = go.Figure()
    palette = shift_palette(table["shift"].unique())
    for shift, rows in table.groupby("shift"):
        fig.add_trace(go.Box(y=rows["displacement"], name=f"{int(shift):+d} px", boxpoints="outliers",
                             marker_color=palette.get(int(shift)), line_color=palette.get(int(shift))))
    fig.update_layout(showlegend=False)
    return _titles(fig, title, "shift", "distance from the unshifted embedding")


# ---------------------------------------------------------------- images


def png_data_uri(image: np.ndarray) -> str:
    """A uint8 image (h, w) or (h, w, 3) as a base64 PNG data URI."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.asarray(image, dtype=np.uint8)).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def image_grid_figure(images, captions: list[str] | None = None, columns: int = 8,
                      title: str = "", scale: int = 4) -> go.Figure:
    """Thumbnails (uint8, each (h, w)) in a grid, a caption above each, as one embedded PNG."""
    images = np.asarray(images, dtype=np.uint8)
    if images.ndim != 3:
        raise ValueError(f"images must be (n, h, w) uint8, got shape {images.shape}")
    n, h, w = images.shape
    captions = list(captions or [""] * n)
    if len(captions) != n:
        raise ValueError(f"{n} images need {n} captions, got {len(captions)}")
    columns = max(1, min(columns, n))
    rows = max(1, -(-n // columns))
    pad, band = 2, 12  # pixels between tiles; caption band above each tile (image pixels)
    cell_h, cell_w = h + band + pad, w + pad
    mosaic = np.full((rows * cell_h, columns * cell_w), 255, np.uint8)
    fig = go.Figure()
    for i, image in enumerate(images):
        top, left = (i // columns) * cell_h + band, (i % columns) * cell_w
        mosaic[top:top + h, left:left + w] = image
        fig.add_annotation(x=left + w / 2, y=top - 1, text=captions[i], showarrow=False,
                           yanchor="bottom", font={"size": 9})
    fig.add_trace(go.Image(source=png_data_uri(mosaic), hoverinfo="skip"))
    fig.update_xaxes(visible=False, range=[0, mosaic.shape[1]])
    fig.update_yaxes(visible=False, range=[mosaic.shape[0], 0])
    fig.update_layout(title=title, template="plotly_white", margin={"l": 10, "r": 10, "t": 60 if title else 10, "b": 10},
                      width=max(700, mosaic.shape[1] * scale + 20),
                      height=mosaic.shape[0] * scale + (80 if title else 30))
    return fig


def gallery_figure(query_image: np.ndarray, gallery: pd.DataFrame, images: np.ndarray,
                   query_caption: str = "query", title: str = "Nearest neighbours", columns: int = 11) -> go.Figure:
    """The query, then its neighbours in rank order (neighbours.gallery frame, their images),
    each captioned with rank, class and distance."""
    captions = [query_caption] + [f"#{r} {c} d={d:.2f}" for r, c, d in
                                  zip(gallery["rank"], gallery["class_name"], gallery["distance"])]
    return image_grid_figure(np.concatenate([np.asarray(query_image)[None], np.asarray(images)]),
                             captions, columns=columns, title=title)
