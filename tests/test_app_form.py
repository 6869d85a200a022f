"""The New-run form keeps every edit: a preset fills it once, later edits survive every rerun
(also one whose request still carries the preset's choice, as a browser's does while the job
panel polls), Launch records the preset with the options that override it, and the method's box
shows only what the method reads. The browser side: tests/browser/test_form_edits.py."""

from __future__ import annotations

import json
import os

import pytest
from fakerun import make_fake_run
from streamlit.testing.v1 import AppTest

from test_app import APP, PAGE_NEW, TIMEOUT, assert_clean, text_of
from training.config import TrainConfig
from training.presets import options_for
from ui.new_run import FILL, field_key

PRESET = "seed000-outlab-regime2"  # nn-non-neighbour, small CNN, k 5, 5 epochs


@pytest.fixture
def runs_with_a_job(tmp_path, monkeypatch):
    """A runs directory holding a running job (this process is its live pid), so the page draws
    the polling job panel, as in the report."""
    running = make_fake_run(tmp_path, "20260102-000000-running", state="running", epochs=3, epochs_done=1)
    status = json.loads((running / "status.json").read_text())
    status["pid"] = os.getpid()
    (running / "status.json").write_text(json.dumps(status))
    monkeypatch.setenv("EXPLORER_RUNS_DIR", str(tmp_path))
    return tmp_path


@pytest.fixture
def launched(monkeypatch):
    """The configs Launch starts, each written to config.json by training.launch with no process."""
    from training import launch

    configs = []

    class Process:
        pid = os.getpid()

    def start_in(run_dir, config, **recorded):
        configs.append(config)
        return real_start_in(run_dir, config, **recorded)

    real_start_in = launch.start_in
    monkeypatch.setattr(launch, "spawn", lambda argv, run_dir: Process())
    monkeypatch.setattr(launch, "start_in", start_in)
    return configs


def new_run_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    at.switch_page(PAGE_NEW).run()
    assert_clean(at)
    return at


def field(at: AppTest, kind: str, option: str):
    return getattr(at, kind)(key=field_key(option, at.session_state[FILL] if FILL in at.session_state else 0))


def fill_and_edit(at: AppTest) -> None:
    at.selectbox(key="new_preset").set_value(PRESET).run()
    field(at, "number_input", "epochs").set_value(2).run()
    field(at, "selectbox", "device").set_value("cpu").run()


def assert_edits_kept(at: AppTest) -> None:
    assert_clean(at)
    assert field(at, "number_input", "epochs").value == 2
    assert field(at, "selectbox", "device").value == "cpu"
    assert field(at, "selectbox", "regime").value == "nn-non-neighbour"  # the preset's, not edited
    assert field(at, "selectbox", "backbone").value == "small-cnn"
    assert at.selectbox(key="new_preset").value == PRESET  # an edit does not clear the preset


def test_a_preset_fills_the_form_once_and_edits_survive_reruns(runs_with_a_job):
    at = new_run_page()
    assert field(at, "number_input", "epochs").value == TrainConfig().epochs
    at.selectbox(key="new_preset").set_value(PRESET).run()
    assert_clean(at)
    assert field(at, "selectbox", "regime").value == "nn-non-neighbour"
    assert field(at, "selectbox", "backbone").value == "small-cnn"
    assert field(at, "text_input", "classes").value == "4 9"
    assert field(at, "number_input", "nn_k").value == 5
    field(at, "number_input", "epochs").set_value(2).run()
    field(at, "selectbox", "device").set_value("cpu").run()
    for _ in range(3):  # reruns that change nothing: the job panel's, another tab's
        at.run()
        assert_edits_kept(at)
    assert "Launch records seed000-outlab-regime2 with your changes: Epochs 2 (preset: 5), Device cpu " \
           "(preset: auto)" in text_of(at)


def test_edits_survive_a_rerun_whose_request_still_carries_the_preset(runs_with_a_job):
    """A browser sends its whole view with every rerun request; one sent before it drew the last
    run's output still shows the preset chosen. That must not read as choosing it again."""
    at = new_run_page()
    fill_and_edit(at)
    at.selectbox(key="new_preset").set_value(PRESET)  # the browser's view of the untouched selectbox
    field(at, "number_input", "seed").set_value(3).run()  # ... sent along with another edit
    assert_edits_kept(at)
    assert field(at, "number_input", "seed").value == 3


def test_choosing_another_preset_fills_the_form_again(runs_with_a_job):
    at = new_run_page()
    fill_and_edit(at)
    at.selectbox(key="new_preset").set_value("seed001-magnet").run()
    assert_clean(at)
    assert field(at, "number_input", "epochs").value == 15
    assert field(at, "selectbox", "device").value == "auto"
    assert field(at, "selectbox", "loss").value == "magnet"


def test_launch_records_the_preset_and_the_options_that_override_it_as_the_cli_does(runs_with_a_job, launched):
    at = new_run_page()
    fill_and_edit(at)
    at.run()
    at.button(key="launch_training").click().run()
    assert_clean(at)
    (config,) = launched
    run_dirs = [p for p in runs_with_a_job.iterdir() if "running" not in p.name]
    (run_dir,) = run_dirs
    recorded = json.loads((run_dir / "config.json").read_text())
    assert (recorded["preset"], recorded["epochs"], recorded["device"]) == (PRESET, 2, "cpu")
    cli = TrainConfig(**options_for(PRESET, {"epochs": 2, "device": "cpu"}), runs_dir=config.runs_dir)
    assert {k: v for k, v in recorded.items() if k in cli.to_dict()} == cli.to_dict()  # --preset X --epochs 2 --device cpu


@pytest.mark.parametrize("values, neighbours", [
    ({"loss": "triplet", "miner": "batch-hard"}, False),  # mined in P×K batches: no regime, no neighbours
    ({"loss": "triplet", "regime": "random"}, False),
    ({"loss": "triplet", "regime": "nn-other"}, True),
    ({"loss": "contrastive", "regime": "nn-non-neighbour"}, True),
    ({"loss": "contrastive-3way"}, True),  # its true positives are neighbours, without a regime
])
def test_the_method_box_shows_neighbours_k_only_where_the_method_reads_it(runs_with_a_job, values, neighbours):
    at = new_run_page()
    for option, value in values.items():
        field(at, "selectbox", option).set_value(value).run()
    assert_clean(at)
    keys = {w.key for w in at.number_input}
    labels = {w.label for w in at.number_input}
    assert (field_key("nn_k", 0) in keys) == neighbours and ("Neighbours k" in labels) == neighbours
