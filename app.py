"""Embedding explorer: the Streamlit app. Start it with `make app`.

A thin router: it registers the three pages and turns any error a page lets through into one
line on the page (no traceback). The pages live in ui/; analysis and figures in explorer/;
training runs as separate processes started through training.launch. Runs are read from
$EXPLORER_RUNS_DIR (default ./runs). No torch is imported here.
"""

import logging
import traceback

import streamlit as st

from ui.common import PAGE_COMPARE, PAGE_INSPECT, PAGE_NEW, one_line

st.set_page_config(page_title="Embedding explorer", page_icon=":material/scatter_plot:", layout="wide",
                   initial_sidebar_state=380)

pages = [
    st.Page(PAGE_INSPECT, title="Inspect a run", icon=":material/search:", url_path="inspect", default=True),
    st.Page(PAGE_NEW, title="New run", icon=":material/rocket_launch:", url_path="new"),
    st.Page(PAGE_COMPARE, title="Compare runs", icon=":material/compare:", url_path="compare"),
]
page = st.navigation(pages, position="sidebar")
try:
    page.run()
except Exception as error:  # noqa: BLE001 - st.rerun and st.stop are BaseExceptions and pass through
    logging.getLogger("explorer.app").error("page error:\n%s", traceback.format_exc())
    st.error(f"This page hit an error: {one_line(error)} Other pages still work; the details "
             "are in the terminal running the app.", icon=":material/error:")
