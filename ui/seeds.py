"""The "Seed experiments" page: each seed document's claims next to what the user's own runs show.

Every claim is marked reproduced, not reproduced or not yet run, with the measured evidence and,
for what is missing, the command that runs it. The checks live in explorer.seeds; this page lays
them out and caches them per run listing (run names and file times).
"""

from __future__ import annotations

import streamlit as st

from explorer import seeds
from explorer.sweeps import run_mtime
import runfmt as rundir
from ui import cached
from ui.widgets import PAGE_NEW, error_panel

BADGES = {seeds.REPRODUCED: ":green-badge[:material/check: reproduced]",
          seeds.NOT_REPRODUCED: ":red-badge[:material/close: not reproduced]",
          seeds.NOT_YET_RUN: ":gray-badge[:material/hourglass_empty: not yet run]"}
NO_CLAIM = {"002": "Seed 002 makes no claim checked here: its presets `seed002-autoencoder` and "
                   "`seed002-transfer-frozen` train baselines to put beside the others on the Compare page."}


@st.cache_data(max_entries=8, show_spinner=False)
def _results(root: str, key: tuple) -> list:
    return seeds.check_claims(root)


def check_claims(root) -> list:
    """explorer.seeds.check_claims, checked again only when a run is added or changes."""
    key = tuple((p.name, run_mtime(p)) for p in rundir.list_run_dirs(root))
    return _results(str(root), key)


def render() -> None:
    st.title("Seed experiments")
    root = cached.runs_dir()
    st.caption(f"The seed documents' claims, checked on the finished runs in {root}. A run belongs to a preset "
               "by the preset recorded in its config.json, else by its options (explorer/seeds.py). A claim "
               "compares the mean over runs; with two or more runs (seeds) on each side the difference must also "
               "exceed the spread between seeds.")
    results = None
    with error_panel("the seed claims"), st.spinner("Measuring the runs of the seeds' presets…"):
        results = check_claims(root)
    if results is None:
        return
    counts = {s: sum(r.status == s for r in results) for s in seeds.STATUSES}
    for column, (status, n) in zip(st.columns(len(counts)), counts.items()):
        column.metric(status.capitalize(), f"{n} of {len(results)}")
    with error_panel("the table of claims"):
        table = seeds.claims_table(results)
        st.dataframe(table, hide_index=True, column_config={
            "claim": st.column_config.TextColumn(width="medium"),
            "evidence": st.column_config.TextColumn(width="large"),
            "runs": st.column_config.NumberColumn("runs used", format="%d")})
    for seed, title in seeds.SEEDS.items():
        st.subheader(f"Seed {seed}: {title}")
        if seed in NO_CLAIM:
            st.caption(NO_CLAIM[seed])
        for result in (r for r in results if r.claim.seed == seed):
            with error_panel(f"claim {result.claim.id}"):
                claim_panel(result, root)
    st.page_link(PAGE_NEW, label="New run: a form for every option, with presets of the seeds' experiments",
                 icon=":material/rocket_launch:")


def claim_panel(result, root) -> None:
    claim = result.claim
    with st.container(border=True, key=f"claim-{claim.id}"):
        st.markdown(f"{BADGES[result.status]} **{claim.statement}**")
        st.markdown(f"Measured: {result.evidence}." if result.status != seeds.NOT_YET_RUN else f"{result.evidence}.")
        used = {p: names for p, names in result.runs.items() if names}
        st.caption(f"Checked: {claim.rule}. Presets: {', '.join(f'`{p}`' for p in claim.presets)}"
                   + (" (a run of any one of them)" if claim.any_of else "") + ".")
        if result.missing:
            st.markdown("To run what is missing:" if result.status == seeds.NOT_YET_RUN else "To run more of it:")
            st.code("\n".join(seeds.commands(claim, result.missing, root)), language="bash", wrap_lines=True)
        elif result.status != seeds.NOT_YET_RUN and (few := [p for p, n in used.items() if len(n) < 2]):
            st.caption("With fewer than two runs a side the spread between seeds is unknown. Two more seeds "
                       "beside seed 0:")
            st.code("\n".join(seeds.commands(claim, few, root, seeds=(1, 2), sweep=True)), language="bash",
                    wrap_lines=True)
        if used or result.unfinished:
            with st.expander(f"Runs ({sum(len(n) for n in used.values())} finished"
                             + (f", {sum(len(n) for n in result.unfinished.values())} not" if result.unfinished else "")
                             + ")"):
                lines = [f"- `{preset}`: {', '.join(names)}" for preset, names in used.items()]
                lines += [f"- `{preset}`, not finished: {', '.join(names)}" for preset, names in result.unfinished.items()]
                st.markdown("\n".join(lines))
