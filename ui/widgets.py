"""What the pages share: names and marks, error panels, figures with their HTML export, image
strips, the map selection (kept in session state), and the training jobs panel.

Pages import this module (and ui.cached), never each other. Widget functions return the user's
choices; state that must outlive a rerun lives in st.session_state, state that must outlive a
page reload lives on disk (the run directory).
"""

from __future__ import annotations

import logging
import re
import time
import traceback
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import streamlit as st

from training import rundir
from ui import cached

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

METHOD_NAMES = {"raw": "raw 2-D", "pca": "PCA", "tsne": "t-SNE", "umap": "UMAP"}
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


def short_name(name: str) -> str:
    """Drop the random suffix of a run directory's name, keep date, time and description."""
    return re.sub(r"-[0-9a-f]{6}$", "", name)


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
                     and not pd.isna(done) else f"{int(row['epochs'])} ep")
    knn = row.get("test_knn_accuracy")
    if knn is not None and not pd.isna(knn):
        parts.append(f"test k-NN {knn:.3f}")
    if started:
        parts.append(started)
    return " · ".join(parts)


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


# ---------------------------------------------------------------- training jobs


def demo_panel(key: str) -> None:
    """The welcome shown while the runs directory is empty: one click trains the demo."""
    with st.container(border=True):
        st.subheader(":material/waving_hand: No runs yet: train the demo")
        st.markdown(
            "**MNIST 4 vs 9** from the bundled 5,000-image sample: a small CNN learns a 2-D "
            "embedding with the contrastive loss, 3 epochs on the CPU (well under a minute). "
            "You watch it train here, then explore its map of the train, test and "
            "shifted test images (the test digits moved sideways by ±3 and ±6 px).")
        if st.button("Train the demo run", icon=":material/play_arrow:", type="primary", key=key):
            from training.config import TrainConfig

            launch_run(TrainConfig(**DEMO, runs_dir=str(cached.runs_dir())))


DEMO = {"dataset": "mnist", "classes": ["4", "9"], "regime": "random", "epochs": 3,
        "device": "cpu", "name": "demo"}


def launch_run(config) -> None:
    """Start training (double-click safe: launch.start returns a run just started with the same
    options), remember it for this session, and redraw the page so its progress shows."""
    from training import launch

    config.runs_dir = str(cached.runs_dir())
    path = _started(lambda: launch.start(config), f"Cannot start training in {config.runs_dir}")
    if path is None:
        return
    st.session_state["launched"] = str(path)
    st.session_state["run_choice"] = str(path)  # the Inspect page opens on it
    st.rerun()


def _started(start, cannot: str):
    """``start()``'s run directory, or None after one error line: a bad option in the form's
    words, or ``cannot`` and the reason the disk gave."""
    from training.errors import InputError

    try:
        return start()
    except InputError as e:
        st.error(in_form_words(str(e)), icon=ERROR_ICON)
    except OSError as e:
        st.error(f"{cannot}: {e.strerror or e}", icon=ERROR_ICON)
    return None


# Option names in training's messages, as the form labels them.
FORM_LABELS = {
    "--dataset": "Data set", "--data-dir": "Data directory", "--classes": "Classes",
    "--loss": "Loss", "--regime": "Pair regime", "--embedding-dim": "Embedding size",
    "--margin": "Margin", "--epochs": "Epochs", "--batch-size": "Batch size",
    "--lr": "Learning rate", "--seed": "Seed", "--shifts": "Shifts", "--device": "Device",
    "--nn-k": "Neighbours k", "--max-train": "Max training images", "--image-size": "Image size",
    "--test-fraction": "Test fraction", "--val-fraction": "Validation fraction",
    "--normalize": "L2-normalise", "--miner": "Miner", "--classes-per-batch": "Classes per batch P",
    "--images-per-class": "Images per class K", "--margin-fn": "False-negative margin",
    "--weight-fn": "False-negative weight", "--alpha": "Margin α", "--magnet-k": "Clusters per class k",
    "--magnet-m": "Clusters per batch m", "--magnet-d": "Examples per cluster d",
    "--magnet-l": "Closest centres L", "--magnet-refresh": "Refresh clusters every",
    "--backbone": "Backbone", "--pretrained": "Pretrained weights", "--freeze": "Freeze the backbone",
    "--holdout-classes": "Held-out classes", "--train-shifts": "Training shifts",
}


def in_form_words(message: str) -> str:
    """training's messages name command-line options; say them as the form's labels."""
    for flag, label in sorted(FORM_LABELS.items(), key=lambda kv: -len(kv[0])):
        message = re.sub(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", label, message)
    return message[0].upper() + message[1:] if message else message


def resume_button(path: str, key: str, **button_args) -> None:
    """A Resume button for a run that stopped early (failed, cancelled or interrupted): starts
    ``python -m training train --resume RUN_DIR`` through training.launch.resume."""
    if not st.button("Resume", icon=":material/play_arrow:", key=key,
                     help="Continue this run from its last checkpoint, in a new training process "
                          "(appending to its train.log)", **button_args):
        return
    from training import launch

    if _started(lambda: launch.resume(path), f"Cannot resume {Path(path).name}") is None:
        return
    st.session_state["launched"] = str(path)
    st.toast("Resumed: training continues from the last checkpoint.")
    time.sleep(0.3)  # let the process write its first status
    st.rerun()


def job_panel(path: str, allow_open: bool = True, follow_snapshots: bool = False,
              compact: bool = False) -> None:
    """One job: a live fragment while it runs, a static summary once it has ended.

    With ``follow_snapshots`` the whole page is redrawn each time the run writes a new embedding
    snapshot (once per epoch), so a map below the panel grows with the training.
    """
    try:
        status = rundir.read_status(Path(path))
    except rundir.RunDirError as e:
        st.error(f"{short_name(Path(path).name)}: {e}", icon=ERROR_ICON)
        return
    if status["state"] == rundir.RUNNING:
        st.session_state[f"_snapshot-{path}"] = _snapshot_marker(path)
        _live_job(path, follow_snapshots)
    else:
        with st.container(border=True):
            _job_body(path, status, allow_open, compact=compact)


def _snapshot_marker(path: str) -> float:
    """Changes whenever a snapshot is added (the snapshots folder's mtime; format 1: its file)."""
    for name in (rundir.EMBEDDINGS, rundir.EMBEDDINGS_V1):
        try:
            return (Path(path) / name).stat().st_mtime
        except OSError:
            continue
    return 0.0


@st.fragment(run_every=POLL_SECONDS)
def _live_job(path: str, follow_snapshots: bool = False) -> None:
    with st.container(border=True), error_panel("the training progress"):
        status = rundir.read_status(Path(path))
        if status["state"] != rundir.RUNNING:
            st.rerun(scope="app")  # the job ended: redraw the page without polling
        if follow_snapshots and _snapshot_marker(path) != st.session_state.get(f"_snapshot-{path}"):
            st.rerun(scope="app")  # a new epoch's snapshot: redraw the map too
        _job_body(path, status, allow_open=False)


def _job_body(path: str, status: dict, allow_open: bool, compact: bool = False) -> None:
    """Header with Cancel, Resume or Inspect, progress bar, error; unless ``compact``: loss curve and log."""
    from training import launch

    name = Path(path).name
    state = status["state"]
    elapsed = (status.get("ended_at") or time.time()) - status.get("started_at", time.time())
    head, button = st.columns([4, 1], vertical_alignment="center")
    title, started = split_name(name)
    head.markdown(f"{STATE_MARKDOWN.get(state, '')} **{title}** · {state} · {elapsed:.0f} s"
                  + (f" · started {started}" if started else ""))
    with button:
        if state == rundir.RUNNING:
            cancel = st.button("Cancel", icon=":material/stop:", key=f"cancel-{name}",
                               help="Stop this training process; the run is kept, marked cancelled")
            if cancel and launch.cancel(path):
                st.toast("Cancel sent; the run stops after the current step.")
        elif state in rundir.RESUMABLE:
            resume_button(path, key=f"resume-{name}")
        elif allow_open:
            if st.button("Inspect", icon=":material/search:", key=f"open-{name}", type="primary"):
                st.session_state["run_choice"] = path
                st.switch_page(PAGE_INSPECT)
    if allow_open and state in rundir.RESUMABLE:
        if st.button("Inspect what it has", icon=":material/search:", key=f"open-{name}", type="tertiary"):
            st.session_state["run_choice"] = path
            st.switch_page(PAGE_INSPECT)
    st.progress(progress_fraction(status), text=f"{state}: {progress_text(status)}")
    if status.get("error") and state != rundir.FINISHED:
        (st.warning if state in (rundir.CANCELLED, rundir.INTERRUPTED) else st.error)(status["error"])
    if compact:
        return
    curve, logs = st.columns([3, 2])
    with curve:
        _loss_curve(path)
    with logs:
        lines = launch.log_tail(path, 8)
        st.caption("latest log lines (train.log)")
        st.code("\n".join(lines) or "(nothing logged yet)", language=None, wrap_lines=True)


def _loss_curve(path: str) -> None:
    metrics = rundir.read_metrics(Path(path))
    metrics = metrics[metrics["split"].isin(["train", "val"])]
    if metrics["loss"].notna().sum() == 0:
        st.caption("The loss curve appears with the first snapshot (the untrained net, epoch 0).")
        return
    fig = _loss_figure(path, (Path(path) / rundir.METRICS).stat().st_mtime)
    st.plotly_chart(fig, key=f"loss-{Path(path).name}", config={"displayModeBar": False})


@st.cache_resource(max_entries=16, show_spinner=False)
def _loss_figure(path: str, mtime: float):
    """Built once per version of metrics.csv: polling every second does not rebuild it."""
    from explorer.figures import loss_figure

    metrics = rundir.read_metrics(Path(path))
    fig = loss_figure(metrics[metrics["split"].isin(["train", "val"])],
                      title="Loss per epoch (mean over the pairs)")
    fig.update_layout(height=260, margin={"l": 10, "r": 10, "t": 40, "b": 10})
    fig.update_xaxes(dtick=1)
    return fig
