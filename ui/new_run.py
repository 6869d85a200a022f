"""The "New run" page: the training form, the one-click demo, and live progress of running jobs.

Training always runs as a separate process started by ``training.launch.start`` (its own process
session, output to train.log); this page only reads what it writes. A job's progress panel is a
fragment that re-reads status.json every POLL_SECONDS, so the rest of the page does not rerun.
Because the state lives in the run directory, a reload or a second tab shows the same job.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import streamlit as st

from training import launch, rundir
from training.config import DATASETS, DEVICES, LOSSES, REGIMES, TrainConfig
from training.errors import InputError
from ui.common import (
    ERROR_ICON,
    PAGE_INSPECT,
    POLL_SECONDS,
    STATE_MARKDOWN,
    error_panel,
    runs_dir,
    runs_table,
    short_name,
    split_name,
)

DEMO = {"dataset": "mnist", "classes": ["4", "9"], "regime": "random", "epochs": 3,
        "device": "cpu", "name": "demo"}
DEFAULTS = TrainConfig()

REGIME_HELP = {
    "random": "random: positive = any image of the same class, negative = any image of another "
              "class (the in-lab)",
    "nn-other": "nn-other: positive = one of the k nearest same-class neighbours (pixel space), "
                "negative = another class (out-lab regime 1)",
    "nn-non-neighbour": "nn-non-neighbour: positive as nn-other; negative = another class or a "
                        "same-class image that is not a neighbour (out-lab regime 2)",
}
LOSS_HELP = {"contrastive": "contrastive: pairs, pulls similar pairs together and pushes "
                            "dissimilar ones beyond the margin",
             "triplet": "triplet: (anchor, positive, negative); the positive must be closer than "
                        "the negative by the margin"}
# Option names in training's messages, as the form labels them.
FORM_LABELS = {
    "--dataset": "Data set", "--data-dir": "Data directory", "--classes": "Classes",
    "--loss": "Loss", "--regime": "Pair regime", "--embedding-dim": "Embedding size",
    "--margin": "Margin", "--epochs": "Epochs", "--batch-size": "Batch size",
    "--lr": "Learning rate", "--seed": "Seed", "--shifts": "Shifts", "--device": "Device",
    "--nn-k": "Neighbours k", "--max-train": "Max training images", "--image-size": "Image size",
    "--test-fraction": "Test fraction", "--val-fraction": "Validation fraction",
}


# ---------------------------------------------------------------- the page


def render() -> None:
    st.title("New run")
    st.caption(f"Runs are written to `{runs_dir()}` (set EXPLORER_RUNS_DIR to change it). "
               "Each run trains in its own process; you can close or reload this page meanwhile.")
    if runs_table().empty:
        demo_panel(key="demo-new")

    with error_panel("the running jobs"):
        jobs_panel()

    with st.container(border=True):
        st.subheader("Train a network")
        config, error = training_form()
    if error:
        st.error(error, icon=ERROR_ICON)
    elif config is not None:
        launch_run(config)


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
            launch_run(TrainConfig(**DEMO, runs_dir=str(runs_dir())))


def launch_run(config: TrainConfig) -> None:
    """Start training (double-click safe: launch.start returns a run just started with the same
    options), remember it for this session, and redraw the page so its progress shows."""
    config.runs_dir = str(runs_dir())
    try:
        path = launch.start(config)
    except InputError as e:
        st.error(_in_form_words(str(e)), icon=ERROR_ICON)
        return
    except OSError as e:
        st.error(f"Cannot start training in {config.runs_dir}: {e.strerror or e}", icon=ERROR_ICON)
        return
    st.session_state["launched"] = str(path)
    st.session_state["run_choice"] = str(path)  # the Inspect page opens on it
    st.rerun()


RECENT_SECONDS = 15 * 60  # ended jobs stay on this page this long


def jobs_panel() -> None:
    """Every running job on disk, the job this session launched last, and jobs that ended in the
    last quarter of an hour (so a reload still shows how a job ended, with a link to inspect it)."""
    table = runs_table()
    paths = list(table.loc[table["state"] == rundir.RUNNING, "path"])
    launched = st.session_state.get("launched")
    if launched and launched not in paths and Path(launched).is_dir():
        paths.insert(0, launched)
    for path in table.loc[table["state"].isin([rundir.FINISHED, rundir.FAILED, rundir.CANCELLED]), "path"][:3]:
        if path not in paths and _ended_recently(path):
            paths.append(path)
    if not paths:
        return
    st.subheader("Jobs")
    for path in paths:
        job_panel(path, compact=path != launched)


def _ended_recently(path: str) -> bool:
    try:
        ended = rundir.read_status(Path(path)).get("ended_at")
    except rundir.RunDirError:
        return False
    return isinstance(ended, (int, float)) and time.time() - ended < RECENT_SECONDS


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
    try:
        return (Path(path) / rundir.EMBEDDINGS).stat().st_mtime
    except OSError:
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
    """Header with Cancel or Inspect, progress bar, error; unless ``compact``: loss curve and log."""
    name = Path(path).name
    state = status["state"]
    epochs = max(int(status.get("epochs") or 0), 1)
    epoch = int(status.get("epoch") or 0)
    step, steps = int(status.get("step") or 0), int(status.get("steps") or 0)
    within = step / steps if steps and 0 < step < steps else 0.0
    done = 1.0 if state == rundir.FINISHED else min(1.0, (epoch + within) / epochs)
    elapsed = (status.get("ended_at") or time.time()) - status.get("started_at", time.time())

    head, button = st.columns([5, 1], vertical_alignment="center")
    title, started = split_name(name)
    head.markdown(f"{STATE_MARKDOWN.get(state, '')} **{title}** · {state} · {elapsed:.0f} s"
                  + (f" · started {started}" if started else ""))
    if state == rundir.RUNNING:
        cancel = button.button("Cancel", icon=":material/stop:", key=f"cancel-{name}",
                               help="Stop this training process; the run is kept, marked cancelled")
        if cancel and launch.cancel(path):
            st.toast("Cancel sent; the run stops after the current step.")
    elif allow_open and state in (rundir.FINISHED, rundir.CANCELLED, rundir.FAILED):
        inspect = button.button("Inspect", icon=":material/search:", key=f"open-{name}", type="primary")
        if inspect:
            st.session_state["run_choice"] = path
            st.switch_page(PAGE_INSPECT)

    text = f"epoch {epoch} of {epochs}"
    if state == rundir.RUNNING and steps and 0 < step < steps:
        text = f"epoch {epoch + 1} of {epochs}: step {step} of {steps}"
    elif state == rundir.RUNNING and epoch == 0:
        text = "preparing data and pairs, then epoch 1"
    st.progress(done, text=f"{state}: {text}")
    if status.get("error") and state != rundir.FINISHED:
        (st.warning if state == rundir.CANCELLED else st.error)(status["error"])
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


# ---------------------------------------------------------------- the form


FORM_DEFAULTS = {
    "dataset": DEFAULTS.dataset, "data_dir": "", "classes": "4 9",
    "shifts": " ".join(map(str, DEFAULTS.shifts)), "loss": DEFAULTS.loss, "regime": DEFAULTS.regime,
    "embedding_dim": DEFAULTS.embedding_dim, "margin": DEFAULTS.margin, "epochs": DEFAULTS.epochs,
    "batch_size": DEFAULTS.batch_size, "lr": DEFAULTS.lr, "seed": DEFAULTS.seed,
    "device": DEFAULTS.device, "nn_k": DEFAULTS.nn_k, "max_train": 0, "name": "",
}
# Starting points for the form: the seeds' experiments on MNIST 4 vs 9.
PRESETS = {
    "the demo: contrastive loss, random pairs (in-lab)": {"loss": "contrastive", "regime": "random", "epochs": 3, "embedding_dim": 2},
    "out-lab regime 1: nearest-neighbour positives (nn-other)": {"loss": "contrastive", "regime": "nn-other", "epochs": 5, "embedding_dim": 2},
    "out-lab regime 2: same-class non-neighbours as negatives": {"loss": "contrastive", "regime": "nn-non-neighbour", "epochs": 5, "embedding_dim": 2},
    "triplet loss, random triplets": {"loss": "triplet", "regime": "random", "epochs": 5, "embedding_dim": 2},
}


def _apply_preset() -> None:
    preset = PRESETS.get(st.session_state.get("new_preset"))
    if preset:
        for key, value in {**FORM_DEFAULTS, "classes": "4 9", "dataset": "mnist", "data_dir": "", **preset}.items():
            st.session_state[f"new_{key}"] = value


def training_form() -> tuple[TrainConfig | None, str | None]:
    """The training options. Returns (config, None) when submitted and valid, (None, message)
    when submitted with a bad value, (None, None) before it is submitted."""
    for key, value in FORM_DEFAULTS.items():
        st.session_state.setdefault(f"new_{key}", value)
    st.selectbox("Start from", list(PRESETS), index=None, key="new_preset", on_change=_apply_preset,
                 placeholder="a preset fills in the form (optional)",
                 help="Presets of MNIST 4 vs 9 experiments; change anything before launching.")
    with st.form("new-run", border=False):
        data, model, optim = st.columns(3)
        with data:
            st.markdown("**Data**")
            dataset = st.selectbox("Data set", DATASETS, key="new_dataset",
                                   help="mnist without a data directory uses the bundled 5,000-image "
                                        "sample; fashion-mnist needs its IDX files; folder needs one "
                                        "sub-folder of images per class")
            data_dir = st.text_input("Data directory", key="new_data_dir",
                                     placeholder="empty: the bundled MNIST sample",
                                     help="IDX files (mnist, fashion-mnist) or class folders (folder)")
            classes = st.text_input("Classes", key="new_classes",
                                    help="two or more classes separated by spaces or commas: digits, "
                                         "class indices or folder names; empty keeps all classes")
            shifts = st.text_input("Shifts (px)", key="new_shifts",
                                   help="horizontal shifts of the shifted test set, e.g. -6 -3 3 6; "
                                        "negative moves left")
        with model:
            st.markdown("**Model and loss**")
            loss = st.selectbox("Loss", LOSSES, key="new_loss", help="; ".join(LOSS_HELP.values()))
            regime = st.selectbox("Pair regime", REGIMES, key="new_regime",
                                  help="\n\n".join(REGIME_HELP.values()))
            embedding_dim = st.number_input("Embedding size", step=1, key="new_embedding_dim",
                                            help="2 can be drawn as it is; larger sizes are "
                                                 "projected with PCA, t-SNE or UMAP")
            margin = st.number_input("Margin", step=0.1, format="%.2f", key="new_margin",
                                     help="m of the loss")
        with optim:
            st.markdown("**Optimisation**")
            epochs = st.number_input("Epochs", step=1, key="new_epochs")
            batch_size = st.number_input("Batch size", step=16, key="new_batch_size",
                                         help="pairs or triplets per step")
            lr = st.number_input("Learning rate", step=1e-4, format="%.5f", key="new_lr",
                                 help="Adam's learning rate")
            seed = st.number_input("Seed", step=1, key="new_seed",
                                   help="drives the splits, pairs, weights and batch order")
            device = st.selectbox("Device", DEVICES, key="new_device",
                                  help="auto uses a CUDA GPU when there is one")
        with st.expander("More options"):
            more = st.columns(3)
            nn_k = more[0].number_input("Neighbours k (nn regimes)", step=1, key="new_nn_k")
            max_train = more[1].number_input("Max training images (0: all)", step=100,
                                             key="new_max_train")
            name = more[2].text_input("Run name (optional)", key="new_name",
                                      help="added to the run directory's name")
        submitted = st.form_submit_button("Launch training", icon=":material/rocket_launch:", type="primary")
    if not submitted:
        return None, None
    return parse_form(dataset=dataset, data_dir=data_dir, classes=classes, shifts=shifts,
                      loss=loss, regime=regime, embedding_dim=embedding_dim, margin=margin,
                      epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, device=device,
                      nn_k=nn_k, max_train=max_train, name=name)


def parse_form(**values) -> tuple[TrainConfig | None, str | None]:
    """Turn the form's values into a validated TrainConfig, or return a one-line message."""
    try:
        for option in ("embedding_dim", "epochs", "batch_size", "seed", "nn_k", "max_train"):
            number = values[option]
            if float(number) != int(number):
                raise InputError(f"{_label(option)} must be a whole number, got {number}")
            values[option] = int(number)
        shifts = _split_list(values["shifts"])
        try:
            values["shifts"] = [int(s) for s in shifts]
        except ValueError:
            raise InputError("Shifts must be whole numbers of pixels separated by spaces, "
                             "e.g. -6 -3 3 6") from None
        values["classes"] = _split_list(values["classes"])
        values["data_dir"] = values["data_dir"].strip() or None
        values["name"] = values["name"].strip() or None
        values["max_train"] = values["max_train"] or None
        config = TrainConfig(**values, runs_dir=str(runs_dir())).validate()
    except InputError as e:
        return None, _in_form_words(str(e))
    return config, None


def _split_list(text: str) -> list[str]:
    return [part for part in re.split(r"[\s,]+", text.strip()) if part]


def _label(option: str) -> str:
    return FORM_LABELS.get("--" + option.replace("_", "-"), option)


def _in_form_words(message: str) -> str:
    """training's messages name command-line options; say them as the form's labels."""
    for flag, label in sorted(FORM_LABELS.items(), key=lambda kv: -len(kv[0])):
        message = re.sub(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", label, message)
    return message[0].upper() + message[1:] if message else message
