"""The Shifts tab: accuracy by shift for every classifier, how far the shifted copies move from
their source, and the test images whose copies stray into another class (shown on the map with
lines from each source to its copies)."""

from __future__ import annotations

import streamlit as st

from ui import cached
from ui.inspect.map import SCOPE
from ui.widgets import image_strip, set_selection, show_figure


def shifts_tab(run, epoch: int) -> None:
    if "shifted" not in run.splits:
        st.info("This run has no shifted test set.")
        return
    from explorer import figures
    from explorer.classifiers import accuracy_table
    from explorer.shifts import accuracy_by_shift, most_moved

    table = accuracy_table(cached.classify(run.path, epoch))
    by_shift = table[table["shift"].notna() | (table["subset"] == "test")].copy()
    by_shift["shift"] = by_shift["shift"].fillna(0).astype(int)
    left, right = st.columns(2)
    with left:
        show_figure(figures.accuracy_by_shift_figure(by_shift, f"Accuracy by shift, epoch {epoch}"),
                    f"{run.name}-accuracy-by-shift-epoch{epoch}", key="fig_acc_shift")
    shifts = cached.shift_table(run.path, epoch)
    with right:
        show_figure(figures.displacement_figure(shifts), f"{run.name}-displacement-epoch{epoch}",
                    key="fig_displacement")
    st.dataframe(accuracy_by_shift(shifts), hide_index=True, column_config={
        c: st.column_config.NumberColumn(c, format="%.3f")
        for c in ("accuracy", "changed", "mean_displacement", "median_displacement")})
    st.caption("k-NN on the shifted copies: accuracy, the share whose predicted class changed from "
               "their unshifted source, and how far the shift moved them in embedding space. The "
               "colours of the shifts are those of the map.")

    strays = most_moved(shifts, n=8, by="changed")
    strays = strays[strays["n_changed"] > 0]
    st.markdown("**Test images whose shifted copies change class most** (k-NN's prediction per copy)")
    if not len(strays):
        st.success("No shifted copy changes class at this epoch.")
        return
    sources = [int(s) for s in strays["source_index"]]
    if st.button(f"Show these {len(sources)} test images and their copies on the map, joined by lines",
                 key="shift_strays_select", icon=":material/timeline:"):
        set_selection(SCOPE, str(run.path), [("test", s) for s in sources], how="shifts")
        st.session_state["map_lines"] = True
        st.rerun()
    predicted = cached.knn_predictions(run.path, epoch)
    names = run.class_names
    for source in sources[:4]:
        copies = shifts[shifts["source_index"] == source].sort_values("shift")
        label = int(copies["label"].iloc[0])
        images = [run.images("test")[source]] + [run.images("shifted")[r] for r in copies["row"]]
        test_prediction = predicted.get("test", {}).get(source)
        captions = [f"test {source}: {names[label]}"
                    + (f" → {names[test_prediction]}" if test_prediction is not None else "")]
        captions += [f"{int(s):+d}px → {names[int(p)]}" + (" ✗" if int(p) != label else "")
                     for s, p in zip(copies["shift"], copies["prediction"])]
        image_strip(images, captions)
