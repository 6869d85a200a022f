"""The Streamlit app under streamlit.testing.v1.AppTest: it starts, every page and tab renders,
the run picker switches runs, the map's selection replaces, clears and is counted in every panel,
search and filter work, bad input is refused with one line, and broken runs stay contained.

Runs are synthetic (tests/fakerun.py), so nothing here trains a network. The runs directory is
chosen through EXPLORER_RUNS_DIR, as a user would. Maps are checked through the figure each
chart sends to the browser (its plotly JSON).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import re

import pytest
from fakerun import make_fake_run
from streamlit.testing.v1 import AppTest

from explorer.maps import split_of
from training import rundir
from training.config import TrainConfig

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")
PAGE_NEW = "ui/pages/new_run.py"
PAGE_COMPARE = "ui/pages/compare.py"
PAGE_INSPECT = "ui/pages/inspect_run.py"
TIMEOUT = 60
TABS = ["Distances & ROC", "Hard pairs", "Suspicious points", "Confusion", "Classification report",
        "Centroids", "Metrics over epochs", "Most confused", "Shifts", "Export"]

# Run directories sort newest first by name: NEWEST opens by default.
NEWEST = "20260103-000000-fake-2d-contrastive"
HIGH_DIM = "20260102-000000-fake-8d-triplet"
FAILED = "20260101-000000-fake-failed"
CORRUPT = "20251231-000000-corrupt"


@pytest.fixture(scope="module")
def runs_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("runs")
    make_fake_run(root, NEWEST, n_classes=2, dim=2, epochs=3)
    make_fake_run(root, HIGH_DIM, n_classes=3, dim=8, epochs=2, loss="triplet", seed=1)
    make_fake_run(root, FAILED, n_classes=2, dim=2, epochs=3, state="failed", epochs_done=1)
    corrupt = root / CORRUPT
    corrupt.mkdir()
    (corrupt / "config.json").write_text("{ not json")
    return root


@pytest.fixture
def runs(runs_root, monkeypatch) -> Path:
    monkeypatch.setenv("EXPLORER_RUNS_DIR", str(runs_root))
    return runs_root


@pytest.fixture
def empty_runs(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "runs"
    monkeypatch.setenv("EXPLORER_RUNS_DIR", str(root))
    return root


def start(page: str | None = None, **state) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    if page:
        at.switch_page(page).run()
    return at


def assert_clean(at: AppTest) -> None:
    """No uncaught exception and no error panel."""
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def text_of(at: AppTest) -> str:
    parts = [e.value for kind in ("title", "header", "subheader", "markdown", "caption", "info",
                                  "warning", "error", "success") for e in getattr(at, kind)]
    return "\n".join(str(p) for p in parts)


def charts(at: AppTest) -> list[dict]:
    """The plotly figures the page sends to the browser."""
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def values(v) -> list:
    """A figure's array as a list: plotly sends numeric arrays as base64 typed arrays."""
    import base64

    import numpy as np

    if isinstance(v, dict) and "bdata" in v:
        array = np.frombuffer(base64.b64decode(v["bdata"]), dtype=v["dtype"])
        if v.get("shape"):
            array = array.reshape([int(n) for n in str(v["shape"]).split(",")])
        return array.tolist()
    return list(v) if v is not None else []


_TABLES: dict = {}  # the map element's tables by content hash, kept as the browser's store keeps them


class MapView:
    """A map element as the browser gets it: its JSON spec and its binary tables (each sent once
    per session, so they are kept across reruns here as in the browser), with what the element
    draws from them worked out as frontend/src/index.js does."""

    def __init__(self, spec: dict):
        self.spec = spec
        self.table = _TABLES[spec["points"]]
        self.extras = {k: _TABLES[h][k] for k, h in spec["extras"].items()}
        self.n = len(self.table["x"])

    @property
    def title(self) -> str:
        return self.spec["title"]

    def titles(self) -> list[str]:
        return [p["title"] for p in self.spec["panels"]]

    def ids(self, panel: int) -> np.ndarray:
        """Row ids drawn in a panel: its splits (and Compare's part), finite, passing the filter."""
        p, t, f = self.spec["panels"][panel], self.table, self.spec["filter"]
        keep = np.isin(t["split"], p["splits"]) & np.isfinite(t["x"])
        lo, hi = p.get("range", [0, self.n])
        keep &= (np.arange(self.n) >= lo) & (np.arange(self.n) < hi)
        if f["classes"]:
            keep &= np.isin(t["label"], f["classes"])
        if f["shifts"]:
            keep &= np.isin(t["shift"], f["shifts"])
        if f["knn"] != "all":
            c = self.extras["correct"]
            keep &= (c == 2) | ((c == 1) == (f["knn"] == "right"))
        return np.flatnonzero(keep)

    def counts(self) -> list[int]:
        return [len(self.ids(i)) for i in range(len(self.spec["panels"]))]

    def selected(self) -> np.ndarray:
        from ui.map_element.ids import decode_ids

        return decode_ids(self.spec["selected"], self.n) if self.spec["selected"] else None

    def highlighted(self) -> dict[int, int | None]:
        """Per panel: how many drawn points are lit (None: no selection, nothing dimmed)."""
        chosen = self.selected()
        return {i: None if chosen is None else int(np.isin(self.ids(i), chosen).sum())
                for i in range(len(self.spec["panels"]))}

    def overlays(self, kind: str | None = None) -> list[dict]:
        return [o for o in self.spec["overlays"] if kind is None or o["kind"] == kind]


def maps_on_page(at: AppTest) -> dict[str, MapView]:
    """{scope: MapView} of the map elements on the page."""
    import pyarrow as pa

    found = {}
    for element in at.get("bidi_component"):
        if element.proto.component_name != "embedding_map":
            continue
        proto = element.proto  # JSON alone once every table is in the browser, else JSON and Arrow
        data = json.loads(proto.mixed.json if proto.WhichOneof("data") == "mixed" else proto.json)
        for name, ref in data.items():
            if name.startswith("t_"):
                blob = element.proto.mixed.arrow_blobs[ref["__streamlit_arrow_ref__"]].data
                table = pa.ipc.open_stream(blob).read_all()
                _TABLES[name[2:]] = {c: table.column(c).to_numpy() for c in table.column_names if not c.startswith("__")}
        found[data["spec"]["scope"]] = MapView(data["spec"])
    return found


def the_map(at: AppTest, scope: str = "inspect") -> MapView:
    try:
        found = maps_on_page(at)
    except KeyError:  # a table sent in a run this test did not read: ask again, as the browser does
        for key in [k for k in at.session_state if str(k).startswith("_map-sent-")]:
            at.session_state[key] = set()
        at.run()
        found = maps_on_page(at)
    if scope not in found:
        raise AssertionError(f"no {scope} map on the page (found {sorted(found)})")
    return found[scope]


def the_map_table(at: AppTest, scope: str = "inspect"):
    """The point table behind a map's row ids (ui.map_element.table.PointTable)."""
    return at.session_state[f"_map-table-{scope}"]


def panel_titles(fig: MapView) -> list[str]:
    return fig.titles()


def highlighted(fig: MapView) -> dict[int, int | None]:
    return fig.highlighted()


def strips(at: AppTest) -> list:
    """The image strips on the page (thumbnails with captions)."""
    return [i for i in at.get("image") if any(c.caption for c in i.proto.imgs)]


def select(at: AppTest, points, run: Path, scope: str = "inspect") -> AppTest:
    """Set the map's selection as a box would (see ui.widgets.set_selection), and redraw."""
    at.session_state[f"selection-{scope}"] = {"owner": str(run), "points": list(points), "how": "map"}
    return at.run()


# ---------------------------------------------------------------- start


def test_starts_on_an_empty_runs_dir_and_offers_the_demo(empty_runs):
    at = start()
    assert_clean(at)
    assert at.button(key="demo-inspect").label == "Train the demo run"
    assert "MNIST 4 vs 9" in text_of(at)
    assert str(empty_runs) in text_of(at)


def test_empty_new_run_and_compare_pages(empty_runs):
    at = start(PAGE_NEW)
    assert_clean(at)
    assert at.button(key="demo-new")
    at.switch_page(PAGE_COMPARE).run()
    assert_clean(at)
    assert "at least two runs" in text_of(at)


def test_demo_button_launches_the_demo_config(empty_runs, monkeypatch):
    from training import launch

    launched = []

    def fake_start(config):
        launched.append(config)
        path = Path(config.runs_dir) / "20260101-000000-demo"
        make_fake_run(path.parent, path.name, state="running", epochs=3, epochs_done=0)
        return path

    monkeypatch.setattr(launch, "start", fake_start)
    at = start()
    at.button(key="demo-inspect").click().run()
    assert not at.exception, [e.value for e in at.exception]
    (config,) = launched
    assert (config.dataset, config.classes, config.regime, config.device) == ("mnist", ["4", "9"], "random", "cpu")
    assert Path(config.runs_dir) == empty_runs
    assert at.session_state["run_choice"].endswith("20260101-000000-demo")


def test_app_imports_no_torch(runs):
    code = ("import sys; from streamlit.testing.v1 import AppTest; "
            f"at = AppTest.from_file({APP!r}, default_timeout={TIMEOUT}).run(); "
            "assert not at.exception, at.exception; print('torch' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                            env={**os.environ, "EXPLORER_RUNS_DIR": str(runs)}, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "False"


def test_pages_do_not_import_each_other():
    """Pages share widgets through ui.widgets (and caches through ui.cached), never each other."""
    pages = {"ui/new_run.py": ("ui.compare", "ui.inspect"), "ui/compare.py": ("ui.new_run", "ui.inspect"),
             **{str(p.relative_to(ROOT)): ("ui.new_run", "ui.compare") for p in (ROOT / "ui" / "inspect").glob("*.py")}}
    for path, others in pages.items():
        text = (ROOT / path).read_text()
        for other in others:
            assert f"from {other}" not in text and f"import {other}" not in text, (path, other)
    sizes = {p.name: len(p.read_text().splitlines()) for p in (ROOT / "ui" / "inspect").glob("*.py")}
    assert max(sizes.values()) < 500, sizes  # one panel per file, each one a newcomer can read


# ---------------------------------------------------------------- inspect: the map


def test_opens_the_newest_run_with_its_map(runs):
    at = start()
    assert_clean(at)
    assert NEWEST.split("-", 2)[2] in at.title[0].value
    fig = the_map(at)
    # a 2-D embedding opens on its raw coordinates, one panel (one trace) per split
    assert at.session_state["map_method-True"] == "raw"
    assert panel_titles(fig)[:3] == ["train · 120 points", "test · 60 points", "shifted test · 240 points"]
    assert fig.counts() == [120, 60, 240]
    from ui.map_element.table import points_of

    shifted = points_of(the_map_table(at), fig.ids(2))
    assert {s for s, _ in shifted} == {"shifted"} and sorted(r for _, r in shifted) == list(range(240))
    # positions travel as float32, codes as one byte each: at most 12 bytes a point
    assert fig.table["x"].dtype == np.float32 and fig.table["label"].dtype == np.uint8
    # equal aspect: one scale for x and y, from one [x0, x1, y0, y1] box (frontend: setBounds)
    assert len(fig.spec["bounds"]) == 4
    assert "finished" in text_of(at) and "all 3 epochs done" in text_of(at)


def test_run_picker_lists_and_switches_runs(runs):
    at = start()
    picker = at.selectbox(key="run_choice")
    assert len(picker.options) == 4
    labels = "\n".join(picker.options)
    for expected in ("finished", "failed", "unreadable", "contrastive", "triplet", "test k-NN"):
        assert expected in labels
    table = at.sidebar.dataframe[0].value
    assert list(table.columns) == ["", "run", "k-NN", "ep", "regime"]  # the name where the sidebar shows it whole
    picker.select(str(runs / HIGH_DIM)).run()
    assert_clean(at)
    assert HIGH_DIM.split("-", 2)[2] in at.title[0].value
    # an 8-D embedding has no raw map: PCA by default
    assert at.session_state["map_method-False"] == "pca"


def test_map_options(runs):
    at = start()
    at.segmented_control(key="map_layout").set_value("overlay").run()
    assert_clean(at)
    assert len(the_map(at).titles()) == 1
    at.multiselect(key="map_splits").set_value(["test", "shifted"]).run()
    assert the_map(at).counts() == [300]
    for colour in ("shift", "split", "correct", "class"):
        at.selectbox(key="map_colour").set_value(colour).run()
        assert_clean(at)
    at.segmented_control(key="map_method-True").set_value("pca").run()
    assert_clean(at)
    at.select_slider(key=f"map_epoch-{NEWEST}").set_value(0).run()
    assert_clean(at)
    assert "epoch 0" in the_map(at).title


def test_shift_colours_and_shapes_tell_every_shift_apart(runs):
    at = start()
    at.selectbox(key="map_colour").set_value("shift").run()
    fig = the_map(at)
    assert fig.spec["colour"]["by"] == "shift" and fig.spec["shifts"] == [-6, -3, 0, 3, 6]
    palette = dict(zip(fig.spec["shifts"], fig.spec["colour"]["palette"]))
    assert len(set(palette.values())) == 5  # every shift its own colour
    legend = {k["name"]: k for k in fig.spec["legend"]}
    # the direction as a triangle pointing left or right (drawn over the points, frontend/src/panel.js)
    assert [legend[f"shift {s:+d} px"]["symbol"] for s in (-6, -3, 3, 6)] == ["triangle-left"] * 2 + ["triangle-right"] * 2
    assert set(fig.table["shift"][fig.ids(2)].tolist()) == {-6, -3, 3, 6}
    # the Shifts tab draws the shifts in the same colours
    from explorer.palette import shift_palette

    assert {s: palette[s] for s in (-6, -3, 3, 6)} == {s: c for s, c in shift_palette([-6, -3, 3, 6]).items() if s}


def test_replay_is_one_animation_that_ends_on_the_last_epoch(runs):
    at = start()
    at.button(key="map_replay").click().run()
    assert_clean(at)
    replay = the_map(at, "replay")
    assert replay.spec["replay"]["epochs"] == [0, 1, 2, 3]
    # each epoch's positions travel once, in the table's row order, float32; the points and codes once
    from explorer.runs import load_run
    from ui.map_element.table import points_of

    run = load_run(runs / NEWEST)
    keys = points_of(the_map_table(at, "replay"), range(replay.n))
    for epoch, h in zip([0, 1, 2, 3], replay.spec["replay"]["hashes"]):
        moved = _TABLES[h]
        assert moved["x"].dtype == np.float32 and len(moved["x"]) == replay.n
        points = run.points(epoch).set_index(["split", "row"])
        expected = points.loc[keys, "e0"].to_numpy(np.float32)
        np.testing.assert_allclose(moved["x"], expected, rtol=1e-6)
    # the axes are fixed for every epoch: one box over all of them
    lows = min(float(np.nanmin(_TABLES[h]["x"])) for h in replay.spec["replay"]["hashes"])
    assert replay.spec["bounds"][0] == pytest.approx(lows, rel=1e-5)
    at.button(key="map_replay_back").click().run()
    assert_clean(at)
    assert "replay" not in maps_on_page(at)
    assert "epoch 3" in the_map(at).title  # back on the last epoch, where it ended
    at.radio(key="dist_set").set_value("test_own").run()  # and it stays there on the next rerun
    assert "epoch 3" in the_map(at).title


def test_the_replay_of_a_projection_plays_the_aligned_maps(runs):
    """Each epoch's PCA, t-SNE or UMAP map is started from and aligned to the one before
    (explorer.projections.replay), so the replay shows clusters forming, not jumping."""
    from explorer.projections import replay
    from explorer.runs import load_run

    at = start(run_choice=str(runs / HIGH_DIM))
    at.button(key="map_replay").click().run()
    assert_clean(at)
    fig = the_map(at, "replay")
    aligned = replay(load_run(runs / HIGH_DIM), None, "pca")
    keys = the_map_table(at, "replay").frame
    for epoch, h in zip(fig.spec["replay"]["epochs"], fig.spec["replay"]["hashes"]):
        want = aligned[aligned["epoch"] == epoch].set_index(["split", "row"]).loc[
            list(zip(keys["split"], keys["row"])), "x"].to_numpy()
        np.testing.assert_allclose(_TABLES[h]["x"], want, rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------- inspect: the selection


def test_a_selection_is_counted_in_every_panel_and_shows_thumbnails(runs):
    at = start()
    select(at, [("train", i) for i in range(70)] + [("test", 1)], runs / NEWEST)
    assert_clean(at)
    assert "Selection: 71 points" in text_of(at)
    assert "11 more selected" in text_of(at)
    fig = the_map(at)
    assert panel_titles(fig)[:3] == ["train · 120 points · 70 selected", "test · 60 points · 1 selected",
                                     "shifted test · 240 points · 0 selected"]
    assert highlighted(fig) == {0: 70, 1: 1, 2: 0}


def test_thumbnails_mark_what_k_nn_gets_wrong(runs):
    from explorer.classifiers import classify
    from explorer.runs import load_run

    shifted = next(e for e in classify(load_run(runs / NEWEST), classifiers=("knn",)) if e.subset == "shifted")
    wrong = {int(r) for r, t, p in zip(shifted.split_rows(), shifted.y_true, shifted.y_pred) if t != p}
    rows = sorted(wrong)[:5] + [r for r in range(240) if r not in wrong][:5]
    at = start()
    select(at, [("shifted", r) for r in rows], runs / NEWEST)
    assert_clean(at)
    (strip,) = strips(at)
    marked = [c.caption.endswith("✗") for c in strip.proto.imgs]
    assert len(marked) == 10 and sum(marked) == min(len(wrong), 5) > 0


def test_clear_empties_the_selection_and_the_map(runs):
    at = start()
    select(at, [("shifted", i) for i in range(30)], runs / NEWEST)
    key_before = at.session_state["_generation-inspect"] if "_generation-inspect" in at.session_state else 0
    at.button(key="clear-selection").click().run()
    assert_clean(at)
    assert "Selection:" not in text_of(at)
    fig = the_map(at)
    assert highlighted(fig) == {0: None, 1: None, 2: None}
    assert panel_titles(fig)[2] == "shifted test · 240 points"
    # a new chart widget: Streamlit cannot bring the old box back
    assert at.session_state["_generation-inspect"] > key_before


def test_a_single_point_shows_its_neighbours_source_and_shifts_on_the_map(runs):
    at = start()
    select(at, [("shifted", 5)], runs / NEWEST)
    assert_clean(at)
    text = text_of(at)
    assert "Nearest training neighbours" in text and "source test image" in text
    # k-NN's prediction for the source and for every shifted copy, not only the picked one
    (family,) = [i for i in strips(at) if i.proto.imgs[0].caption.startswith("source 0px")]
    captions = [c.caption for c in family.proto.imgs]
    assert len(captions) == 5 and all(" → " in c for c in captions), captions
    assert sum("(this)" in c for c in captions) == 1
    fig = the_map(at)
    hover = " ".join(t for o in fig.overlays("marks") for t in o["text"])
    assert "picked: shifted test row 5" in hover and "neighbour #1" in hover and "its source: test row" in hover
    lines = fig.overlays("lines")
    assert len(lines) == 2  # to its neighbours, and from its source to every shift of it


def test_a_point_of_a_larger_selection_can_be_looked_at_closer(runs):
    at = start()
    select(at, [("shifted", 0), ("shifted", 1), ("test", 2)], runs / NEWEST)
    assert "Nearest training neighbours" not in text_of(at)
    at.selectbox(key="closer-inspect").select("shifted:1").run()
    assert_clean(at)
    assert "Nearest training neighbours" in text_of(at)
    assert "source test image" in text_of(at)
    assert "picked: shifted test row 1" in json.dumps(the_map(at).spec)


def test_lines_join_selected_test_images_to_their_shifted_copies(runs):
    at = start()
    select(at, [("test", 0), ("test", 1)], runs / NEWEST)
    at.toggle(key="map_lines").set_value(True).run()
    assert_clean(at)
    fig = the_map(at)
    lines = fig.overlays("lines")
    assert len(lines) == 1 and len(lines[0]["x0"]) == 8  # 2 sources x 4 shifts
    assert lines[0]["panel"] == 2  # drawn in the shifted panel
    assert highlighted(fig)[2] == 8  # the copies light up with their sources


def test_search_selects_points_by_split_and_row_or_class(runs):
    at = start()
    at.text_input(key="map_find-inspect").set_value("test 3, shifted 7").run()
    assert_clean(at)
    assert at.session_state["selection-inspect"]["points"] == [("test", 3), ("shifted", 7)]
    assert "Found 2 points" in text_of(at)
    at.text_input(key="map_find-inspect").set_value("class1").run()
    assert len(at.session_state["selection-inspect"]["points"]) == 60 + 30 + 120
    at.text_input(key="map_find-inspect").set_value("nothing here").run()
    assert "No point matches" in text_of(at)


def test_filter_by_class_shift_and_knn(runs):
    at = start()
    at.multiselect(key=f"map_classes-{NEWEST}").set_value([0]).run()
    assert the_map(at).counts() == [60, 30, 120]
    assert "Filter: showing 210 of 420 points" in text_of(at)
    at.multiselect(key=f"map_shifts-{NEWEST}").set_value([-6]).run()
    assert the_map(at).counts() == [0, 0, 30]
    at.multiselect(key=f"map_shifts-{NEWEST}").set_value([]).run()
    at.multiselect(key=f"map_classes-{NEWEST}").set_value([]).run()
    at.radio(key="map_knn").set_value("wrong").run()
    assert_clean(at)
    fig = the_map(at)
    assert fig.counts()[0] == 120 and fig.counts()[1] < 60  # train always shows


def test_a_subsampled_epoch_says_so(tmp_path, monkeypatch):
    path = make_fake_run(tmp_path, "20260101-000000-sub", epochs=2)
    snapshot = rundir.read_snapshot(path, 1)
    rundir.write_snapshot(path, 1, snapshot[snapshot["row"] % 4 < 2])  # as --snapshot-max-points writes
    monkeypatch.setenv("EXPLORER_RUNS_DIR", str(tmp_path))
    at = start()
    at.select_slider(key="map_epoch-20260101-000000-sub").set_value(1).run()
    assert_clean(at)
    assert "holds a seeded subset of the points" in text_of(at)
    assert "60 of 120 train" in text_of(at)


# ---------------------------------------------------------------- inspect: the tabs


@pytest.mark.parametrize("tab", TABS)
def test_every_tab_renders(runs, tab):
    at = start(analysis_tab=tab)
    assert_clean(at)
    assert [t.label for t in at.tabs][:len(TABS)] == TABS


def test_tabs_render_for_a_high_dimensional_triplet_run(runs):
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.session_state["run_choice"] = str(runs / HIGH_DIM)
    for tab in ("Distances & ROC", "Hard pairs", "Suspicious points", "Confusion", "Centroids", "Most confused",
                "Shifts"):
        at.session_state["analysis_tab"] = tab
        at.run()
        assert_clean(at)
    at.session_state["analysis_tab"] = "Hard pairs"
    at.run()
    assert "triplet" in text_of(at) and "max(d(a, p) − d(a, n) + m, 0)" in text_of(at)


@pytest.mark.parametrize("kind", ["no shifted set", "ten classes, 16-D"])
def test_every_tab_renders_for_other_kinds_of_runs(tmp_path, monkeypatch, kind):
    if kind == "no shifted set":
        make_fake_run(tmp_path, "20260101-000000-other", shifts=())
    else:
        make_fake_run(tmp_path, "20260101-000000-other", n_classes=10, dim=16, n_train=300, n_test=100)
    monkeypatch.setenv("EXPLORER_RUNS_DIR", str(tmp_path))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    for tab in TABS:
        at.session_state["analysis_tab"] = tab
        at.run()
        assert_clean(at)
    at.segmented_control(key="map_layout").set_value("overlay").run()
    at.selectbox(key="map_colour").set_value("correct").run()
    assert_clean(at)


def test_distances_tab_names_its_pairs_and_gives_per_class_thresholds(runs):
    at = start(analysis_tab="Distances & ROC")
    assert_clean(at)
    sets = at.dataframe[0].value
    assert list(sets["pairs_used"]) == ["fresh class-based test pairs", "own test pairs (regime)", "own training pairs"]
    assert sets["auc"].between(0, 1).all()
    per_class = next(d.value for d in at.dataframe if {"class", "dissimilar"} <= set(d.value.columns))
    assert list(per_class["class"]) == ["class0", "class1"] and per_class["eer_threshold"].notna().all()
    assert "fresh class-based test pairs" in text_of(at) and "own pairs" in text_of(at)
    at.radio(key="dist_set").set_value("test_own").run()
    assert_clean(at)


def test_hard_pairs_show_both_images_and_filter_by_class_pair(runs):
    at = start(analysis_tab="Hard pairs")
    assert_clean(at)
    assert "contrastive loss" in text_of(at) and "margin m = 1.0" in text_of(at)
    images = strips(at)
    assert len(images) == 16 and all(len(i.proto.imgs) == 2 for i in images)  # 16 pairs, both images of each
    pairs = at.multiselect(key=f"hard_class_pairs-{NEWEST}")
    pairs.set_value(["class0 – class1"]).run()
    assert all("negative" in c.value or "positive" in c.value for c in at.markdown if "loss" in c.value)
    assert not any("positive" in c.value for c in at.markdown if "loss" in c.value)  # 0 – 1 pairs are negatives
    at.button(key="hard_select").click().run()
    assert_clean(at)
    assert at.session_state["selection-inspect"]["how"] == "hard pairs"
    assert "Selection:" in text_of(at)


def test_suspicious_points_rank_neighbour_disagreement_with_images(runs):
    at = start(analysis_tab="Suspicious points")
    assert_clean(at)
    assert "nearest neighbours" in text_of(at)
    (strip,) = strips(at)
    shown = len(strip.proto.imgs)
    assert 10 <= shown <= 30 and " are class" in strip.proto.imgs[0].caption
    at.button(key="suspicious_select").click().run()
    assert len(at.session_state["selection-inspect"]["points"]) == shown


def test_shifts_tab_shows_the_strays_on_the_map_with_lines(runs):
    at = start(analysis_tab="Shifts")
    assert_clean(at)
    if "No test image that k-NN gets right has a shifted copy" in text_of(at):
        pytest.skip("no stray in this fake run")
    # every "show these N" shows N: one strip per source, the right sources first, wrong ones apart
    shown = int(re.search(r"Show these (\d+)", at.button(key="shift_turned_select").label).group(1))
    wrong = at.button(key="shift_wrong_select").label if any(
        b.key == "shift_wrong_select" for b in at.button) else None
    n_wrong = int(re.search(r"Show these (\d+)", wrong).group(1)) if wrong else 0
    found = [[c.caption for c in i.proto.imgs] for i in strips(at) if i.proto.imgs[0].caption.startswith("test ")]
    assert len(found) == shown + n_wrong
    for captions in found[:shown]:  # the source right, some copy wrong
        assert not captions[0].endswith("✗") and any(c.endswith("✗") for c in captions[1:])
    for captions in found[shown:]:  # a wrong source gets its ✗
        assert captions[0].endswith("✗")
    at.button(key="shift_turned_select").click().run()
    assert_clean(at)
    assert at.session_state["map_lines"] is True
    assert the_map(at).overlays("lines")


def test_export_prepares_every_download_before_offering_it(runs):
    at = AppTest.from_file(APP, default_timeout=180)
    at.session_state["analysis_tab"] = "Export"
    at.run()
    buttons = {b.label: b for b in at.get("download_button")}
    assert "Embeddings of this epoch (CSV)" in buttons and "The raw 2-D map shown (CSV)" in buttons
    # prepared data (a media URL), not a callable run on click (deferred downloads could hang)
    assert all(not b.proto.deferred_file_id for b in buttons.values())
    at.button(key="prepare_all_epochs").click().run()
    assert_clean(at)
    assert "Embeddings of every epoch (CSV)" in [b.label for b in at.get("download_button")]
    csv = at.session_state["_all_epochs_csv"]["csv"].decode()
    frame = pd.read_csv(__import__("io").StringIO(csv))
    assert sorted(frame["epoch"].unique()) == [0, 1, 2, 3] and len(frame) == 4 * 420
    at.button(key="build_report").click().run()
    assert_clean(at)
    assert "Download the report" in [b.label for b in at.get("download_button")]
    html = at.session_state["report"]["html"]
    assert html.startswith(b"<!DOCTYPE html>") or b"<html" in html[:500]


def test_a_figure_is_exported_as_html_when_asked(runs):
    at = start(analysis_tab="Centroids")
    assert not [b for b in at.get("download_button") if b.label.endswith(".html")]
    at.button(key="html-fig_centroids").click().run()
    assert_clean(at)
    (button,) = [b for b in at.get("download_button") if b.label.endswith(".html")]
    assert not button.proto.deferred_file_id
    html = at.session_state["_figure_html"]["html"]
    assert b"<html>" in html and b'<script src="http' not in html  # opens without network


def test_figure_html_export_is_self_contained_enough_to_open():
    import plotly.graph_objects as go

    from ui.widgets import figure_html

    html = figure_html(go.Figure(go.Scatter(x=[1, 2], y=[3, 4])))
    assert "<html>" in html and "plotly" in html
    assert '<script src="http' not in html  # opens without network, like the explorer's report


# ---------------------------------------------------------------- runs that stopped early, or are broken


def interrupted_run(root: Path, name: str, epochs_done: int = 1) -> Path:
    """A run whose training process died without recording an end."""
    path = make_fake_run(root, name, state="running", epochs=3, epochs_done=epochs_done)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    status = json.loads((path / "status.json").read_text())
    status.update(pid=dead.pid, host=socket.gethostname())
    (path / "status.json").write_text(json.dumps(status))
    return path


def test_a_failed_run_says_why_still_shows_its_map_and_offers_resume(runs):
    at = start(run_choice=str(runs / FAILED))
    assert not at.exception
    assert any("fake failure" in e.value for e in at.error)
    assert the_map(at)
    assert at.button(key=f"resume-header-{FAILED}")
    assert "as soon as the run writes" not in text_of(at)


def test_a_run_that_ended_before_any_snapshot_does_not_promise_one(tmp_path, monkeypatch):
    path = make_fake_run(tmp_path, "20260101-000000-early", state="failed", epochs_done=0)
    for snapshot in (path / rundir.EMBEDDINGS).iterdir():
        snapshot.unlink()
    monkeypatch.setenv("EXPLORER_RUNS_DIR", str(tmp_path))
    at = start()
    assert not at.exception
    assert "before it wrote any embedding snapshot" in text_of(at)
    assert "as soon as" not in text_of(at)


def test_an_interrupted_run_shows_as_such_and_resumes(tmp_path, monkeypatch):
    from training import launch

    path = interrupted_run(tmp_path, "20260101-000000-killed")
    monkeypatch.setenv("EXPLORER_RUNS_DIR", str(tmp_path))
    resumed = []
    monkeypatch.setattr(launch, "resume", lambda run_dir: resumed.append(Path(run_dir)) or Path(run_dir))
    at = start()
    assert not at.exception
    assert "⏸" in at.selectbox(key="run_choice").options[0] and "interrupted" in at.selectbox(key="run_choice").options[0]
    assert any("interrupted" in w.value for w in at.warning)
    at.button(key=f"resume-header-{path.name}").click().run()
    assert resumed == [path]
    at.switch_page(PAGE_NEW).run()
    assert not at.exception
    assert at.button(key=f"resume-{path.name}")  # the jobs panel offers it too


def test_resume_refused_says_why_in_one_line(tmp_path, monkeypatch):
    from training import launch
    from training.errors import InputError

    path = interrupted_run(tmp_path, "20260101-000000-killed")
    monkeypatch.setenv("EXPLORER_RUNS_DIR", str(tmp_path))

    def refuse(run_dir):
        raise InputError(f"cannot resume {Path(run_dir).name}: it has no checkpoint.pt")

    monkeypatch.setattr(launch, "resume", refuse)
    at = start()
    at.button(key=f"resume-header-{path.name}").click().run()
    assert not at.exception
    assert any("no checkpoint.pt" in e.value for e in at.error)


def test_a_corrupt_run_shows_one_error_line_and_the_app_keeps_working(runs):
    at = start(run_choice=str(runs / CORRUPT))
    assert not at.exception
    (error,) = at.error
    assert "config.json" in error.value and "not valid JSON" in error.value
    assert "Traceback" not in error.value
    at.selectbox(key="run_choice").select(str(runs / NEWEST)).run()
    assert_clean(at)


def test_the_app_opens_on_the_newest_readable_run(tmp_path, monkeypatch):
    make_fake_run(tmp_path, "20260101-000000-good")
    broken = tmp_path / "20260102-000000-broken"
    broken.mkdir()
    (broken / "config.json").write_text("[]")
    monkeypatch.setenv("EXPLORER_RUNS_DIR", str(tmp_path))
    at = start()
    assert_clean(at)
    assert "good" in at.title[0].value


def test_a_run_with_a_damaged_snapshot_is_contained(tmp_path, monkeypatch):
    make_fake_run(tmp_path, "20260101-000000-good")
    bad = make_fake_run(tmp_path, "20260102-000000-bad")
    rundir.snapshot_path(bad, 2).write_bytes(b"not parquet")
    monkeypatch.setenv("EXPLORER_RUNS_DIR", str(tmp_path))
    at = start()
    assert not at.exception
    assert any("epoch-000002.parquet" in e.value for e in at.error)
    at.switch_page(PAGE_COMPARE).run()
    assert not at.exception


# ---------------------------------------------------------------- new run


def submit(at: AppTest, **values) -> AppTest:
    for key, value in values.items():
        widget = None
        for kind in ("text_input", "number_input", "selectbox"):
            try:
                widget = getattr(at, kind)(key=f"new_{key}")
                break
            except KeyError:
                continue
        widget.set_value(value).run()
    return at.button(key="launch_training").click().run()


@pytest.mark.parametrize("values, message", [
    ({"epochs": 0}, "Epochs must be positive"),
    ({"lr": -0.1}, "Learning rate must be positive"),
    ({"embedding_dim": 0}, "Embedding size must be positive"),
    ({"margin": 0.0}, "Margin must be positive"),
    ({"batch_size": 0}, "Batch size must be positive"),
    ({"seed": -1}, "Seed must be 0 or more"),
    ({"shifts": "3 left"}, "Shifts must be whole numbers"),
    ({"classes": "4 x"}, "Unknown class 'x'; choose from: 0, 1"),
    ({"classes": "4"}, "at least two different classes"),
    ({"data_dir": "/no/such/folder"}, "Data directory /no/such/folder does not exist"),
    ({"dataset": "fashion-mnist"}, "needs Data directory"),
    ({"loss": "magnet", "magnet_m": 1}, "Clusters per batch m must be at least 2"),
    ({"loss": "contrastive-3way", "weight_fn": -1.0}, "False-negative weight must be 0 or more"),
    ({"loss": "triplet", "miner": "batch-hard", "images_per_class": 1}, "Images per class K must be at least 2"),
])
def test_new_run_form_rejects_bad_values(empty_runs, monkeypatch, values, message):
    from training import launch

    monkeypatch.setattr(launch, "start", lambda config: pytest.fail("a bad form must not launch"))
    at = start(PAGE_NEW)
    submit(at, **values)
    assert not at.exception
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and message in errors[0], errors
    assert "--" not in errors[0], "messages use the form's labels, not command-line flags"
    assert not empty_runs.exists() or not any(empty_runs.iterdir())


@pytest.mark.parametrize("dataset, message", [("mnist", "has no mnist IDX files"),
                                              ("fashion-mnist", "has no fashion-mnist IDX files"),
                                              ("folder", "needs one sub-folder of images per class")])
def test_an_empty_data_directory_is_refused_before_launch(empty_runs, tmp_path, monkeypatch, dataset, message):
    from training import launch

    monkeypatch.setattr(launch, "start", lambda config: pytest.fail("an empty data directory must not launch"))
    empty = tmp_path / "empty-data"
    empty.mkdir()
    at = start(PAGE_NEW)
    values = {"dataset": dataset, "data_dir": str(empty)}
    if dataset != "mnist":
        values["classes"] = ""
    submit(at, **values)
    assert not at.exception
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and message in errors[0], errors


def test_new_run_form_launches_a_valid_config_and_shows_the_job_under_its_button(empty_runs, monkeypatch):
    from training import launch

    launched = []

    def fake_start(config):
        launched.append(config)
        return make_fake_run(config.runs_dir, "20260101-000000-form", state="running", epochs_done=1)

    monkeypatch.setattr(launch, "start", fake_start)
    at = start(PAGE_NEW)
    submit(at, loss="triplet", regime="nn-other", epochs=2, shifts="-4, 4", classes="3 5 8", device="cpu")
    assert not at.exception, [e.value for e in at.exception]
    (config,) = launched
    assert (config.loss, config.regime, config.epochs, config.shifts, config.classes, config.device) == \
        ("triplet", "nn-other", 2, [-4, 4], ["3", "5", "8"], "cpu")
    assert "The run you launched" in text_of(at)


@pytest.mark.parametrize("values, shown, hidden", [
    ({"loss": "magnet", "magnet_m": 4, "alpha": 1.5},
     {"magnet_k", "magnet_m", "magnet_d", "magnet_l", "magnet_refresh", "alpha"},
     {"regime", "margin", "batch_size", "nn_k", "miner", "weight_fn"}),
    ({"loss": "triplet", "miner": "batch-hard", "images_per_class": 8},
     {"margin", "miner", "classes_per_batch", "images_per_class"}, {"regime", "batch_size", "alpha"}),
    ({"loss": "triplet", "regime": "nn-other"}, {"margin", "miner", "regime", "batch_size", "nn_k"},
     {"classes_per_batch", "images_per_class"}),
    ({"loss": "contrastive-3way", "weight_fn": 0.25}, {"margin", "nn_k", "margin_fn", "weight_fn"},
     {"regime", "miner", "alpha"}),
    ({"loss": "bce"}, {"regime", "batch_size"}, {"margin", "miner", "alpha", "nn_k"}),  # k: nn regimes only
    ({"loss": "arcface", "arcface_margin": 20.0, "arcface_scale": 30.0}, {"arcface_margin", "arcface_scale", "batch_size"},
     {"regime", "margin", "proxy_margin", "alpha"}),
    ({"loss": "proxy-anchor", "proxy_margin": 0.2, "proxy_alpha": 16.0}, {"proxy_margin", "proxy_alpha", "batch_size"},
     {"regime", "margin", "arcface_margin", "alpha"}),
])
def test_the_form_shows_only_the_options_of_the_chosen_loss(empty_runs, monkeypatch, values, shown, hidden):
    from training import launch

    launched = []
    monkeypatch.setattr(launch, "start", lambda config: launched.append(config) or make_fake_run(
        config.runs_dir, "20260101-000000-form", state="running", epochs_done=1))
    at = start(PAGE_NEW)
    submit(at, **values)
    assert not at.exception, [e.value for e in at.exception]
    keys = {w.key[len("new_"):] for kind in ("number_input", "selectbox") for w in getattr(at, kind)
            if w.key and w.key.startswith("new_")}
    assert shown <= keys and not hidden & keys, (shown - keys, hidden & keys)
    (config,) = launched
    for option, value in values.items():
        assert getattr(config, option) == value
    assert config.regime == values.get("regime", "random")  # hidden options keep their defaults


def _form_presets():
    from training.presets import PRESETS

    return [name for name, p in PRESETS.items() if not p.swept]


@pytest.mark.parametrize("name", _form_presets())
def test_every_preset_launches_from_the_form_as_from_the_command_line(empty_runs, monkeypatch, tmp_path, name):
    from datafiles import write_class_folders, write_idx

    from training import launch
    from training.presets import PRESETS, options_for

    launched = []
    monkeypatch.setattr(launch, "start", lambda config: launched.append(config) or make_fake_run(
        config.runs_dir, "20260101-000000-form", state="running", epochs_done=1))
    at = start(PAGE_NEW)
    at.selectbox(key="new_preset").set_value(name).run()
    given = {}
    needs = PRESETS[name].needs
    if "data_dir" in needs:  # data that is not bundled: the user names it
        folder = tmp_path / "data"
        if PRESETS[name].options["dataset"] == "folder":
            write_class_folders(folder)
        else:
            write_idx(folder)
        given["data_dir"] = str(folder)
    if "pretrained" in needs:
        weights = tmp_path / "weights.pt"
        weights.write_bytes(b"")
        given["pretrained"] = str(weights)
    if needs:  # launching without the files says which
        at.button(key="launch_training").click().run()
        assert len(at.error) == 1 and "needs" in at.error[0].value and "--" not in at.error[0].value
    from ui.new_run import FILL, field_key

    for key, value in given.items():
        at.text_input(key=field_key(key, at.session_state[FILL])).set_value(value).run()
    assert at.selectbox(key="new_preset").value == name  # naming its files keeps the preset
    at.button(key="launch_training").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    (config,) = launched
    expected = TrainConfig(**options_for(name, given), runs_dir=config.runs_dir)
    assert config == expected


def test_running_and_ended_jobs_show_the_same_progress_everywhere(tmp_path, monkeypatch):
    running = make_fake_run(tmp_path, "20260102-000000-running", state="running", epochs=3, epochs_done=1)
    status = json.loads((running / "status.json").read_text())
    status.update(pid=os.getpid(), step=5, steps=10)  # a live process: this one
    (running / "status.json").write_text(json.dumps(status))
    (running / "train.log").write_text("run directory: x\nepoch 1/3  train loss 0.5\n")
    make_fake_run(tmp_path, "20260101-000000-cancelled", state="cancelled", epochs=3, epochs_done=1)
    monkeypatch.setenv("EXPLORER_RUNS_DIR", str(tmp_path))
    at = start(PAGE_NEW)
    assert not at.exception, [e.value for e in at.exception]
    bar = at.progress[0]
    assert bar.value == 50 and bar.proto.text == "running: epoch 2 of 3: step 5 of 10"
    assert any("epoch 1/3" in c.value for c in at.code)
    at.switch_page(PAGE_INSPECT).run()
    assert not at.exception
    assert at.button(key="cancel-20260102-000000-running")
    # the header says what the job panel says: no "epoch 0 of 3" beside "epoch 2 of 3: step 5"
    assert "running** · epoch 2 of 3: step 5 of 10" in text_of(at)


# ---------------------------------------------------------------- compare


def test_compare_page_shows_two_runs(runs):
    at = start(PAGE_COMPARE)
    assert_clean(at)
    chosen = at.multiselect(key="compare_runs").value
    assert len(chosen) == 2
    text = text_of(at)
    for heading in ("Setup and final metrics", "Maps", "Pair distances", "Confusion matrices"):
        assert heading in text
    numbers = at.dataframe[1].value
    assert "verification AUC, fresh class-based test pairs" in numbers.index
    assert "verification AUC, the run's own test pairs" in numbers.index


def test_compare_links_one_selection_across_the_runs(runs):
    at = start(PAGE_COMPARE)
    chosen = at.multiselect(key="compare_runs").value
    owner = "|".join(chosen)
    at.session_state["selection-compare"] = {"owner": owner, "points": [("test", r) for r in range(12)], "how": "map"}
    at.run()
    assert_clean(at)
    fig = the_map(at, "compare")
    titles = panel_titles(fig)
    assert len(titles) == 2 and all(t.endswith("60 points · 12 selected") for t in titles)
    assert highlighted(fig) == {0: 12, 1: 12}
    assert "Selection: 12 test points, linked across 2 runs" in text_of(at)
    (strip,) = strips(at)
    captions = [i.caption for i in strip.proto.imgs]
    assert len(captions) == 12 and all(" A" in c and " B" in c for c in captions)
    from explorer.classifiers import classify
    from explorer.runs import load_run

    for name, path in zip("AB", chosen):  # each run's k-NN verdicts on the 12, as its own evaluation has them
        test = next(e for e in classify(load_run(path), classifiers=("knn",)) if e.subset == "test")
        right = sum(int(t == p) for r, t, p in zip(test.split_rows(), test.y_true, test.y_pred) if r < 12)
        assert f"{name} {right}/12" in text_of(at), [c.value for c in at.caption if "k-NN right" in c.value]
    at.button(key="cmp-clear-selection").click().run()
    assert "Selection:" not in text_of(at)


def test_compare_keeps_its_runs_while_you_visit_other_pages(runs):
    at = start(PAGE_COMPARE)
    at.multiselect(key="compare_runs").set_value([str(runs / NEWEST), str(runs / FAILED)]).run()
    at.switch_page(PAGE_NEW).run()
    at.switch_page(PAGE_COMPARE).run()
    assert_clean(at)
    assert at.multiselect(key="compare_runs").value == [str(runs / NEWEST), str(runs / FAILED)]


def test_compare_lists_many_classes_with_an_ellipsis(tmp_path, monkeypatch):
    for i in range(2):
        make_fake_run(tmp_path, f"2026010{i + 1}-000000-ten", n_classes=10, dim=2, n_train=200, n_test=100, seed=i)
    monkeypatch.setenv("EXPLORER_RUNS_DIR", str(tmp_path))
    at = start(PAGE_COMPARE)
    assert_clean(at)
    data = at.dataframe[0].value.loc["data"]
    assert all(value.endswith("… (10 classes))") for value in data)


def test_compare_runs_of_other_classes_name_each_runs_classes(tmp_path, monkeypatch):
    digits = make_fake_run(tmp_path, "20260101-000000-digits", n_classes=2, dim=2)
    clothes = make_fake_run(tmp_path, "20260102-000000-clothes", n_classes=2, dim=2, seed=1)
    config = json.loads((clothes / "config.json").read_text())
    (clothes / "config.json").write_text(json.dumps({**config, "class_names": ["shirt", "boot"]}))
    monkeypatch.setenv("EXPLORER_RUNS_DIR", str(tmp_path))
    at = start(PAGE_COMPARE)
    at.multiselect(key="compare_runs").set_value([str(digits), str(clothes)]).run()
    assert_clean(at)
    spec = the_map(at, "compare").spec
    # one colour per class number, named by every run's class of that number; the hover names a
    # point by its own run's classes
    assert [k["name"] for k in spec["legend"] if k["symbol"] == "circle"] == ["class0 / shirt", "class1 / boot"]
    assert [p["class_names"] for p in spec["panels"]] == [["class0", "class1"], ["shirt", "boot"]]
    assert "colours follow each run's own class order" in text_of(at)


def test_compare_runs_of_different_dimensions(runs):
    at = start(PAGE_COMPARE)
    at.multiselect(key="compare_runs").set_value([str(runs / NEWEST), str(runs / HIGH_DIM)]).run()
    assert_clean(at)
    at.selectbox(key="cmp_split").set_value("shifted").run()
    assert_clean(at)
