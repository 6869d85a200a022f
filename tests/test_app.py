"""The Streamlit app under streamlit.testing.v1.AppTest: it starts, every page and tab renders,
the run picker switches runs, bad input is refused with one line, and broken runs stay contained.

Runs are synthetic (tests/fakerun.py), so nothing here trains a network. The runs directory is
chosen through EXPLORER_RUNS_DIR, as a user would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fakerun import make_fake_run
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")
PAGE_NEW = "ui/pages/new_run.py"
PAGE_COMPARE = "ui/pages/compare.py"
TIMEOUT = 60

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


def start(page: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
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


# ---------------------------------------------------------------- inspect


def test_opens_the_newest_run_with_its_map(runs):
    at = start()
    assert_clean(at)
    assert NEWEST.split('-', 2)[2] in at.title[0].value
    assert at.get("plotly_chart"), "the embedding map is drawn"
    # a 2-D embedding opens on its raw coordinates
    assert at.session_state["map_method-True"] == "raw"


def test_run_picker_lists_and_switches_runs(runs):
    at = start()
    picker = at.selectbox(key="run_choice")
    assert len(picker.options) == 4
    labels = "\n".join(picker.options)
    for expected in ("finished", "failed", "unreadable", "contrastive", "triplet", "test k-NN"):
        assert expected in labels
    picker.select(str(runs / HIGH_DIM)).run()
    assert_clean(at)
    assert HIGH_DIM.split('-', 2)[2] in at.title[0].value
    # an 8-D embedding has no raw map: PCA by default
    assert at.session_state["map_method-False"] == "pca"


@pytest.mark.parametrize("tab", ["Distances & ROC", "Confusion", "Classification report", "Centroids",
                                 "Metrics over epochs", "Most confused", "Shifts", "Export"])
def test_every_tab_renders(runs, tab):
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.session_state["analysis_tab"] = tab
    at.run()
    assert_clean(at)
    assert [t.label for t in at.tabs][:8] == ["Distances & ROC", "Confusion", "Classification report",
                                              "Centroids", "Metrics over epochs", "Most confused",
                                              "Shifts", "Export"]


def test_tabs_render_for_a_high_dimensional_run(runs):
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.session_state["run_choice"] = str(runs / HIGH_DIM)
    for tab in ("Distances & ROC", "Confusion", "Centroids", "Most confused", "Shifts"):
        at.session_state["analysis_tab"] = tab
        at.run()
        assert_clean(at)


@pytest.mark.parametrize("kind", ["no shifted set", "ten classes, 16-D"])
def test_every_tab_renders_for_other_kinds_of_runs(tmp_path, monkeypatch, kind):
    if kind == "no shifted set":
        make_fake_run(tmp_path, "20260101-000000-other", shifts=())
    else:
        make_fake_run(tmp_path, "20260101-000000-other", n_classes=10, dim=16, n_train=300, n_test=100)
    monkeypatch.setenv("EXPLORER_RUNS_DIR", str(tmp_path))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    for tab in ("Distances & ROC", "Confusion", "Classification report", "Centroids",
                "Metrics over epochs", "Most confused", "Shifts", "Export"):
        at.session_state["analysis_tab"] = tab
        at.run()
        assert_clean(at)
    at.segmented_control(key="map_layout").set_value("overlay").run()
    at.selectbox(key="map_colour").set_value("correct").run()
    assert_clean(at)


def test_map_options(runs):
    at = start()
    at.segmented_control(key="map_layout").set_value("overlay").run()
    assert_clean(at)
    at.multiselect(key="map_splits").set_value(["test", "shifted"]).run()
    for colour in ("shift", "split", "correct", "class"):
        at.selectbox(key="map_colour").set_value(colour).run()
        assert_clean(at)
    at.segmented_control(key="map_method-True").set_value("pca").run()
    assert_clean(at)
    at.select_slider(key=f"map_epoch-{NEWEST}").set_value(0).run()
    assert_clean(at)
    at.button(key="map_replay").click().run()  # plays epochs 0..3, then the interactive map again
    assert_clean(at)
    assert at.get("plotly_chart")


def test_selection_shows_thumbnails_and_a_single_point_its_neighbours(runs):
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.session_state["selection"] = {"run": str(runs / NEWEST), "epoch": 3,
                                     "points": [("train", i) for i in range(70)] + [("test", 1)]}
    at.run()
    assert_clean(at)
    assert "Selection: 71 points" in text_of(at)
    assert "11 more selected" in text_of(at)

    at.session_state["selection"] = {"run": str(runs / NEWEST), "epoch": 3, "points": [("shifted", 5)]}
    at.run()
    assert_clean(at)
    text = text_of(at)
    assert "Nearest training neighbours" in text
    assert "source test image" in text
    at.button(key="clear-selection").click().run()
    assert "Selection:" not in text_of(at)


def test_a_point_of_a_larger_selection_can_be_looked_at_closer(runs):
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.session_state["selection"] = {"run": str(runs / NEWEST), "epoch": 3,
                                     "points": [("shifted", 0), ("shifted", 1), ("test", 2)]}
    at.run()
    assert "Nearest training neighbours" not in text_of(at)
    at.selectbox(key="closer").select(0).run()
    assert_clean(at)
    assert "Nearest training neighbours" in text_of(at)
    assert "source test image" in text_of(at)


def test_export_builds_the_html_report_without_torch_in_the_app(runs):
    at = AppTest.from_file(APP, default_timeout=180)
    at.session_state["analysis_tab"] = "Export"
    at.run()
    labels = [b.label for b in at.get("download_button")]
    assert "Embeddings of this epoch (CSV)" in labels and "The raw 2-D map shown (CSV)" in labels
    at.button(key="build_report").click().run()
    assert_clean(at)
    assert "Download the report" in [b.label for b in at.get("download_button")]
    html = at.session_state["report"]["html"]
    assert html.startswith(b"<!DOCTYPE html>") or b"<html" in html[:500]


def test_figure_html_export_is_self_contained_enough_to_open():
    import plotly.graph_objects as go

    from ui.common import figure_html

    html = figure_html(go.Figure(go.Scatter(x=[1, 2], y=[3, 4])))
    assert "<html>" in html and "plotly" in html
    assert '<script src="http' not in html  # opens without network, like the explorer's report


# ---------------------------------------------------------------- bad runs


def test_a_failed_run_says_why_and_still_shows_what_it_has(runs):
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.session_state["run_choice"] = str(runs / FAILED)
    at.run()
    assert not at.exception
    assert any("fake failure" in e.value for e in at.error)
    assert at.get("plotly_chart"), "the snapshot it wrote is still drawn"


def test_a_corrupt_run_shows_one_error_line_and_the_app_keeps_working(runs):
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.session_state["run_choice"] = str(runs / CORRUPT)
    at.run()
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


def test_a_run_with_damaged_embeddings_is_contained(tmp_path, monkeypatch):
    make_fake_run(tmp_path, "20260101-000000-good")
    bad = make_fake_run(tmp_path, "20260102-000000-bad")
    (bad / "embeddings.parquet").write_bytes(b"not parquet")
    monkeypatch.setenv("EXPLORER_RUNS_DIR", str(tmp_path))
    at = start()
    assert not at.exception
    assert any("embeddings.parquet" in e.value for e in at.error)
    at.switch_page(PAGE_COMPARE).run()
    assert not at.exception


# ---------------------------------------------------------------- new run


def submit(at: AppTest, **values) -> AppTest:
    for key, value in values.items():
        widget = at.get_by_key(f"new_{key}") if hasattr(at, "get_by_key") else None
        if widget is None:
            for kind in ("text_input", "number_input", "selectbox"):
                try:
                    widget = getattr(at, kind)(key=f"new_{key}")
                    break
                except KeyError:
                    continue
        widget.set_value(value)
    launch = next(b for b in at.button if "Launch training" in b.label)
    return launch.click().run()


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


def test_new_run_form_launches_a_valid_config(empty_runs, monkeypatch):
    from training import launch

    launched = []

    def fake_start(config):
        launched.append(config)
        return make_fake_run(config.runs_dir, "20260101-000000-form", state="running", epochs_done=1)

    monkeypatch.setattr(launch, "start", fake_start)
    at = start(PAGE_NEW)
    submit(at, loss="triplet", regime="nn-other", epochs=2, shifts="-4, 4", classes="3 5 8",
           device="cpu")
    assert not at.exception, [e.value for e in at.exception]
    (config,) = launched
    assert (config.loss, config.regime, config.epochs, config.shifts, config.classes, config.device) == \
        ("triplet", "nn-other", 2, [-4, 4], ["3", "5", "8"], "cpu")


def test_a_preset_fills_in_the_form(empty_runs):
    at = start(PAGE_NEW)
    at.selectbox(key="new_preset").select("out-lab regime 2: same-class non-neighbours as negatives").run()
    assert_clean(at)
    assert at.selectbox(key="new_regime").value == "nn-non-neighbour"
    assert at.text_input(key="new_classes").value == "4 9"


def test_running_and_ended_jobs_show_progress(tmp_path, monkeypatch):
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
    at.switch_page("ui/pages/inspect_run.py").run()
    assert not at.exception
    assert at.button(key="cancel-20260102-000000-running")


# ---------------------------------------------------------------- compare


def test_compare_page_shows_two_runs(runs):
    at = start(PAGE_COMPARE)
    assert_clean(at)
    chosen = at.multiselect(key="compare_runs").value
    assert len(chosen) == 2
    text = text_of(at)
    for heading in ("Setup and final metrics", "Maps", "Pair distances", "Confusion matrices"):
        assert heading in text
    assert len(at.dataframe) >= 2


def test_compare_runs_of_different_dimensions(runs):
    at = start(PAGE_COMPARE)
    at.multiselect(key="compare_runs").set_value([str(runs / NEWEST), str(runs / HIGH_DIM)]).run()
    assert_clean(at)
    at.selectbox(key="cmp_split").set_value("shifted").run()
    assert_clean(at)
