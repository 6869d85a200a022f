"""Training jobs in the app: the demo, launching a run from the form, a job's live panel (progress,
loss curve, log, Cancel, Resume, Inspect), and training's messages in the form's words."""

from __future__ import annotations

import re
import time
from pathlib import Path

import streamlit as st

import runfmt as rundir
from ui import cached
from ui.widgets import (ERROR_ICON, PAGE_INSPECT, POLL_SECONDS, STATE_MARKDOWN, error_panel, progress_fraction,
                        progress_text, short_name, split_name)


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
def _form_labels() -> dict[str, str]:
    from training.config import TrainConfig
    from training.options import declared, flag

    return {flag(name): option.label for name, option in declared(TrainConfig).items()}


FORM_LABELS = _form_labels()  # --flag -> the form's label, from the options' declarations


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
        st.session_state[f"_snapshot-{path}"] = rundir.snapshot_marker(path)
        _live_job(path, follow_snapshots)
    else:
        with st.container(border=True):
            _job_body(path, status, allow_open, compact=compact)


@st.fragment(run_every=POLL_SECONDS)
def _live_job(path: str, follow_snapshots: bool = False) -> None:
    with st.container(border=True), error_panel("the training progress"):
        status = rundir.read_status(Path(path))
        if status["state"] != rundir.RUNNING:
            st.rerun(scope="app")  # the job ended: redraw the page without polling
        if follow_snapshots and rundir.snapshot_marker(path) != st.session_state.get(f"_snapshot-{path}"):
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
