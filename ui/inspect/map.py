"""The embedding map: its controls, the map with its selection, filter and search (the marks and
lines a selection lays over it are in ``overlays``; the replay in ``replay``).

The map is the WebGL map element (ui.map_element; docs/map.md). The selection lives in session
state (ui.widgets): the element's lasso, box or click replaces it, and the element draws it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd
import streamlit as st

from explorer.projection_methods import default, methods_for
import runfmt as rundir
from ui import cached, cached_analyses
from ui.inspect import clusters, overlays
from ui.widgets import (
    COLOUR_NAMES,
    METHOD_NAMES,
    SPLIT_TITLES,
    clear_selection,
    error_panel,
    export_lazy,
    selection_points,
    set_selection,
    shift_caption,
)

SCOPE = "inspect"
CONTAINER = "mapbox-inspect"
TSNE_ITERATIONS = default("tsne", "n_iter")  # quick, and quality holds


@dataclass
class MapChoice:
    method: str
    params: dict
    layout: str
    colour: str
    splits: list[str]
    epoch: int
    classes: list[int] = field(default_factory=list)  # empty: every class
    shifts: list[int] = field(default_factory=list)  # empty: every shift
    knn: str = "all"  # all, right or wrong (test and shifted points; train points always show)
    lines: bool = False  # lines from selected test images to their shifted copies


# ---------------------------------------------------------------- controls


def map_controls(run) -> MapChoice:
    """The map's settings in two rows: projection, layout, colour, parameters and filter; then
    the epoch, Replay and a search box."""
    two_d = run.embedding_dim == 2
    methods = methods_for(run.embedding_dim, imported=cached.has_imported_map(run.path))
    c1, c2, c3, c4, c5 = st.columns([26, 19, 15, 6, 10], vertical_alignment="bottom")
    method = c1.segmented_control("Projection", methods, default=methods[0], key=f"map_method-{two_d}",
                                  required=True, format_func=METHOD_NAMES.get,
                                  help="raw 2-D draws a 2-D embedding as it is; PCA, t-SNE and UMAP are "
                                       "fitted on the train split, and test and shifted points are placed "
                                       "into that map") or methods[0]
    layout = c2.segmented_control("Layout", ["side by side", "overlay"], default="side by side",
                                  key="map_layout", required=True) or "side by side"
    colours = [c for c in COLOUR_NAMES if c != "cluster" or run.config.get("loss") == "magnet"]
    if st.session_state.get("map_colour") not in colours:
        st.session_state.pop("map_colour", None)  # the last run's clusters: this run has none
    colour = c3.selectbox("Colour by", colours, format_func=COLOUR_NAMES.get, key="map_colour",
                          help="k-NN right/wrong: a 5-NN classifier fitted on the train embeddings, judged "
                               "on test and shifted points. Magnet cluster (magnet runs): each class's k "
                               "clusters in shades of its colour, their centres as diamonds. The shape "
                               "always shows the shift.") or "class"
    params = _parameters(c4, method)
    classes, shifts, knn = _filter(c5, run)
    splits = run.splits
    if layout == "overlay":
        splits = [s for s in st.session_state.get("map_splits", run.splits) if s in run.splits] or run.splits

    epochs = run.epochs
    key = epoch_key(run)
    replaying = st.session_state.get("map_replay_run") == str(run.path) and len(epochs) > 1
    e1, e2, e3 = st.columns([9, 5, 7] if replaying else [11, 3, 7], vertical_alignment="bottom")
    if replaying:  # the replay's own slider, on the map, is the one that moves
        epoch = epochs[-1]
        e1.caption(f"Replaying epochs {epochs[0]} to {epochs[-1]}: Play and the epoch slider are on the map.")
        e2.button("Back to the map", icon=":material/arrow_back:", key="map_replay_back", on_click=_stop_replay,
                  type="primary", width="stretch")
    elif len(epochs) > 1:
        epoch = e1.select_slider("Epoch (0 = the untrained net): how the map formed", epochs, value=epochs[-1],
                                 key=key)
        e2.button("Replay", icon=":material/play_arrow:", key="map_replay", width="stretch",
                  on_click=_start_replay, args=(str(run.path),),
                  help="Play the map through every epoch snapshot, from the untrained net to the last "
                       "epoch, on axes fixed for all epochs (each map is fitted once, then cached)")
    else:
        epoch = epochs[0]
        e1.caption(f"Epoch {epoch} (the only snapshot)")
    e3.text_input("Find points", key=f"map_find-{SCOPE}", placeholder="test 12 · shifted 40 · a class name",
                  on_change=_find, args=(str(run.path), int(epoch)),
                  help="Select points by split and row (test 12, shifted 40, train 7; several with "
                       "commas), or every point of a class by its name. The found points become the "
                       "selection.")
    return MapChoice(method=method, params=params, layout=layout, colour=colour, splits=list(splits),
                     epoch=int(epoch), classes=classes, shifts=shifts, knn=knn,
                     lines=bool(st.session_state.get("map_lines", False)))


def epoch_key(run) -> str:
    """A new slider, starting on the newest epoch, whenever a running run adds a snapshot or a
    replay ends (the replay ends on the last epoch; so does the slider)."""
    replays = st.session_state.get("_replays", 0)
    return (f"map_epoch-{run.name}" + (f"-{len(run.epochs)}" if run.state == rundir.RUNNING else "")
            + (f"-r{replays}" if replays else ""))


def _parameters(cell, method: str) -> dict:
    params = {}
    with cell.popover(":material/tune:", disabled=method == "raw", width="stretch",
                      help="The projection's parameters" if method != "raw" else "raw 2-D has no parameters"):
        if method == "pca":
            params["whiten"] = st.toggle("Whiten", value=default("pca", "whiten"), key="map_whiten")
        elif method == "tsne":
            params["perplexity"] = float(st.slider("Perplexity", 5, 100, int(default("tsne", "perplexity")), key="map_perplexity"))
            params["n_iter"] = st.slider("Iterations (after 100 with early exaggeration)", 50, 2000,
                                         TSNE_ITERATIONS, step=50, key="map_n_iter")
            params["metric"] = st.selectbox("Metric", ["euclidean", "cosine"], key="map_tsne_metric")
        elif method == "umap":
            params["n_neighbors"] = st.slider("Neighbours", 2, 100, default("umap", "n_neighbors"), key="map_n_neighbors")
            params["min_dist"] = st.slider("Min. distance", 0.0, 1.0, default("umap", "min_dist"), step=0.05,
                                             key="map_min_dist")
            params["metric"] = st.selectbox("Metric", ["euclidean", "cosine"], key="map_umap_metric")
    return params


def _filter(cell, run) -> tuple[list[int], list[int], str]:
    """Which points the map shows: classes, shifts, and k-NN right or wrong."""
    names = run.class_names
    shifts = sorted({0, *run.shifts}) if "shifted" in run.splits else []
    active = bool(st.session_state.get(f"map_classes-{run.name}") or st.session_state.get(f"map_shifts-{run.name}")
                  or st.session_state.get("map_knn", "all") != "all")
    with cell.popover("Filter", icon=":material/filter_alt:" if not active else ":material/filter_alt_off:",
                      width="stretch", help="Show only some classes, shifts, or the points k-NN gets right or wrong"):
        classes = st.multiselect("Classes", list(range(len(names))), format_func=lambda c: names[c],
                                 key=f"map_classes-{run.name}", placeholder="every class")
        chosen_shifts = st.multiselect("Shifts (px; 0 = train and test)", shifts, format_func=shift_caption,
                                       key=f"map_shifts-{run.name}", placeholder="every shift") if shifts else []
        knn = st.radio("k-NN on test and shifted points", ["all", "right", "wrong"], key="map_knn",
                       horizontal=True)
        if st.session_state.get("map_layout") == "overlay":
            st.multiselect("Splits in the overlay", run.splits, default=run.splits, key="map_splits",
                           format_func=SPLIT_TITLES.get)
    return list(classes), list(chosen_shifts), knn


def _start_replay(path: str) -> None:
    st.session_state["map_replay_run"] = path


def _stop_replay() -> None:
    st.session_state.pop("map_replay_run", None)
    st.session_state["_replays"] = st.session_state.get("_replays", 0) + 1


SPLIT_WORDS = {"train": "train", "test": "test", "shifted": "shifted", "shift": "shifted", "shifted-test": "shifted"}


def find_points(points: pd.DataFrame, class_names: list[str], query: str) -> list[tuple[str, int]]:
    """Points named by a query: "test 12", "shifted 40, train 3", "12" (a test row), or a class name
    (every point of the class). Unknown parts find nothing."""
    found = []
    keys = set(zip(points["split"].astype(str), points["row"].astype(int)))
    for part in [p.strip() for p in re.split(r"[,;]", query or "") if p.strip()]:
        match = re.fullmatch(r"(?:(train|test|shifted|shift|shifted-test)\s*(?:row)?\s*)?#?(\d+)", part, re.I)
        if match:
            split = SPLIT_WORDS[(match.group(1) or "test").lower()]
            if (split, int(match.group(2))) in keys:
                found.append((split, int(match.group(2))))
            continue
        lowered = [n.lower() for n in class_names]
        if part.lower() in lowered:
            label = lowered.index(part.lower())
            chosen = points[points["label"] == label]
            found += list(zip(chosen["split"].astype(str), chosen["row"].astype(int)))
    return list(dict.fromkeys(found))


def _find(path: str, epoch: int) -> None:
    query = st.session_state.get(f"map_find-{SCOPE}", "")
    if not query.strip():
        return
    run = cached.open_run(path)
    found = find_points(run.points(epoch), run.class_names, query)
    st.session_state["_find_message"] = (f"Found {len(found)} point{'s' if len(found) != 1 else ''} for “{query}”."
                                         if found else f"No point matches “{query}” (try test 12, shifted 40 "
                                         "or a class name).")
    if found:
        set_selection(SCOPE, path, found, how="search")


# ---------------------------------------------------------------- the map


def map_section(run) -> tuple[int, Callable[[], None] | None]:
    """The map's controls (and the replay) now, the map itself later: returns (the epoch the rest
    of the page shows, a function that draws the map in its place, or None).

    The page draws the selection panel in between, so that a new selection's thumbnails reach the
    browser before the map that highlights it: the redraw of a large map holds the browser up for
    seconds, and anything sent after it waits."""
    st.subheader("Embedding map", anchor="embedding-map")
    choice = map_controls(run)
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


def draw_map(run, choice: MapChoice, table=None, moved=None, note: str = "") -> None:
    """The map (the WebGL map element) with its selection, marks and notes. A live map (see
    ``live``) passes the table it keeps and the newest epoch's positions (``moved``)."""
    from ui.map_element import element, view
    from ui.map_element.table import ids_of, points_of

    def bounds(table, moved):
        from ui.map_element.table import bounds as box

        return box([table.frame, moved])

    frame = map_frame(run, choice)
    shown = filtered(frame, choice)
    selected = selection_points(SCOPE, str(run.path))
    panels, where = map_panels(run, shown, choice, selected)
    table = map_table(run, choice, frame) if table is None else table
    layer = element.Overlays()
    clusters.add_centres(layer, run, frame, choice, where)
    overlays.add_overlays(layer, run, frame, choice, selected, where, picked_point(run, selected))
    lit = selected + overlays.linked_copies(frame, selected, choice.lines)
    atlas = hidden_atlas(run)
    splits = [choice.splits] if choice.layout == "overlay" else [[s] for s in run.splits]
    spec = view.MapSpec(
        table, run.class_names, choice.colour,
        [view.PanelSpec(p.title, s, empty=empty_text(run, s, choice)) for p, s in zip(panels, splits)],
        title=f"{METHOD_NAMES[choice.method]} map at epoch {choice.epoch}, coloured by {COLOUR_NAMES[choice.colour]}",
        height=640 if choice.layout == "overlay" else 480, layout=choice.layout, classes=choice.classes,
        shifts=choice.shifts, knn=choice.knn, selected_ids=ids_of(table, lit), overlays=layer.items, atlas=atlas,
        bounds=axis_bounds(run, choice, table) or (bounds(table, moved) if moved is not None else None), moved=moved)
    path = str(run.path)
    st.session_state["_map_spec"] = view.show(
        SCOPE, spec, on_selection=lambda ids: set_selection(SCOPE, path, points_of(table, ids), how="map"),
        on_cleared=lambda: clear_selection(SCOPE))
    notes(run, frame, shown, choice, table, bool(atlas), note)
    export_lazy(lambda: plotly_map(run, choice, frame, shown, selected, where),
                f"{run.name}-map-{choice.method}-epoch{choice.epoch}", "map")
    st.session_state["_map_shown"] = (str(run.path), choice.epoch, choice.method, cached.projection_params_key(choice.params))


def select_help(hover: bool) -> str:
    return ("Drag a lasso (or pick Box above the map) to select points: a new selection replaces the old "
            "one in every panel, and the other points stay, dimmed; double-click the map to clear it. "
            "The wheel zooms and Pan drags; every panel follows (untick Link zoom to zoom one alone). "
            + ("Hover a point to see its image; zoom in until a few hundred points are in view to see "
               "every point as its image. " if hover else
               "Images on hover and as points are off for a run this large (its image sheet would be "
               "too big); select points to see them. "))


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


def hidden_atlas(run, scope: str = SCOPE) -> dict | None:
    """The run's image atlas as a hidden image (served once from Streamlit's media endpoint, so
    the browser caches it), for the map's hover images and thumbnails; None above its size cap."""
    atlas = cached.image_atlas(run.path)
    if not atlas:
        return None
    key = f"map-atlas-{scope}"
    with st.container(key=key):
        st.image(atlas["png"], width=atlas["columns"] * atlas["width"], output_format="PNG")
    return {**atlas, "key": key}


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

    chosen = set(selected)

    def title(name: str, points: pd.DataFrame) -> str:
        text = f"{name} · {len(points):,} points"
        if chosen:
            keys = pd.MultiIndex.from_arrays([points["split"].astype(str), points["row"].astype(np.int64)])
            text += f" · {int(keys.isin(list(chosen)).sum())} selected"
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

