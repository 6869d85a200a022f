"""The Enrol tab (runs trained with --holdout-classes): enrol k images of each unseen class, then
identify the rest of their images, verify pairs of them, and see where they fall on the map."""

from __future__ import annotations

import streamlit as st

from ui import cached_analyses
from ui.widgets import image_strip, show_figure


def enrol_tab(run, epoch: int) -> None:
    from explorer import figures

    names = run.class_names
    held = [names[int(c)] for c in sorted(set(run.points(epoch, "heldout")["label"]))]
    st.markdown(f"**Unseen classes**: {', '.join(held)}, kept out of training. Enrol a few images of "
                "each as a gallery, without retraining, and identify the others by their nearest "
                "enrolled images.")
    c1, c2 = st.columns([2, 3])
    shots = c1.select_slider("Shots per class (enrolled images)", [1, 2, 3, 5, 10, 20, 50], value=5,
                             key="enrol_shots")
    distractors = c2.toggle("The known classes join the gallery as distractors (as many training images each)",
                            value=True, key="enrol_distractors")
    found = cached_analyses.enrolment(run.path, epoch, int(shots), bool(distractors))
    cells = st.columns(4)
    cells[0].metric("Rank-1 identification", f"{found.rank1:.3f}",
                    help="share of the unseen classes' other images whose closest enrolled class is their own")
    cells[1].metric("Rank-5 identification", f"{found.rank5:.3f}",
                    help="share whose own class is among the 5 closest enrolled classes"
                         + ("" if len(found.classes) + len(found.distractors) > 5 else
                            " (the gallery has 5 classes or fewer, so this is 1)"))
    cells[2].metric("Images identified", f"{found.queries:,}")
    cells[3].metric("Gallery classes", f"{len(found.classes) + len(found.distractors)}",
                    help=f"{len(found.classes)} unseen" + (f" + {len(found.distractors)} known" if found.distractors else ""))
    left, right = st.columns([2, 3])
    with left:
        st.dataframe(found.per_class[["class_name", "queries", "rank1"]], hide_index=True,
                     column_config={"class_name": "class",
                                    "rank1": st.column_config.NumberColumn("rank-1", format="%.3f")})
        for c, rows in found.gallery_rows.items():
            image_strip([run.images("heldout")[r] for r in rows[:10]], [f"{names[c]} shot" for _ in rows[:10]])
    with right:
        hist, curve, summary = cached_analyses.unseen_verification(run.path, epoch)
        fig = figures.roc_figure({"unseen-class pairs": curve}, {"unseen-class pairs": summary},
                                 f"Verification of pairs of unseen-class images, epoch {epoch}")
        fig.update_layout(height=380, legend={"orientation": "h", "y": -0.2})
        show_figure(fig, f"{run.name}-unseen-roc-epoch{epoch}", key="fig_unseen_roc")
    st.caption("Where the unseen classes fall: the map's held-out panel (or the overlay with the held-out "
               "split), coloured by class. Seeds 003 and 004 enrol new classes this way.")
