"""The analysis tabs, each drawn only when open. The larger ones have their own module
(verification, hardpairs, suspicious, shifts, export); the small ones are here: confusion
matrices, classification reports, centroid distances, metrics over epochs, most confused pairs."""

from __future__ import annotations

import numpy as np
import streamlit as st

from ui import cached_analyses
from ui.inspect import enrol, export, hardpairs, shifts, suspicious, verification
from ui.widgets import SPLIT_TITLES, error_panel, image_strip, show_figure, slug

TABS = ["Distances & ROC", "Hard pairs", "Suspicious points", "Confusion", "Classification report",
        "Centroids", "Metrics over epochs", "Most confused", "Shifts", "Export"]
ENROL_TAB = "Enrol unseen classes"  # only for runs trained with --holdout-classes


def analysis_tabs(run, epoch: int) -> None:
    st.subheader("Analysis", anchor="analysis")
    names, renderers = list(TABS), [verification.distances_tab, hardpairs.hard_pairs_tab, suspicious.suspicious_tab,
                                    confusion_tab, report_tab, centroids_tab, metrics_tab, confused_tab,
                                    shifts.shifts_tab, export.export_tab]
    if "heldout" in run.splits:
        names.insert(1, ENROL_TAB)
        renderers.insert(1, enrol.enrol_tab)
    tabs = st.tabs(names, key="analysis_tab", on_change="rerun")
    for tab, name, render_tab in zip(tabs, names, renderers):
        if tab.open is False:  # lazy: only the open tab computes
            continue
        with tab, error_panel(f"the {name} tab"):
            render_tab(run, epoch)


def subsets(run) -> list[str]:
    """The evaluation sets: test, shifted (all shifts) and each shift."""
    found = ["test"]
    if "shifted" in run.splits:
        found.append("shifted")
        found += [f"shift {s:+d}" for s in sorted(set(run.points(None, "shifted")["shift"]))]
    return found


CLASSIFIER_TITLES = {"magnet": "Magnet: softmax over the L closest cluster centres"}


def classifier_title(classifier: str) -> str:
    from explorer.classifiers import TITLES

    return CLASSIFIER_TITLES.get(classifier) or TITLES.get(classifier, classifier)


def pick_evaluation(run, epoch: int, key: str, subset_index: int = 0):
    """A classifier and a split or shift, picked side by side, and that classifier's evaluation
    there, with a note under them where the classifier was fitted on a subsample.
    Returns (classifier, subset, evaluation)."""
    c1, c2 = st.columns(2)
    classifier = c1.selectbox("Classifier (fitted on the train embeddings)", cached_analyses.classifiers_of(run.path),
                              format_func=classifier_title, key=f"{key}_classifier")
    subset = c2.selectbox("Evaluated on (split or shift)", subsets(run), key=f"{key}_subset", index=subset_index)
    e = cached_analyses.evaluation(run.path, epoch, classifier, subset)
    if e.note:
        st.caption(f"Note: {e.note}.")
    return classifier, subset, e


def confusion_tab(run, epoch: int) -> None:
    from explorer import figures

    classifier, subset, e = pick_evaluation(run, epoch, "conf")
    st.metric(f"Accuracy on {subset}", f"{e.accuracy:.3f}", help=f"{len(e.y_true)} points")
    fig = figures.confusion_figure(e.confusion, run.class_names,
                                   f"{classifier_title(classifier)} on {subset}, epoch {epoch}")
    show_figure(fig, f"{run.name}-confusion-{classifier}-{slug(subset)}-epoch{epoch}", key="fig_confusion")


def report_tab(run, epoch: int) -> None:
    from explorer.classifiers import accuracy_table

    _, _, e = pick_evaluation(run, epoch, "report")
    st.dataframe(e.report, column_config={
        k: st.column_config.NumberColumn(k, format="%.3f") for k in ("precision", "recall", "f1-score")})
    st.markdown("**Accuracy of every classifier on every split and shift**")
    table = accuracy_table(cached_analyses.classify(run.path, epoch))
    st.dataframe(table.pivot(index="classifier", columns="subset", values="accuracy"),
                 column_config={c: st.column_config.NumberColumn(c, format="%.3f") for c in table["subset"]})


def centroids_tab(run, epoch: int) -> None:
    from explorer import figures

    split = st.radio("Split", run.splits, key="centroid_split", horizontal=True,
                     index=run.splits.index("test") if "test" in run.splits else 0,
                     format_func=SPLIT_TITLES.get)
    matrix = cached_analyses.centroid_distances(run.path, epoch, split)
    fig = figures.centroid_figure(matrix, run.class_names,
                                  f"Centroid distances of the {split} set at epoch {epoch} (diagonal: cluster size)")
    show_figure(fig, f"{run.name}-centroids-{split}-epoch{epoch}", key="fig_centroids")
    st.caption("Off the diagonal: distance between two class centroids. On the diagonal: the mean "
               "distance of a class's points to its centroid. Good embeddings have large "
               "off-diagonal and small diagonal values.")


def metrics_tab(run, epoch: int) -> None:
    from explorer import figures

    if not len(run.metrics):
        st.info("metrics.csv has no rows yet.")
        return
    origin = run.config.get("embedded_from") or run.config.get("imported_from")
    if origin:
        st.info(f"No training curves: this run was made by `{origin.get('command')}` from "
                f"{origin.get('model') or origin.get('file')}, not trained here. Below are the metrics of its "
                "one snapshot.", icon=":material/info:")
        st.dataframe(run.metrics, hide_index=True)
        return
    steps = run.steps()
    if len(steps):
        show_figure(figures.steps_figure(steps, run.metrics), f"{run.name}-steps", key="fig_steps")
        if len(steps) > figures.MAX_STEP_POINTS:
            st.caption(f"{len(steps):,} steps: the light line draws 1 in "
                       f"{-(-len(steps) // figures.MAX_STEP_POINTS)}; the running mean uses them all.")
    show_figure(figures.metrics_figure(run.metrics), f"{run.name}-metrics", key="fig_metrics")
    show_figure(figures.geometry_figure(cached_analyses.geometry_over_epochs(run.path)), f"{run.name}-geometry",
                key="fig_geometry")
    with st.expander("metrics.csv"):
        st.dataframe(run.metrics, hide_index=True)


def confused_tab(run, epoch: int) -> None:
    from explorer.classifiers import confused_examples, most_confused_pairs

    _, subset, e = pick_evaluation(run, epoch, "confused", subset_index=1 if "shifted" in run.splits else 0)
    pairs = most_confused_pairs(e.confusion, run.class_names, top=5)
    if pairs.empty:
        st.success(f"No confusions: every {subset} point is classified right.")
        return
    st.dataframe(pairs[["class_a", "class_b", "a_as_b", "b_as_a", "count", "rate"]], hide_index=True,
                 column_config={"a_as_b": "a taken for b", "b_as_a": "b taken for a",
                                "rate": st.column_config.NumberColumn("rate", format="%.3f")})
    split = "test" if subset == "test" else "shifted"
    rows_of = e.split_rows()  # positions in the evaluation -> rows of the split
    shifts_of = dict(zip(run.points(epoch, split)["row"].astype(int), run.points(epoch, split)["shift"].astype(int)))
    for pair in pairs.head(3).to_dict("records"):
        examples = confused_examples(e.y_true, e.y_pred, pair["a"], pair["b"], n=8)
        if examples.empty:
            continue
        st.markdown(f"**{pair['class_a']} ↔ {pair['class_b']}**: {pair['count']} confused")
        chosen = np.asarray(rows_of)[examples["index"].to_numpy()]
        captions = [f"{run.class_names[t]}→{run.class_names[p]}"
                    + (f" {shifts_of.get(int(r), 0):+d}px" if shifts_of.get(int(r), 0) else "")
                    for r, t, p in zip(chosen, examples["true"], examples["predicted"])]
        image_strip([run.images(split)[r] for r in chosen], captions)
