"""The map's pictures: each point's image, for the hover tip and for the thumbnails drawn at high
zoom. They travel as sheets: one grayscale PNG of equal cells, and the image numbers it holds.

A source small enough (at most SHEET_MAX_PIXELS, about 20,000 MNIST-sized images) goes in one
sheet, once a session, with the first page that shows it (the browser asks again if it lost it);
the map then gets each point's image number as a table (4 bytes a point). A larger one goes a
view at a time, and its map gets no such table: the element asks for the points in view (a few
hundred) or under the mouse, by their row ids, and the courier (a fragment of its own) answers,
without rerunning the page, with a sheet of their images and each point's image number. The
browser keeps every sheet while the page is open, per source, so going back costs nothing.

An image number is the point's split's offset plus its row (``table.image_cells``)."""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd
import streamlit as st

SHEET_MAX_PIXELS = 16_000_000  # a whole source in one sheet up to this; a view at a time above
SHEET_WIDTH = 4096  # px; a sheet's cells wrap at this width
CELL_MAX = 64  # px; larger images are shrunk to this side in a sheet
ASK_MAX = 2_000  # images one request may ask for
COURIER = "map-images-{scope}"  # the courier's container key (hidden by its CSS)
ASKED = "_map-images-asked-{scope}"
SENT = "_map-images-sent"  # the sources this session was sent whole (the browser keeps them page-wide)


@dataclass(frozen=True, eq=False)
class ImageSource:
    """Images numbered 0..count-1: ``read(numbers)`` gives them as uint8 (k, height, width).
    ``offsets`` gives each split's first number; ``key`` names the source in the browser."""

    key: str
    count: int
    height: int
    width: int
    offsets: dict[str, int]
    read: Callable[[np.ndarray], np.ndarray]

    @property
    def cell(self) -> tuple[int, int]:
        """(height, width) of a cell: the images', shrunk to at most CELL_MAX a side."""
        scale = min(1.0, CELL_MAX / max(self.height, self.width, 1))
        return max(1, round(self.height * scale)), max(1, round(self.width * scale))

    @property
    def whole(self) -> bool:
        h, w = self.cell
        return self.count * h * w <= SHEET_MAX_PIXELS


def run_source(run) -> ImageSource | None:
    """The run's images of every split it saved, in the run's split order; None without any."""
    from runfmt import IMAGES_DIR

    images_dir = run.path / IMAGES_DIR
    splits = [s for s in run.splits if (images_dir / f"{s}.npy").exists()]
    arrays = [run.images(s) for s in splits]
    if not arrays or not sum(len(a) for a in arrays):
        return None
    offsets = dict(zip(splits, np.cumsum([0] + [len(a) for a in arrays[:-1]]).tolist()))
    h, w = arrays[0].shape[1:3]
    stamp = max((images_dir / f"{s}.npy").stat().st_mtime_ns for s in splits)
    key = hashlib.blake2b(f"{run.path.resolve()}|{stamp}".encode(), digest_size=8).hexdigest()
    return ImageSource(key, sum(len(a) for a in arrays), int(h), int(w), offsets, _reader(arrays, (h, w)))


def for_run(run) -> ImageSource | None:
    """The run's images for its map (``run_source``), or None with one line under the map when
    they cannot be read: the map draws its points without them."""
    from runfmt import RunDirError

    try:
        return run_source(run)
    except (RunDirError, OSError, ValueError) as e:
        st.caption(f":material/hide_image: The map shows no images: {e}")
        return None


def _reader(arrays: list[np.ndarray], shape: tuple[int, int]) -> Callable[[np.ndarray], np.ndarray]:
    starts = np.cumsum([0] + [len(a) for a in arrays[:-1]])

    def read(numbers: np.ndarray) -> np.ndarray:
        numbers = np.asarray(numbers, dtype=np.int64)
        out = np.zeros((len(numbers), *shape), np.uint8)
        part = np.searchsorted(starts, numbers, side="right") - 1
        for k, (start, images) in enumerate(zip(starts, arrays)):
            chosen = np.flatnonzero(part == k)
            if len(chosen):
                out[chosen] = _fit(np.asarray(images[numbers[chosen] - start]), shape)
        return out

    return read


def _fit(images: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Images resized to (height, width) where they differ from it."""
    if images.shape[1:3] == tuple(shape):
        return images
    from PIL import Image

    return np.stack([np.asarray(Image.fromarray(i).resize(shape[::-1], Image.BILINEAR)) for i in images])


def sheet(source: ImageSource, numbers: np.ndarray) -> tuple[bytes, int]:
    """(PNG, columns): the images ``numbers`` as cells of one grayscale sheet, in that order."""
    from PIL import Image

    h, w = source.cell
    images = _fit(source.read(numbers), (h, w))
    columns = max(1, min(len(images), SHEET_WIDTH // w))
    rows = -(-len(images) // columns)
    cells = np.zeros((rows * columns, h, w), np.uint8)
    cells[:len(images)] = images
    grid = cells.reshape(rows, columns, h, w).transpose(0, 2, 1, 3).reshape(rows * h, columns * w)
    buffer = io.BytesIO()
    Image.fromarray(grid).save(buffer, format="PNG", compress_level=3)
    return buffer.getvalue(), columns


@st.cache_data(max_entries=8, show_spinner=False)
def _whole_sheet(key: str, _source: ImageSource) -> tuple[bytes, int]:
    return sheet(_source, np.arange(_source.count))


# ---------------------------------------------------------------- the courier


_component = None


def component():
    global _component
    if _component is None:
        from ui.map_element.element import loader

        _component = st.components.v2.component(
            "embedding_map_images", js=loader("courier"), isolate_styles=False,
            css="div[class*='st-key-map-images-'] {\n  display: none !important;\n}\n")
    return _component


def show(scope: str, source: ImageSource | None, table) -> dict | None:
    """Mount the courier of ``source`` for the map of ``scope`` drawing ``table`` (its
    PointTable); returns the map spec's "images" entry (None without a source)."""
    if source is None:
        return None
    from ui.map_element.table import SPLIT_CODES

    with st.container(key=COURIER.format(scope=scope)):
        _courier(scope, source, table)
    return {"source": source.key, "courier": scope, "count": source.count, "whole": source.whole,
            "offsets": {str(SPLIT_CODES[s]): int(o) for s, o in source.offsets.items() if s in SPLIT_CODES}}


@st.fragment
def _courier(scope: str, source: ImageSource, table) -> None:
    from runfmt import RunDirError

    spec = {"scope": scope, "source": source.key, "whole": source.whole, "count": source.count}
    data: dict = {}
    asked = st.session_state.pop(ASKED.format(scope=scope), None)
    sent = st.session_state.setdefault(SENT, set())
    if source.whole and source.key not in sent:  # with the page, so hover needs no request
        sent.add(source.key)
        asked = {"source": source.key, "all": True}
    if asked is not None and asked.get("source") == source.key:
        try:
            found = answer(source, asked, table)
        except (RunDirError, OSError, ValueError) as e:  # the files changed under the page
            found, spec["error"] = None, str(e)
        if found is not None:
            png, sheet = found
            name = hashlib.blake2b(png, digest_size=12).hexdigest()
            h, w = source.cell
            spec["sheet"] = {"name": name, "height": h, "width": w, **sheet}
            data[f"t_{name}"] = pd.DataFrame({"png": [png]})
    key = COURIER.format(scope=scope) + "-element"
    component()(key=key, data={"spec": spec, **data}, on_want_change=lambda: _wanted(key, scope))


def answer(source: ImageSource, asked: dict, table) -> tuple[bytes, dict] | None:
    """(PNG, what it holds) for a request: every image, for ``all`` of a source small enough
    ({columns, images: None}); else the images of the asked points of ``table`` (row ids, at
    most ASK_MAX), if the request was made on it ({columns, images: the image number of each
    cell, table, ids: the points answered, numbers: their image numbers})."""
    from ui.map_element.table import image_numbers

    if asked.get("all") and source.whole:
        png, columns = _whole_sheet(source.key, source)
        return png, {"columns": columns, "images": None}
    if table is None or asked.get("table") != table.hash:
        return None  # asked on a map drawn before: the browser asks again on the new one
    ids = np.asarray([i for i in asked.get("ids") or [] if isinstance(i, int)], dtype=np.int64)
    ids = np.unique(ids[(ids >= 0) & (ids < len(table))])[:ASK_MAX]
    numbers = image_numbers(table.frame.iloc[ids], source.offsets)
    ids, numbers = ids[numbers >= 0], numbers[numbers >= 0]
    if not len(ids):
        return None
    images = np.unique(numbers)
    png, columns = sheet(source, images)
    return png, {"columns": columns, "images": images.tolist(), "table": table.hash, "ids": ids.tolist(),
                 "numbers": numbers.tolist()}


def _wanted(key: str, scope: str) -> None:
    state = st.session_state.get(key)
    try:
        asked = state["want"]
    except (KeyError, TypeError, AttributeError):
        return
    if isinstance(asked, dict):
        st.session_state[ASKED.format(scope=scope)] = asked
