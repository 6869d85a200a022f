"""The New-run form keeps its edits in a real browser while a job panel refreshes every second.

The runs directory holds a running job (a fake run directory whose status.json names a live
`sleep` process), so the page polls its panel. The test chooses a preset, sets Epochs 2 and Device
cpu, waits until the panel has refreshed several times, checks the form still shows the edits,
then launches and reads the new run's config.json: the preset, 2 epochs, cpu. Screenshots at
1280 px go to test-artifacts/browser/. The fixtures are those of test_browser.py, in short.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time

import pytest

from .app_server import ROOT, chromium, require_browser, running_app, wait_until
from .test_browser import (ARTIFACTS, _stop_training, choose, go, no_traceback, set_number, settle, shot,
                           to_top)

PRESET = "seed000-outlab-regime2"
JOB = "20260102-000000-running-job"
REFRESHES = 3  # the job panel redraws this many times between the edits and Launch


@pytest.fixture(scope="module")
def busy_runs(tmp_path_factory):
    """A runs directory with one running job: its process is a `sleep` this fixture stops."""
    sys.path.insert(0, str(ROOT / "tests"))
    from fakerun import make_fake_run

    runs = tmp_path_factory.mktemp("form-runs")
    sleeper = subprocess.Popen(["sleep", "600"], start_new_session=True)
    try:
        job = make_fake_run(runs, JOB, state="running", epochs=3, epochs_done=1)
        status = json.loads((job / "status.json").read_text())
        status.update(pid=sleeper.pid, started_at=time.time())
        (job / "status.json").write_text(json.dumps(status))
        yield runs
    finally:
        sleeper.kill()
        sleeper.wait(10)


@pytest.fixture(scope="module")
def server(busy_runs):
    require_browser()
    with running_app(ARTIFACTS / "streamlit-form.log", busy_runs) as url:
        try:
            yield url, busy_runs
        finally:
            _stop_training(busy_runs)


@pytest.fixture(scope="module")
def page(server):
    with chromium() as browser:
        context = browser.new_context(viewport={"width": 1280, "height": 1400})
        page = context.new_page()
        page.set_default_timeout(60_000)
        yield page
        context.close()


def job_text(page) -> str:
    return page.get_by_text(re.compile(r"· running · \d+ s")).first.inner_text()


SEEN_TEXTS = """n => {
  const found = (document.body.innerText.match(/· running · \\d+ s/) || [])[0];
  window.__jobTexts = window.__jobTexts || new Set();
  if (found) window.__jobTexts.add(found);
  return window.__jobTexts.size > n;
}"""


def wait_for_refreshes(page, count: int, timeout: float = 120) -> None:
    """Until the job panel has drawn ``count`` new texts (its elapsed seconds)."""
    page.evaluate("() => { window.__jobTexts = new Set(); }")
    page.wait_for_function(SEEN_TEXTS, arg=count, timeout=timeout * 1000)


def selected(page, label: str) -> str:
    """The value the selectbox labelled ``label`` shows."""
    return page.get_by_role("combobox", name=label, exact=True).input_value()


def form_values(page) -> tuple[str, str, str]:
    return page.get_by_label("Epochs", exact=True).input_value(), selected(page, "Device"), selected(page, "Start from")


def test_edits_survive_a_refreshing_job_panel_and_launch_records_them(page, server):
    url, runs = server
    page.goto(url)
    settle(page)
    go(page, "New run")
    job_text(page)  # the running job's panel is there
    page.get_by_role("combobox", name="Start from", exact=True).click()
    page.get_by_role("option", name=re.compile(rf"^{re.escape(PRESET)}:")).click()
    settle(page)
    assert page.get_by_label("Neighbours k", exact=True).input_value() == "5"  # the preset filled the form
    set_number(page, "Epochs", 2)
    choose(page, "Device", "cpu")
    wait_for_refreshes(page, REFRESHES)
    settle(page)
    epochs, device, preset = form_values(page)
    assert epochs == "2" and "cpu" in device and PRESET in preset, (epochs, device, preset)
    no_traceback(page)
    changes = page.get_by_text(f"Launch records {PRESET} with your changes")
    assert "Epochs 2" in changes.inner_text() and "Device cpu" in changes.inner_text()
    to_top(page.get_by_text("Train a network", exact=True))
    shot(page, "form-1280-preset-edited")

    page.get_by_role("button", name="Launch training").click()
    (run_dir,) = wait_until(lambda: [p for p in runs.iterdir() if p.name != JOB and (p / "config.json").exists()],
                            120, "Launch started no run")
    config = json.loads((run_dir / "config.json").read_text())
    assert (config["preset"], config["epochs"], config["device"]) == (PRESET, 2, "cpu")
    assert (config["regime"], config["nn_k"], config["backbone"]) == ("nn-non-neighbour", 5, "small-cnn")


def test_a_mined_triplet_run_offers_no_neighbours(page, server):
    choose(page, "Loss", "triplet")
    settle(page)
    choose(page, "Miner", "batch-hard")
    settle(page)
    box = page.locator(".st-key-method-options").inner_text()
    assert "Classes per batch P" in box and "Images per class K" in box, box
    assert page.get_by_label("Neighbours k", exact=True).count() == 0
    to_top(page.get_by_text("Train a network", exact=True))
    shot(page, "form-1280-mined-triplet")
