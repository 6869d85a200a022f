"""A page with nothing but the map element, for its browser tests and bench/app_speed.py: a grid
of points with known places (so a box or lasso has an exact answer), their images, and the row
ids Python receives, printed. Query parameters pick the case:

    ?n=900          points per panel (a square grid, rounded down)
    ?panels=3       train, test, and an empty held-out panel (1: train alone)
    ?case=replay    three epochs: the grid, the grid stretched ×2, ×3
    ?plotly=1       the same points as the app's old plotly map (bench/app_speed.py's "before")

Point k's image is k's bits as a pattern; above about 20,000 images (two panels of ?n=12100) the
images come a view at a time (ui/map_element/images.py).

A "Colour by" box changes the colouring (the bench counts the bytes that change sends).

Run it from a folder whose ``static`` links to the repository's (tests/browser/test_map_element.py
and the bench do), with --server.enableStaticServing true."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] if (Path(__file__).resolve().parents[2] / "ui").exists() else Path.cwd()
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import streamlit as st  # noqa: E402

from ui.map_element import table as tables, view  # noqa: E402
from ui.map_element.images import ImageSource  # noqa: E402

SIDE = 28  # image side, px


def grid(n: int, split: str, stretch: float = 1.0) -> pd.DataFrame:
    side = max(1, int(np.sqrt(n)))
    i = np.arange(side * side)
    return pd.DataFrame({"split": split, "row": i, "label": (i % side) * 3 // side, "class_name": "",
                         "shift": 0, "x": (i % side).astype(float) * stretch, "y": (i // side).astype(float) * stretch})


def patterns(numbers: np.ndarray) -> np.ndarray:
    """Each point's image: its number's bits as a pattern of bright blocks, so each differs."""
    numbers = np.asarray(numbers, dtype=np.int64)
    cells = np.full((len(numbers), SIDE, SIDE), 40, np.uint8)
    for bit in range(12):
        on = ((numbers >> bit) & 1).astype(bool)
        cells[on, 4 + (bit // 4) * 7:9 + (bit // 4) * 7, 2 + (bit % 4) * 6:6 + (bit % 4) * 6] = 255
    return cells


params = st.query_params
n = int(params.get("n", 900))
n_panels = int(params.get("panels", 3))
colour = st.selectbox("Colour by", ["class", "split"], key="colour")
splits = ["train", "test", "heldout"][:n_panels]
frames = [grid(n, s) for s in splits if s != "heldout"]
frame = pd.concat(frames, ignore_index=True)
started = time.perf_counter()
table = tables.point_table(frame)
per = len(frames[0])
pictures = ImageSource(f"harness-{per}-{len(splits)}", per * len(frames), SIDE, SIDE,
                       {s: k * per for k, s in enumerate(splits)}, patterns)
replay = None
if params.get("case") == "replay":
    replay = [(e, tables.positions(table, frame.assign(x=frame["x"] * (e + 1), y=frame["y"] * (e + 1))))
              for e in range(3)]
if params.get("plotly"):
    from explorer.maps import Panel, map_figure

    fig = map_figure([Panel(s, frame[frame["split"] == s]) for s in splits if s != "heldout"], ["a", "b", "c"],
                     colour, title="harness")
    with st.container(key="plotly-harness"):
        st.plotly_chart(fig, key="plotly-map", config={"displaylogo": False})
    st.stop()
received = st.session_state.setdefault("received", [])
st.session_state["page_runs"] = st.session_state.get("page_runs", 0) + 1  # fragments do not count
spec = view.MapSpec(
    table, ["a", "b", "c"], colour,
    [view.PanelSpec(f"{s} · {per if s != 'heldout' else 0} points", [s], empty="No held-out points in this run.")
     for s in splits],
    title="harness", height=420, images=pictures, replay=replay,
    bounds=tables.bounds([f for _, f in replay]) if replay else None,
    selected_ids=tables.ids_of(table, st.session_state.get("selected", [])))


def chosen(ids) -> None:
    points = tables.points_of(table, ids)
    st.session_state["selected"] = points
    received.append({"count": len(points), "at": time.time()})
    st.session_state["last"] = points


def cleared() -> None:
    st.session_state["selected"] = []
    st.session_state["last"] = []
    received.append({"count": 0, "at": time.time()})


sent = view.show("harness", spec, on_selection=chosen, on_cleared=cleared)
st.caption(f"server part {time.perf_counter() - started:.3f} s")
last = st.session_state.get("last")
shown = [f"{s}:{r}" for s, r in last or []] if len(last or []) <= 5000 else ["(more than 5000)"]
st.code(json.dumps({"events": len(received), "count": len(last or []), "points": shown,
                    "page_runs": st.session_state["page_runs"],
                    "at": received[-1]["at"] if received else None}), language=None)
