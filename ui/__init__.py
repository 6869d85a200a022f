"""Streamlit pages of the embedding explorer: widgets, caching and layout only.

Analysis and figures live in ``explorer/``; training lives in ``training/``. Nothing here imports
torch. ``ui/pages/*.py`` are the page scripts that ``app.py`` registers with ``st.navigation``;
``ui/inspect/`` holds the Inspect page, one module per panel; ``ui/new_run.py`` and
``ui/compare.py`` the other two pages. Pages share widgets through ``ui/widgets.py`` and cached
runs, maps and analyses through ``ui/cached.py`` and ``ui/cached_analyses.py``, and never import
each other.
"""
