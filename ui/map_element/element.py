"""The map element in the page: one Streamlit Components v2 element per map (a scope: Inspect,
Compare, Replay), drawn by regl-scatterplot in the browser (frontend/, bundled into
static/map-element.js, served by Streamlit's static file serving).

Each rerun sends a small JSON spec (titles, colouring, filter, selection as row ids, overlays)
and only those binary tables the browser does not hold yet: tables are named by a hash of their
bytes, the names sent to this session are kept in its session state, and a browser that lacks
one (a reloaded element) asks for it again. Selections come back as row ids."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import streamlit as st

from ui.map_element.ids import decode_ids, encode_ids

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = ROOT / "static" / "map-element.js"
SENT = "_map-sent-{scope}"


def loader(export: str = "default") -> str:
    """An element's script: a few lines that import the bundle from the app's static files
    (sent once, cached by the browser), named by the bundle's hash so a rebuild is fetched, and
    call its function ``export``."""
    version = hashlib.blake2b(BUNDLE.read_bytes(), digest_size=8).hexdigest()
    return ("export default async function (args) {\n"
            f"  const m = await import(new URL('/app/static/map-element.js?v={version}', window.location.origin).href);\n"
            f"  return m.{export}(args);\n}}\n")


_component = None


def component():
    global _component
    if _component is None:
        _component = st.components.v2.component("embedding_map", js=loader(), isolate_styles=False)
    return _component


class Overlays:
    """Lines and marks over a map's panels, in data coordinates: the same calls as
    explorer.maps.add_links and add_marks (panels numbered from 1), kept for the element's spec."""

    def __init__(self) -> None:
        self.items: list[dict] = []

    def add_links(self, panel: int, x0, y0, x1, y1, *, color: str = "#222", width: float = 1.2,
                  dash: str | None = None, opacity: float = 1.0) -> None:
        self.items.append({"kind": "lines", "panel": int(panel) - 1, "x0": _floats(x0), "y0": _floats(y0),
                           "x1": _floats(x1), "y1": _floats(y1), "color": color, "width": width,
                           "dash": bool(dash), "opacity": opacity})

    def add_marks(self, panel: int, x, y, *, text=None, symbol: str = "circle-open", size: float = 16,
                  color="#000", width: float = 2, outline: str | None = None) -> None:
        colours = list(color) if isinstance(color, (list, tuple, np.ndarray, pd.Series)) else [color]
        xs, ys = _floats(x), _floats(y)
        texts = list(text) if text is not None else [""] * len(xs)
        shape = "star" if symbol.startswith("star") else "diamond" if symbol.startswith("diamond") else \
            "x" if symbol.startswith("x") else "ring"
        for colour in dict.fromkeys(colours):
            chosen = [i for i in range(len(xs)) if (colours[i] if len(colours) == len(xs) else colours[0]) == colour]
            self.items.append({"kind": "marks", "panel": int(panel) - 1, "x": [xs[i] for i in chosen],
                               "y": [ys[i] for i in chosen], "text": [str(texts[i]) for i in chosen if i < len(texts)],
                               "symbol": shape, "size": size, "color": colour, "width": width})

    def texts(self) -> list[str]:
        return [t for item in self.items for t in item.get("text", [])]


def _floats(values) -> list[float]:
    return [float(v) for v in np.asarray(values, dtype=np.float64)]


def mount(scope: str, spec: dict, tables: dict[str, pd.DataFrame], *,
          on_selection: Callable[[np.ndarray], None], on_cleared: Callable[[], None]) -> None:
    """Draw the element: ``spec`` (JSON) every time, each of ``tables`` ({hash: frame}) once
    per session. ``on_selection`` gets the selected row ids (int32), ``on_cleared`` a
    double-click on the map."""
    sent = st.session_state.setdefault(SENT.format(scope=scope), set())
    data = {"spec": {**spec, "scope": scope}}
    for name, frame in tables.items():
        if name not in sent:
            data[f"t_{name}"] = frame
            sent.add(name)
    key = element_key(scope)
    n, table = int(spec.get("n", 0)), spec.get("points")
    component()(key=key, data=data,
                on_selection_change=lambda: _selected(key, n, table, on_selection),
                on_cleared_change=lambda: _cleared(key, on_cleared),
                on_missing_change=lambda: _missing(key, scope))


def element_key(scope: str) -> str:
    return f"map-element-{scope}"


def _event(key: str, name: str):
    state = st.session_state.get(key)
    try:
        return state[name]
    except (KeyError, TypeError, AttributeError):
        return None


def _selected(key: str, n: int, table: str, on_selection) -> None:
    payload = _event(key, "selection")
    if not isinstance(payload, dict) or payload.get("n") != n or payload.get("table") != table:
        return  # an event of a map that has changed since: it changes nothing
    on_selection(decode_ids(payload, n))


def _cleared(key: str, on_cleared) -> None:
    if _event(key, "cleared"):
        on_cleared()


def _missing(key: str, scope: str) -> None:
    missing = _event(key, "missing") or []
    sent = st.session_state.get(SENT.format(scope=scope), set())
    for name in missing if isinstance(missing, list) else []:
        sent.discard(str(name))




def encode_selection(ids, n: int) -> dict | None:
    ids = np.asarray(ids)
    return encode_ids(ids, n) if len(ids) else None


class PlotlyLayer:
    """Overlays' calls drawn on a plotly map figure instead (the HTML export)."""

    def __init__(self, fig) -> None:
        self.fig = fig

    def add_links(self, panel: int, *args, **kwargs) -> None:
        from explorer import maps

        maps.add_links(self.fig, panel, *args, **kwargs)

    def add_marks(self, panel: int, *args, **kwargs) -> None:
        from explorer import maps

        maps.add_marks(self.fig, panel, *args, **kwargs)
