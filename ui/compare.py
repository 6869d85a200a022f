"""The "Compare runs" page: two to four runs side by side with the same projection settings.

A table of setups and final metrics (with differences from the first run), maps in one figure
with ONE selection linked across the runs (box or lasso in any panel selects the same images in
every run, with their thumbnails and what each run's k-NN makes of them), distance histograms and
ROC curves, and confusion matrices. Runs are called A, B, C, D on this page. "A sweep" opens the
runs of one sweep as a group instead (ui.sweep_view).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from explorer.projection_methods import methods_for
from explorer.runs import method_words, sampling_words
import runfmt as rundir
from ui import cached, cached_analyses, url_state
from ui.widgets import (
    COLOUR_NAMES,
    ERROR_ICON,
    MAX_THUMBNAILS,
    METHOD_NAMES,
    SPLIT_TITLES,
    class_list,
    clear_selection,
    error_panel,
    export_lazy,
    image_strip,
    keep,
    remember,
    run_label,
    selection_points,
    set_selection,
    short_name,
    show_figure,
    split_name,
)

MAX_RUNS = 4
LETTERS = "ABCD"
SCOPE = "compare"
CONTAINER = "mapbox-compare"
MODES = {"runs": "Runs", "sweep": "A sweep"}  # in the URL: ?compare=sweep


def render() -> None:
    st.title("Compare runs")
    keep("compare_runs", "cmp_split", "cmp_colour", "cmp_mode")
    url_state.from_url("compare", "cmp_mode", MODES.values(), decode=lambda text: MODES.get(text, text),
                       what="comparison")
    mode = st.radio("Compare", list(MODES.values()), key="cmp_mode", horizontal=True,
                    help="Runs: two to four runs side by side. A sweep: the runs of one `python -m training "
                         "sweep` as a group, each metric with mean ± std over its seeds.")
    remember("cmp_mode")
    url_state.to_url("compare", next(word for word, m in MODES.items() if m == mode))
    if mode == "A sweep":
        from ui import sweep_view

        sweep_view.render()
        return
    table = cached.runs_table()
    usable = table[table["state"] != "unreadable"]
    if len(usable) < 2:
        st.info("Comparing needs at least two runs. Train some on the New run page, e.g. the same "
                "data with pair regime random and nn-other, or contrastive and triplet loss.")
        return
    paths = choose_runs(usable)
    problems = st.empty()  # what a link asked for that is not here, once the widgets have read it
    try:
        runs_view(paths)
    finally:
        url_state.link_problems(problems)


def runs_view(paths: list[str]) -> None:
    remember("compare_runs")
    if len(paths) < 2:
        st.info("Pick two to four runs above.")
        return
    runs = []
    for path in paths:
        try:
            run = cached.open_run(path)
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
        maps_section(runs, names)
    remember("cmp_split", "cmp_colour")
    with error_panel("the distance histograms"):
        histograms(runs, names)
    with error_panel("the confusion matrices"):
        confusions(runs, names)


def choose_runs(table: pd.DataFrame) -> list[str]:
    """Two to four runs; by default the newest finished run and the newest other finished run on
    the same data (same data set and classes), so the first comparison is a fair one. The choice
    is kept while you visit other pages."""
    paths = list(table["path"])
    labels = {p: run_label(r) for p, r in zip(paths, table.to_dict("records"))}
    by_name = {Path(p).name: p for p in paths}
    url_state.from_url_list("runs", "compare_runs", paths, decode=lambda name: by_name.get(name, name), what="runs")
    chosen = [p for p in st.session_state.get("compare_runs", []) if p in paths]
    if "compare_runs" not in st.session_state or len(chosen) != len(st.session_state["compare_runs"]):
        st.session_state["compare_runs"] = chosen or default_pair(table)
    runs = st.multiselect(f"Runs to compare (two to {MAX_RUNS})", paths, format_func=labels.get,
                          max_selections=MAX_RUNS, key="compare_runs")
    url_state.to_url("runs", [Path(p).name for p in runs])
    return runs


def default_pair(table: pd.DataFrame) -> list[str]:
    """The newest two finished runs on the same data; else the newest two finished; else the
    newest two."""
    finished = [p for p, s in zip(table["path"], table["state"]) if s == "finished"]
    groups: dict[tuple, list[str]] = {}
    for path in finished:  # newest first
        try:
            key = _data_key(path)
        except (rundir.RunDirError, OSError):
            continue
        groups.setdefault(key, []).append(path)
        if len(groups[key]) == 2:
            return groups[key]
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
                       "data": f"{run.config.get('dataset')} ({class_list(run.class_names)})",
                       "loss": method_words({**run.config, "regime": None, "miner": None}),
                       "pairs drawn by": sampling_words(run.config) or "the method itself",
                       "backbone": run.config.get("backbone") or "seed-cnn",
                       "training shifts (px)": " ".join(map(str, run.config.get("train_shifts") or [])) or "none",
                       "embedding size": str(run.embedding_dim), "margin": str(run.config.get("margin")),
                       "epochs": f"{epoch} ({run.state})"}
        values = {}
        for e in cached_analyses.classify(run.path, epoch, ("knn",)):
            values[f"k-NN accuracy, {e.subset}"] = e.accuracy
        sets = cached_analyses.pair_set_summary(run.path, epoch).set_index("set")
        values["verification AUC, fresh class-based test pairs"] = sets.loc["test", "auc"]
        values["verification AUC, the run's own test pairs"] = sets["auc"].get("test_own", np.nan)
        values.update({"equal error rate, fresh test pairs": sets.loc["test", "eer"],
                       "mean same-class distance, fresh test pairs": sets.loc["test", "mean_positive"],
                       "mean other-class distance, fresh test pairs": sets.loc["test", "mean_negative"]})
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
               "shifted test copies moved by that many pixels. Fresh test pairs count as similar two "
               "images of the same class (what the summary reports); the run's own test pairs count what "
               "its pair regime drew as similar, so under nn-non-neighbour the two AUCs can differ a lot.")


# ---------------------------------------------------------------- maps with a linked selection


@st.cache_data(max_entries=32, show_spinner=False)
def _images_digest(path: str, split: str) -> str:
    images = np.asarray(cached.open_run(path).images(split))
    return f"{images.shape}-{hashlib.sha1(images.tobytes()).hexdigest()[:16]}"


def same_images(runs, split: str) -> bool:
    """Do the runs hold the same images, in the same rows, for this split (same data and seed)?"""
    return len({_images_digest(str(r.path), split) for r in runs}) == 1


def maps_section(runs, names) -> None:
    st.subheader("Maps")
    dims = {run.embedding_dim for run in runs}
    methods = methods_for(dims)
    splits = [s for s in ("test", "shifted", "train") if all(s in r.splits for r in runs)]
    colours = [c for c in COLOUR_NAMES if c not in ("correct", "cluster")]
    url_state.from_url("map", f"cmp_method-{dims == {2}}", methods, what="projection")
    url_state.from_url("split", "cmp_split", splits, what="split")
    url_state.from_url("colour", "cmp_colour", colours, what="colouring")
    c1, c2, c3 = st.columns([4, 3, 3])
    method = c1.segmented_control("Projection (the same for every run)", methods, default=methods[0],
                                  format_func=METHOD_NAMES.get, key=f"cmp_method-{dims == {2}}",
                                  required=True) or methods[0]
    if st.session_state.get("cmp_split") not in splits:
        st.session_state["cmp_split"] = splits[0]
    split = c2.selectbox("Split", splits, format_func=SPLIT_TITLES.get, key="cmp_split")
    colour = c3.selectbox("Colour by", colours, format_func=COLOUR_NAMES.get, key="cmp_colour")
    for name, value in (("map", method), ("split", split), ("colour", colour)):
        url_state.to_url(name, value)
    owner = "|".join(str(r.path) for r in runs)
    selected = selection_points(SCOPE, owner)
    chosen = set(selected)
    linked = same_images(runs, split)
    hover = compare_map(runs, names, method, split, colour, owner, selected, chosen, linked)
    same_classes = len({tuple(r.class_names) for r in runs}) == 1
    notes = ["Each panel keeps its own axis range (embeddings of different runs need not share a scale), "
             "one unit as long on x as on y; zoom and pan move every panel alike (untick Link zoom to "
             "zoom one alone)."]
    if linked:
        notes.append("Draw a box or lasso in any panel: the same images light up in every run, and "
                     "their thumbnails show below with what each run's k-NN makes of them. "
                     "Double-click a map to clear." + (" Hover a point to see its image." if hover else ""))
    else:
        notes.append("These runs hold different images in this split (other data or seed): the selection "
                     "is linked by row number only.")
    if not same_classes:
        notes.append("The runs have different classes: colours follow each run's own class order.")
    st.caption(" ".join(notes))
    linked_selection(runs, names, split, selected, owner)


def compare_map(runs, names, method: str, split: str, colour: str, owner: str, selected, chosen, linked) -> bool:
    """One map element with a panel per run (its own axes; zoom and pan linked), one selection
    lit in every run. Returns whether images show on hover."""
    from ui.map_element import table as tables, view
    from ui.map_element.images import for_run

    frames, titles, bounds = [], [], []
    for run, name in zip(runs, names):
        frame = cached.projection(run.path, run.last_epoch, method, {})
        part = frame[frame["split"] == split]
        title = f"{name}: {method_words(run.config)}, epoch {run.last_epoch} · {len(part):,} points"
        if chosen:
            title += f" · {sum(1 for k in zip(part['split'], part['row']) if k in chosen)} selected"
        frames.append(part)
        titles.append(title)
        bounds.append(tables.bounds([part]))
    table = tables.point_table(frames)
    same_classes = len({tuple(r.class_names) for r in runs}) == 1
    pictures = for_run(runs[0]) if linked else None
    if pictures is not None and split not in pictures.offsets:
        pictures = None
    panels = [view.PanelSpec(t, [split], part=p, bounds=b, empty=f"This run holds no {SPLIT_TITLES.get(split, split)} points.",
                             class_names=None if same_classes else list(run.class_names))
              for t, p, b, run in zip(titles, table.parts, bounds, runs)]
    spec = view.MapSpec(table, runs[0].class_names if same_classes else shared_legend(runs), colour, panels,
                        title=f"{METHOD_NAMES[method]} maps of the {SPLIT_TITLES[split]} split", height=460,
                        selected_ids=tables.ids_of(table, selected), images=pictures)
    json_spec = view.show(
        SCOPE, spec, on_selection=lambda ids: set_selection(SCOPE, owner, tables.points_of(table, ids), how="map"),
        on_cleared=lambda: clear_selection(SCOPE))
    st.session_state["_compare_spec"] = json_spec
    export_lazy(lambda: plotly_maps(runs, names, method, split, colour, selected, chosen, same_classes),
                f"compare-maps-{method}-{split}", "cmp_maps")
    if table.left_out:
        st.caption(f"{table.left_out:,} points with NaN or infinite coordinates are left out of the maps.")
    return pictures is not None


def shared_legend(runs) -> list[str]:
    """One legend for runs of different classes: each colour names every run's class of that
    number ("4 / T-shirt"), since colours follow each run's own class order."""
    longest = max(len(r.class_names) for r in runs)
    return [" / ".join(dict.fromkeys(str(r.class_names[i]) for r in runs if i < len(r.class_names)))
            for i in range(longest)]


def plotly_maps(runs, names, method, split, colour, selected, chosen, same_classes):
    """The same maps as one plotly figure (the HTML export)."""
    from explorer import maps

    panels = []
    for run, name in zip(runs, names):
        frame = cached.projection(run.path, run.last_epoch, method, {})
        part = frame[frame["split"] == split].copy()
        panels.append(maps.Panel(f"{name}: {run.config.get('loss')}, {run.config.get('regime')}", part))
    class_names = runs[0].class_names if same_classes else [r.class_names for r in runs]
    return maps.map_figure(panels, class_names, colour, title=f"{METHOD_NAMES[method]} maps of the "
                                                              f"{SPLIT_TITLES[split]} split",
                           height=520, selected=selected or None, shared_axes=False)


def linked_selection(runs, names, split: str, selected, owner: str) -> None:
    """The selected images once, each captioned with every run's k-NN verdict, and the count
    per run; so the same test images can be followed from one regime to the other."""
    points = [(s, r) for s, r in selected if s == split]
    if not selected:
        return
    with st.container(border=True, key="compare-selection"):
        head, clear = st.columns([5, 1.4], vertical_alignment="center")
        head.subheader(f"Selection: {len(points)} {SPLIT_TITLES.get(split, split)} point{'s' if len(points) != 1 else ''}, "
                       f"linked across {len(runs)} runs")
        clear.button("Clear selection", key="cmp-clear-selection", icon=":material/close:", on_click=clear_selection,
                     args=(SCOPE,), width="stretch")
        if not points:
            st.info("The selection lies in another split; pick it above to see it.")
            return
        every = [r for _, r in points]
        predictions = {name: cached_analyses.knn_predictions_of(run.path, run.last_epoch, points).get(split, {})
                       for run, name in zip(runs, names)}
        labels = {name: _labels(run, split) for run, name in zip(runs, names)}  # each run's own: its images may differ
        first = runs[0]
        rows = every[:MAX_THUMBNAILS]
        right = {name: sum(1 for r in every if r in p and p[r] == labels[name].get(r)) for name, p in predictions.items()}
        if split != "train":
            st.caption("k-NN right on the selected points: " + " · ".join(
                f"{name} {right[name]}/{sum(1 for r in every if r in predictions[name])}" for name in names)
                + " (✓ right, ✗ wrong under each image)")
        captions = []
        for r in rows:
            verdicts = []
            for name in names:
                p = predictions[name].get(r)
                verdicts.append(f"{name}{'' if p is None else (' ✓' if p == labels[name].get(r) else ' ✗')}")
            label = labels[names[0]].get(r)
            captions.append((first.class_names[label] if label is not None else f"row {r}") + " · " + " ".join(verdicts))
        image_strip([first.images(split)[r] for r in rows], captions)
        if len(points) > MAX_THUMBNAILS:
            st.caption(f"…and {len(points) - MAX_THUMBNAILS} more selected.")


def _labels(run, split: str) -> dict[int, int]:
    points = run.points(run.last_epoch, split)
    return dict(zip(points["row"].astype(int), points["label"].astype(int)))


def histograms(runs, names) -> None:
    from explorer import figures
    from explorer.verification import SHORT_NAMES

    st.subheader("Pair distances")
    available = ["test"] + (["test_own"] if all("test_own" in set(cached_analyses.pair_set_summary(r.path, r.last_epoch)["set"])
                                              for r in runs) else [])
    pair_set = st.radio("Pairs", available, format_func=SHORT_NAMES.get, key="cmp_pairs", horizontal=True)
    histograms_, curves, summaries = {}, {}, {}
    for run, name in zip(runs, names):
        hist, curve, summary = cached_analyses.verification(run.path, run.last_epoch, pair_set)
        histograms_[name], curves[name], summaries[name] = hist, curve, summary
    relative = st.toggle("Divide each run's distances by its mean different-class distance "
                         "(for runs on different scales, e.g. contrastive vs triplet)",
                         value=_scales_differ(summaries), key="cmp_relative")
    scales = {name: s["mean_negative"] for name, s in summaries.items()} if relative else None
    left, right = st.columns([3, 2])
    with left:
        fig = figures.histograms_figure(histograms_, f"Distances of similar (solid) and dissimilar (dashed) "
                                                      f"pairs: {SHORT_NAMES[pair_set]}", scales)
        show_figure(fig, "compare-distances", key="cmp_hist")
    with right:
        show_figure(figures.roc_figure(curves, summaries, f"Verification ROC ({SHORT_NAMES[pair_set]})"),
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
    subset = c2.selectbox("Evaluated on", common, key="cmp_subset", help="only the sets that every run compared has")
    evaluations = [cached_analyses.evaluation(run.path, run.last_epoch, classifier, subset) for run in runs]
    titles = [f"{name} (accuracy {e.accuracy:.3f})" for name, e in zip(names, evaluations)]
    if len({tuple(r.class_names) for r in runs}) == 1:
        fig = figures.confusion_grid_figure([e.confusion for e in evaluations], titles, runs[0].class_names,
                                            f"{TITLES.get(classifier, classifier)} on {subset}", columns=len(runs))
        show_figure(fig, f"compare-confusion-{classifier}-{subset}", key="cmp_confusion")
        return
    for i, (column, run, e, title) in enumerate(zip(st.columns(len(runs)), runs, evaluations, titles)):
        with column:
            show_figure(figures.confusion_figure(e.confusion, run.class_names, title),
                        f"compare-confusion-{names[i]}", key=f"cmp_conf_{i}")
