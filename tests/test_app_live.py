"""The live map (ui/inspect/live.py), as AppTest sees it: while a run trains, a PCA map is
aligned to the epoch before, and the marks drawn over it (Look closer) sit on the aligned points.
The browser side (the points gliding without a page rerun) is in tests/browser/test_map_element.py."""

from __future__ import annotations

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from fakerun import make_fake_run
from test_app import APP, _TABLES, assert_clean, text_of, the_map
from training import rundir


@pytest.fixture
def training_run(tmp_path, monkeypatch):
    path = make_fake_run(tmp_path, "20260101-000000-live-abcdef", state="running", epochs=3, epochs_done=1, dim=3)
    monkeypatch.setenv("EXPLORER_RUNS_DIR", str(tmp_path))
    monkeypatch.setenv("EXPLORER_WARM_UP", "0")
    return path


def drawn(at, table, split: str, row: int) -> tuple[float, float]:
    """Where the map draws a point now (the live map's newest positions)."""
    spec = the_map(at).spec
    positions = _TABLES[spec["positions"]] if spec["positions"] else _TABLES[spec["points"]]
    frame = table.frame
    i = int(np.flatnonzero((frame["split"] == split).to_numpy() & (frame["row"] == row).to_numpy())[0])
    return float(positions["x"][i]), float(positions["y"][i])


def picked_mark(at) -> tuple[float, float]:
    (mark,) = [o for o in the_map(at).overlays("marks") if o["text"] and o["text"][0].startswith("picked")]
    return mark["x"][0], mark["y"][0]


def test_a_live_pca_maps_marks_sit_on_its_aligned_points(training_run):
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["map"] = "pca"
    at.session_state["selection-inspect"] = {"owner": str(training_run), "points": [("test", 3)], "how": "map"}
    at.run()
    assert_clean(at)
    assert "the map follows the training, now at epoch 1" in text_of(at)
    table = at.session_state["_map-table-inspect"]
    before = drawn(at, table, "test", 3)
    assert picked_mark(at) == pytest.approx(before, abs=1e-4)

    # epoch 2: the embedding reflected, so its own PCA map lies elsewhere (checked), while the
    # aligned map stays put, and the mark stays on its point
    snapshot = rundir.read_snapshot(training_run, 1)
    rundir.write_snapshot(training_run, 2, snapshot.assign(e0=-snapshot["e0"]))
    rundir.write_status(training_run, "running", 2, 3)
    from explorer.projections import projection
    from explorer.runs import load_run

    own = projection(load_run(training_run), 2, "pca").set_index(["split", "row"]).loc[("test", 3), ["x", "y"]]
    assert not np.allclose(own.to_numpy(float), before, atol=0.5)
    at.run()
    assert_clean(at)
    assert "now at epoch 2" in text_of(at)
    after = drawn(at, table, "test", 3)
    assert after == pytest.approx(before, abs=1e-3)
    assert picked_mark(at) == pytest.approx(after, abs=1e-4)
