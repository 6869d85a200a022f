"""Embedding explorer: the Streamlit app. Start it with `make app`.

A thin router: it registers the pages and turns any error a page lets through into one
line on the page (no traceback). The pages live in ui/ (ui/pages/*.py are their scripts; panels in
ui/inspect/, shared widgets in ui/widgets.py, cached runs and maps in ui/cached.py, cached
analyses in ui/cached_analyses.py); analysis and figures in explorer/; training runs as separate
processes started through training.launch. Runs are read from $EXPLORER_RUNS_DIR (default
./runs). No torch is imported here.
"""

import logging
import traceback

import streamlit as st

from ui import cached
from ui.widgets import PAGE_COMPARE, PAGE_INSPECT, PAGE_NEW, PAGE_SEEDS, one_line

st.set_page_config(page_title="Embedding explorer", page_icon=":material/scatter_plot:", layout="wide",
                   initial_sidebar_state=340)
# Less empty space around the page and a smaller title, so the map starts higher on a laptop screen.
st.html("<style>[data-testid='stMainBlockContainer'] { padding: 2rem 2.5rem 4rem 2.5rem; }"
        "[data-testid='stMainBlockContainer'] h1 { font-size: 2rem; padding: 0.4rem 0 0.2rem 0; }"
        # every analysis tab in view at 1280 px: closer tabs, and a second row rather than a hidden scroll
        "[data-testid='stTabs'] [role='tablist'] { flex-wrap: wrap; column-gap: 1.1rem; }"
        # four map panels side by side only where each gets about 280 px; else a 2×2 grid
        ".emap { container-type: inline-size; }"
        "@container (max-width: 1150px) { .emap-panels:has(> :nth-child(4):last-child) "
        "{ grid-template-columns: repeat(2, minmax(0, 1fr)) !important; } }</style>")

inspect = st.Page(PAGE_INSPECT, title="Inspect a run", icon=":material/search:", default=True)


def _inspect_alias() -> None:
    """/inspect: the default page lives at /, so this address leads there instead of "Page not found"."""
    st.switch_page(inspect)


pages = [
    inspect,
    st.Page(PAGE_NEW, title="New run", icon=":material/rocket_launch:", url_path="new"),
    st.Page(PAGE_COMPARE, title="Compare runs", icon=":material/compare:", url_path="compare"),
    st.Page(PAGE_SEEDS, title="Seed experiments", icon=":material/fact_check:", url_path="seeds"),
    st.Page("ui/pages/import_run.py", title="Import embeddings", icon=":material/upload:", url_path="import"),
    st.Page(_inspect_alias, title="Inspect a run", url_path="inspect", visibility="hidden"),
]
page = st.navigation(pages, position="sidebar")
cached.start_warm_up()
try:
    problem = cached.runs_dir_problem()
    if problem:
        st.error(problem, icon=":material/error:")
        st.stop()
    page.run()
except Exception as error:  # noqa: BLE001 - st.rerun and st.stop are BaseExceptions and pass through
    logging.getLogger("explorer.app").error("page error:\n%s", traceback.format_exc())
    st.error(f"This page hit an error: {one_line(error)} Other pages still work; the details "
             "are in the terminal running the app.", icon=":material/error:")
