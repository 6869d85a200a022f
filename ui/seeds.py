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

BADGES = {seeds.REPRODUCED: ":green-badge[:material/check: reproduced {}]",
          seeds.NOT_REPRODUCED: ":red-badge[:material/close: not reproduced {}]",
          seeds.NOT_YET_RUN: ":gray-badge[:material/hourglass_empty: not yet run]"}
WEAK = {seeds.REPRODUCED: ":orange-badge[:material/help: reproduced {}]",
        seeds.NOT_REPRODUCED: ":orange-badge[:material/help: not reproduced {}]"}


def badge(result) -> str:
    """The verdict as a badge: a weak one (fewer than three seeds a side) in orange, with its strength."""
    kind = WEAK if result.weak and result.status in WEAK else BADGES
    return kind[result.status].format(result.strength).replace(" ]", "]")


@st.cache_resource(max_entries=8, show_spinner=False)  # results hold the claims' checks: kept, not pickled
def _results(root: str, key: tuple) -> list:
    return seeds.check_claims(root)


def check_claims(root) -> list:
    """explorer.seeds.check_claims, checked again only when a run is added or changes."""
    key = tuple((p.name, run_mtime(p)) for p in rundir.list_run_dirs(root))
    return _results(str(root), key)


def render() -> None:
    st.title("Seed experiments")
    root = cached.runs_dir()
    st.caption(f"The seed documents' claims, checked on the finished runs in {root}. A run counts for a claim "
               "only if it is the preset's experiment: every option the preset sets must match (data set, classes, "
               "loss and its form, regime or miner, backbone, embedding size, epochs, normalisation, α, training "
               "shifts), the seed and a sweep's swept option aside. Runs with the same options and seed count once. "
               "A verdict from one run a side is marked weak (orange): the spread between seeds is unknown; with "
               "two or more a side the difference must also exceed that spread. See docs/seed-claims.md.")
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
        st.dataframe(table, hide_index=True, column_order=["seed", "claim", "verdict", "rule", "evidence", "runs"],
                     column_config={
            "claim": st.column_config.TextColumn(width="medium"),
            "verdict": st.column_config.TextColumn(width="medium", help="the status, and how many runs a side it "
                                                                        "rests on (weak with fewer than three)"),
            "rule": st.column_config.TextColumn(width="medium"),
            "evidence": st.column_config.TextColumn(width="large"),
            "runs": st.column_config.NumberColumn("runs used", format="%d")})
    for seed, title in seeds.SEEDS.items():
        st.subheader(f"Seed {seed}: {title}")
        for result in (r for r in results if r.claim.seed == seed):
            with error_panel(f"claim {result.claim.id}"):
                claim_panel(result, root)
    st.page_link(PAGE_NEW, label="New run: a form for every option, with presets of the seeds' experiments",
                 icon=":material/rocket_launch:")


def claim_panel(result, root) -> None:
    claim = result.claim
    with st.container(border=True, key=f"claim-{claim.id}"):
        verdict, rule = st.columns([3, 2])
        with verdict:
            st.markdown(f"{badge(result)} **{claim.statement}**")
            st.markdown(f"Measured: {result.evidence}." if result.status != seeds.NOT_YET_RUN else f"{result.evidence}.")
        rule.caption(f"**Rule:** {claim.rule}. **Runs it:** "
                     + ", ".join(f"`{p}`" for p in claim.presets)
                     + (f" (as a sweep over {', '.join(claim.free)})" if claim.sweep else "") + ".")
        needed = seeds.needs(claim)
        if needed and result.status == seeds.NOT_YET_RUN:
            st.caption("**Needs data that is not bundled:** " + " · ".join(needed))
        if result.missing:
            st.markdown("To run what is missing:" if result.status == seeds.NOT_YET_RUN else "To run more of it:")
            st.code("\n".join(seeds.commands(claim, result.missing, root)), language="bash", wrap_lines=True)
        elif result.weak:
            st.caption("With fewer than three seeds a side the verdict is weak. More seeds beside seed 0:")
            st.code("\n".join(seeds.commands(claim, list(claim.presets), root, seeds=(1, 2), sweep=True)),
                    language="bash", wrap_lines=True)
        counted = sum(len(n) for n in result.runs.values())
        near = sum(len(n) for n in result.near.values())
        if counted or near or result.unfinished:
            with st.expander(f"Runs: {counted} counted" + (f", {near} not counted" if near else "")
                             + (f", {sum(len(n) for n in result.unfinished.values())} not finished"
                                if result.unfinished else "")):
                lines = [f"- `{preset}`: " + "; ".join(result.values.get(preset) or names)
                         for preset, names in result.runs.items() if names]
                lines += [f"- {line}" for line in result.duplicates]
                lines += [f"- `{preset}`, not finished: {', '.join(names)}" for preset, names in result.unfinished.items()]
                lines += [f"- `{preset}`, {why}" for preset, whys in result.near.items() for why in whys]
                st.markdown("\n".join(lines))
