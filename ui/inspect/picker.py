"""The sidebar's run picker and run table, and the header of the chosen run."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

import runfmt as rundir
from ui import cached, cached_analyses, url_state
from ui.jobs import job_panel, resume_button
from ui.widgets import (
    PAGE_NEW,
    STATE_ICONS,
    STATE_MARKDOWN,
    class_list,
    progress_text,
    LABEL_CHARS,
    run_label,
    short_words,
    split_name,
)


def run_picker(table: pd.DataFrame) -> str | None:
    """Sidebar: pick a run (newest first). Returns its path, or None when there are none."""
    with st.sidebar:
        st.subheader("Run")
        if table.empty:
            st.caption("No runs yet.")
            return None
        paths = list(table["path"])
        labels = {p: run_label(r) for p, r in zip(paths, table.to_dict("records"))}
        by_name = {Path(p).name: p for p in paths}
        url_state.from_url("run", "run_choice", paths, decode=lambda name: by_name.get(name, name), what="run")
        if st.session_state.get("run_choice") not in paths:  # open on the newest readable run
            kept = st.session_state.get("_kept-run_choice")
            readable = [p for p, s in zip(paths, table["state"]) if s != "unreadable"]
            st.session_state["run_choice"] = kept if kept in paths else (readable or paths)[0]
        chosen = st.session_state["run_choice"]
        path = st.selectbox("Run", paths, key="run_choice", format_func=labels.get,
                            label_visibility="collapsed",
                            help="Runs in the runs directory, newest first: state, name (cut between words), data "
                                 "set, loss, pair regime or miner, epochs and test k-NN accuracy. This one in full: "
                                 f"`{chosen.rsplit('/', 1)[-1]}`")
        st.session_state["_kept-run_choice"] = path
        url_state.to_url("run", Path(path).name)
        full = split_name(path.rsplit("/", 1)[-1])[0]
        if short_words(full, LABEL_CHARS) != full:  # the label cut the name between words
            st.caption("The run's name is shortened above; hover here for it in full.", help=f"`{full}`")
        runs_list(table)
        st.caption(f"Runs directory: `{cached.runs_dir()}`")
    return path


def runs_list(table: pd.DataFrame) -> None:
    """Every run in a table for the sidebar: state mark and name first, so the name is readable in
    its width, then k-NN and epochs; the regime beyond them (the picker above shows it all)."""
    with st.expander(f"All {len(table)} runs", expanded=len(table) <= 6):
        epochs = [f"{_int(e)}/{_int(n)}" if s != "finished" else f"{_int(n)}"
                  for e, n, s in zip(table["epoch"], table["epochs"], table["state"])]
        shown = pd.DataFrame({
            "": [STATE_ICONS.get(s, "•") for s in table["state"]],
            "run": [short_words(split_name(n)[0], NAME_CHARS) for n in table["name"]],
            "k-NN": table["test_knn_accuracy"],
            "ep": epochs,
            "regime": [_short_regime(r, l) for r, l in zip(table["regime"], table["loss"])],
        })
        column = st.column_config
        st.dataframe(shown, hide_index=True, width="stretch", column_config={
            "": column.TextColumn("", width=28, help="state: ✓ finished, ▶ running, ⏸ interrupted, "
                                                     "✗ failed, ■ cancelled, ⚠ unreadable"),
            "k-NN": column.NumberColumn("k-NN", format="%.3f", width=52, help="test k-NN accuracy, last epoch"),
            "regime": column.TextColumn("regime", width=92, help="loss and pair regime"),
            "ep": column.TextColumn("ep", width=38, help="epochs (done/planned while not finished)"),
            "run": column.TextColumn("run", width=124, help="the run's name, cut between words; the picker's "
                                                                  "and the page title's hover show it whole"),
        })


def _int(value) -> str:
    return "?" if value is None or pd.isna(value) else str(int(value))


def _short_regime(regime, loss) -> str:
    names = {"random": "random", "nn-other": "nn-other", "nn-non-neighbour": "nn-non-nb",
             "batch-hard": "mined: batch-hard", "semi-hard": "mined: semi-hard"}
    if regime is None or pd.isna(regime):
        return loss if isinstance(loss, str) else ""  # a method without a regime (magnet) names itself
    return ("trip " if loss == "triplet" and regime not in ("batch-hard", "semi-hard") else "") + names.get(regime, str(regime))


NAME_CHARS = 40  # a run's name in the sidebar's table, cut at a word boundary (the whole name on hover)
TITLE_CHARS = 64


def title(row) -> None:
    name, started = split_name(row["name"])
    shown = short_words(name, TITLE_CHARS)
    st.title(f"{STATE_MARKDOWN.get(row['state'], '')} {shown}", help=name if shown != name else None)
    if started:
        st.caption(f"Started {started}")


def header(run, row) -> None:
    """Title, the run's setup in one line, where it stands and its last accuracies; the live job
    while it trains; what went wrong, with Resume, when it stopped early."""
    title(row)
    config = run.config
    names = run.class_names or [str(c) for c in config.get("classes") or []]
    st.caption(f"{config.get('dataset')} ({class_list(names, 12) or 'all classes'}) · "
               f"{config.get('loss')} loss{method_setup(config)} · {run.embedding_dim}-D embedding"
               f"{' (L2-normalised)' if config.get('normalize') else ''} · {config.get('epochs')} epochs · "
               f"lr {config.get('lr')} · seed {config.get('seed')} · `{run.path}`")
    status = {**run.status, "state": run.state}
    last = run.metrics[run.metrics["knn_accuracy"].notna()]
    last = last[last["epoch"] == last["epoch"].max()].set_index("split") if len(last) else last
    parts = [f"**{run.state}** · {progress_text(status)}"]
    for split, label in (("test", "test"), ("shifted", "shifted"), ("val", "validation")):
        if len(last) and split in last.index:
            parts.append(f"{label} k-NN **{last.loc[split, 'knn_accuracy']:.3f}**")
    parts += method_figures(run)
    st.markdown(" · ".join(parts), help="k-NN: a 5-NN classifier fitted on the train embeddings of "
                                        "the last epoch, as monitored during training")
    from explorer.stuck import run_stuck

    stuck = run_stuck(run)
    if stuck:
        st.warning(stuck, icon=":material/trending_flat:")
    if run.state == rundir.RUNNING:
        job_panel(str(run.path))  # the map follows new snapshots itself (ui.inspect.live)
    elif run.state in rundir.RESUMABLE:
        message = run.status.get("error") or f"the run was {run.state}"
        with st.container(border=True):
            text, button = st.columns([5, 1], vertical_alignment="center")
            kind = text.error if run.state == rundir.FAILED else text.warning
            kind(f"This run {run.state} after epoch {run.status.get('epoch', 0)} of "
                 f"{run.status.get('epochs', '?')}: {message}", icon=":material/warning:")
            with button:
                resume_button(str(run.path), key=f"resume-header-{run.name}", type="primary")


def _setup_words() -> dict[str, str]:
    from training.config import TrainConfig
    from training.options import declared

    return {name: option.short for name, option in declared(TrainConfig).items() if option.short}


SETUP_WORDS = _setup_words()  # a method option's words in the run header, from its declaration


def method_setup(config: dict) -> str:
    """The options the run's method reads, in a few words: ' · random pairs · margin 1.0 · batch 128'."""
    from training.objectives import METHODS, used_options

    loss = config.get("loss")
    if loss not in METHODS:
        return ""
    read = used_options(loss, config.get("miner") or "none", config.get("regime"))
    words = [SETUP_WORDS.get(o, o + " {}").format(config[o]) for o in read
             if config.get(o) is not None and not (o == "miner" and config[o] == "none")]
    return "".join(f" · {w}" for w in words)


def method_figures(run) -> list[str]:
    """A method's own figures at the last snapshot: magnet's accuracy by its centres, BCE's head AUC."""
    if not run.epochs:
        return []
    epoch = run.epochs[-1]
    if run.config.get("loss") == "magnet" and "test" in run.splits:
        try:
            accuracy = cached_analyses.evaluation(run.path, epoch, "magnet", "test").accuracy
        except ValueError:
            return []
        return [f"test magnet accuracy (L closest centres) **{accuracy:.3f}**"]
    found = cached_analyses.head_verification(run.path, epoch) if run.config.get("loss") == "bce" else None
    if found is not None:
        return [f"head AUC **{found['head'][1]['auc']:.3f}** (distance AUC {found['distance'][1]['auc']:.3f})"]
    return []


def no_snapshot_yet(run) -> None:
    if run.state == rundir.RUNNING:
        st.info("The map and analyses appear here as soon as the run writes its first embedding "
                "snapshot (the untrained net, epoch 0), then grow with every epoch.")
        return
    st.info(f"This run {run.state} before it wrote any embedding snapshot, so there is no map to "
            "show." + (" Resume it with the button above, or start another run." if run.state in rundir.RESUMABLE
                       else " Start another run."))
    st.page_link(PAGE_NEW, label="New run", icon=":material/rocket_launch:")
