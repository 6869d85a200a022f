"""The "Import embeddings" page: a Parquet, .npy or .npz file of embeddings computed elsewhere,
uploaded or named by its path, becomes a run directory (explorer.importer does the work).

Bad input shows as one error line naming the file and the column. An upload is kept in a hidden
folder inside the runs directory while it is read, and removed after.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import streamlit as st

from ui import cached
from ui.widgets import PAGE_INSPECT, error_panel

KINDS = ["parquet", "npy", "npz"]


def render() -> None:
    st.title("Import embeddings")
    root = cached.runs_dir()
    st.caption("Embeddings computed elsewhere become a run you can inspect and compare: Parquet with a label "
               "column and the embedding as a list column or as columns e0, e1, ...; optional split "
               "(train/test), image (a path under the images folder, or PNG bytes) and x, y (shown as the map "
               "\"imported\"). Or a .npy / .npz of embeddings with a labels file. The same as `python -m "
               f"explorer import FILE --runs-dir {root}`.")
    upload = st.file_uploader("Embeddings file", type=KINDS, key="import_upload")
    typed = st.text_input("…or its path on this machine", key="import_path", placeholder="/data/embeddings.parquet")
    c1, c2 = st.columns(2)
    label = c1.text_input("Label column (Parquet)", value="label", key="import_label")
    vector = c2.text_input("Embedding list column (Parquet; empty: found by itself)", key="import_vector")
    labels_upload = c1.file_uploader("Labels file for .npy/.npz (one label a line, or .npy)", type=["txt", "npy"],
                                     key="import_labels")
    images_dir = c2.text_input("Images folder (the image column's paths lie under it)", key="import_images")
    name = c1.text_input("Label added to the run's name", key="import_name")
    if not st.button("Import", type="primary", icon=":material/upload:", key="import_go"):
        return
    with error_panel():
        run_dir, notes = _import(root, upload, typed.strip(), labels_upload, label.strip() or "label",
                                 vector.strip() or None, images_dir.strip() or None, name.strip() or None)
        for note in notes:
            st.info(note[:1].upper() + note[1:], icon=":material/info:")
        st.success(f"Imported into {run_dir.name}", icon=":material/check:")
        st.session_state["run_choice"] = str(run_dir)
        st.page_link(PAGE_INSPECT, label="Inspect it", icon=":material/search:")


def _import(root: Path, upload, typed: str, labels_upload, label, vector, images_dir, name):
    from explorer.importer import ImportInputError, import_file

    if upload is None and not typed:
        raise ImportInputError("choose a file to upload, or type its path")
    root.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".upload-", dir=root))  # inside the runs directory, removed below
    try:
        source = Path(typed).expanduser() if upload is None else _save(scratch, upload)
        labels = _save(scratch, labels_upload) if labels_upload is not None else None
        return import_file(source, root, label=label, vector=vector, labels_file=labels, images_dir=images_dir,
                           name=name)
    except ImportInputError as e:  # name an upload as the user knows it, not by its scratch copy
        raise ImportInputError(str(e).replace(f"{scratch}/", "uploaded ")) from None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _save(folder: Path, upload) -> Path:
    path = folder / Path(upload.name).name
    path.write_bytes(upload.getvalue())
    return path
