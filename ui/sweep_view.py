"""The Compare page's group view: a sweep (``python -m training sweep``) opened as one group.

Each metric against the swept value with mean ± std over the seeds, the table of which
differences between grid points exceed the spread between seeds, and the sweep's runs with their
states (pending and running ones shown as such, and left out of the means). The numbers come from
explorer.sweeps; this module only lays them out and caches them per manifest and run file times.
"""

from __future__ import annotations

import datetime
from pathlib import Path

import pandas as pd
import streamlit as st

from explorer import sweep_stats, sweeps
from ui import cached, url_state
from ui.widgets import PAGE_INSPECT, STATE_ICONS, error_panel, keep, remember, short_name, show_figure

KEYS = ("cmp_sweep", "cmp_sweep_x", "cmp_sweep_metric", "cmp_sweep_run")
MAX_FIXED_OPTIONS = 12  # fixed options listed in the caption; the rest sit in the expander
NOT_SHOWN = ("runs_dir", "name", "run_dir", "seed", "preset")  # shown elsewhere, or not what runs train


# ---------------------------------------------------------------- cached reads


def _listing_key(root: Path) -> tuple:
    folder = sweeps.sweeps_dir(root)
    try:
        entries = sorted(folder.iterdir()) if folder.is_dir() else []
    except OSError:
        return ()
    key = []
    for entry in entries:
        try:
            key.append((entry.name, (entry / sweeps.MANIFEST).stat().st_mtime))
        except OSError:
            key.append((entry.name, 0.0))
    return tuple(key)


@st.cache_data(max_entries=8, show_spinner=False)
def _sweeps(root: str, key: tuple) -> list:
    return sweeps.list_sweeps(root)


def list_sweeps(root: Path) -> list:
    """explorer.sweeps.list_sweeps, read again only when a manifest changes."""
    return _sweeps(str(root), _listing_key(root))


@st.cache_data(max_entries=16, show_spinner=False)
def _table(folder: str, root: str, manifest_mtime: float, runs_key: tuple) -> tuple[pd.DataFrame, dict]:
    table = sweeps.sweep_table(sweeps.read_sweep(folder, root))
    return table, table.attrs["swept"]


def sweep_table(sweep) -> pd.DataFrame:
    """explorer.sweeps.sweep_table, computed again only when the manifest or one of its runs changes."""
    runs_key = tuple(sweeps.run_mtime(sweep.runs_dir / r["run"]) if r["run"] else 0.0 for r in sweep.runs)
    table, swept = _table(str(sweep.path), str(sweep.runs_dir), sweep.mtime, runs_key)
    table = table.copy()
    table.attrs["swept"] = swept
    return table


# ---------------------------------------------------------------- the view


def render() -> None:
    keep(*KEYS)
    root = cached.runs_dir()
    found = list_sweeps(root)
    readable = [s for s in found if s.readable]
    for bad in (s for s in found if not s.readable):
        st.warning(f"Sweep {bad.id} is unreadable: {bad.error}", icon=":material/warning:")
    if not readable:
        st.info(f"No sweep in {root / sweeps.SWEEPS_DIR} yet. A sweep trains one run per grid point and seed, "
                f"for example `python -m training sweep --runs-dir {root} --preset seed000-outlab-regime1 "
                "--regime nn-other nn-non-neighbour --seeds 0 1 2`; its runs and manifest appear here as it goes.")
        return
    by_id = {s.id: s for s in readable}
    url_state.from_url("sweep", "cmp_sweep", by_id, what="sweep")
    url_state.link_problems()
    if st.session_state.get("cmp_sweep") not in by_id:
        st.session_state["cmp_sweep"] = readable[0].id
    chosen = st.selectbox("Sweep", list(by_id), format_func=lambda i: _label(by_id[i]), key="cmp_sweep")
    remember("cmp_sweep")
    url_state.to_url("sweep", chosen)
    with error_panel("the sweep"):
        show_sweep(by_id[chosen])
    remember(*KEYS)


def _label(sweep) -> str:
    swept = " × ".join(f"{k} ({len(v)})" for k, v in sweep.swept.items()) or "nothing swept"
    done = sum(1 for r in sweep.runs if r["state"] == sweeps.FINISHED)
    when = (" · " + datetime.datetime.fromtimestamp(sweep.created_at).strftime("%d %b %Y %H:%M")
            if sweep.created_at else "")
    return f"{sweep.name} · {swept} · {len(sweep.seeds)} seeds · {done}/{len(sweep.runs)} runs finished{when}"


def show_sweep(sweep) -> None:
    st.subheader(f"Sweep {sweep.name}")
    swept = "; ".join(f"**{k}** {', '.join(sweeps.show_value(v) for v in values)}" for k, values in sweep.swept.items())
    fixed = notable_options(sweep)
    shown = ", ".join(f"{k} {sweeps.show_value(v)}" for k, v in list(fixed.items())[:MAX_FIXED_OPTIONS])
    st.markdown(f"Swept: {swept or 'nothing'} · seeds {', '.join(map(str, sweep.seeds)) or '-'}"
                + (f" · preset `{sweep.preset}`" if sweep.preset else ""))
    if shown:
        st.caption(f"Fixed, besides the defaults: {shown}" + (" …" if len(fixed) > MAX_FIXED_OPTIONS else ""))
    if sweep.command:
        with st.expander("Command and every fixed option"):
            st.code(" ".join(sweep.command), language="bash", wrap_lines=True)
            st.json(sweep.base, expanded=False)
    table = sweep_table(sweep)
    counts = sweeps.state_counts(table)
    st.markdown(f"{len(table)} runs: " + ", ".join(f"{STATE_ICONS.get(s, '•')} {n} {s}" for s, n in counts.items()))
    finished = counts.get(sweeps.FINISHED, 0)
    waiting = len(table) - finished
    if waiting:
        c1, c2 = st.columns([5, 1], vertical_alignment="center")
        c1.info(f"Means and spreads count the {finished} finished runs only; {waiting} more are pending, "
                "running or stopped (listed below).", icon=":material/hourglass_top:")
        c2.button("Reload", key="cmp_sweep_reload", icon=":material/refresh:", help="Read the sweep's runs again")
    if not finished:
        runs_list(table)
        return
    if not sweep.swept:
        st.info("This sweep sweeps no option: it repeats one setup over its seeds.", icon=":material/info:")
        st.markdown("**Mean ± std over seeds**")
        st.dataframe(means_table(table), hide_index=True)
        runs_list(table)
        return
    with error_panel("the sweep's figure"):
        figure(sweep, table)
    with error_panel("the differences between grid points"):
        differences(table)
    runs_list(table)


def notable_options(sweep) -> dict:
    """The sweep's fixed options that differ from training's defaults (not where runs go)."""
    from training.config import TrainConfig

    defaults = TrainConfig()
    return {k: v for k, v in sweep.base.items()
            if k not in sweep.swept and k not in NOT_SHOWN and v not in (None, [], "")
            and (not hasattr(defaults, k) or getattr(defaults, k) != v)}


def figure(sweep, table: pd.DataFrame) -> None:
    options = list(sweep.swept)
    x = options[0]
    if len(options) > 1:
        longest = max(options, key=lambda k: len(sweep.swept[k]))
        if st.session_state.get("cmp_sweep_x") not in options:
            st.session_state["cmp_sweep_x"] = longest
        x = st.segmented_control("Plot against", options, key="cmp_sweep_x", required=True) or longest
    fig = sweep_stats.sweep_figure(table, x=x, title=f"Sweep {sweep.name}: each metric against {x.replace('_', ' ')}, "
                                                 "mean ± std over seeds")
    show_figure(fig, f"sweep-{sweep.id}", key="cmp_sweep_fig")
    others = [k for k in options if k != x]
    st.caption("Points: the mean over the finished seeds; error bars: ± one standard deviation over seeds "
               "(n − 1); faint dots beside them: each seed. A grid point with one finished seed has no error bar. "
               + (f"One line per value of {', '.join(others)}. " if others else "")
               + "5-NN accuracies are training's own, from metrics.csv (the last epoch); the verification AUC "
                 "is measured on fresh seeded class-based test pairs of the last snapshot, as `explorer summary`.")
    st.markdown("**Mean ± std over seeds**")
    st.dataframe(means_table(table), hide_index=True)


def means_table(table: pd.DataFrame) -> pd.DataFrame:
    """One row per grid point, one column per metric: "mean ± std (n)"."""
    out = None
    for metric, title in sweeps.METRICS.items():
        agg = sweep_stats.aggregate(table, metric)
        if not agg["n"].any():
            continue
        if out is None:
            out = agg[list(agg.attrs["by"])].map(sweeps.show_value)
        out[title] = [_mean_text(m, s, n) for m, s, n in zip(agg["mean"], agg["std"], agg["n"])]
    return out if out is not None else pd.DataFrame()


def _mean_text(mean: float, std: float, n: int) -> str:
    if not n:
        return "no finished run"
    if n == 1:
        return f"{mean:.3f} (1 seed)"
    return f"{mean:.3f} ± {std:.3f} (n {n})"


def differences(table: pd.DataFrame) -> None:
    st.markdown("**Which differences exceed the spread between seeds**")
    done = table[table["state"] == sweeps.FINISHED]
    metrics = [m for m in sweeps.METRICS if done[m].notna().any()]
    if st.session_state.get("cmp_sweep_metric") not in metrics:
        st.session_state["cmp_sweep_metric"] = metrics[0]
    metric = st.selectbox("Metric", metrics, format_func=sweeps.METRICS.get, key="cmp_sweep_metric")
    found = sweep_stats.differences(sweep_stats.aggregate(table, metric))
    if not len(found):
        st.info("Only one grid point has a finished run: nothing to compare yet.")
        return
    # the verdict and the spread it is judged by first: both in view at 1280 px, the rest beyond
    order = ["a", "b", "verdict", "pooled_std", "delta", "welch_p", "mean_a", "mean_b", "n_a", "n_b"]
    shown = found[order].rename(columns={"a": "from", "b": "to", "mean_a": "mean from", "mean_b": "mean to",
                                         "n_a": "n from", "n_b": "n to", "delta": "Δ mean (to − from)",
                                         "pooled_std": "pooled std over seeds", "welch_p": "Welch p",
                                         "verdict": "exceeds the spread between seeds?"})
    st.dataframe(shown, hide_index=True, column_config={
        "mean from": st.column_config.NumberColumn(format="%.4f"),
        "mean to": st.column_config.NumberColumn(format="%.4f"),
        "Δ mean (to − from)": st.column_config.NumberColumn(format="%+.4f"),
        "pooled std over seeds": st.column_config.NumberColumn(format="%.4f"),
        "Welch p": st.column_config.NumberColumn(format="%.3g")})
    which = "every pair of grid points" if found.attrs["pairs"] == "all" else \
        "neighbouring values of one swept option, the others held equal"
    st.caption(f"{sweeps.METRICS[metric]}, comparing {which}. {found.attrs['rule']}")


def runs_list(table: pd.DataFrame) -> None:
    st.markdown("**The sweep's runs**")
    swept = list(table.attrs.get("swept") or {})
    shown = table[[*swept, "seed", "state", *sweeps.METRICS, "epoch", "epochs", "run", "error"]].copy()
    for option in swept:
        shown[option] = shown[option].map(sweeps.show_value)
    shown["state"] = [f"{STATE_ICONS.get(s, '•')} {s}" for s in shown["state"]]
    shown["run"] = [short_name(r) if isinstance(r, str) else "(not started)" for r in shown["run"]]
    st.dataframe(shown.rename(columns=sweeps.METRICS), hide_index=True, column_config={
        **{title: st.column_config.NumberColumn(format="%.3f") for title in sweeps.METRICS.values()},
        "epoch": st.column_config.NumberColumn(format="%d"), "epochs": st.column_config.NumberColumn(format="%d")})
    st.caption("The state is each run's own status.json (pending: not started yet). Figures of a run that has not "
               "finished are of its last epoch so far, and are left out of the means.")
    openable = [p for p in table["path"] if isinstance(p, str)]
    if not openable:
        return
    c1, c2 = st.columns([4, 1], vertical_alignment="bottom")
    if st.session_state.get("cmp_sweep_run") not in openable:
        st.session_state["cmp_sweep_run"] = openable[0]
    names = dict(zip(table["path"], table["run"]))
    path = c1.selectbox("Open one of its runs", openable, format_func=lambda p: short_name(names.get(p) or p),
                        key="cmp_sweep_run")
    if c2.button("Inspect", icon=":material/search:", key="cmp_sweep_inspect"):
        st.session_state["run_choice"] = path
        st.switch_page(PAGE_INSPECT)
