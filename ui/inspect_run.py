"""The "Inspect a run" page: run picker, embedding map with selection, analysis tabs, export.

Every widget function returns the user's choice; analyses come from explorer/ through the caches
in ui.data; the chart's selection is kept in st.session_state["selection"] because Streamlit
resets a chart's own selection whenever its figure changes.
"""

from __future__ import annotations

import functools
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from training import rundir
from ui import data
from ui.common import (
    ERROR_ICON,
    PAGE_NEW,
    STATE_ICONS,
    STATE_MARKDOWN,
    error_panel,
    open_run,
    run_label,
    runs_dir,
    runs_table,
    show_figure,
    slug,
    split_name,
)

METHOD_NAMES = {"raw": "raw 2-D", "pca": "PCA", "tsne": "t-SNE", "umap": "UMAP"}
COLOUR_NAMES = {"class": "class", "shift": "shift", "split": "split", "correct": "k-NN right/wrong"}
SPLIT_TITLES = {"train": "train", "test": "test", "shifted": "shifted test"}
MAX_THUMBNAILS = 60
TABS = ["Distances & ROC", "Confusion", "Classification report", "Centroids", "Metrics over epochs",
        "Most confused", "Shifts", "Export"]


# ---------------------------------------------------------------- the page


def render() -> None:
    table = runs_table()
    path = run_picker(table)
    if path is None:
        st.title("Embedding explorer")
        st.caption(f"Runs directory: `{runs_dir()}` (set EXPLORER_RUNS_DIR to use another).")
        from ui.new_run import demo_panel

        demo_panel(key="demo-inspect")
        st.page_link(PAGE_NEW, label="…or set up your own run on the New run page", icon=":material/rocket_launch:")
        return

    row = table.set_index("path").loc[path]
    title, started = split_name(row["name"])
    st.title(f"{STATE_MARKDOWN.get(row['state'], '')} {title}")
    if started:
        st.caption(f"Started {started}")
    if row["state"] == "unreadable":
        st.error(f"This run cannot be read: {row['error']}. Pick another run in the sidebar, or "
                 "delete or repair this run directory.", icon=ERROR_ICON)
        return
    try:
        run = open_run(path)
    except (rundir.RunDirError, ValueError, OSError) as e:
        st.error(f"This run cannot be opened: {e}. Pick another run in the sidebar, or delete or "
                 "repair this run directory.", icon=ERROR_ICON)
        return

    header(run)
    if run.state == rundir.RUNNING:
        from ui.new_run import job_panel

        job_panel(path, follow_snapshots=True)
    elif run.state in (rundir.FAILED, rundir.CANCELLED):
        message = run.status.get("error") or f"the run was {run.state}"
        kind = st.error if run.state == rundir.FAILED else st.warning
        kind(f"This run {run.state} at epoch {run.status.get('epoch', 0)} of "
             f"{run.status.get('epochs', '?')}: {message}", icon=":material/warning:")
    if not run.epochs:
        st.info("The map and analyses appear here as soon as the run writes its first embedding "
                "snapshot (the untrained net, epoch 0), then grow with every epoch.")
        return

    with error_panel("the embedding map"):
        epoch = map_section(run)
    with error_panel("the selection"):
        selection_panel(run, epoch)
    st.header("Analysis")
    analysis_tabs(run, epoch)


def run_picker(table: pd.DataFrame) -> str | None:
    """Sidebar: pick a run (newest first). Returns its path, or None when there are none."""
    with st.sidebar:
        st.subheader("Run")
        if table.empty:
            st.caption("No runs yet.")
            return None
        paths = list(table["path"])
        labels = {p: run_label(r) for p, r in zip(paths, table.to_dict("records"))}
        if st.session_state.get("run_choice") not in paths:  # open on the newest readable run
            readable = [p for p, s in zip(paths, table["state"]) if s != "unreadable"]
            st.session_state["run_choice"] = (readable or paths)[0]
        path = st.selectbox("Run", paths, key="run_choice", format_func=labels.get,
                            label_visibility="collapsed",
                            help="Runs in the runs directory, newest first: state, name, data set, "
                                 "loss, pair regime, epochs and test k-NN accuracy")
        with st.expander(f"All {len(paths)} runs", expanded=len(paths) <= 6):
            shown = table.assign(run=[split_name(n)[0] for n in table["name"]],
                                 started=[split_name(n)[1] for n in table["name"]],
                                 state=[f"{STATE_ICONS.get(s, '')} {s}" for s in table["state"]])
            column = st.column_config
            st.dataframe(shown[["run", "state", "test_knn_accuracy", "dataset", "loss", "regime",
                                "epochs", "started"]],
                         hide_index=True, column_config={
                             "run": column.TextColumn("run", width="medium"),
                             "state": column.TextColumn("state", width="small"),
                             "test_knn_accuracy": column.NumberColumn("test k-NN", format="%.3f", width="small"),
                             "epochs": column.NumberColumn("epochs", format="%d", width="small")})
        st.caption(f"Runs directory: `{runs_dir()}`")
    return path


def header(run) -> None:
    config = run.config
    names = run.class_names or [str(c) for c in config.get("classes") or []]
    classes = (", ".join(names[:12]) + (" …" if len(names) > 12 else "")) or "all classes"
    st.caption(f"{config.get('dataset')} ({classes}) · {config.get('loss')} loss · "
               f"{config.get('regime')} pairs · {run.embedding_dim}-D embedding · margin "
               f"{config.get('margin')} · {config.get('epochs')} epochs · batch "
               f"{config.get('batch_size')} · lr {config.get('lr')} · seed {config.get('seed')} · "
               f"`{run.path}`")
    last = run.metrics[run.metrics["knn_accuracy"].notna()]
    last = last[last["epoch"] == last["epoch"].max()].set_index("split") if len(last) else last
    cells = st.columns(4)
    cells[0].metric("State", run.state,
                    f"epoch {run.status.get('epoch', 0)} of {run.status.get('epochs', '?')}",
                    delta_color="off", delta_arrow="off")
    for cell, split, label in ((cells[1], "test", "Test k-NN accuracy"),
                               (cells[2], "shifted", "Shifted k-NN accuracy"),
                               (cells[3], "val", "Validation k-NN accuracy")):
        if len(last) and split in last.index:
            cell.metric(label, f"{last.loc[split, 'knn_accuracy']:.3f}",
                        help="5-NN classifier fitted on the train embeddings of the last epoch")


# ---------------------------------------------------------------- the map


def map_controls(run) -> dict:
    """The map's settings: projection and its parameters, layout, splits, colour, epoch."""
    two_d = run.embedding_dim == 2
    methods = (["raw"] if two_d else []) + ["pca", "tsne", "umap"]
    c1, c2, c3, c4 = st.columns([4, 2, 3, 3])
    method_key = f"map_method-{run.embedding_dim == 2}"
    method = c1.segmented_control("Projection", methods, default=methods[0], key=method_key, required=True,
                                  format_func=METHOD_NAMES.get,
                                  help="raw 2-D draws a 2-D embedding as it is; PCA, t-SNE and UMAP "
                                       "are fitted on the train split, and test and shifted points "
                                       "are placed into that map") or methods[0]
    params = {}
    with c2.popover("Parameters", disabled=method in ("raw",), use_container_width=True):
        if method == "pca":
            params["whiten"] = st.toggle("Whiten", value=False, key="map_whiten")
        elif method == "tsne":
            params["perplexity"] = float(st.slider("Perplexity", 5, 100, 30, key="map_perplexity"))
            params["n_iter"] = st.slider("Iterations", 250, 2000, 500, step=250, key="map_n_iter")
            params["metric"] = st.selectbox("Metric", ["euclidean", "cosine"], key="map_tsne_metric")
        elif method == "umap":
            params["n_neighbors"] = st.slider("Neighbours", 2, 100, 15, key="map_n_neighbors")
            params["min_dist"] = st.slider("Min. distance", 0.0, 1.0, 0.1, step=0.05, key="map_min_dist")
            params["metric"] = st.selectbox("Metric", ["euclidean", "cosine"], key="map_umap_metric")
    layout = c3.segmented_control("Layout", ["side by side", "overlay"], default="side by side",
                                  key="map_layout", required=True) or "side by side"
    colour = c4.selectbox("Colour by", list(COLOUR_NAMES), format_func=COLOUR_NAMES.get,
                          key="map_colour",
                          help="k-NN right/wrong: a 5-NN classifier fitted on the train embeddings, "
                               "judged on test and shifted points")
    c5, c6 = st.columns([3, 5])
    splits = run.splits
    if layout == "overlay":
        splits = c5.multiselect("Splits", run.splits, default=run.splits, key="map_splits",
                                format_func=SPLIT_TITLES.get) or run.splits
    else:
        c5.caption("Panels: " + " · ".join(SPLIT_TITLES.get(s, s) for s in run.splits))
    epochs = run.epochs
    replay = False
    if len(epochs) > 1:
        slider, button = c6.columns([4, 1], vertical_alignment="bottom")
        # while training, a new snapshot makes a new slider that starts on the newest epoch
        key = f"map_epoch-{run.name}" + (f"-{len(epochs)}" if run.state == rundir.RUNNING else "")
        epoch = slider.select_slider("Epoch (0 = the untrained net): how the map formed", epochs,
                                     value=epochs[-1], key=key)
        replay = button.button("Replay", icon=":material/play_arrow:", key="map_replay",
                               help="Play the map through every epoch snapshot, from the untrained "
                                    "net to the last epoch (each map is fitted once, then cached)")
    else:
        epoch = epochs[0]
        c6.caption(f"Epoch {epoch} (the only snapshot)")
    return {"method": method, "params": params, "layout": layout, "colour": colour,
            "splits": list(splits), "epoch": int(epoch), "replay": replay}


def map_section(run) -> int:
    st.header("Embedding map")
    choice = map_controls(run)
    epoch = choice["epoch"]
    slot = st.empty()
    if choice["replay"]:
        replay_map(run, choice, slot)
    frame = map_frame(run, choice)
    fig = build_map(run, frame, choice)
    note = frame.attrs.get("note") if hasattr(frame, "attrs") else None
    with slot.container():
        show_figure(fig, f"{run.name}-map-{choice['method']}-epoch{epoch}", key="map",
                    on_select=functools.partial(_store_selection, "map", str(run.path), epoch),
                    selection_mode=("points", "box", "lasso"))
    hint = ("Draw a lasso around points (or pick Box Select in the chart's toolbar) to see their "
            "images. To pick a single point, choose Zoom or Pan in the toolbar and click it. "
            "Double-click empties the map's selection.")
    st.caption(hint + (f" Note: {note}." if note else ""))
    st.session_state["_map_frame"] = (str(run.path), epoch, choice["method"])
    return epoch


def replay_map(run, choice: dict, slot, seconds_per_epoch: float = 0.8) -> None:
    """Show the map of every snapshot epoch in turn in ``slot`` (maps not yet fitted are fitted
    first, with a progress bar), then leave the slot to the interactive map."""
    frames = [(e, map_frame(run, {**choice, "epoch": e})) for e in run.epochs]
    for e, frame in frames:
        fig = build_map(run, frame, {**choice, "epoch": e})
        slot.plotly_chart(fig, key=f"map-replay-{e}", config={"displayModeBar": False})
        time.sleep(seconds_per_epoch)


def map_frame(run, choice: dict) -> pd.DataFrame:
    frame = data.projection(run.path, choice["epoch"], choice["method"], choice["params"])
    if choice["colour"] == "correct":
        frame = frame.copy()
        from explorer.classifiers import knn_correct

        frame["correct"] = knn_correct(frame, data.classify(run.path, choice["epoch"], ("knn",))).to_numpy()
    return frame


def build_map(run, frame: pd.DataFrame, choice: dict):
    from explorer import figures

    method = METHOD_NAMES[choice["method"]]
    title = f"{method} map at epoch {choice['epoch']}, coloured by {COLOUR_NAMES[choice['colour']]}"
    if choice["layout"] == "overlay":
        shown = frame[frame["split"].isin(choice["splits"])]
        fig = figures.scatter_figure(shown, run.class_names, title=title, color_by=choice["colour"], height=640)
        return fig
    panels = [(f"{SPLIT_TITLES.get(s, s)} ({int((frame['split'] == s).sum())} points)",
               frame[frame["split"] == s]) for s in run.splits]
    return figures.maps_figure(panels, run.class_names, choice["colour"], title=title, height=520)


def _store_selection(key: str, path: str, epoch: int) -> None:
    """on_select callback: keep a non-empty selection (split, row pairs) in session state."""
    state = st.session_state.get(key)
    chosen = []
    try:
        for point in state["selection"]["points"]:
            custom = point.get("customdata")
            if isinstance(custom, (list, tuple)) and len(custom) >= 2:
                chosen.append((str(custom[0]), int(custom[1])))
    except Exception:  # noqa: BLE001 - a selection we cannot read changes nothing
        return
    if chosen:
        st.session_state["selection"] = {"run": path, "epoch": epoch,
                                         "points": list(dict.fromkeys(chosen))}


# ---------------------------------------------------------------- the selection


def selection_panel(run, epoch: int) -> None:
    selection = st.session_state.get("selection")
    if not selection or selection.get("run") != str(run.path) or not selection.get("points"):
        return
    points = run.points(epoch)
    chosen = pd.DataFrame(selection["points"], columns=["split", "row"])
    chosen = chosen.merge(points, on=["split", "row"], how="inner")
    with st.container(border=True):
        head, clear = st.columns([6, 1], vertical_alignment="center")
        counts = " · ".join(f"{n} {SPLIT_TITLES.get(s, s)}" for s, n in chosen["split"].value_counts().items())
        by_class = ", ".join(f"{c} ×{n}" for c, n in chosen["class_name"].value_counts().items())
        head.subheader(f"Selection: {len(chosen)} point{'s' if len(chosen) != 1 else ''}")
        if clear.button("Clear selection", key="clear-selection"):
            st.session_state.pop("selection", None)
            st.rerun()
        if not len(chosen):
            st.info("The selected points are not in this run's snapshot.")
            return
        st.caption(f"{counts} — classes: {by_class}")
        if len(chosen) == 1:
            single_point(run, epoch, chosen.iloc[0])
            return
        thumbnails_of(run, chosen, epoch)
        options = list(range(min(len(chosen), 2000)))
        records = chosen.to_dict("records")
        pick = st.selectbox("Look closer at one of them: its nearest neighbours, and for a shifted "
                            "image its source and its other shifts", [None] + options, key="closer",
                            format_func=lambda i: "choose a point…" if i is None else
                            f"{records[i]['class_name']} · {SPLIT_TITLES.get(records[i]['split'])} row "
                            f"{records[i]['row']}" + (f" · shift {int(records[i]['shift']):+d}px"
                                                      if int(records[i]['shift']) else ""))
        if pick is not None:
            single_point(run, epoch, chosen.iloc[pick])


def thumbnails_of(run, chosen: pd.DataFrame, epoch: int) -> None:
    """Up to MAX_THUMBNAILS images: a seeded sample of a larger selection, grouped by split and
    class; ✗ marks a test or shifted image that k-NN gets wrong."""
    shown = chosen if len(chosen) <= MAX_THUMBNAILS else chosen.sample(MAX_THUMBNAILS, random_state=0)
    shown = shown.sort_values(["split", "label", "shift", "row"], key=_split_then_value)
    predicted = knn_predictions(run, epoch)
    images = [run.images(s)[r] for s, r in zip(shown["split"], shown["row"])]
    captions = [_caption(p, predicted) for p in shown.to_dict("records")]
    st.image(images, caption=captions, width=64, clamp=True)
    note = "✗ k-NN classifies it wrong. " if any("✗" in c for c in captions) else ""
    if len(chosen) > MAX_THUMBNAILS:
        note += (f"…and {len(chosen) - MAX_THUMBNAILS} more selected (showing a sample of "
                 f"{MAX_THUMBNAILS}). Select fewer points to see them all.")
    if note:
        st.caption(note)


def knn_predictions(run, epoch: int) -> dict:
    """k-NN's predicted label of every test and shifted row at this epoch ({} where unavailable)."""
    predicted = {}
    for split in ("test", "shifted"):
        if split in run.splits:
            try:
                predicted[split] = data.evaluation(run.path, epoch, "knn", split).y_pred
            except ValueError:
                pass
    return predicted


def _split_then_value(column: pd.Series) -> pd.Series:
    return column.map({s: i for i, s in enumerate(rundir.ALL_SPLITS)}) if column.name == "split" else column


def _caption(point: dict, predicted: dict | None = None) -> str:
    shift = int(point.get("shift") or 0)
    where = {"train": "train", "test": "test", "shifted": f"{shift:+d}px"}.get(point["split"], point["split"])
    wrong = _wrong(point["split"], int(point["row"]), int(point["label"]), predicted or {})
    return f"{point['class_name']} · {where}" + (" ✗" if wrong else "")


def _wrong(split: str, row: int, label: int, predicted: dict) -> bool:
    labels = predicted.get(split)
    return labels is not None and row < len(labels) and int(labels[row]) != label


def single_point(run, epoch: int, point) -> None:
    split, row = point["split"], int(point["row"])
    predicted = knn_predictions(run, epoch)
    left, right = st.columns([1, 5])
    with left:
        st.image(run.images(split)[row], width=112, clamp=True,
                 caption=f"{point['class_name']} · {SPLIT_TITLES.get(split, split)} row {row}"
                         + (f" · shift {int(point['shift']):+d}px" if int(point["shift"]) else ""))
        if split in predicted and row < len(predicted[split]):
            name = run.class_names[int(predicted[split][row])]
            verdict = ":red[wrong]" if _wrong(split, row, int(point["label"]), predicted) else ":green[right]"
            st.caption(f"k-NN predicts **{name}** ({verdict})")
    with right:
        neighbours = data.gallery(run.path, epoch, split, row, k=10)
        st.markdown("**Nearest training neighbours** (embedding distance; ✗ another class)")
        images = [run.images("train")[r] for r in neighbours["row"]]
        captions = [f"#{k} {c} d={d:.2f}" + ("" if same else " ✗")
                    for k, c, d, same in zip(neighbours["rank"], neighbours["class_name"],
                                             neighbours["distance"], neighbours["same_class"])]
        st.image(images, caption=captions, width=64, clamp=True)
        if split == "shifted" and int(point["source_index"]) >= 0:
            source = int(point["source_index"])
            siblings = run.points(epoch, "shifted")
            siblings = siblings[siblings["source_index"] == source].sort_values("shift")
            st.markdown(f"**Its source test image (test row {source}) and all its shifts** "
                        "(what k-NN predicts for each)")
            images = [run.images("test")[source]] + [run.images("shifted")[r] for r in siblings["row"]]
            label = int(point["label"])
            captions = [_shift_caption("source 0px", "test", source, label, run, predicted)]
            captions += [_shift_caption(f"{int(s):+d}px" + (" (this)" if r == row else ""), "shifted",
                                        int(r), label, run, predicted)
                         for s, r in zip(siblings["shift"], siblings["row"])]
            st.image(images, caption=captions, width=64, clamp=True)


def _shift_caption(text: str, split: str, row: int, label: int, run, predicted: dict) -> str:
    labels = predicted.get(split)
    if labels is None or row >= len(labels):
        return text
    name = run.class_names[int(labels[row])]
    return f"{text} → {name}" + (" ✗" if int(labels[row]) != label else "")


# ---------------------------------------------------------------- analysis tabs


def analysis_tabs(run, epoch: int) -> None:
    tabs = st.tabs(TABS, key="analysis_tab", on_change="rerun")
    renderers = [distances_tab, confusion_tab, report_tab, centroids_tab, metrics_tab,
                 confused_tab, shifts_tab, export_tab]
    for tab, name, render_tab in zip(tabs, TABS, renderers):
        if tab.open is False:  # lazy: only the open tab computes
            continue
        with tab, error_panel(f"the {name} tab"):
            render_tab(run, epoch)


def _subsets(run) -> list[str]:
    subsets = ["test"]
    if "shifted" in run.splits:
        subsets.append("shifted")
        subsets += [f"shift {s:+d}" for s in sorted(set(run.points(None, "shifted")["shift"]))]
    return subsets


def distances_tab(run, epoch: int) -> None:
    pairs = data.pair_distances(run.path, epoch)
    sets = list(dict.fromkeys(pairs["set"]))
    names = {"train": "training pairs (as drawn by the run)", "test": "fresh test pairs (seeded)"}
    c1, c2 = st.columns([2, 3])
    pair_set = c1.radio("Pairs", sets, format_func=names.get, key="dist_set", horizontal=True,
                        index=sets.index("test") if "test" in sets else 0)
    hist, curve, summary = data.verification(run.path, epoch, pair_set)
    rows = pairs[pairs["set"] == pair_set]
    lo, hi = float(rows["distance"].min()), float(rows["distance"].max())
    threshold = c2.slider("Threshold: accept a pair as same class when distance ≤", lo, hi,
                          value=float(min(max(summary["eer_threshold"], lo), hi)),
                          step=(hi - lo) / 200 or 0.01, format="%.3f", key=f"dist_threshold-{pair_set}")
    at = curve[curve["threshold"] <= threshold]
    far, tar = (float(at["far"].iloc[-1]), float(at["tar"].iloc[-1])) if len(at) else (0.0, 0.0)
    cells = st.columns(5)
    cells[0].metric("AUC", f"{summary['auc']:.3f}")
    cells[1].metric("EER", f"{summary['eer']:.3f}", help="equal error rate: where false accepts "
                                                        "and false rejects are equally frequent")
    cells[2].metric("EER threshold", f"{summary['eer_threshold']:.3f}")
    cells[3].metric("False accept rate here", f"{far:.3f}")
    cells[4].metric("True accept rate here", f"{tar:.3f}")
    left, right = st.columns(2)
    from explorer import figures

    with left:
        fig = figures.histogram_figure(hist, f"Distances of {names.get(pair_set, pair_set)}, epoch {epoch}")
        fig.add_vline(x=threshold, line_dash="dash", line_color="#444",
                      annotation_text=f"threshold {threshold:.3f}")
        show_figure(fig, f"{run.name}-distances-{pair_set}-epoch{epoch}", key="fig_hist")
    with right:
        fig = figures.roc_figure({pair_set: curve}, {pair_set: summary}, f"Verification ROC, epoch {epoch}")
        fig.add_scatter(x=[far], y=[tar], mode="markers", marker={"size": 12, "color": "#444"},
                        name=f"threshold {threshold:.3f}")
        show_figure(fig, f"{run.name}-roc-{pair_set}-epoch{epoch}", key="fig_roc")


def _classifier_choice(key: str):
    from explorer.classifiers import CLASSIFIERS, TITLES

    return st.selectbox("Classifier (fitted on the train embeddings)", CLASSIFIERS,
                        format_func=lambda c: TITLES.get(c, c), key=key)


def confusion_tab(run, epoch: int) -> None:
    c1, c2 = st.columns(2)
    with c1:
        classifier = _classifier_choice("conf_classifier")
    subset = c2.selectbox("Evaluated on (split or shift)", _subsets(run), key="conf_subset")
    e = data.evaluation(run.path, epoch, classifier, subset)
    from explorer import figures
    from explorer.classifiers import TITLES

    st.metric(f"Accuracy on {subset}", f"{e.accuracy:.3f}", help=f"{len(e.y_true)} points")
    fig = figures.confusion_figure(e.confusion, run.class_names,
                                   f"{TITLES.get(classifier, classifier)} on {subset}, epoch {epoch}")
    show_figure(fig, f"{run.name}-confusion-{classifier}-{slug(subset)}-epoch{epoch}", key="fig_confusion")


def report_tab(run, epoch: int) -> None:
    c1, c2 = st.columns(2)
    with c1:
        classifier = _classifier_choice("report_classifier")
    subset = c2.selectbox("Evaluated on (split or shift)", _subsets(run), key="report_subset")
    e = data.evaluation(run.path, epoch, classifier, subset)
    st.dataframe(e.report, column_config={
        k: st.column_config.NumberColumn(k, format="%.3f") for k in ("precision", "recall", "f1-score")})
    from explorer.classifiers import accuracy_table

    st.markdown("**Accuracy of every classifier on every split and shift**")
    table = accuracy_table(data.classify(run.path, epoch))
    st.dataframe(table.pivot(index="classifier", columns="subset", values="accuracy"),
                 column_config={c: st.column_config.NumberColumn(c, format="%.3f") for c in table["subset"]})


def centroids_tab(run, epoch: int) -> None:
    split = st.radio("Split", run.splits, key="centroid_split", horizontal=True,
                     index=run.splits.index("test") if "test" in run.splits else 0,
                     format_func=SPLIT_TITLES.get)
    from explorer import figures

    matrix = data.centroid_distances(run.path, epoch, split)
    fig = figures.centroid_figure(matrix, run.class_names,
                                  f"Centroid distances of the {split} set at epoch {epoch} "
                                  "(diagonal: cluster size)")
    show_figure(fig, f"{run.name}-centroids-{split}-epoch{epoch}", key="fig_centroids")
    st.caption("Off the diagonal: distance between two class centroids. On the diagonal: the mean "
               "distance of a class's points to its centroid. Good embeddings have large "
               "off-diagonal and small diagonal values.")


def metrics_tab(run, epoch: int) -> None:
    from explorer import figures

    if not len(run.metrics):
        st.info("metrics.csv has no rows yet.")
        return
    show_figure(figures.metrics_figure(run.metrics), f"{run.name}-metrics", key="fig_metrics")
    show_figure(figures.geometry_figure(data.geometry_over_epochs(run.path)), f"{run.name}-geometry",
                key="fig_geometry")
    with st.expander("metrics.csv"):
        st.dataframe(run.metrics, hide_index=True)


def confused_tab(run, epoch: int) -> None:
    from explorer.classifiers import confused_examples, most_confused_pairs

    c1, c2 = st.columns(2)
    with c1:
        classifier = _classifier_choice("confused_classifier")
    subset = c2.selectbox("Evaluated on (split or shift)", _subsets(run), key="confused_subset",
                          index=1 if "shifted" in run.splits else 0)
    e = data.evaluation(run.path, epoch, classifier, subset)
    pairs = most_confused_pairs(e.confusion, run.class_names, top=5)
    if pairs.empty:
        st.success(f"No confusions: every {subset} point is classified right.")
        return
    st.dataframe(pairs[["class_a", "class_b", "a_as_b", "b_as_a", "count", "rate"]], hide_index=True,
                 column_config={"a_as_b": "a taken for b", "b_as_a": "b taken for a",
                                "rate": st.column_config.NumberColumn("rate", format="%.3f")})
    split, rows = _subset_rows(run, epoch, subset)
    points = run.points(epoch, split).set_index("row")
    for pair in pairs.head(3).to_dict("records"):
        examples = confused_examples(e.y_true, e.y_pred, pair["a"], pair["b"], n=8)
        if examples.empty:
            continue
        st.markdown(f"**{pair['class_a']} ↔ {pair['class_b']}**: {pair['count']} confused")
        chosen = rows[examples["index"].to_numpy()]
        captions = []
        for r, t, p in zip(chosen, examples["true"], examples["predicted"]):
            shift = int(points.loc[r, "shift"]) if r in points.index else 0
            captions.append(f"{run.class_names[t]}→{run.class_names[p]}" + (f" {shift:+d}px" if shift else ""))
        st.image([run.images(split)[r] for r in chosen], caption=captions, width=64, clamp=True)


def _subset_rows(run, epoch: int, subset: str) -> tuple[str, np.ndarray]:
    """The split behind an evaluation subset, and the split rows its predictions follow."""
    if subset == "test":
        return "test", run.points(epoch, "test")["row"].to_numpy()
    points = run.points(epoch, "shifted")
    if subset.startswith("shift "):
        points = points[points["shift"] == int(subset.split()[1])]
    return "shifted", points["row"].to_numpy()


def shifts_tab(run, epoch: int) -> None:
    if "shifted" not in run.splits:
        st.info("This run has no shifted test set.")
        return
    from explorer import figures
    from explorer.classifiers import accuracy_table
    from explorer.shifts import accuracy_by_shift

    table = accuracy_table(data.classify(run.path, epoch))
    by_shift = table[table["shift"].notna() | (table["subset"] == "test")].copy()
    by_shift["shift"] = by_shift["shift"].fillna(0).astype(int)
    left, right = st.columns(2)
    with left:
        show_figure(figures.accuracy_by_shift_figure(by_shift, f"Accuracy by shift, epoch {epoch}"),
                    f"{run.name}-accuracy-by-shift-epoch{epoch}", key="fig_acc_shift")
    shifts = data.shift_table(run.path, epoch)
    with right:
        show_figure(figures.displacement_figure(shifts), f"{run.name}-displacement-epoch{epoch}",
                    key="fig_displacement")
    st.dataframe(accuracy_by_shift(shifts), hide_index=True, column_config={
        c: st.column_config.NumberColumn(c, format="%.3f")
        for c in ("accuracy", "changed", "mean_displacement", "median_displacement")})
    st.caption("k-NN on the shifted copies: accuracy, the share whose predicted class changed from "
               "their unshifted source, and how far the shift moved them in embedding space.")


def export_tab(run, epoch: int) -> None:
    st.markdown("**Data**")
    c1, c2, c3 = st.columns(3)
    c1.download_button("Embeddings of this epoch (CSV)", functools.partial(_csv, run.points, epoch),
                       file_name=f"{run.name}-embeddings-epoch{epoch}.csv", mime="text/csv",
                       key="dl_emb_epoch")
    c2.download_button("Embeddings of every epoch (CSV)", functools.partial(_csv, lambda: run.frame),
                       file_name=f"{run.name}-embeddings.csv", mime="text/csv", key="dl_emb_all")
    shown = st.session_state.get("_map_frame")
    if shown and shown[0] == str(run.path):
        method = shown[2]
        projected = [f for f in Path(run.path, rundir.PROJECTIONS_DIR).glob(f"{method}-*-epoch{shown[1]}-*.parquet")]
        if projected:
            newest = max(projected, key=lambda p: p.stat().st_mtime)
            c3.download_button(f"The {METHOD_NAMES[method]} map shown (CSV)",
                               functools.partial(_csv, pd.read_parquet, newest),
                               file_name=f"{run.name}-{method}-epoch{shown[1]}.csv", mime="text/csv",
                               key="dl_proj")
    st.caption("Every figure has its own “figure as HTML” button under it.")

    st.markdown("**HTML report** (every analysis of this epoch in one self-contained file)")
    method = shown[2] if shown and shown[0] == str(run.path) else None
    key = (str(run.path), epoch, method)
    report = st.session_state.get("report")
    if st.button("Build the HTML report", key="build_report"):
        report = {"key": key, **build_report(run, epoch, method)}
        st.session_state["report"] = report
    if report and report.get("key") == key:
        if report.get("error"):
            st.error(report["error"], icon=ERROR_ICON)
        else:
            st.download_button("Download the report", report["html"], file_name=report["name"],
                               mime="text/html", key="dl_report", type="primary",
                               icon=":material/download:")


def _csv(source, *args) -> str:
    return source(*args).to_csv(index=False)


def build_report(run, epoch: int, method: str | None) -> dict:
    """explorer's HTML report, written by `python -m explorer report` in a child process (its
    retrieval metrics need torch, which the app never imports)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "report.html"
        command = [sys.executable, "-m", "explorer", "report", str(run.path), "-o", str(out),
                   "--epoch", str(epoch)]
        if method:
            command += ["--method", method]
        bar = st.progress(0.0, text="starting the report (a few seconds to load the analysis libraries)")
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   cwd=Path(__file__).resolve().parents[1])
        lines = []
        for line in process.stderr:
            lines.append(line.strip())
            if line.startswith("[") and "%]" in line:
                try:
                    fraction = float(line[1:line.index("%")]) / 100
                except ValueError:
                    fraction = 0.0
                bar.progress(min(max(fraction, 0.0), 1.0), text=line[line.index("]") + 1:].strip())
        process.wait()
        bar.empty()
        if process.returncode != 0 or not out.exists():
            errors = [l for l in lines if l.startswith("error:")] or lines[-1:] or ["no output"]
            return {"error": f"The report could not be built: {errors[-1].removeprefix('error:').strip()}"}
        return {"html": out.read_bytes(), "name": f"{run.name}-epoch{epoch}-report.html"}
