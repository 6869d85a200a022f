"""The page's order: picker, header (and the live job while it trains), map, selection, tabs."""

from __future__ import annotations

import streamlit as st

import runfmt as rundir
from ui import cached, url_state
from ui.inspect import map as map_panel
from ui.inspect import picker, selection, tabs
from ui.jobs import demo_panel
from ui.widgets import ERROR_ICON, PAGE_NEW, error_panel


def render() -> None:
    table = cached.runs_table()
    path = picker.run_picker(table)
    problems = st.empty()  # what a link asked for that is not here, once the widgets have read it
    try:
        _run_view(table, path)
    finally:
        url_state.link_problems(problems)


def _run_view(table, path: str | None) -> None:
    if path is None:
        st.title("Embedding explorer")
        st.caption(f"Runs directory: `{cached.runs_dir()}` (set EXPLORER_RUNS_DIR to use another).")
        demo_panel(key="demo-inspect")
        st.page_link(PAGE_NEW, label="…or set up your own run on the New run page", icon=":material/rocket_launch:")
        return

    row = table.set_index("path").loc[path]
    if row["state"] == "unreadable":
        picker.title(row)
        st.error(f"This run cannot be read: {row['error']}. Pick another run in the sidebar, or "
                 "delete or repair this run directory.", icon=ERROR_ICON)
        return
    opening = st.empty()  # the new run's name at once, not the last run's header while this one opens
    with opening.container():
        picker.title(row)
        st.caption(":material/hourglass_top: Opening the run…")
    try:
        run = cached.open_run(path)
    except (rundir.RunDirError, ValueError, OSError) as e:
        st.error(f"This run cannot be opened: {e}. Pick another run in the sidebar, or delete or "
                 "repair this run directory.", icon=ERROR_ICON)
        return
    opening.empty()
    picker.header(run, row)
    if not run.epochs:
        picker.no_snapshot_yet(run)
        return
    epoch, draw_map = run.last_epoch, None  # what the rest shows if the map cannot be drawn
    with error_panel("the embedding map"):
        epoch, draw_map = map_panel.map_section(run)
    with error_panel("the selection"):
        selection.selection_panel(run, epoch)
    if draw_map:  # in its place above the selection, sent after it (see map_section)
        draw_map()
    tabs.analysis_tabs(run, epoch)
