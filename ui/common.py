"""What every page shares: the runs directory, cached run loading, error panels, figure display.

Caches are keyed by the run's path and the modification time of its files (``run_mtime``), never
by arrays (st.cache_data hashes only a sample of a large array). Opened runs (memory-mapped images,
the embeddings frame) are read-only and live in st.cache_resource; derived frames in st.cache_data.
"""

from __future__ import annotations

import functools
import logging
import re
import traceback
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import streamlit as st

from training import rundir

log = logging.getLogger("explorer.app")

# Plain-text marks (selectbox labels, tables) from common fonts; material icons where markdown renders.
STATE_ICONS = {"running": "▶", "finished": "✓", "failed": "✗", "cancelled": "■", "unreadable": "⚠"}
STATE_MARKDOWN = {"running": ":blue[:material/progress_activity:]", "finished": ":green[:material/check_circle:]",
                  "failed": ":red[:material/error:]", "cancelled": ":orange[:material/cancel:]",
                  "unreadable": ":red[:material/warning:]"}
ERROR_ICON = ":material/error:"
POLL_SECONDS = 1.0  # how often a running job's panel re-reads status.json

# Page files registered by app.py (paths relative to app.py), so pages can link to each other.
PAGE_NEW = "ui/pages/new_run.py"
PAGE_INSPECT = "ui/pages/inspect_run.py"
PAGE_COMPARE = "ui/pages/compare.py"


# ---------------------------------------------------------------- errors


def one_line(error: BaseException) -> str:
    """The first line of an error's message, without Python's type name where the message says it all."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return text[0].upper() + text[1:] if text else text


@contextmanager
def error_panel(what: str = ""):
    """Run a block; turn any error into one st.error line (the traceback goes to the terminal only).

    ``what`` names the part of the page, e.g. "the embedding map", so the message says where.
    """
    try:
        yield
    except Exception as e:  # noqa: BLE001 - streamlit's rerun/stop are BaseExceptions and pass through
        from training.errors import InputError

        known = isinstance(e, (rundir.RunDirError, InputError, ValueError, FileNotFoundError, KeyError))
        if not known:
            log.error("error in %s:\n%s", what or "the page", traceback.format_exc())
        prefix = f"Cannot show {what}: " if what else ""
        message = one_line(e)
        if not known:
            message = f"{type(e).__name__}: {message} (details are in the terminal running the app)"
        st.error(prefix + message, icon=ERROR_ICON)


# ---------------------------------------------------------------- runs on disk


def runs_dir() -> Path:
    """$EXPLORER_RUNS_DIR, default ./runs."""
    return rundir.default_runs_dir()


def run_mtime(path: str | Path) -> float:
    """Latest modification time of a run's own files: the cache key of everything read from it."""
    path = Path(path)
    names = (rundir.CONFIG, rundir.STATUS, rundir.METRICS, rundir.EMBEDDINGS, rundir.PAIRS)
    times = []
    for name in names:
        try:
            times.append((path / name).stat().st_mtime)
        except OSError:
            pass
    return max(times, default=0.0)


@st.cache_resource(max_entries=24, show_spinner=False)
def _open_run(path: str, mtime: float):
    from explorer.runs import load_run

    return load_run(path)


def open_run(path: str | Path):
    """The explorer's Run for a run directory, reopened only when its files change."""
    return _open_run(str(path), run_mtime(path))


def _listing_key(root: Path) -> tuple:
    return tuple((p.name, run_mtime(p)) for p in rundir.list_run_dirs(root))


@st.cache_data(max_entries=8, show_spinner=False)
def _runs_table(root: str, key: tuple) -> pd.DataFrame:
    from explorer.runs import list_runs

    return list_runs(root)


def runs_table(root: Path | None = None) -> pd.DataFrame:
    """One row per run under ``root``, newest first (see explorer.runs.list_runs)."""
    root = runs_dir() if root is None else Path(root)
    return _runs_table(str(root), _listing_key(root))


def run_label(row) -> str:
    """How a run reads in a picker: state, name, data set, loss, regime, epochs, test k-NN
    accuracy, and when it started (the start of the name, moved to the end)."""
    icon = STATE_ICONS.get(row["state"], "•")
    title, started = split_name(row["name"])
    if row["state"] == "unreadable":
        return f"{icon} {title} · unreadable · {started}".rstrip(" ·")
    parts = [f"{icon} {title}", str(row["state"])]
    parts += [str(row[k]) for k in ("dataset", "loss", "regime") if row.get(k)]
    if row.get("epochs") is not None and not pd.isna(row["epochs"]):
        done = row.get("epoch")
        parts.append(f"{int(done)}/{int(row['epochs'])} ep" if row["state"] != "finished" and done is not None
                     else f"{int(row['epochs'])} ep")
    knn = row.get("test_knn_accuracy")
    if knn is not None and not pd.isna(knn):
        parts.append(f"test k-NN {knn:.3f}")
    if started:
        parts.append(started)
    return " · ".join(parts)


def split_name(name: str) -> tuple[str, str]:
    """("demo-mnist-4-9-contrastive-random", "22 Nov 17:32") from a run directory's name."""
    match = re.match(r"^(\d{4})(\d{2})(\d{2})-(\d{2})(\d{2})\d{2}-(.*)$", short_name(name))
    if not match:
        return short_name(name), ""
    year, month, day, hour, minute, rest = match.groups()
    months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    month_name = months[int(month) - 1] if 1 <= int(month) <= 12 else month
    return rest or name, f"{int(day)} {month_name} {year} {hour}:{minute}"


def short_name(name: str) -> str:
    """Drop the random suffix of a run directory's name, keep date, time and description."""
    return re.sub(r"-[0-9a-f]{6}$", "", name)


# ---------------------------------------------------------------- figures and images


def show_figure(fig, name: str, key: str | None = None, **chart_args):
    """A plotly figure with a small "download as HTML" button under it; returns the chart state."""
    state = st.plotly_chart(fig, key=key, config={"displaylogo": False}, **chart_args)
    st.download_button("figure as HTML", icon=":material/download:", data=functools.partial(figure_html, fig),
                       file_name=f"{slug(name)}.html", mime="text/html",
                       key=f"html-{key or slug(name)}", type="tertiary")
    return state


def figure_html(fig) -> str:
    """A page that opens offline: plotly's JavaScript is inlined, not fetched from a CDN."""
    return fig.to_html(include_plotlyjs=True, full_html=True)


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-").lower() or "figure"


def thumbnails(images, captions: list[str], columns: int = 10, width: int = 56) -> None:
    """A grid of small grey images with a caption under each."""
    images = list(images)
    for start in range(0, len(images), columns):
        cells = st.columns(columns, gap="small")
        for cell, image, caption in zip(cells, images[start:start + columns], captions[start:start + columns]):
            cell.image(image, caption=caption, width=width, clamp=True)
