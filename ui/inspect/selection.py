"""The selection panel: the selected points' images, and one point looked at closer (its nearest
training neighbours and, for a shifted image, its source and all its shifts)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

import runfmt as rundir
from ui import cached_analyses
from ui.inspect.map import SCOPE
from ui.widgets import (
    MAX_THUMBNAILS,
    SPLIT_TITLES,
    clear_selection,
    image_strip,
    selection_points,
)

IDENTITY = ["split", "row", "label", "class_name", "shift", "source_index"]


def selection_panel(run, epoch: int) -> None:
    points = selection_points(SCOPE, str(run.path))
    if not points:
        return
    snapshot = run.points(epoch)[IDENTITY]
    chosen = pd.DataFrame(points, columns=["split", "row"]).merge(snapshot, on=["split", "row"], how="inner")
    absent = len(points) - len(chosen)
    with st.container(border=True, key="selection-panel"):
        head, lines, clear = st.columns([5, 4, 2], vertical_alignment="center")
        head.subheader(f"Selection: {len(chosen)} point{'s' if len(chosen) != 1 else ''}", anchor="selection")
        if "shifted" in run.splits:
            lines.toggle("Lines to their shifted copies", key="map_lines",
                         help="On the map, a line from each selected test image (or the source of each "
                              "selected shifted image) to every shifted copy of it, so a copy that strays "
                              "into another class shows")
        clear.button("Clear selection", key="clear-selection", icon=":material/close:", on_click=clear_selection,
                     args=(SCOPE,), width="stretch")
        if absent:
            st.caption(f"{absent} selected point{'s are' if absent != 1 else ' is'} not in epoch {epoch}'s "
                       "snapshot (it holds a subset of the points).")
        if not len(chosen):
            st.info("The selected points are not in this epoch's snapshot.")
            return
        counts = " · ".join(f"{n} {SPLIT_TITLES.get(s, s)}" for s, n in _split_counts(chosen).items())
        by_class = ", ".join(f"{c} ×{n}" for c, n in chosen["class_name"].value_counts().items())
        st.caption(f"{counts} — classes: {by_class}", help="A new box or lasso on the map replaces the "
                                                           "selection; double-click the map to clear it")
        if len(chosen) == 1:
            single_point(run, epoch, chosen.iloc[0])
            return
        thumbnails_of(run, chosen, epoch)
        offered = chosen.iloc[:2000]
        keys = [f"{s}:{r}" for s, r in zip(offered["split"], offered["row"])]
        records = dict(zip(keys, offered.to_dict("records")))
        pick = st.selectbox("Look closer at one of them: its nearest neighbours, and for a test or shifted image "
                            "its source and all its shifts, with k-NN's prediction for each (marked on the map)",
                            [None] + keys,
                            key=f"closer-{SCOPE}",
                            format_func=lambda k: "choose a point…" if k is None else _describe(records[k]))
        if pick is not None:
            single_point(run, epoch, pd.Series(records[pick]))


def _split_counts(chosen: pd.DataFrame) -> dict[str, int]:
    counts = chosen["split"].value_counts()
    return {s: int(counts[s]) for s in rundir.ALL_SPLITS if s in counts}


def _describe(point: dict) -> str:
    text = f"{point['class_name']} · {SPLIT_TITLES.get(point['split'], point['split'])} row {point['row']}"
    return text + (f" · shift {int(point['shift']):+d}px" if int(point["shift"]) else "")


def thumbnails_of(run, chosen: pd.DataFrame, epoch: int) -> None:
    """Up to MAX_THUMBNAILS images: a seeded sample of a larger selection, grouped by split and
    class; ✗ marks a test or shifted image that k-NN gets wrong."""
    shown = chosen if len(chosen) <= MAX_THUMBNAILS else chosen.sample(MAX_THUMBNAILS, random_state=0)
    order = shown["split"].map({s: i for i, s in enumerate(rundir.ALL_SPLITS)})
    shown = shown.assign(_order=order).sort_values(["_order", "label", "shift", "row"])
    predicted = cached_analyses.knn_predictions_of(run.path, epoch, zip(shown["split"], shown["row"]))
    images = [run.images(s)[r] for s, r in zip(shown["split"], shown["row"])]
    captions = [caption(p, predicted) for p in shown.to_dict("records")]
    with st.container(key="selection-thumbnails"):
        image_strip(images, captions)
    note = "✗ k-NN classifies it wrong. " if any("✗" in c for c in captions) else ""
    if len(chosen) > MAX_THUMBNAILS:
        note += (f"…and {len(chosen) - MAX_THUMBNAILS} more selected (showing a seeded sample of "
                 f"{MAX_THUMBNAILS}). Select fewer points to see them all.")
    if note:
        st.caption(note)


def caption(point: dict, predicted: dict | None = None) -> str:
    shift = int(point.get("shift") or 0)
    where = {"train": "train", "test": "test", "shifted": f"{shift:+d}px"}.get(point["split"], point["split"])
    return f"{point['class_name']} · {where}" + (" ✗" if wrong(point["split"], int(point["row"]),
                                                                int(point["label"]), predicted or {}) else "")


def wrong(split: str, row: int, label: int, predicted: dict) -> bool:
    labels = predicted.get(split, {})
    return row in labels and int(labels[row]) != label


def single_point(run, epoch: int, point) -> None:
    split, row = point["split"], int(point["row"])
    predicted = cached_analyses.knn_predictions_of(run.path, epoch, [(split, row)])
    left, right = st.columns([1, 5])
    with left:
        st.image(run.images(split)[row], width=112, clamp=True,
                 caption=f"{point['class_name']} · {SPLIT_TITLES.get(split, split)} row {row}"
                         + (f" · shift {int(point['shift']):+d}px" if int(point["shift"]) else ""))
        if row in predicted.get(split, {}):
            name = run.class_names[int(predicted[split][row])]
            verdict = ":red[wrong]" if wrong(split, row, int(point["label"]), predicted) else ":green[right]"
            st.caption(f"k-NN predicts **{name}** ({verdict})")
        reconstruction(run, epoch, split, row)
    with right:
        neighbours = cached_analyses.gallery(run.path, epoch, split, row, k=10)
        st.markdown("**Nearest training neighbours** (embedding distance; ✗ another class; ringed and "
                    "joined to the point on the map)")
        image_strip([run.images("train")[r] for r in neighbours["row"]],
                    [f"#{k} {c} d={d:.2f}" + ("" if same else " ✗")
                     for k, c, d, same in zip(neighbours["rank"], neighbours["class_name"],
                                              neighbours["distance"], neighbours["same_class"])])
        family = shift_family(run, epoch, point)
        if family is not None:
            source, siblings = family
            predicted = cached_analyses.knn_predictions_of(  # the source and every copy, not only the picked point
                run.path, epoch, [("test", source)] + [("shifted", int(r)) for r in siblings["row"]])
            st.markdown(f"**Its source test image (test row {source}) and all its shifts** (what k-NN "
                        "predicts for each, ✗ when wrong; red lines on the map join the source to its copies)")
            images = [run.images("test")[source]] + [run.images("shifted")[r] for r in siblings["row"]]
            label = int(point["label"])
            this = row if split == "shifted" else None
            captions = [_shift_caption("source 0px" + (" (this)" if split == "test" else ""), "test", source, label,
                                       run, predicted)]
            captions += [_shift_caption(f"{int(s):+d}px" + (" (this)" if r == this else ""), "shifted", int(r),
                                        label, run, predicted)
                         for s, r in zip(siblings["shift"], siblings["row"])]
            image_strip(images, captions)


def shift_family(run, epoch: int, point):
    """(source test row, its shifted copies at this epoch) for a shifted point or a test point with
    copies; None otherwise."""
    if "shifted" not in run.splits or point["split"] not in ("shifted", "test"):
        return None
    source = int(point["source_index"]) if point["split"] == "shifted" else int(point["row"])
    if source < 0:
        return None
    siblings = run.points(epoch, "shifted")
    siblings = siblings[siblings["source_index"] == source].sort_values("shift")
    return (source, siblings) if len(siblings) else None


def _shift_caption(text: str, split: str, row: int, label: int, run, predicted: dict) -> str:
    labels = predicted.get(split, {})
    if row not in labels:
        return text
    name = run.class_names[int(labels[row])]
    return f"{text} → {name}" + (" ✗" if int(labels[row]) != label else "")


def reconstruction(run, epoch: int, split: str, row: int) -> None:
    """An autoencoder (or PCA) run's reconstruction of the point, where the snapshot keeps one
    (the first test images)."""
    found = cached_analyses.reconstructions(run.path, epoch)
    if found is None:
        return
    rows, images = found
    where = {int(r): i for i, r in enumerate(rows)}
    if split == "test" and row in where:
        st.image(images[where[row]], width=112, clamp=True, caption=f"its reconstruction (epoch {epoch})")
    else:
        st.caption(f"Reconstructions are kept for test rows {int(rows.min())} to {int(rows.max())}: "
                   f"type \"test {int(rows.min())}\" in Find points to see one.")

