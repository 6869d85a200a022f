"""The embedding map with its selection, filter and search (its controls are in ``controls``, the
marks and lines a selection lays over it in ``overlays``, the replay in ``replay``).

The map is the WebGL map element (ui.map_element; docs/map.md). The selection lives in session
state (ui.widgets): the element's lasso, box or click replaces it, and the element draws it.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd
import streamlit as st

from ui import cached, cached_analyses, url_state
from ui.inspect import clusters, overlays
from ui.inspect.controls import SCOPE, MapChoice, map_controls  # noqa: F401 - where the pages find them
from ui.widgets import (
    COLOUR_NAMES,
    METHOD_NAMES,
    SPLIT_TITLES,
    clear_selection,
    error_panel,
    export_lazy,
    selection_points,
    set_selection,
)

CONTAINER = "mapbox-inspect"

# ---------------------------------------------------------------- the map


def map_section(run) -> tuple[int, Callable[[], None] | None]:
    """The map's controls (and the replay) now, the map itself later: returns (the epoch the rest
    of the page shows, a function that draws the map in its place, or None).

    The page draws the selection panel in between, so that a new selection's thumbnails reach the
    browser before the map that highlights it: the redraw of a large map holds the browser up for
    seconds, and anything sent after it waits."""
    st.subheader("Embedding map", anchor="embedding-map")
    choice = map_controls(run)
    linked = url_state.points_from_url("sel", run.splits)
    if linked:
        set_selection(SCOPE, str(run.path), linked, how="link")
    url_state.to_url("sel", url_state.points_text(selection_points(SCOPE, str(run.path))))
    if st.session_state.get("map_replay_run") == str(run.path) and len(run.epochs) > 1:
        from ui.inspect.replay import replay_view

        replay_view(run, choice)
        return run.epochs[-1], None
    slot = st.container()

    def draw() -> None:
        from ui.inspect import live

        if live.follows(run, choice):
            with slot:
                live.live_map(str(run.path), choice)
            return
        with slot, error_panel("the embedding map"):
            draw_map(run, choice)

    return choice.epoch, draw


def draw_map(run, choice: MapChoice, table=None, moved=None, note: str = "", frame=None) -> None:
    """The map (the WebGL map element) with its selection, marks and notes. A live map (see
    ``live``) passes the table it keeps, the newest epoch's positions (``moved``) and its frame
    (aligned to the epoch before, so the lines and marks sit on the points)."""
    from ui.map_element import element, images, view
    from ui.map_element.table import ids_of, points_of

    def bounds(table, moved):
        from ui.map_element.table import bounds as box

        return box([table.frame, moved])

    frame = map_frame(run, choice) if frame is None else frame
    shown = filtered(frame, choice)
    selected = selection_points(SCOPE, str(run.path))
    panels, where = map_panels(run, shown, choice, selected)
    table = map_table(run, choice, frame) if table is None else table
    layer = element.Overlays()
    clusters.add_centres(layer, run, frame, choice, where)
    overlays.add_overlays(layer, run, frame, choice, selected, where, picked_point(run, selected))
    lit = selected + overlays.linked_copies(frame, selected, choice.lines)
    pictures = images.for_run(run)
    splits = [choice.splits] if choice.layout == "overlay" else [[s] for s in run.splits]
    spec = view.MapSpec(
        table, run.class_names, choice.colour,
        [view.PanelSpec(p.title, s, empty=empty_text(run, s, choice)) for p, s in zip(panels, splits)],
        title=f"{METHOD_NAMES[choice.method]} map at epoch {choice.epoch}, coloured by {COLOUR_NAMES[choice.colour]}",
        height=640 if choice.layout == "overlay" else 480, layout=choice.layout, classes=choice.classes,
        shifts=choice.shifts, knn=choice.knn, selected_ids=ids_of(table, lit), overlays=layer.items, images=pictures,
        bounds=axis_bounds(run, choice, table) or (bounds(table, moved) if moved is not None else None), moved=moved)
    path = str(run.path)
    st.session_state["_map_spec"] = view.show(
        SCOPE, spec, on_selection=lambda ids: set_selection(SCOPE, path, points_of(table, ids), how="map"),
        on_cleared=lambda: clear_selection(SCOPE))
    notes(run, frame, shown, choice, table, pictures is not None, note)
    export_lazy(lambda: plotly_map(run, choice, frame, shown, selected, where),
                f"{run.name}-map-{choice.method}-epoch{choice.epoch}", "map")
    st.session_state["_map_shown"] = (str(run.path), choice.epoch, choice.method, cached.projection_params_key(choice.params))


def select_help(hover: bool) -> str:
    return ("Drag a lasso (or pick Box above the map) to select points: a new selection replaces the old "
            "one in every panel, and the other points stay, dimmed; double-click the map to clear it. "
            "The wheel zooms and Pan drags; every panel follows (untick Link zoom to zoom one alone). "
            + ("Hover a point to see its image; zoom in until a few hundred points are in view to see "
               "every point as its image. " if hover else "No images to show for this run. "))


def table_notes(table) -> list[str]:
    """What the map leaves out: points without finite coordinates, or a subsample above a million."""
    from ui.map_element.table import MAX_POINTS

    parts = []
    if table.left_out:
        many = table.left_out != 1
        parts.append(f"{table.left_out:,} point{'s' if many else ''} with NaN or infinite coordinates "
                     f"{'are' if many else 'is'} left out of the map.")
    if table.subsampled:
        parts.append(f"The map draws a seeded subsample of {len(table):,} of {table.total - table.left_out:,} "
                     f"points (at most {MAX_POINTS:,}); Find points, the tabs below and the Export tab's CSV "
                     "use every point.")
    return parts


def map_table(run, choice: MapChoice, frame: pd.DataFrame):
    """The map's point table, encoded once per map and kept for the session's reruns."""
    from ui.map_element.table import point_table

    key = (str(run.path), cached.run_mtime(run.path), choice.epoch, choice.method,
           cached.projection_params_key(choice.params), tuple(frame.columns), len(frame))
    kept = st.session_state.get("_map_table")
    if kept is None or kept[0] != key:
        kept = (key, point_table(frame))
        st.session_state["_map_table"] = kept
    return kept[1]


def empty_text(run, splits: list[str], choice: MapChoice) -> str:
    names = ", ".join(SPLIT_TITLES.get(s, s) for s in splits)
    if choice.classes or choice.shifts or choice.knn != "all":
        return f"No {names} point passes the filter: widen it (Filter, above the map)."
    return f"The {names} split holds no points at epoch {choice.epoch}."


def axis_bounds(run, choice: MapChoice, table) -> list[float] | None:
    ranges = axis_ranges(run, choice)
    if ranges:
        return [*ranges["x"], *ranges["y"]]
    return None


def plotly_map(run, choice: MapChoice, frame, shown, selected, where):
    """The same map as a plotly figure, for the HTML export (built only when asked)."""
    from ui.map_element.element import PlotlyLayer

    panels, _ = map_panels(run, shown, choice, selected)
    fig = build_map(run, panels, choice, selected + overlays.linked_copies(frame, selected, choice.lines), frame)
    clusters.add_centres(PlotlyLayer(fig), run, frame, choice, where)
    overlays.add_overlays(PlotlyLayer(fig), run, frame, choice, selected, where, picked_point(run, selected))
    return fig


def map_frame(run, choice: MapChoice, epoch: int | None = None) -> pd.DataFrame:
    """The projection of one epoch, with k-NN's verdict and magnet clusters where the view needs
    them (see with_verdicts)."""
    epoch = choice.epoch if epoch is None else epoch
    return with_verdicts(run, choice, epoch, cached.projection(run.path, epoch, choice.method, choice.params).copy())


def with_verdicts(run, choice: MapChoice, epoch: int, frame: pd.DataFrame) -> pd.DataFrame:
    """A map's frame with what the colouring and the filter need: k-NN's verdict, magnet clusters."""
    if choice.colour == "correct" or choice.knn != "all":
        from explorer.classifiers import knn_correct

        frame["correct"] = knn_correct(frame, cached_analyses.classify(run.path, epoch, ("knn",))).to_numpy()
    if choice.colour == "cluster":
        frame = clusters.with_clusters(run, frame, epoch)
    return frame


def filtered(frame: pd.DataFrame, choice: MapChoice) -> pd.DataFrame:
    keep = frame["split"].isin(choice.splits).to_numpy().copy()
    if choice.classes:
        keep &= frame["label"].isin(choice.classes).to_numpy()
    if choice.shifts:
        keep &= frame["shift"].isin(choice.shifts).to_numpy()
    if choice.knn != "all" and "correct" in frame:
        wanted = choice.knn == "right"
        verdict = frame["correct"].to_numpy()
        keep &= np.array([v is None or (isinstance(v, float) and np.isnan(v)) or bool(v) == wanted for v in verdict])
    return frame[keep]


def map_panels(run, shown: pd.DataFrame, choice: MapChoice, selected) -> tuple[list, dict]:
    """[Panel] and {split: panel number (1 = first)}; each subtitle counts its points and how
    many of them are selected."""
    from explorer.maps import Panel

    from ui.map_element.table import frame_keys, point_keys

    chosen = point_keys(selected)

    def title(name: str, points: pd.DataFrame) -> str:
        text = f"{name} · {len(points):,} points"
        if len(chosen):
            text += f" · {int(np.isin(frame_keys(points), chosen).sum())} selected"
        return text

    if choice.layout == "overlay":
        names = ", ".join(SPLIT_TITLES.get(s, s) for s in choice.splits)
        return [Panel(title(names, shown), shown)], {s: 1 for s in choice.splits}
    panels, where = [], {}
    for i, split in enumerate(run.splits):
        part = shown[shown["split"] == split]
        panels.append(Panel(title(SPLIT_TITLES.get(split, split), part), part))
        where[split] = i + 1
    return panels, where


@st.cache_data(max_entries=32, show_spinner=False)
def _raw_ranges(path: str, mtime: float) -> dict:
    from explorer.maps import data_ranges

    run = cached.open_run(path)
    frames = []
    for epoch in run.epochs:
        points = run.points(epoch)
        frames.append(pd.DataFrame({"x": points["e0"], "y": points["e1"]}))
    return data_ranges(frames)


def axis_ranges(run, choice: MapChoice) -> dict | None:
    """One range for every epoch where that is cheap and meaningful (the raw 2-D embedding);
    None lets each epoch's map fit its panel."""
    if choice.method == "raw" and run.embedding_dim == 2:
        return _raw_ranges(str(run.path), cached.run_mtime(run.path))
    return None


def build_map(run, panels, choice: MapChoice, selected, frame: pd.DataFrame):
    from explorer import maps

    title = f"{METHOD_NAMES[choice.method]} map at epoch {choice.epoch}, coloured by {COLOUR_NAMES[choice.colour]}"
    height = 700 if choice.layout == "overlay" else 540
    return maps.map_figure(panels, run.class_names, choice.colour, title=title, height=height,
                           selected=selected or None, ranges=axis_ranges(run, choice),
                           uirevision=f"{run.path}-{choice.method}-{choice.layout}")


def picked_point(run, selected) -> tuple[str, int] | None:
    """The point looked at closer: the only selected point, or the one chosen below the map."""
    if len(selected) == 1:
        return selected[0]
    chosen = st.session_state.get(f"closer-{SCOPE}")
    if chosen and ":" in str(chosen):
        split, row = str(chosen).split(":", 1)
        if (split, int(row)) in set(selected):
            return split, int(row)
    return None


def notes(run, frame: pd.DataFrame, shown: pd.DataFrame, choice: MapChoice, table, hover: bool,
          note: str = "") -> None:
    """One caption under the map: how to select, what is hidden, left out or subsampled, the scale."""
    parts = [note] if note else []
    message = st.session_state.pop("_find_message", None)
    if message:
        parts.append(message)
    parts.append(select_help(hover))
    if len(shown) < len(frame):
        parts.append(f"Filter: showing {len(shown):,} of {len(frame):,} points.")
    parts += table_notes(table)
    sub = cached.subsampled(run.path, choice.epoch)
    if sub:
        parts.append("Epoch " + str(choice.epoch) + " holds a seeded subset of the points (--snapshot-max-points): "
                     + ", ".join(f"{n:,} of {total:,} {SPLIT_TITLES.get(s, s)}" for s, (n, total) in sub.items())
                     + "; the last epoch holds them all.")
    note = frame.attrs.get("note") if hasattr(frame, "attrs") else None
    if note:
        parts.append(f"Note: {note}.")
    if choice.method == "raw":
        parts.append("Axes: the same for every epoch, one unit as long on x as on y.")
    else:
        parts.append(f"Axes: one unit as long on x as on y; each epoch's {METHOD_NAMES[choice.method]} "
                     "map has its own scale (Replay puts every epoch on one).")
    st.caption(" ".join(parts))

