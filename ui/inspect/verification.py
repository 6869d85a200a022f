"""The Distances & ROC tab: which pairs the verification figures use (fresh class-based test
pairs, the run's own test pairs, its training pairs), their distance histograms with a threshold,
the ROC, and the equal error rate and its threshold per class."""

from __future__ import annotations

import streamlit as st

from ui import cached_analyses
from ui.widgets import show_figure


def distances_tab(run, epoch: int) -> None:
    head_block(run, epoch)
    pair_types_block(run, epoch)
    distance_block(run, epoch)


def head_block(run, epoch: int) -> None:
    """A BCE run: the head's ROC beside the distance's, on the same pairs (seed 004's point: the
    head verifies well while its embedding may separate the classes poorly)."""
    from explorer import figures

    found = cached_analyses.head_verification(run.path, epoch)
    if found is None:
        return
    (head_curve, head), (dist_curve, dist) = found["head"], found["distance"]
    st.markdown(f"**The Siamese head against the embedding distance**, on the run's own "
                f"{found['pairs']:,} test pairs")
    left, right = st.columns([3, 2])
    with left:
        fig = figures.roc_figure({"head score": head_curve, "embedding distance": dist_curve},
                                 {"head score": head, "embedding distance": dist},
                                 f"Two ways to verify a pair, epoch {epoch}")
        fig.update_layout(height=400, legend={"orientation": "h", "y": -0.2})
        show_figure(fig, f"{run.name}-head-roc-epoch{epoch}", key="fig_head_roc")
    with right:
        cells = st.columns(2)
        cells[0].metric("Head AUC", f"{head['auc']:.3f}", help="accept a pair when the head's probability is high")
        cells[1].metric("Distance AUC", f"{dist['auc']:.3f}", delta=f"{dist['auc'] - head['auc']:+.3f}",
                        help="accept a pair when the embeddings are close; delta: against the head")
        cells = st.columns(2)
        cells[0].metric("Head EER", f"{head['eer']:.3f}")
        cells[1].metric("Distance EER", f"{dist['eer']:.3f}")
        st.caption("The head sees both embeddings and learns its own similarity, so it can verify "
                   "well even where the embedding's distances mix the classes (seed 004). The map and "
                   "the k-NN accuracy show the embedding itself.")
    st.divider()


def pair_types_block(run, epoch: int) -> None:
    """A three-way run: distances of its true positives, false negatives and negatives."""
    from explorer import figures
    from explorer.pairtypes import TYPE_NAMES

    splits = [s for s in ("test", "train") if s in run.splits and cached_analyses.typed_pairs(run.path, epoch, s) is not None]
    if not splits:
        return
    c1, c2 = st.columns([3, 2])
    c1.markdown("**The three pair types of the three-way loss**")
    split = c2.radio("Pairs of", splits, key="types_split", horizontal=True)
    hist, summary = cached_analyses.typed_pairs(run.path, epoch, split)
    left, right = st.columns([3, 2])
    with left:
        fig = figures.type_histogram_figure(hist, TYPE_NAMES, f"Distances of the {split} pairs by type, epoch {epoch}")
        fig.update_layout(height=340, legend={"orientation": "h", "y": -0.25})
        show_figure(fig, f"{run.name}-pair-types-{split}-epoch{epoch}", key="fig_pair_types")
    with right:
        st.dataframe(summary[["type_name", "pairs", "mean_distance", "median_distance"]], hide_index=True,
                     column_config={"type_name": "type",
                                    "mean_distance": st.column_config.NumberColumn("mean d", format="%.3f"),
                                    "median_distance": st.column_config.NumberColumn("median d", format="%.3f")})
        margin, margin_fn = run.config.get("margin"), run.config.get("margin_fn")
        st.caption(f"True positives are pulled together; false negatives (same class, not a near "
                   f"neighbour) pushed out to {margin_fn if margin_fn is not None else '?'} with weight "
                   f"{run.config.get('weight_fn')}; negatives pushed out to the margin {margin}.")
    st.divider()


def distance_block(run, epoch: int) -> None:
    from explorer import figures
    from explorer.verification import PAIR_SETS, SHORT_NAMES

    table = cached_analyses.pair_set_summary(run.path, epoch)
    sets = list(table.loc[table["auc"].notna(), "set"])
    if not sets:
        st.info("No pair set has both similar and dissimilar pairs at this epoch.")
        return
    pair_sets_table(run, table)

    c1, c2 = st.columns([3, 4])
    pair_set = c1.radio("Pairs", sets, format_func=lambda s: SHORT_NAMES.get(s, s), key="dist_set",
                        horizontal=True, index=sets.index("test") if "test" in sets else 0,
                        help="\n\n".join(f"**{SHORT_NAMES[s]}**: {PAIR_SETS[s]}" for s in sets))
    hist, curve, summary = cached_analyses.verification(run.path, epoch, pair_set)
    rows = cached_analyses.pair_sets(run.path, epoch)
    rows = rows[rows["set"] == pair_set]
    lo, hi = float(rows["distance"].min()), float(rows["distance"].max())
    threshold = c2.slider("Threshold: accept a pair as similar when distance ≤", lo, hi,
                          value=float(min(max(summary["eer_threshold"], lo), hi)),
                          step=(hi - lo) / 200 or 0.01, format="%.3f", key=f"dist_threshold-{pair_set}")
    at = curve[curve["threshold"] <= threshold]
    far, tar = (float(at["far"].iloc[-1]), float(at["tar"].iloc[-1])) if len(at) else (0.0, 0.0)
    cells = st.columns(5)
    cells[0].metric("AUC", f"{summary['auc']:.3f}", help=PAIR_SETS.get(pair_set))
    cells[1].metric("EER", f"{summary['eer']:.3f}", help="equal error rate: where false accepts and "
                                                        "false rejects are equally frequent")
    cells[2].metric("EER threshold", f"{summary['eer_threshold']:.3f}")
    cells[3].metric("False accept rate here", f"{far:.3f}")
    cells[4].metric("True accept rate here", f"{tar:.3f}")

    name = SHORT_NAMES.get(pair_set, pair_set)
    fig = figures.histogram_figure(hist, f"Distances of the {name}, epoch {epoch}")
    fig.add_vline(x=threshold, line_dash="dash", line_color="#444", annotation_text=f"threshold {threshold:.3f}")
    fig.update_layout(height=360)
    show_figure(fig, f"{run.name}-distances-{pair_set}-epoch{epoch}", key="fig_hist")

    left, right = st.columns([3, 2])
    with left:
        fig = figures.roc_figure({name: curve}, {name: summary}, f"Verification ROC, epoch {epoch}")
        fig.add_scatter(x=[far], y=[tar], mode="markers", marker={"size": 12, "color": "#444"},
                        name=f"threshold {threshold:.3f}")
        fig.update_layout(height=420, legend={"orientation": "h", "y": -0.2})
        show_figure(fig, f"{run.name}-roc-{pair_set}-epoch{epoch}", key="fig_roc")
    with right:
        per_class_table(run, epoch, pair_set)


def pair_sets_table(run, table) -> None:
    """Every pair set side by side, so the AUC of class-based pairs and of the run's own pairs
    can be told apart (they differ a lot under nn-non-neighbour)."""
    from explorer.verification import SHORT_NAMES

    shown = table.assign(pairs_used=[SHORT_NAMES.get(s, s) for s in table["set"]])
    st.markdown("**Which pairs?** Verification (is the distance below a threshold?) on each pair set")
    st.dataframe(shown[["pairs_used", "pairs", "similar", "auc", "eer", "eer_threshold", "mean_positive",
                        "mean_negative"]], hide_index=True, column_config={
        "pairs_used": st.column_config.TextColumn("pairs", width="medium"),
        "pairs": st.column_config.NumberColumn("n", format="%d"),
        "similar": st.column_config.NumberColumn("similar", format="%d"),
        "auc": st.column_config.NumberColumn("AUC", format="%.3f"),
        "eer": st.column_config.NumberColumn("EER", format="%.3f"),
        "eer_threshold": st.column_config.NumberColumn("EER threshold", format="%.3f"),
        "mean_positive": st.column_config.NumberColumn("mean similar d", format="%.3f"),
        "mean_negative": st.column_config.NumberColumn("mean dissimilar d", format="%.3f")})
    regime = run.config.get("regime")
    note = ("The summary (`python -m explorer summary`) and the compare page report the AUC of the "
            "fresh class-based test pairs: similar means same class. The run's own pairs "
            "(pairs.npz) count as similar what its pair regime drew as similar")
    if regime == "nn-non-neighbour":
        note += (": under nn-non-neighbour a same-class image that is not a near neighbour is a "
                 "negative, so the two AUCs can differ a lot")
    elif regime == "nn-other":
        note += ": under nn-other the positives are near neighbours in pixel space"
    st.caption(note + ".")


def per_class_table(run, epoch: int, pair_set: str) -> None:
    table = cached_analyses.per_class_verification(run.path, epoch, pair_set)
    st.markdown("**Per class** (pairs with an image of the class)")
    st.dataframe(table[["class", "similar", "dissimilar", "auc", "eer", "eer_threshold"]], hide_index=True,
                 column_config={
                     "similar": st.column_config.NumberColumn("sim.", format="%d", help="similar pairs"),
                     "dissimilar": st.column_config.NumberColumn("dis.", format="%d", help="dissimilar pairs"),
                     "auc": st.column_config.NumberColumn("AUC", format="%.3f"),
                     "eer": st.column_config.NumberColumn("EER", format="%.3f", help="equal error rate"),
                     "eer_threshold": st.column_config.NumberColumn(
                         "threshold", format="%.3f", help="the distance at which this class's false accepts "
                                                          "and false rejects are equally frequent")})
    st.caption("A class whose threshold differs from the global one is where one threshold for every "
               "class costs most.")
