"""The Export tab: embeddings and the map shown as CSV, and the full HTML report.

Every download is prepared before its button is offered (st.download_button with bytes, served by
Streamlit's media endpoint): nothing runs when the user clicks, so a download cannot hang.
Streamlit's deferred downloads (a callable as ``data``) run the callable in a server thread when
clicked while the button spins with no time limit, and say nothing when it fails; that is how
"Embeddings of this epoch (CSV)" could sit greyed out. The CSV of every epoch is built on request,
one snapshot at a time.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import streamlit as st

from ui import cached
from ui.widgets import ERROR_ICON, METHOD_NAMES


def export_tab(run, epoch: int) -> None:
    st.markdown("**Data**")
    c1, c2, c3 = st.columns(3)
    with c1:
        st.download_button("Embeddings of this epoch (CSV)", cached.epoch_csv(run.path, epoch),
                           file_name=f"{run.name}-embeddings-epoch{epoch}.csv", mime="text/csv",
                           key="dl_emb_epoch", icon=":material/download:", on_click="ignore")
        sub = cached.subsampled(run.path, epoch)
        if sub:
            st.caption(f"Epoch {epoch} holds a subset of the points (--snapshot-max-points).")
    with c2:
        all_epochs(run)
    with c3:
        shown = st.session_state.get("_map_shown")
        if shown and shown[0] == str(run.path):
            import json

            method, params = shown[2], json.loads(shown[3])
            frame = cached.projection(run.path, shown[1], method, params)
            st.download_button(f"The {METHOD_NAMES[method]} map shown (CSV)", cached.frame_csv(frame),
                               file_name=f"{run.name}-{method}-epoch{shown[1]}.csv", mime="text/csv",
                               key="dl_proj", icon=":material/download:", on_click="ignore")
    st.caption("Every figure has its own “figure as HTML” button under it.")

    st.markdown("**HTML report** (every analysis of this epoch in one self-contained file)")
    method = shown[2] if shown and shown[0] == str(run.path) else None
    key = (str(run.path), epoch, method)
    report = st.session_state.get("report")
    if st.button("Build the HTML report", key="build_report", icon=":material/description:"):
        report = {"key": key, **build_report(run, epoch, method)}
        st.session_state["report"] = report
    if report and report.get("key") == key:
        if report.get("error"):
            st.error(report["error"], icon=ERROR_ICON)
        else:
            st.download_button("Download the report", report["html"], file_name=report["name"],
                               mime="text/html", key="dl_report", type="primary", icon=":material/download:",
                               on_click="ignore")


def all_epochs(run) -> None:
    """Every epoch's embeddings in one CSV: built when asked (with a progress bar), then offered."""
    ready = st.session_state.get("_all_epochs_csv")
    marker = (str(run.path), cached.run_mtime(run.path))
    if ready and ready["marker"] == marker:
        st.download_button("Embeddings of every epoch (CSV)", ready["csv"], file_name=f"{run.name}-embeddings.csv",
                           mime="text/csv", key="dl_emb_all", icon=":material/download:", on_click="ignore")
        st.caption(f"{len(run.epochs)} epochs, {len(ready['csv']) / 1e6:.1f} MB")
        return
    if st.button(f"Prepare the CSV of every epoch ({len(run.epochs)})", key="prepare_all_epochs",
                 icon=":material/table_view:"):
        bar = st.progress(0.0, text="reading the snapshots")
        csv = cached.all_epochs_csv(run.path, progress=lambda f, text: bar.progress(f, text=text))
        bar.empty()
        st.session_state["_all_epochs_csv"] = {"marker": marker, "csv": csv}
        st.rerun()


def build_report(run, epoch: int, method: str | None) -> dict:
    """explorer's HTML report, written by `python -m explorer report` in a child process (its
    retrieval metrics need torch, which the app never imports)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "report.html"
        command = [sys.executable, "-m", "explorer", "report", str(run.path), "-o", str(out), "--epoch", str(epoch)]
        if method:
            command += ["--method", method]
        bar = st.progress(0.0, text="starting the report (a few seconds to load the analysis libraries)")
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   cwd=Path(__file__).resolve().parents[2])
        lines = []
        for line in process.stderr:
            lines.append(line.strip())
            if line.startswith("[") and "%]" in line:
                try:
                    fraction = float(line[1:line.index("%")]) / 100
                except ValueError:
                    fraction = 0.0
                bar.progress(min(max(fraction, 0.0), 1.0), text=line[line.index("]") + 1:].strip())
        process.wait()
        bar.empty()
        if process.returncode != 0 or not out.exists():
            errors = [line for line in lines if line.startswith("error:")] or lines[-1:] or ["no output"]
            return {"error": f"The report could not be built: {errors[-1].removeprefix('error:').strip()}"}
        return {"html": out.read_bytes(), "name": f"{run.name}-epoch{epoch}-report.html"}
