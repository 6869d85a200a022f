"""The Suspicious points tab: points whose nearest neighbours in embedding space carry another
label (mislabelled, ambiguous, or where the embedding fails), ranked, with their images; no
classifier is trained for it. They can be selected on the map."""

from __future__ import annotations

import streamlit as st

from ui import cached_analyses
from ui.inspect.map import SCOPE
from ui.widgets import SPLIT_TITLES, image_strip, set_selection


def suspicious_tab(run, epoch: int) -> None:
    c1, c2, c3 = st.columns([3, 3, 2])
    split = c1.radio("Points of", run.splits, key="suspicious_split", horizontal=True,
                     format_func=SPLIT_TITLES.get)
    k = c2.slider("Neighbours k", 3, 30, 10, key="suspicious_k",
                  help="How many nearest training points each point is compared with")
    top = c3.number_input("How many", 5, 200, 30, step=5, key="suspicious_top")
    frame = cached_analyses.suspicious(run.path, epoch, split, k)
    flagged = frame[frame["disagree"] > 0]
    reference = "the other training points" if split == "train" else "the training points"
    st.caption(f"Each {SPLIT_TITLES.get(split, split)} point's {k} nearest neighbours among {reference} "
               f"(embedding distance, epoch {epoch}); the score weighs the nearest most (1/rank) and is 1 "
               f"when all of them carry another label. {len(flagged):,} of {len(frame):,} points have at "
               "least one neighbour of another class.")
    shown = flagged.head(int(top))
    if not len(shown):
        st.success("Every point's neighbours carry its own label.")
        return
    if st.button(f"Select these {len(shown)} points on the map", key="suspicious_select",
                 icon=":material/ads_click:"):
        set_selection(SCOPE, str(run.path), zip(shown["split"], shown["row"]), how="suspicious points")
        st.rerun()
    captions = [f"#{i + 1} {p['class_name']}: {int(p['other_count'])}/{int(p['k'])} are {p['other_class']}"
                + (f" · {int(p['shift']):+d}px" if int(p["shift"]) else "") + f" · {p['score']:.2f}"
                for i, p in enumerate(shown.to_dict("records"))]
    image_strip([run.images(split)[r] for r in shown["row"]], captions, width=76)
    with st.expander("As a table"):
        st.dataframe(shown[["split", "row", "class_name", "shift", "score", "disagree", "other_class",
                            "other_count", "nearest_other_distance", "nearest_same_distance"]],
                     hide_index=True, column_config={
                         "score": st.column_config.NumberColumn("score", format="%.3f"),
                         "nearest_other_distance": st.column_config.NumberColumn("nearest other d", format="%.3f"),
                         "nearest_same_distance": st.column_config.NumberColumn("nearest same d", format="%.3f")})
