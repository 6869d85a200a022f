"""The live map: while a run trains, its Inspect map follows the newest snapshot without a page
rerun (a fragment that looks at the run every LIVE_SECONDS), and the points glide from each
epoch's place to the next. Raw 2-D as it is; PCA aligned to the map before (an orthogonal
Procrustes fit on the shared points), so a sign flip of a component does not throw the points
across the map. A t-SNE or UMAP map, or an older epoch on the slider, reruns the page when a
snapshot lands, as before."""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

import runfmt as rundir
from ui import cached
from ui.inspect.map import SCOPE, MapChoice, draw_map, map_frame
from ui.widgets import error_panel

LIVE_SECONDS = 2.0
LIVE_METHODS = ("raw", "pca")
STATE = "_live-map"


def follows(run, choice: MapChoice) -> bool:
    """Does this page's map follow the run live (a running run, its newest epoch chosen)?"""
    live = run.state == rundir.RUNNING and choice.epoch == run.epochs[-1]
    if live:
        st.session_state[f"{STATE}-generation"] = st.session_state.get(f"_generation-{SCOPE}", 0)
    return live


@st.fragment(run_every=LIVE_SECONDS)
def live_map(path: str, choice: MapChoice) -> None:
    run = cached.open_run(path)
    if run.state != rundir.RUNNING or st.session_state.get(f"_generation-{SCOPE}", 0) != \
            st.session_state.get(f"{STATE}-generation"):
        st.rerun(scope="app")  # the run ended, or a new selection: the whole page follows
    newest = run.epochs[-1]
    kept = st.session_state.get(STATE)
    key = (path, choice.method, str(choice.params), choice.colour, choice.knn)
    if choice.method not in LIVE_METHODS:
        if kept is not None and kept["key"] == key and kept["epoch"] != newest:
            st.rerun(scope="app")
        st.session_state[STATE] = {"key": key, "epoch": newest}
        with error_panel("the embedding map"):
            draw_map(run, replace(choice, epoch=newest))
        return
    with error_panel("the embedding map"):
        from explorer.projections import align
        from ui.map_element import table as tables

        frame = map_frame(run, replace(choice, epoch=newest))
        if kept is None or kept.get("key") != key or "table" not in kept:
            kept = {"key": key, "table": tables.point_table(frame), "epoch": newest, "frame": frame}
        elif kept["epoch"] == newest:
            frame = kept["frame"]  # as drawn (aligned) when it landed
        elif choice.method == "pca":
            frame = align(frame, kept["frame"])  # points, lines and marks alike
        kept.update(epoch=newest, frame=frame)
        st.session_state[STATE] = kept
        draw_map(run, replace(choice, epoch=newest), table=kept["table"], moved=tables.positions(kept["table"], frame),
                 frame=frame,
                 note=f"Live: the map follows the training, now at epoch {newest} (it looks again every "
                      f"{LIVE_SECONDS:.0f} s; the points glide to each new epoch's place).")
