"""The "New run" page: the training form, the one-click demo, and live progress of running jobs.

Training always runs as a separate process started by ``training.launch.start`` (its own process
session, output to train.log); this page only reads what it writes. A job's progress panel is a
fragment that re-reads status.json every POLL_SECONDS, so the rest of the page does not rerun.
Because the state lives in the run directory, a reload or a second tab shows the same job. The
job launched from the form shows right under its Launch button.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import streamlit as st

from training import rundir
from training.config import DATASETS, DEVICES, LOSSES, REGIMES, TrainConfig
from training.errors import InputError
from ui import cached
from ui.widgets import ERROR_ICON, FORM_LABELS, demo_panel, error_panel, in_form_words, job_panel, launch_run

DEFAULTS = TrainConfig()

REGIME_HELP = {
    "random": "random: positive = any image of the same class, negative = any image of another "
              "class (the in-lab)",
    "nn-other": "nn-other: positive = one of the k nearest same-class neighbours (pixel space), "
                "negative = another class (out-lab regime 1)",
    "nn-non-neighbour": "nn-non-neighbour: positive as nn-other; negative = another class or a "
                        "same-class image that is not a neighbour (out-lab regime 2)",
}


def _loss_help() -> str:
    try:
        from training.objectives import METHODS

        return "\n\n".join(f"{name}: {METHODS[name][2]}" for name in LOSSES)
    except (ImportError, KeyError, IndexError):
        return ", ".join(LOSSES)


# ---------------------------------------------------------------- the page


def render() -> None:
    st.title("New run")
    st.caption(f"Runs are written to `{cached.runs_dir()}` (set EXPLORER_RUNS_DIR to change it). "
               "Each run trains in its own process; you can close or reload this page meanwhile.")
    if cached.runs_table().empty:
        demo_panel(key="demo-new")

    launched = st.session_state.get("launched")
    with error_panel("the running jobs"):
        jobs_panel(exclude=launched)

    with st.container(border=True, key="training-form"):
        st.subheader("Train a network")
        config, error = training_form()
        if error:
            st.error(error, icon=ERROR_ICON)
        elif config is not None:
            launch_run(config)
        if launched and Path(launched).is_dir():
            st.markdown("**The run you launched**")
            with error_panel("the launched run"):
                job_panel(launched)


RECENT_SECONDS = 15 * 60  # ended jobs stay on this page this long


def jobs_panel(exclude: str | None = None) -> None:
    """Every running job on disk, and jobs that ended in the last quarter of an hour or were
    interrupted (so a reload still shows how a job ended, with Inspect or Resume)."""
    table = cached.runs_table()
    paths = list(table.loc[table["state"] == rundir.RUNNING, "path"])
    for path, state in zip(table["path"], table["state"]):
        if path in paths or path == exclude or state not in rundir.ENDED:
            continue
        if state == rundir.INTERRUPTED or _ended_recently(path):
            paths.append(path)
    paths = [p for p in paths if p != exclude][:6]
    if not paths:
        return
    st.subheader("Jobs")
    for path in paths:
        job_panel(path, compact=True)


def _ended_recently(path: str) -> bool:
    try:
        status = rundir.read_status(Path(path))
    except rundir.RunDirError:
        return False
    ended = status.get("ended_at")
    return isinstance(ended, (int, float)) and time.time() - ended < RECENT_SECONDS


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


def _preset_values(name: str) -> dict:
    return {**FORM_DEFAULTS, "classes": "4 9", "dataset": "mnist", "data_dir": "", **PRESETS[name]}


def _apply_preset() -> None:
    name = st.session_state.get("new_preset")
    if name in PRESETS:
        for key, value in _preset_values(name).items():
            st.session_state[f"new_{key}"] = value


def _edited() -> None:
    """A field changed: "Start from" names a preset only while the form still matches it."""
    name = st.session_state.get("new_preset")
    if name in PRESETS and any(st.session_state.get(f"new_{k}") != v for k, v in _preset_values(name).items()):
        st.session_state["new_preset"] = None


def training_form() -> tuple[TrainConfig | None, str | None]:
    """The training options. Returns (config, None) when Launch was pressed with valid values,
    (None, message) with a bad value, (None, None) otherwise."""
    for key, value in FORM_DEFAULTS.items():
        st.session_state.setdefault(f"new_{key}", value)
    st.selectbox("Start from", list(PRESETS), index=None, key="new_preset", on_change=_apply_preset,
                 placeholder="a preset fills in the form (optional)",
                 help="Presets of MNIST 4 vs 9 experiments; change anything before launching. "
                      "Once you change a field, this shows no preset.")
    changed = {"on_change": _edited}
    data, model, optim = st.columns(3)
    with data:
        st.markdown("**Data**")
        dataset = st.selectbox("Data set", DATASETS, key="new_dataset", **changed,
                               help="mnist without a data directory uses the bundled 5,000-image sample; "
                                    "fashion-mnist needs its IDX files; folder needs one sub-folder of "
                                    "images per class")
        data_dir = st.text_input("Data directory", key="new_data_dir", placeholder="empty: the bundled MNIST sample",
                                 help="IDX files (mnist, fashion-mnist) or class folders (folder)", **changed)
        classes = st.text_input("Classes", key="new_classes", **changed,
                                help="two or more classes separated by spaces or commas: digits, class "
                                     "indices or folder names; empty keeps all classes")
        shifts = st.text_input("Shifts (px)", key="new_shifts", **changed,
                               help="horizontal shifts of the shifted test set, e.g. -6 -3 3 6; negative moves left")
    with model:
        st.markdown("**Model and loss**")
        loss = st.selectbox("Loss", LOSSES, key="new_loss", help=_loss_help(), **changed)
        regime = st.selectbox("Pair regime", REGIMES, key="new_regime", help="\n\n".join(REGIME_HELP.values()),
                              **changed)
        embedding_dim = st.number_input("Embedding size", step=1, key="new_embedding_dim", **changed,
                                        help="2 can be drawn as it is; larger sizes are projected with PCA, "
                                             "t-SNE or UMAP")
        margin = st.number_input("Margin", step=0.1, format="%.2f", key="new_margin", help="m of the loss",
                                 **changed)
    with optim:
        st.markdown("**Optimisation**")
        epochs = st.number_input("Epochs", step=1, key="new_epochs", **changed)
        batch_size = st.number_input("Batch size", step=16, key="new_batch_size", help="pairs or triplets per step",
                                     **changed)
        lr = st.number_input("Learning rate", step=1e-4, format="%.5f", key="new_lr", help="Adam's learning rate",
                             **changed)
        seed = st.number_input("Seed", step=1, key="new_seed", help="drives the splits, pairs, weights and batch order",
                               **changed)
        device = st.selectbox("Device", DEVICES, key="new_device", help="auto uses a CUDA GPU when there is one",
                              **changed)
    with st.expander("More options"):
        more = st.columns(3)
        nn_k = more[0].number_input("Neighbours k (nn regimes)", step=1, key="new_nn_k", **changed)
        max_train = more[1].number_input("Max training images (0: all)", step=100, key="new_max_train", **changed)
        name = more[2].text_input("Run name (optional)", key="new_name", help="added to the run directory's name",
                                  **changed)
    submitted = st.button("Launch training", icon=":material/rocket_launch:", type="primary", key="launch_training")
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
            raise InputError("Shifts must be whole numbers of pixels separated by spaces, e.g. -6 -3 3 6") from None
        values["classes"] = _split_list(values["classes"])
        values["data_dir"] = values["data_dir"].strip() or None
        values["name"] = values["name"].strip() or None
        values["max_train"] = values["max_train"] or None
        config = TrainConfig(**values, runs_dir=str(cached.runs_dir())).validate()
        problem = data_dir_problem(config.dataset, config.data_dir)
        if problem:
            raise InputError(problem)
    except InputError as e:
        return None, in_form_words(str(e))
    return config, None


def data_dir_problem(dataset: str, data_dir: str | None) -> str | None:
    """What a data directory lacks for its data set (checked before launching, so an empty folder
    is refused here rather than failing in the training process), or None."""
    if not data_dir:
        return None
    path = Path(data_dir).expanduser()
    if not path.is_dir():
        return None  # TrainConfig.validate says so
    if dataset in ("mnist", "fashion-mnist"):
        from training import data

        folder = "MNIST" if dataset == "mnist" else "FashionMNIST"
        files = getattr(data, "MNIST_FILES", ())
        candidates = [path, path / "raw", path / folder / "raw"]
        if files and not any(all((c / f).is_file() for f in files) for c in candidates):
            gz = any((c / f"{files[0]}.gz").is_file() for c in candidates)
            return (f"Data directory {data_dir} has no {dataset} IDX files: expected {', '.join(files)} in it, "
                    f"in raw/ or in {folder}/raw/" + (" (the .gz files are there: gunzip them first)" if gz else ""))
        return None
    if dataset == "folder":
        classes = [d for d in path.iterdir() if d.is_dir() and not d.name.startswith(".")]
        with_files = [d for d in classes if any(f.is_file() for f in d.iterdir())]
        if len(with_files) < 2:
            return (f"Data directory {data_dir} needs one sub-folder of images per class, at least two; "
                    f"it has {len(with_files)} sub-folder{'s' if len(with_files) != 1 else ''} with files")
    return None


def _split_list(text: str) -> list[str]:
    return [part for part in re.split(r"[\s,]+", text.strip()) if part]


def _label(option: str) -> str:
    return FORM_LABELS.get("--" + option.replace("_", "-"), option)
