"""The map's controls: projection, layout, colouring, parameters, filter, epoch, Replay and Find;
what they choose is a ``MapChoice``. The link in the address bar (ui.url_state) sets them on a
page's first run and records them after."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pandas as pd
import streamlit as st

from explorer.projection_methods import default, methods_for
import runfmt as rundir
from ui import cached, url_state
from ui.widgets import COLOUR_NAMES, METHOD_NAMES, SPLIT_TITLES, set_selection, shift_caption

SCOPE = "inspect"
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
    colours = [c for c in COLOUR_NAMES if c != "cluster" or run.config.get("loss") == "magnet"]
    url_state.from_url("map", f"map_method-{two_d}", methods, what="projection")
    url_state.from_url("layout", "map_layout", LAYOUTS, what="layout")
    url_state.from_url("colour", "map_colour", colours, what="colouring")
    c1, c2, c3, c4, c5 = st.columns([26, 19, 15, 6, 10], vertical_alignment="bottom")
    method = c1.segmented_control("Projection", methods, default=methods[0], key=f"map_method-{two_d}",
                                  required=True, format_func=METHOD_NAMES.get,
                                  help="raw 2-D draws a 2-D embedding as it is; PCA, t-SNE and UMAP are "
                                       "fitted on the train split, and test and shifted points are placed "
                                       "into that map") or methods[0]
    layout = c2.segmented_control("Layout", LAYOUTS, default="side by side",
                                  key="map_layout", required=True) or "side by side"
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
    url_state.from_url("epoch", key, epochs, decode=int, what="epoch")
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
    for name, value in (("map", method), ("layout", layout), ("colour", colour), ("epoch", epoch)):
        url_state.to_url(name, value)
    for name in PARAMETERS:
        url_state.to_url(name, params.get(name))
    return MapChoice(method=method, params=params, layout=layout, colour=colour, splits=list(splits),
                     epoch=int(epoch), classes=classes, shifts=shifts, knn=knn,
                     lines=bool(st.session_state.get("map_lines", False)))


def epoch_key(run) -> str:
    """A new slider, starting on the newest epoch, whenever a running run adds a snapshot or a
    replay ends (the replay ends on the last epoch; so does the slider)."""
    replays = st.session_state.get("_replays", 0)
    return (f"map_epoch-{run.name}" + (f"-{len(run.epochs)}" if run.state == rundir.RUNNING else "")
            + (f"-r{replays}" if replays else ""))


LAYOUTS = ["side by side", "overlay"]
PARAMETERS = ("whiten", "perplexity", "n_iter", "metric", "n_neighbors", "min_dist")  # in the URL by these names


def _parameters(cell, method: str) -> dict:
    params = {}
    if method == "pca":
        url_state.from_url("whiten", "map_whiten", [True, False], decode=lambda text: text == "True")
    elif method == "tsne":
        url_state.from_url("perplexity", "map_perplexity", decode=url_state.number(int, 5, 100))
        url_state.from_url("n_iter", "map_n_iter", decode=url_state.number(int, 50, 2000))
        url_state.from_url("metric", "map_tsne_metric", ["euclidean", "cosine"])
    elif method == "umap":
        url_state.from_url("n_neighbors", "map_n_neighbors", decode=url_state.number(int, 2, 100))
        url_state.from_url("min_dist", "map_min_dist", decode=url_state.number(float, 0.0, 1.0))
        url_state.from_url("metric", "map_umap_metric", ["euclidean", "cosine"])
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
