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
from typing import NamedTuple

import streamlit as st

import runfmt as rundir
from training.config import BACKBONES, DATASETS, DEVICES, LOSSES, TrainConfig
from training.objectives import METHOD_OPTIONS, METHODS, used_options
from training.options import declared, kind_of
from training.presets import PRESETS
from training.errors import InputError
from ui import cached
from ui.jobs import FORM_LABELS, demo_panel, in_form_words, job_panel, launch_run
from ui.widgets import ERROR_ICON, error_panel

DEFAULTS = TrainConfig()
DECLARED = declared(TrainConfig)

def _loss_help() -> str:
    return "\n\n".join(f"{name}: {METHODS[name].help}" for name in LOSSES)


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
    "shifts": " ".join(map(str, DEFAULTS.shifts)), "loss": DEFAULTS.loss, "embedding_dim": DEFAULTS.embedding_dim,
    "normalize": DEFAULTS.normalize, "epochs": DEFAULTS.epochs, "lr": DEFAULTS.lr, "seed": DEFAULTS.seed,
    "device": DEFAULTS.device, "max_train": 0, "name": "", "backbone": DEFAULTS.backbone, "pretrained": "",
    "freeze": DEFAULTS.freeze, "holdout_classes": "", "train_shifts": "",
    # the methods' own options (training.objectives.METHOD_OPTIONS); 0 stands for "automatic"
    **{option: getattr(DEFAULTS, option) for option in METHOD_OPTIONS},
    "classes_per_batch": 0, "margin_fn": 0.0,
}
AUTOMATIC_ZERO = ("classes_per_batch", "margin_fn", "max_train")  # 0 in the form is None in the config


class Field(NamedTuple):
    kind: object  # int, float, or a tuple of choices
    help: str


def _field(option: str) -> Field:
    described = DECLARED[option]
    kind = described.allowed() or {"int": int, "float": float}[kind_of(TrainConfig, option)]
    return Field(kind, described.full_help("\n\n"))


# How the form shows each method option, from its declaration (training.options). A method's box
# shows only the options its loss reads (training.objectives.used_options), so a magnet run never
# offers a pair regime.
METHOD_FIELDS = {option: _field(option) for option in METHOD_OPTIONS}
LIST_FIELDS = ("classes", "shifts", "holdout_classes", "train_shifts")  # typed as space-separated text


def preset_values(name: str) -> dict:
    """The form's fields for training preset ``name`` (training.presets: the same as --preset)."""
    values = {**FORM_DEFAULTS, "classes": ""}  # what the preset leaves out is the command line's default
    for option, value in PRESETS[name].options.items():
        if option in LIST_FIELDS:
            value = " ".join(map(str, value))
        elif value is None:
            value = "" if isinstance(FORM_DEFAULTS.get(option), str) else 0
        values[option] = value
    return values


def _preset_label(name: str) -> str:
    return f"{name}: {PRESETS[name].help}"


# The browser owns a widget's value once it has drawn it: a rerun request it sent before it saw a
# value the server wrote (the job panel's fragment polls every second) carries its older value,
# which Streamlit reads as the user's input. So the server never writes a drawn field. Choosing a
# preset instead starts a new "fill": fresh widgets (keys new_<option>-<fill>) that start at the
# preset's values, and the preset's selectbox is only ever written by the user.
FILL = "_new_fill"  # which fill the form's widgets belong to (0: the defaults)
FILL_VALUES = "_new_fill_values"  # the values a fill starts from


def field_key(option: str, fill: int) -> str:
    return f"new_{option}" + (f"-{fill}" if fill else "")


def _key(option: str) -> str:
    return field_key(option, st.session_state.get(FILL, 0))


def _value(option: str):
    return st.session_state.get(_key(option), FORM_DEFAULTS[option])


def _choose_preset() -> None:
    """The user chose a preset: the next run draws the form anew from its values. The files the
    user already named (data, weights) stay; clearing the choice keeps the form as it is."""
    name = st.session_state.get("new_preset")
    if name not in PRESETS:
        return
    values = preset_values(name)
    for option in PRESETS[name].needs:
        values[option] = _value(option) or values[option]
    for option in FORM_DEFAULTS:  # the old fill's fields are not drawn again
        st.session_state.pop(_key(option), None)
    st.session_state[FILL] = st.session_state.get(FILL, 0) + 1
    st.session_state[FILL_VALUES] = values


def overrides(name: str | None, values: dict) -> list[str]:
    """The form's options that differ from preset ``name``'s, as 'Label value' (the preset's value)."""
    if name not in PRESETS:
        return []
    preset = preset_values(name)
    return [f"{_label(option)} {value} (preset: {preset[option]})" for option, value in values.items()
            if option in preset and value != preset[option] and option not in PRESETS[name].needs]


def training_form() -> tuple[TrainConfig | None, str | None]:
    """The training options. Returns (config, None) when Launch was pressed with valid values,
    (None, message) with a bad value, (None, None) otherwise."""
    for option, value in st.session_state.get(FILL_VALUES, FORM_DEFAULTS).items():
        st.session_state.setdefault(_key(option), value)
    preset = st.selectbox(
        "Start from", [n for n, p in PRESETS.items() if not p.swept], index=None, key="new_preset",
        on_change=_choose_preset, format_func=_preset_label,
        placeholder="a preset of the seeds' experiments fills in the form (optional)",
        help="The presets of `python -m training presets` (sweeps run from the command line). Choosing one "
             "fills in the form once; what you change afterwards overrides it, and the run records the "
             "preset with your values, as `--preset NAME --epochs 2` does. Fashion-MNIST, folder and "
             "pretrained presets need their files named in the form.")
    values = {}
    data, model, optim = st.columns(3)
    with data:
        st.markdown("**Data**")
        values["dataset"] = st.selectbox(
            "Data set", DATASETS, key=_key("dataset"),
            help="mnist without a data directory uses the bundled 5,000-image sample; fashion-mnist needs "
                 "its IDX files; folder needs one sub-folder of images per class")
        values["data_dir"] = st.text_input("Data directory", key=_key("data_dir"),
                                           placeholder="empty: the bundled MNIST sample",
                                           help="IDX files (mnist, fashion-mnist) or class folders (folder)")
        values["classes"] = st.text_input("Classes", key=_key("classes"),
                                          help="two or more classes separated by spaces or commas: digits, "
                                               "class indices or folder names; empty keeps all classes")
        values["shifts"] = st.text_input("Shifts (px)", key=_key("shifts"),
                                         help="horizontal shifts of the shifted test set, e.g. -6 -3 3 6; "
                                              "negative moves left")
    with model:
        st.markdown("**Model and loss**")
        values["loss"] = st.selectbox("Loss", LOSSES, key=_key("loss"), help=_loss_help())
        values["embedding_dim"] = st.number_input(
            "Embedding size", step=1, key=_key("embedding_dim"),
            help="2 can be drawn as it is; larger sizes are projected with PCA, t-SNE or UMAP")
        values["backbone"] = st.selectbox("Backbone", BACKBONES, key=_key("backbone"),
                                          help="seed-cnn: seed 000's starter CNN; small-cnn: seed 000's out-lab "
                                               "net; vgg: seed 004's branch; resnet18: torchvision's, with a "
                                               "one-channel stem (pretrained weights under More options)")
        values["normalize"] = st.checkbox("L2-normalise the embedding", key=_key("normalize"),
                                          help="unit-length embeddings, as seed 004 (with margin 1)")
    with optim:
        st.markdown("**Optimisation**")
        values["epochs"] = st.number_input("Epochs", step=1, key=_key("epochs"))
        values["lr"] = st.number_input("Learning rate", step=1e-4, format="%.5f", key=_key("lr"),
                                       help="Adam's learning rate")
        values["seed"] = st.number_input("Seed", step=1, key=_key("seed"),
                                         help="drives the splits, pairs, weights and batch order")
        values["device"] = st.selectbox("Device", DEVICES, key=_key("device"),
                                        help="auto uses a CUDA GPU when there is one")
    values.update(method_options(values["loss"]))
    with st.expander("More options: unseen classes, augmentation, pretrained weights"):
        more = st.columns(3)
        values["holdout_classes"] = more[0].text_input(
            "Held-out classes", key=_key("holdout_classes"), placeholder="e.g. 7 8",
            help="kept out of training and embedded as the split heldout, to enrol them later without "
                 "retraining (the Enrol tab)")
        values["train_shifts"] = more[1].text_input(
            "Training shifts (px)", key=_key("train_shifts"), placeholder="e.g. -6 -3 3 6",
            help="add shifted copies of the training images; an image and its copies count as similar "
                 "(seed 000, question 8)")
        values["max_train"] = more[2].number_input("Max training images (0: all)", step=100, key=_key("max_train"))
        values["pretrained"] = more[0].text_input("Pretrained weights (path)", key=_key("pretrained"),
                                                  help="a local state dict or another run's checkpoint.pt; "
                                                       "nothing is downloaded")
        values["freeze"] = more[1].checkbox("Freeze the backbone", key=_key("freeze"),
                                            help="train only the new head: seed 002's transfer approach 1")
        values["name"] = more[2].text_input("Run name (optional)", key=_key("name"),
                                            help="added to the run directory's name")
    differs = overrides(preset, values)
    if differs:
        st.caption(f"Launch records {preset} with your changes: " + ", ".join(differs))
    submitted = st.button("Launch training", icon=":material/rocket_launch:", type="primary", key="launch_training")
    if not submitted:
        return None, None
    return parse_form(**values)


def method_options(loss: str) -> dict:
    """The box of the chosen loss's own options; only those it reads are shown and returned."""
    values = {}
    with st.container(border=True, key="method-options"):
        st.markdown(f"**Options of {loss}**: {METHODS[loss].help}")
        shown = used_options(loss, _value("miner"), _value("regime"))
        cells = st.columns(max(4, min(len(shown), 6)))
        for cell, option in zip(cells * 2, shown):
            values[option] = option_widget(cell, option)
    return values


def option_widget(cell, option: str):
    field, label, key = METHOD_FIELDS[option], _label(option), _key(option)
    if isinstance(field.kind, tuple):
        return cell.selectbox(label, field.kind, key=key, help=field.help)
    if field.kind is float:
        return cell.number_input(label, step=0.1, format="%.2f", key=key, help=field.help)
    return cell.number_input(label, step=1, key=key, help=field.help)


def parse_form(**values) -> tuple[TrainConfig | None, str | None]:
    """Turn the form's values into a validated TrainConfig, or return a one-line message. Options
    left out keep their defaults."""
    try:
        for option, value in values.items():
            kind = METHOD_FIELDS[option].kind if option in METHOD_FIELDS else type(FORM_DEFAULTS.get(option))
            if kind is int and value is not None:
                if float(value) != int(value):
                    raise InputError(f"{_label(option)} must be a whole number, got {value}")
                values[option] = int(value)
        if "shifts" in values:
            try:
                values["shifts"] = [int(s) for s in _split_list(values["shifts"])]
            except ValueError:
                raise InputError("Shifts must be whole numbers of pixels separated by spaces, e.g. -6 -3 3 6") from None
        if "classes" in values:
            values["classes"] = _split_list(values["classes"])
        if "holdout_classes" in values:
            values["holdout_classes"] = _split_list(values["holdout_classes"])
        if "train_shifts" in values:
            try:
                values["train_shifts"] = [int(s) for s in _split_list(values["train_shifts"])]
            except ValueError:
                raise InputError("Training shifts must be whole numbers of pixels separated by spaces, "
                                 "e.g. -6 -3 3 6") from None
        for option in ("data_dir", "name", "pretrained"):
            if option in values:
                values[option] = values[option].strip() or None
        for option in AUTOMATIC_ZERO:
            if option in values:
                values[option] = values[option] or None
        preset = st.session_state.get("new_preset")  # the form's values override it, as on the command line
        if preset in PRESETS:  # what the preset sets and the form does not show (e.g. image size)
            values = {**{k: v for k, v in PRESETS[preset].options.items() if k not in FORM_DEFAULTS}, **values}
            for option, what in PRESETS[preset].needs.items():
                if not values.get(option):
                    raise InputError(f"{preset} needs {what}")
        config = TrainConfig(**values, runs_dir=str(cached.runs_dir()),
                             preset=preset if preset in PRESETS else None).validate()
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
