"""The Hard pairs tab: the run's own pairs (or triplets) that its loss finds hardest, with both
images, their distance and pair type, filterable by class pair; they can be selected on the map."""

from __future__ import annotations

import streamlit as st

from ui import cached_analyses
from ui.inspect.map import SCOPE
from ui.widgets import SPLIT_TITLES, set_selection

PER_ROW = 4


def hard_pairs_tab(run, epoch: int) -> None:
    triplet = run.config.get("loss") == "triplet"
    miner = (run.config.get("miner") or "none") if triplet else "none"
    kind_word = "triplets" if triplet else "pairs"
    if miner != "none":  # mined on the snapshot's embeddings, not read from pairs.npz
        splits = [s for s in ("train", "test") if s in run.splits]
    else:
        stored = run.pairs()
        splits = [s for s in ("train", "test") if s in run.splits and len(stored.get(f"{s}_{kind_word}", []))]
    if not splits:
        st.info(f"This run has no {kind_word} in its pairs file yet.")
        return
    c1, c2, c3, c4 = st.columns([2, 3, 4, 2])
    split = c1.radio(f"The run's {kind_word} on", splits, key="hard_split", horizontal=True,
                     format_func=SPLIT_TITLES.get)
    from explorer.hardpairs import MinerUnavailable

    try:
        frame = cached_analyses.hard_pairs(run.path, epoch, split)
    except MinerUnavailable as e:
        st.warning(f"This run's triplets come from its {miner} miner, which cannot run here: {e}.",
                   icon=":material/warning:")
        return
    if triplet:
        kinds = ["triplet"]
        c2.caption("Triplets: anchor, positive, negative; hardest when the negative lies closer than "
                   "the positive plus the margin.")
    else:
        shown_kind = c2.radio("Show", ["both", "positive", "negative"], key="hard_kinds", horizontal=True,
                              format_func=lambda k: {"both": "both", "positive": "positives far",
                                                     "negative": "negatives close"}[k],
                              help="Positives (similar pairs) that lie far apart, negatives (dissimilar "
                                   "pairs) that lie closer than the margin, or the hardest of both")
        kinds = ["positive", "negative"] if shown_kind == "both" else [shown_kind]
    counts = frame["class_pair"].value_counts()
    pairs = c3.multiselect("Class pairs", list(counts.index), key=f"hard_class_pairs-{run.name}",
                           format_func=lambda p: f"{p} ({counts[p]})", placeholder="every class pair",
                           help="For a triplet: the anchor's class and the negative's, the pair it must tell apart")
    top = c4.number_input("How many", 4, 200, 16, step=4, key="hard_top")
    shown = frame[frame["kind"].isin(kinds)]
    if pairs:
        shown = shown[shown["class_pair"].isin(pairs)]
    losing = int((shown["loss"] > 0).sum())
    margin = frame.attrs.get("margin", run.config.get("margin"))
    loss = frame.attrs.get("loss", "contrastive")
    from explorer.hardpairs import FORMULAS

    form = frame.attrs.get("form", "seed000")
    formula = "max(d(a, p) − d(a, n) + m, 0)" if loss == "triplet" else FORMULAS.get(form, FORMULAS["seed000"])
    where = (f"those its {miner} miner picks on epoch {epoch}'s embeddings, in seeded class-balanced batches "
             f"of {run.config.get('classes_per_batch') or 'every (at most 10)'} classes × "
             f"{run.config.get('images_per_class')} images drawn from the snapshot's {split} points, as in training"
             if miner != "none" else f"those the run drew (pairs.npz) under its {run.config.get('regime')} regime")
    st.caption(f"Hardness is the run's own {loss} loss"
               + (f" ({form} form)" if loss == "contrastive" else "") + f", {formula}, with margin m = {margin}, "
               f"at epoch {epoch}: {losing:,} of {len(shown):,} {kind_word} shown still cost something. The "
               f"{kind_word} are {where}."
               + (f" {frame.attrs['dropped']} left out: this epoch's snapshot lacks one of their images."
                  if frame.attrs.get("dropped") else ""))
    shown = shown.head(int(top))
    if not len(shown):
        st.info("No pair matches these filters.")
        return
    points = [(split, int(r)) for column in ("a", "b", "n") for r in shown[column] if r >= 0]
    if st.button(f"Select these {len(set(points))} images on the map", key="hard_select", icon=":material/ads_click:"):
        set_selection(SCOPE, str(run.path), points, how="hard pairs")
        st.rerun()
    images = run.images(split)
    records = shown.to_dict("records")
    for start in range(0, len(records), PER_ROW):
        cells = st.columns(PER_ROW)
        for cell, pair in zip(cells, records[start:start + PER_ROW]):
            with cell.container(border=True):
                if pair["kind"] == "triplet":
                    cell_images = [images[pair["a"]], images[pair["b"]], images[pair["n"]]]
                    captions = [f"a {pair['class_a']}", f"p {pair['class_b']}", f"n {pair['class_n']}"]
                    text = (f"**triplet** · d(a,p) {pair['d_ab']:.2f} · d(a,n) {pair['d_an']:.2f} · "
                            f"loss {pair['loss']:.3f}"
                            + (" · negative of the same class" if pair["same_class"] else ""))
                else:
                    cell_images = [images[pair["a"]], images[pair["b"]]]
                    captions = [str(pair["class_a"]), str(pair["class_b"])]
                    kind = pair["kind"]
                    if kind == "negative" and pair["same_class"]:
                        kind = "negative (same class, not a neighbour)"
                    text = f"**{kind}** · d {pair['d_ab']:.2f} · loss {pair['loss']:.3f} · rows {pair['a']}, {pair['b']}"
                st.image(cell_images, caption=captions, width=56 if len(cell_images) == 3 else 64, clamp=True)
                st.caption(text)
