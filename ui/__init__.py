"""Streamlit pages of the embedding explorer: widgets, caching and layout only.

Analysis and figures live in ``explorer/``; training lives in ``training/``. Nothing here imports
torch. ``ui/pages/*.py`` are the page scripts that ``app.py`` registers with ``st.navigation``.
"""
