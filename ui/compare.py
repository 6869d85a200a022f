"""The "Compare runs" page: two to four runs side by side with the same projection settings.

Maps in one figure, distance histograms and ROC curves, confusion matrices side by side, and a
table of final metrics with differences from the first run. Runs are called A, B, C, D on this
page; the setup table says which is which.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from training import rundir
from ui import data
from ui.common import (
    ERROR_ICON,
    error_panel,
    open_run,
    run_label,
    runs_table,
    short_name,
    show_figure,
    split_name,
)
from ui.inspect_run import COLOUR_NAMES, METHOD_NAMES, SPLIT_TITLES

MAX_RUNS = 4
LETTERS = "ABCD"


def render() -> None:
    st.title("Compare runs")
    table = runs_table()
    usable = table[table["state"] != "unreadable"]
    if len(usable) < 2:
        st.info("Comparing needs at least two runs. Train some on the New run page, e.g. the same "
                "data with pair regime random and nn-other, or contrastive and triplet loss.")
        return
    paths = choose_runs(usable)
    if len(paths) < 2:
        st.info("Pick two to four runs above.")
        return
    runs = []
    for path in paths:
        try:
            run = open_run(path)
        except (rundir.RunDirError, ValueError, OSError) as e:
            st.error(f"{short_name(path.rsplit('/', 1)[-1])} cannot be opened: {e}", icon=ERROR_ICON)
            continue
        if not run.epochs:
            st.warning(f"{short_name(run.name)} has no embedding snapshot yet; left out.")
            continue
        runs.append(run)
    if len(runs) < 2:
        return
    names = list(LETTERS[:len(runs)])

    with error_panel("the metrics table"):
        metrics_table(runs, names)
    with error_panel("the maps"):
        maps(runs, names)
    with error_panel("the distance histograms"):
        histograms(runs, names)
    with error_panel("the confusion matrices"):
        confusions(runs, names)


def choose_runs(table: pd.DataFrame) -> list[str]:
    """Two to four runs; by default the newest finished run and the newest other finished run on
    the same data (same data set and classes), so the first comparison is a fair one."""
    paths = list(table["path"])
    labels = {p: run_label(r) for p, r in zip(paths, table.to_dict("records"))}
    if "compare_runs" not in st.session_state:
        st.session_state["compare_runs"] = default_pair(table)
    return st.multiselect(f"Runs to compare (two to {MAX_RUNS})", paths, format_func=labels.get,
                          max_selections=MAX_RUNS, key="compare_runs")


def default_pair(table: pd.DataFrame) -> list[str]:
    """The newest two finished runs on the same data; else the newest two finished; else the
    newest two."""
    finished = [p for p, s in zip(table["path"], table["state"]) if s == "finished"]
    groups: dict[tuple, list[str]] = {}
    for path in finished:  # newest first
        try:
            groups.setdefault(_data_key(path), []).append(path)
        except (rundir.RunDirError, OSError):
            continue
        if len(groups[_data_key(path)]) == 2:
            return groups[_data_key(path)]
    return (finished if len(finished) >= 2 else list(table["path"]))[:2]


def _data_key(path: str) -> tuple:
    config = rundir.read_config(path)
    return config.get("dataset"), tuple(config.get("class_names") or config.get("classes") or ())


def metrics_table(runs, names) -> None:
    st.subheader("Setup and final metrics")
    setup, numbers = {}, {}
    for run, name in zip(runs, names):
        epoch = run.last_epoch
        title, started = split_name(run.name)
        setup[name] = {"run": title, "started": started,
                       "data": f"{run.config.get('dataset')} ({', '.join(run.class_names[:6])})",
                       "loss": run.config.get("loss"), "pair regime": run.config.get("regime"),
                       "embedding size": str(run.embedding_dim), "margin": str(run.config.get("margin")),
                       "epochs": f"{epoch} ({run.state})"}
        values = {}
        for e in data.classify(run.path, epoch, ("knn",)):
            values[f"k-NN accuracy, {e.subset}"] = e.accuracy
        _, _, summary = data.verification(run.path, epoch, "test")
        values.update({"verification AUC (test pairs)": summary["auc"],
                       "equal error rate (test pairs)": summary["eer"],
                       "mean positive-pair distance": summary["mean_positive"],
                       "mean negative-pair distance": summary["mean_negative"]})
        numbers[name] = values
    st.dataframe(pd.DataFrame(setup))
    numbers = pd.DataFrame(numbers)
    first = names[0]
    for name in names[1:]:
        numbers[f"{name} − {first}"] = numbers[name] - numbers[first]
    st.dataframe(numbers, column_config={
        c: st.column_config.NumberColumn(c, format="%+.3f" if "−" in c else "%.3f") for c in numbers.columns})
    st.caption(f"Each run at its last epoch; the “−” columns are differences from run {first}. "
               "k-NN: 5 neighbours fitted on the run's train embeddings; the shift rows are the "
               "shifted test copies moved by that many pixels.")


def maps(runs, names) -> None:
    st.subheader("Maps")
    dims = {run.embedding_dim for run in runs}
    methods = (["raw"] if dims == {2} else []) + ["pca", "tsne", "umap"]
    c1, c2, c3 = st.columns(3)
    method = c1.segmented_control("Projection (the same for every run)", methods, default=methods[0],
                                  format_func=METHOD_NAMES.get, key=f"cmp_method-{dims == {2}}",
                                  required=True) or methods[0]
    splits = [s for s in ("test", "shifted", "train") if all(s in r.splits for r in runs)]
    split = c2.selectbox("Split", splits, format_func=SPLIT_TITLES.get, key="cmp_split")
    colour = c3.selectbox("Colour by", [c for c in COLOUR_NAMES if c != "correct"],
                          format_func=COLOUR_NAMES.get, key="cmp_colour")
    panels = []
    for run, name in zip(runs, names):
        frame = data.projection(run.path, run.last_epoch, method, {})
        panels.append((f"{name}: {run.config.get('loss')}, {run.config.get('regime')}, epoch {run.last_epoch}",
                       frame[frame["split"] == split]))
    same_classes = len({tuple(r.class_names) for r in runs}) == 1
    class_names = runs[0].class_names if same_classes else [r.class_names for r in runs]
    from explorer.figures import maps_figure

    fig = maps_figure(panels, class_names, colour,
                               title=f"{METHOD_NAMES[method]} maps of the {SPLIT_TITLES[split]} split",
                               height=480, run_ids=[str(r.path) for r in runs], shared_axes=False)
    show_figure(fig, f"compare-maps-{method}-{split}", key="cmp_maps")
    notes = ["Each panel keeps its own axis range: embeddings of different runs need not share a scale."]
    if not same_classes:
        notes.append("The runs have different classes: colours follow each run's own class order.")
    st.caption(" ".join(notes))


def histograms(runs, names) -> None:
    from explorer import figures

    st.subheader("Pair distances (fresh test pairs)")
    histograms, curves, summaries = {}, {}, {}
    for run, name in zip(runs, names):
        hist, curve, summary = data.verification(run.path, run.last_epoch, "test")
        histograms[name], curves[name], summaries[name] = hist, curve, summary
    relative = st.toggle("Divide each run's distances by its mean different-class distance "
                         "(for runs on different scales, e.g. contrastive vs triplet)",
                         value=_scales_differ(summaries), key="cmp_relative")
    scales = {name: s["mean_negative"] for name, s in summaries.items()} if relative else None
    left, right = st.columns([3, 2])
    with left:
        fig = figures.histograms_figure(histograms, "Distances of same-class (solid) and "
                                                     "different-class (dashed) test pairs", scales)
        show_figure(fig, "compare-distances", key="cmp_hist")
    with right:
        show_figure(figures.roc_figure(curves, summaries, "Verification ROC (test pairs)"),
                    "compare-roc", key="cmp_roc")
    st.caption("Runs with different losses can put their embeddings on different scales; the "
               "ROC curves and their AUC and EER compare them on equal terms.")


def _scales_differ(summaries: dict) -> bool:
    means = [s["mean_negative"] for s in summaries.values() if s.get("mean_negative")]
    return bool(means) and max(means) > 2 * min(means)


def confusions(runs, names) -> None:
    from explorer import figures
    from explorer.classifiers import CLASSIFIERS, TITLES

    st.subheader("Confusion matrices")
    c1, c2 = st.columns(2)
    classifier = c1.selectbox("Classifier", CLASSIFIERS, format_func=lambda c: TITLES.get(c, c),
                              key="cmp_classifier")
    common = ["test"] + (["shifted"] if all("shifted" in r.splits for r in runs) else [])
    subset = c2.selectbox("Evaluated on", common, key="cmp_subset",
                          help="only the sets that every run compared has")
    evaluations = [data.evaluation(run.path, run.last_epoch, classifier, subset) for run in runs]
    titles = [f"{name} (accuracy {e.accuracy:.3f})" for name, e in zip(names, evaluations)]
    if len({tuple(r.class_names) for r in runs}) == 1:
        fig = figures.confusion_grid_figure([e.confusion for e in evaluations], titles,
                                            runs[0].class_names,
                                            f"{TITLES.get(classifier, classifier)} on {subset}",
                                            columns=len(runs))
        show_figure(fig, f"compare-confusion-{classifier}-{subset}", key="cmp_confusion")
        return
    for i, (column, run, e, title) in enumerate(zip(st.columns(len(runs)), runs, evaluations, titles)):
        with column:
            show_figure(figures.confusion_figure(e.confusion, run.class_names, title),
                        f"compare-confusion-{names[i]}", key=f"cmp_conf_{i}")
