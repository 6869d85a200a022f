"""The Shifts tab: accuracy by shift for every classifier, how far the shifted copies move from
their source, and the test images k-NN gets right whose copies it gets wrong (shown on the map with
lines from each source to its copies); test images it already gets wrong are listed apart."""

from __future__ import annotations

import streamlit as st

from ui import cached_analyses
from ui.inspect.map import SCOPE
from ui.widgets import image_strip, set_selection, show_figure


def shifts_tab(run, epoch: int) -> None:
    if "shifted" not in run.splits:
        st.info("This run has no shifted test set.")
        return
    from explorer import figures
    from explorer.classifiers import accuracy_table
    from explorer.shifts import accuracy_by_shift, turned_wrong

    table = accuracy_table(cached_analyses.classify(run.path, epoch))
    by_shift = table[table["shift"].notna() | (table["subset"] == "test")].copy()
    by_shift["shift"] = by_shift["shift"].fillna(0).astype(int)
    left, right = st.columns(2)
    with left:
        show_figure(figures.accuracy_by_shift_figure(by_shift, f"Accuracy by shift, epoch {epoch}"),
                    f"{run.name}-accuracy-by-shift-epoch{epoch}", key="fig_acc_shift")
    shifts = cached_analyses.shift_table(run.path, epoch)
    with right:
        show_figure(figures.displacement_figure(shifts), f"{run.name}-displacement-epoch{epoch}",
                    key="fig_displacement")
    st.dataframe(accuracy_by_shift(shifts), hide_index=True, column_config={
        c: st.column_config.NumberColumn(c, format="%.3f")
        for c in ("accuracy", "changed", "mean_displacement", "median_displacement")})
    st.caption("k-NN on the shifted copies: accuracy, the share whose predicted class changed from "
               "their unshifted source, and how far the shift moved them in embedding space. The "
               "colours of the shifts are those of the map.")

    turned, wrong_sources = turned_wrong(shifts, n=SHOWN)
    st.markdown("**Test images k-NN gets right whose shifted copies it gets wrong**, most wrong copies first "
                "(✗ marks a wrong prediction)")
    if not len(turned):
        st.success("No test image that k-NN gets right has a shifted copy it gets wrong at this epoch.")
    else:
        source_strips(run, epoch, shifts, turned, "turned")
    if len(wrong_sources):
        with st.expander(f"Test images k-NN already gets wrong unshifted ({len(wrong_sources)}"
                         + (f" of the first {SHOWN}" if len(wrong_sources) == SHOWN else "") + ")"):
            st.caption("Their copies may change class without the shift being to blame, so they are listed apart.")
            source_strips(run, epoch, shifts, wrong_sources, "wrong")


SHOWN = 8  # test images per list: every one listed is shown


def source_strips(run, epoch: int, shifts, sources_frame, key: str) -> None:
    """A button that selects these sources and their copies on the map, then one strip per source:
    the test image and each shifted copy, with what k-NN predicts for each (✗ when wrong)."""
    sources = [int(s) for s in sources_frame["source_index"]]
    if st.button(f"Show these {len(sources)} test images and their copies on the map, joined by lines",
                 key=f"shift_{key}_select", icon=":material/timeline:"):
        set_selection(SCOPE, str(run.path), [("test", s) for s in sources], how="shifts")
        st.session_state["map_lines"] = True
        st.rerun()
    names = run.class_names
    for source, source_prediction in zip(sources, sources_frame["source_prediction"]):
        copies = shifts[shifts["source_index"] == source].sort_values("shift")
        label = int(copies["label"].iloc[0])
        images = [run.images("test")[source]] + [run.images("shifted")[r] for r in copies["row"]]
        captions = [f"test {source}: {names[label]} → {names[int(source_prediction)]}"
                    + (" ✗" if int(source_prediction) != label else "")]
        captions += [f"{int(s):+d}px → {names[int(p)]}" + (" ✗" if int(p) != label else "")
                     for s, p in zip(copies["shift"], copies["prediction"])]
        image_strip(images, captions)
