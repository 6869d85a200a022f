"""What the pages share: names and marks, error panels, figures with their HTML export, image
strips, the map selection (kept in session state), and the training jobs panel.

Pages import this module (and ui.cached, ui.cached_analyses), never each other. Widget functions
return the user's choices; state that must outlive a rerun lives in st.session_state, state that
must outlive a page reload lives on disk (the run directory).
"""

from __future__ import annotations

import logging
import re
import traceback
from contextlib import contextmanager

import pandas as pd
import streamlit as st

from explorer.projection_methods import TITLES
import runfmt as rundir

log = logging.getLogger("explorer.app")

# Page files registered by app.py (paths relative to app.py), so pages can link to each other.
PAGE_NEW = "ui/pages/new_run.py"
PAGE_INSPECT = "ui/pages/inspect_run.py"
PAGE_COMPARE = "ui/pages/compare.py"
PAGE_SEEDS = "ui/pages/seeds.py"

# Plain-text marks (selectbox labels, tables) from common fonts; material icons where markdown renders.
STATE_ICONS = {"running": "▶", "finished": "✓", "failed": "✗", "cancelled": "■", "interrupted": "⏸",
               "unreadable": "⚠"}
STATE_MARKDOWN = {"running": ":blue[:material/progress_activity:]", "finished": ":green[:material/check_circle:]",
                  "failed": ":red[:material/error:]", "cancelled": ":orange[:material/cancel:]",
                  "interrupted": ":orange[:material/pause_circle:]", "unreadable": ":red[:material/warning:]"}
ERROR_ICON = ":material/error:"
POLL_SECONDS = 1.0  # how often a running job's panel re-reads status.json

METHOD_NAMES = TITLES  # the projection methods' titles (explorer.projection_methods)
COLOUR_NAMES = {"class": "class", "shift": "shift", "split": "split", "correct": "k-NN right/wrong",
                "cluster": "magnet cluster"}
SPLIT_TITLES = {"train": "train", "test": "test", "shifted": "shifted test", "heldout": "held-out classes"}
MAX_THUMBNAILS = 60


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


# ---------------------------------------------------------------- names


def split_name(name: str) -> tuple[str, str]:
    """("demo-mnist-4-9-contrastive-random", "22 Nov 17:32") from a run directory's name."""
    match = re.match(r"^(\d{4})(\d{2})(\d{2})-(\d{2})(\d{2})\d{2}-(.*)$", short_name(name))
    if not match:
        return short_name(name), ""
    year, month, day, hour, minute, rest = match.groups()
    months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    month_name = months[int(month) - 1] if 1 <= int(month) <= 12 else month
    return rest or name, f"{int(day)} {month_name} {year} {hour}:{minute}"


def short_words(name: str, limit: int) -> str:
    """``name`` cut to about ``limit`` characters at a word boundary (``-``, ``_``, space), with "…";
    never mid-word. Show the whole name on hover beside it."""
    if len(name) <= limit:
        return name
    cut = max(name.rfind(sep, 0, limit) for sep in "-_ ")
    return name[:cut if cut > 0 else limit].rstrip("-_ ") + "…"


def short_name(name: str) -> str:
    """Drop the random suffix of a run directory's name, keep date, time and description."""
    return re.sub(r"-[0-9a-f]{6}$", "", name)


LABEL_CHARS = 56  # a run's name in a picker's label, cut at a word boundary


def run_label(row) -> str:
    """How a run reads in a picker: state, name, data set, loss, regime, epochs, test k-NN
    accuracy, and when it started (the start of the name, moved to the end)."""
    icon = STATE_ICONS.get(row["state"], "•")
    title, started = split_name(row["name"])
    title = short_words(title, LABEL_CHARS)
    if row["state"] == "unreadable":
        return f"{icon} {title} · unreadable · {started}".rstrip(" ·")
    parts = [f"{icon} {title}", str(row["state"])]
    method = ("method",) if _present(row.get("method")) else ("loss", "regime")  # method: loss, regime or miner
    parts += [str(row[k]) for k in ("dataset", *method) if _present(row.get(k))]
    if row.get("epochs") is not None and not pd.isna(row["epochs"]):
        done = row.get("epoch")
        parts.append(f"{int(done)}/{int(row['epochs'])} ep" if row["state"] != "finished" and done is not None
                     and not pd.isna(done) else f"{int(row['epochs'])} ep")
    knn = row.get("test_knn_accuracy")
    if knn is not None and not pd.isna(knn):
        parts.append(f"test k-NN {knn:.3f}")
    if started:
        parts.append(started)
    return " · ".join(parts)


def _present(value) -> bool:
    """A table cell that holds something: not None, NaN or empty (a magnet run has no regime)."""
    return value is not None and not (isinstance(value, float) and pd.isna(value)) and value != ""


def progress_text(status: dict) -> str:
    """Where a run stands, in the same words everywhere (header, job panel, sidebar):
    "epoch 2 of 3: step 4 of 10" while an epoch runs, "epoch 3 of 3 done" after it."""
    state = status.get("state")
    epochs = int(status.get("epochs") or 0)
    epoch = int(status.get("epoch") or 0)
    step, steps = int(status.get("step") or 0), int(status.get("steps") or 0)
    if state == rundir.RUNNING:
        if steps and 0 < step < steps:
            return f"epoch {epoch + 1} of {epochs}: step {step} of {steps}"
        if epoch == 0:
            return f"preparing data and pairs, then epoch 1 of {epochs}"
        return f"epoch {epoch} of {epochs} done, starting epoch {epoch + 1}" if epoch < epochs else \
            f"epoch {epoch} of {epochs} done"
    return f"epoch {epoch} of {epochs} done" if state != rundir.FINISHED else f"all {epochs} epochs done"


def progress_fraction(status: dict) -> float:
    epochs = max(int(status.get("epochs") or 0), 1)
    epoch = int(status.get("epoch") or 0)
    step, steps = int(status.get("step") or 0), int(status.get("steps") or 0)
    within = step / steps if steps and 0 < step < steps else 0.0
    return 1.0 if status.get("state") == rundir.FINISHED else min(1.0, (epoch + within) / epochs)


def class_list(names: list[str], limit: int = 6) -> str:
    """"0, 1, 2, 3, 4, 5, … (10 classes)" or all of them when they fit."""
    names = [str(n) for n in names]
    if len(names) <= limit:
        return ", ".join(names)
    return ", ".join(names[:limit]) + f", … ({len(names)} classes)"


def keep(*keys: str) -> None:
    """Let widget values survive a visit to another page: Streamlit forgets a widget's state when
    a run does not draw it, so copy it aside, and put it back before the widget is drawn again.
    Call once at the top of a page, before its widgets."""
    for key in keys:
        kept = f"_kept-{key}"
        if key in st.session_state:
            st.session_state[kept] = st.session_state[key]
        elif kept in st.session_state:
            st.session_state[key] = st.session_state[kept]


def remember(*keys: str) -> None:
    """After the widgets are drawn: store their current values for ``keep``."""
    for key in keys:
        if key in st.session_state:
            st.session_state[f"_kept-{key}"] = st.session_state[key]


# ---------------------------------------------------------------- figures and images


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-").lower() or "figure"


def figure_html(fig) -> str:
    """A page that opens offline: plotly's JavaScript is inlined, not fetched from a CDN."""
    return fig.to_html(include_plotlyjs=True, full_html=True)


def show_figure(fig, name: str, key: str | None = None, **chart_args):
    """A plotly figure, and under it a small "figure as HTML" button. The HTML (with plotly.js
    inlined, about 5 MB) is built only when asked, then offered as a ready file: a download
    button never waits on the server. Returns the chart's state."""
    key = key or slug(name)
    chart_args.setdefault("config", {"displaylogo": False})
    state = st.plotly_chart(fig, key=key, **chart_args)
    export_figure(fig, name, key)
    return state


def export_figure(fig, name: str, key: str) -> None:
    ready = st.session_state.get("_figure_html")
    if ready and ready.get("key") == key and ready.get("name") == name:
        st.download_button(f"Download {slug(name)}.html", ready["html"], file_name=f"{slug(name)}.html",
                           mime="text/html", key=f"html-dl-{key}", type="tertiary", icon=":material/download:",
                           on_click="ignore")
        return
    if st.button("figure as HTML", key=f"html-{key}", type="tertiary", icon=":material/code:",
                 help="Build this figure as one HTML file that opens offline (plotly inlined)"):
        st.session_state["_figure_html"] = {"key": key, "name": name, "html": figure_html(fig).encode()}
        st.rerun()


def export_lazy(build, name: str, key: str) -> None:
    """export_figure for a figure that is built only when the button is pressed (``build()``):
    the WebGL map element's plotly twin, for the HTML export."""
    ready = st.session_state.get("_figure_html")
    if ready and ready.get("key") == key and ready.get("name") == name:
        export_figure(None, name, key)
        return
    if st.button("figure as HTML", key=f"html-{key}", type="tertiary", icon=":material/code:",
                 help="Build this map as one HTML file that opens offline (a plotly figure, plotly inlined)"):
        st.session_state["_figure_html"] = {"key": key, "name": name, "html": figure_html(build()).encode()}
        st.rerun()


def image_strip(images, captions: list[str], width: int = 64) -> None:
    """Small grey images in rows, each with its caption."""
    images = list(images)
    if images:
        st.image(images, caption=captions, width=width, clamp=True)


def shift_caption(shift: int) -> str:
    return f"{int(shift):+d}px" if shift else "no shift"


# ---------------------------------------------------------------- the map selection
#
# A selection is kept in st.session_state[f"selection-{scope}"] = {"owner", "points": [(split, row)],
# "how"}; the map element's box, lasso or click (ui.map_element) is only the event that sets it,
# and the element draws the stored selection, in every panel. Each change bumps a generation
# counter (the live map reruns the page when it moves).


def selection_points(scope: str, owner) -> list[tuple[str, int]]:
    found = st.session_state.get(f"selection-{scope}")
    if not found or found.get("owner") != owner:
        return []
    return [(str(s), int(r)) for s, r in found.get("points", [])]


def _bump(scope: str) -> None:
    st.session_state[f"_generation-{scope}"] = st.session_state.get(f"_generation-{scope}", 0) + 1


def set_selection(scope: str, owner, points, how: str = "map") -> None:
    """Replace the selection (a new box, lasso, search or click replaces it, in every panel)."""
    points = list(dict.fromkeys((str(s), int(r)) for s, r in points))
    if points:
        st.session_state[f"selection-{scope}"] = {"owner": owner, "points": points, "how": how}
    else:
        st.session_state.pop(f"selection-{scope}", None)
    st.session_state.pop(f"closer-{scope}", None)
    _bump(scope)


def clear_selection(scope: str) -> None:
    st.session_state.pop(f"selection-{scope}", None)
    st.session_state.pop(f"closer-{scope}", None)
    _bump(scope)


def selection_counts(points: list[tuple[str, int]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for split, _ in points:
        counts[split] = counts.get(split, 0) + 1
    return counts


