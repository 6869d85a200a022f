"""The app's Import page, and an imported run on every tab of the Inspect page (AppTest)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from test_app import APP, PAGE_INSPECT, TABS, TIMEOUT, assert_clean, text_of
from training import rundir

PAGE_IMPORT = "ui/pages/import_run.py"


@pytest.fixture
def runs(tmp_path, monkeypatch):
    monkeypatch.setenv("EXPLORER_RUNS_DIR", str(tmp_path / "runs"))
    rng = np.random.default_rng(0)
    labels = np.repeat(["a", "b", "c"], 15)
    X = rng.normal(size=(45, 3)) + np.repeat(np.eye(3) * 6, 15, axis=0)
    pd.DataFrame({"label": labels, "embedding": list(X.astype(np.float32)), "x": X[:, 0], "y": X[:, 1]}
                 ).to_parquet(tmp_path / "good.parquet")
    pd.DataFrame({"label": ["a", "b"], "embedding": [[1.0], [1.0, 2.0]]}).to_parquet(tmp_path / "ragged.parquet")
    return tmp_path


def import_page(path) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.switch_page(PAGE_IMPORT).run()
    at.text_input(key="import_path").set_value(str(path))
    at.button(key="import_go").click().run()
    return at


def test_a_bad_file_is_one_error_line(runs):
    at = import_page(runs / "ragged.parquet")
    assert not at.exception
    [error] = at.error
    assert "ragged.parquet" in error.value and "'embedding'" in error.value and "\n" not in error.value
    assert rundir.list_run_dirs(runs / "runs") == []


def test_an_imported_run_opens_with_its_own_map_and_says_it_has_no_curves(runs):
    at = import_page(runs / "good.parquet")
    assert_clean(at)
    assert "Imported into" in text_of(at) and "No split column" in text_of(at)
    [run] = rundir.list_run_dirs(runs / "runs")
    at.session_state["analysis_tab"] = "Metrics over epochs"
    at.switch_page(PAGE_INSPECT).run()
    assert_clean(at)
    assert at.session_state["map_method-False"] == "imported"
    assert "No training curves" in text_of(at)
    for tab in TABS:
        at.session_state["analysis_tab"] = tab
        at.run()
        assert_clean(at)


class Upload:
    def __init__(self, path):
        self.name, self._data = path.name, path.read_bytes()

    def getvalue(self):
        return self._data


def test_an_upload_is_read_inside_the_runs_directory_and_removed(runs):
    from ui.import_page import _import

    root = runs / "runs"
    run_dir, notes = _import(root, Upload(runs / "good.parquet"), "", None, "label", None, None, "up")
    assert run_dir.parent == root and "up-imported-good" in run_dir.name and notes
    assert sorted(p.name for p in root.iterdir()) == [run_dir.name]  # the upload's scratch folder is gone


def test_an_uploaded_bad_file_is_named_as_uploaded(runs):
    from explorer.importer import ImportInputError
    from ui.import_page import _import

    with pytest.raises(ImportInputError, match=r"^uploaded ragged.parquet: column 'embedding' is ragged"):
        _import(runs / "runs", Upload(runs / "ragged.parquet"), "", None, "label", None, None, None)
    assert list((runs / "runs").iterdir()) == []
