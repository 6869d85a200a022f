"""Replay: the map element playing every epoch, the points moving from each epoch's place to
the next (interpolated in the browser) on axes fixed over all epochs."""

from __future__ import annotations

import numpy as np
import streamlit as st

from ui import cached
from ui.inspect.map import (
    SCOPE,
    MapChoice,
    empty_text,
    filtered,
    map_frame,
    map_panels,
    with_verdicts,
)
from ui.widgets import COLOUR_NAMES, METHOD_NAMES, clear_selection, export_lazy, set_selection

MAX_REPLAY_POINTS = 400_000  # points over all frames of the replay; above, some epochs are skipped


def replay_frames(run, choice: MapChoice, epochs: list[int]):
    """(epoch, its map) for each epoch: a raw map as it is (its axes are the same every epoch),
    any other each started from and aligned to the one before (explorer.projections.replay)."""
    if choice.method == "raw":
        return [(epoch, map_frame(run, choice, epoch)) for epoch in epochs]
    series = cached.replay(run.path, epochs, choice.method, choice.params)
    found = []
    for epoch, part in series.groupby("epoch", sort=True):
        part = part.drop(columns="epoch").reset_index(drop=True)
        part.attrs.update(series.attrs)
        found.append((int(epoch), with_verdicts(run, choice, int(epoch), part)))
    return found


def replay_epochs(run) -> list[int]:
    epochs = run.epochs
    per_epoch = max(len(run.points(epochs[-1])), 1)
    if per_epoch * len(epochs) > MAX_REPLAY_POINTS:
        step = int(np.ceil(per_epoch * len(epochs) / MAX_REPLAY_POINTS))
        epochs = sorted(set(epochs[::step]) | {epochs[0], epochs[-1]})
    return epochs


def replay_view(run, choice: MapChoice) -> None:
    """The map element playing every epoch: the points move from each epoch's place to the
    next (interpolated in the browser), on axes fixed over all epochs; Play, Next epoch and a
    slider in the element. The points and codes travel once, then each epoch's positions once."""
    from ui.map_element import images, table as tables, view

    epochs = replay_epochs(run)
    frames = replay_frames(run, choice, epochs)
    last = frames[-1][1]
    table = tables.point_table(last)
    shown = filtered(last, choice)
    panels, _ = map_panels(run, shown, choice, [])
    splits = [choice.splits] if choice.layout == "overlay" else [[s] for s in run.splits]
    moves = [(epoch, tables.positions(table, frame)) for epoch, frame in frames]
    spec = view.MapSpec(
        table, run.class_names, choice.colour,
        [view.PanelSpec(p.title.split(" · ")[0], s, empty=empty_text(run, s, choice)) for p, s in zip(panels, splits)],
        title=f"{METHOD_NAMES[choice.method]} map from epoch {epochs[0]} to {epochs[-1]}, coloured by "
              f"{COLOUR_NAMES[choice.colour]}",
        height=600 if choice.layout == "overlay" else 460, layout=choice.layout, classes=choice.classes,
        shifts=choice.shifts, knn=choice.knn, bounds=tables.bounds([f for _, f in frames]), replay=moves,
        images=images.for_run(run))
    st.info("Replay: press **▶ Play** above the map. The points move from each epoch's place to the next, "
            f"from the untrained net ({epochs[0]}) to the last epoch ({epochs[-1]}), on axes fixed for all "
            "epochs; **Next epoch** steps, the slider jumps. **Back to the map** (above) returns to the last epoch.",
            icon=":material/play_circle:")
    path = str(run.path)
    with st.container(key="replay-inspect"):
        st.session_state["_replay_spec"] = view.show(
            "replay", spec, on_selection=lambda ids: set_selection(SCOPE, path, tables.points_of(table, ids)),
            on_cleared=lambda: clear_selection(SCOPE))
    skipped = len(run.epochs) - len(epochs)
    if skipped:
        st.caption(f"{skipped} of {len(run.epochs)} epochs are left out of the replay to keep it light "
                   f"(every {int(np.ceil(len(run.epochs) / len(epochs)))}th is shown, with the first and last).")
    if choice.colour == "correct":
        st.caption(f"k-NN right/wrong is the last epoch's ({epochs[-1]}) verdict in every frame.")
    export_lazy(lambda: replay_figure(run, choice, frames), f"{run.name}-replay-{choice.method}", "replay")


def replay_figure(run, choice: MapChoice, frames):
    """The replay as a plotly animation (the HTML export)."""
    from explorer import maps

    epoch_panels = [(epoch, map_panels(run, filtered(frame, choice), choice, [])[0]) for epoch, frame in frames]
    ranges = maps.data_ranges([p.frame for _, panels in epoch_panels for p in panels])
    title = f"{METHOD_NAMES[choice.method]} map at epoch {{epoch}}, coloured by {COLOUR_NAMES[choice.colour]}"
    return maps.animation_figure(epoch_panels, run.class_names, choice.colour, title=title,
                                 height=600 if choice.layout == "overlay" else 520, ranges=ranges)
