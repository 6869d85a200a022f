"""The app in a real browser (headless Debian chromium through Playwright), as a new user meets it.

One Streamlit server is started the way `make app` starts it, on a free port, with
EXPLORER_RUNS_DIR pointing at an empty folder. The tests run in order and build on each other:
train the demo from the first screen and watch it finish; launch a second run from the form with
a double click (one run, not two), reload and open a second tab while it trains; cancel a third;
box-select points and see their thumbnails; compare two runs; open a corrupt run. Each step saves
a screenshot under test-artifacts/browser/.

Under CI=true these tests must run: a missing chromium or Playwright fails them. Elsewhere they
are skipped when chromium is absent (install it with `make chromium`).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "browser"
CI = os.environ.get("CI", "").lower() in ("true", "1", "yes")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking"]
TRAIN_TIMEOUT_S = 150  # one small CPU run, including the training process's start-up


def _missing(reason: str):
    if CI:
        pytest.fail(f"browser tests must run under CI=true: {reason}")
    pytest.skip(reason)


try:
    from playwright.sync_api import expect, sync_playwright
except ImportError as e:  # pragma: no cover - the venv has it
    sync_playwright = None
    _import_error = str(e)


# ---------------------------------------------------------------- fixtures


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """(url, runs_dir, log_path) of a Streamlit server started like `make app`."""
    if sync_playwright is None:
        _missing(f"playwright is not importable ({_import_error})")
    if not Path(CHROMIUM).exists():
        _missing(f"chromium is not installed at {CHROMIUM} (run `make chromium`)")
    runs = tmp_path_factory.mktemp("browser-runs")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log_path = ARTIFACTS / "streamlit.log"
    port = _free_port()
    env = {**os.environ, "EXPLORER_RUNS_DIR": str(runs), "PYTHONUNBUFFERED": "1"}
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
             "--server.port", str(port), "--server.address", "127.0.0.1"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, process, log_path)
        yield url, runs, log_path
    finally:
        _stop_training(runs)
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def _wait_healthy(url: str, process, log_path: Path, timeout: float = 60) -> None:
    end = time.time() + timeout
    while time.time() < end:
        if process.poll() is not None:
            pytest.fail(f"streamlit exited with {process.returncode}: {log_path.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as response:
                if response.read().strip() == b"ok":
                    return
        except OSError:
            pass
        time.sleep(0.3)
    pytest.fail(f"streamlit did not answer within {timeout} s: {log_path.read_text()[-2000:]}")


def _stop_training(runs: Path) -> None:
    """Cancel any training process a test left running (each runs in its own session)."""
    sys.path.insert(0, str(ROOT))
    from training import launch, rundir

    for path in rundir.list_run_dirs(runs):
        try:
            launch.cancel(path)
        except (rundir.RunDirError, OSError):
            pass


@pytest.fixture(scope="module")
def browser(server):
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def page(browser, server):
    context = browser.new_context(viewport={"width": 1440, "height": 1600})
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()


# ---------------------------------------------------------------- helpers


def shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def settle(page, timeout: float = 60) -> None:
    """Wait until the script run the last action started has ended."""
    page.wait_for_timeout(400)
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]',
                           timeout=timeout * 1000)
    page.wait_for_timeout(300)


def to_top(locator) -> None:
    """Scroll the page so ``locator`` sits at the top of the viewport (for the screenshot)."""
    locator.evaluate("e => e.scrollIntoView({block: 'start'})")
    locator.page.wait_for_timeout(400)


def no_traceback(page) -> None:
    body = page.locator("body").inner_text()
    assert "Traceback" not in body and 'File "' not in body, body[:3000]


def run_dirs(runs: Path) -> list[Path]:
    return sorted(p for p in runs.iterdir() if (p / "config.json").exists())


def state_of(path: Path) -> str:
    return json.loads((path / "status.json").read_text())["state"]


def wait_for_state(path: Path, state: str, timeout: float = TRAIN_TIMEOUT_S) -> None:
    end = time.time() + timeout
    while time.time() < end:
        try:
            if state_of(path) == state:
                return
        except (OSError, ValueError):
            pass
        time.sleep(0.5)
    log = (path / "train.log").read_text() if (path / "train.log").exists() else ""
    pytest.fail(f"{path.name} did not reach {state}: {state_of(path)}; log: {log[-1500:]}")


def go(page, title: str) -> None:
    page.get_by_test_id("stSidebarNav").get_by_text(title, exact=True).click()
    settle(page)


def choose(page, label: str, option: str) -> None:
    """Pick ``option`` in the Streamlit selectbox labelled ``label``."""
    page.get_by_role("combobox", name=label, exact=True).click()
    page.get_by_role("option", name=option, exact=True).click()


def set_number(page, label: str, value) -> None:
    field = page.get_by_label(label, exact=True)
    field.fill(str(value))
    field.press("Tab")


# ---------------------------------------------------------------- the tests, in order


def test_1_first_screen_offers_the_demo_and_it_trains_live(page, server):
    url, runs, log_path = server
    assert f"URL: {url}" in log_path.read_text(), "the server prints the URL"
    page.goto(url)
    settle(page)
    expect(page.get_by_text("No runs yet: train the demo")).to_be_visible()
    no_traceback(page)
    shot(page, "01-first-screen-demo-offer")

    page.get_by_role("button", name="Train the demo run").click()
    expect(page.get_by_test_id("stProgress").first).to_be_visible(timeout=20_000)
    (demo,) = run_dirs(runs)
    assert "demo" in demo.name
    # live: the fragment redraws progress and the loss curve while training runs
    expect(page.get_by_text("Loss per epoch")).to_be_visible(timeout=TRAIN_TIMEOUT_S * 1000)
    shot(page, "02-demo-training-live")
    wait_for_state(demo, "finished")
    expect(page.get_by_role("heading", name="Embedding map")).to_be_visible(timeout=30_000)
    settle(page)
    expect(page.get_by_test_id("stPlotlyChart").first).to_be_visible()
    expect(page.get_by_test_id("stMetricValue").first).to_have_text("finished")
    no_traceback(page)
    shot(page, "03-demo-finished-map")


def test_2_form_double_click_starts_one_run_that_survives_reload(page, browser, server):
    url, runs, _ = server
    before = run_dirs(runs)
    go(page, "New run")
    choose(page, "Loss", "triplet")
    choose(page, "Pair regime", "nn-other")
    set_number(page, "Epochs", 2)
    choose(page, "Device", "cpu")
    page.get_by_role("button", name="Launch training").dblclick()
    settle(page)
    page.wait_for_timeout(1500)
    new = [p for p in run_dirs(runs) if p not in before]
    assert len(new) == 1, f"a double click started {len(new)} runs"
    (run,) = new
    config = json.loads((run / "config.json").read_text())
    assert (config["loss"], config["regime"], config["epochs"]) == ("triplet", "nn-other", 2)
    expect(page.get_by_text("Jobs")).to_be_visible()
    shot(page, "04-form-launched")

    # the job lives on disk: a reload and a second tab both show it
    page.reload()
    settle(page)
    title = run.name.split("-", 2)[2].rsplit("-", 1)[0]  # as the page names it: no date, no suffix
    expect(page.get_by_text(title).first).to_be_visible()
    second = browser.new_page(viewport={"width": 1440, "height": 1000})
    second.goto(url + "/new")
    expect(second.get_by_text(title).first).to_be_visible(timeout=30_000)
    expect(second.get_by_test_id("stProgress").first).to_be_visible()
    second.screenshot(path=str(ARTIFACTS / "05-second-tab-same-job.png"))
    second.close()

    wait_for_state(run, "finished")
    expect(page.get_by_role("button", name="Inspect")).to_be_visible(timeout=30_000)
    no_traceback(page)
    shot(page, "06-form-run-finished")


def test_3_cancel_stops_the_process(page, server):
    _, runs, _ = server
    before = run_dirs(runs)
    go(page, "New run")
    set_number(page, "Seed", 7)
    set_number(page, "Epochs", 20)
    choose(page, "Device", "cpu")
    page.get_by_role("button", name="Launch training").click()
    settle(page)
    (run,) = [p for p in run_dirs(runs) if p not in before]
    # wait until it trains (status carries a step), so the cancel meets the training loop
    end = time.time() + TRAIN_TIMEOUT_S
    while time.time() < end and not json.loads((run / "status.json").read_text()).get("step"):
        time.sleep(0.5)
    page.get_by_role("button", name="Cancel").click()
    wait_for_state(run, "cancelled", timeout=60)
    expect(page.get_by_text("cancelled by the user").first).to_be_visible(timeout=20_000)
    no_traceback(page)
    shot(page, "07-cancelled")


def test_4_box_selection_shows_thumbnails(page, server):
    url, runs, _ = server
    page.goto(url)
    settle(page)
    demo = next(p for p in run_dirs(runs) if "demo" in p.name)
    page.get_by_test_id("stSidebar").get_by_role("combobox", name="Run").click()
    page.get_by_role("option").filter(has_text="demo").click()
    settle(page)
    expect(page.get_by_role("heading", name="Embedding map")).to_be_visible()
    chart = page.get_by_test_id("stPlotlyChart").first
    chart.scroll_into_view_if_needed()
    chart.hover()
    chart.locator('[data-title="Box Select"]').click()
    area = chart.locator("rect.nsewdrag").nth(2).bounding_box()  # the shifted test panel
    x0, y0 = area["x"] + 0.05 * area["width"], area["y"] + 0.05 * area["height"]
    x1, y1 = area["x"] + 0.95 * area["width"], area["y"] + 0.95 * area["height"]
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move(x1, y1, steps=12)
    page.mouse.up()
    settle(page)
    expect(page.get_by_text("Selection:").first).to_be_visible(timeout=30_000)
    images = page.get_by_test_id("stMain").locator("img")
    assert images.count() >= 10, f"{images.count()} thumbnails"
    expect(page.get_by_text("more selected")).to_be_visible()
    to_top(page.get_by_text("Selection:").first)
    no_traceback(page)
    shot(page, "08-box-selection-thumbnails")

    # one point of the selection, looked at closer: its nearest training neighbours, its source
    # test image and its other shifts
    page.get_by_role("combobox", name="Look closer").click()
    page.get_by_role("option").nth(1).click()
    settle(page)
    expect(page.get_by_text("Nearest training neighbours")).to_be_visible()
    expect(page.get_by_text("source test image")).to_be_visible()
    to_top(page.get_by_text("Selection:").first)
    no_traceback(page)
    shot(page, "09-one-point-neighbours")

    # the analysis tabs of the demo run, each drawn without an error
    for i, tab in enumerate(["Distances & ROC", "Confusion", "Classification report", "Centroids",
                             "Metrics over epochs", "Most confused", "Shifts", "Export"]):
        page.get_by_role("tab", name=tab).click()
        settle(page)
        assert not page.get_by_test_id("stMain").get_by_test_id("stAlert").filter(
            has_text="Cannot show").count(), tab
        no_traceback(page)
        if tab in ("Distances & ROC", "Most confused", "Shifts"):
            to_top(page.get_by_role("heading", name="Analysis"))
            shot(page, f"09{'abc'[('Distances & ROC', 'Most confused', 'Shifts').index(tab)]}-tab-{tab.split()[0].lower()}")
    assert demo.name


def test_5_compare_two_runs(page, server):
    go(page, "Compare runs")
    settle(page, timeout=120)
    for heading in ("Setup and final metrics", "Maps", "Pair distances (fresh test pairs)",
                    "Confusion matrices"):
        expect(page.get_by_role("heading", name=heading)).to_be_visible()
    assert page.get_by_test_id("stPlotlyChart").count() >= 4
    no_traceback(page)
    shot(page, "10-compare-metrics")
    to_top(page.get_by_role("heading", name="Maps"))
    shot(page, "11-compare-maps-and-distances")


def test_6_a_corrupt_run_shows_one_line_and_the_rest_works(page, server):
    url, runs, _ = server
    broken = runs / "29990101-000000-broken-run"
    broken.mkdir()
    (broken / "config.json").write_text("{ this is not json")
    page.goto(url)
    settle(page)
    # the app still opens on the newest readable run; the broken one says what is wrong
    expect(page.get_by_role("heading", name="Embedding map")).to_be_visible()
    page.get_by_test_id("stSidebar").get_by_role("combobox", name="Run").click()
    page.get_by_role("option").filter(has_text="broken-run").click()
    settle(page)
    alert = page.get_by_test_id("stAlert").filter(has_text="config.json").first
    expect(alert).to_be_visible()
    assert "not valid JSON" in alert.inner_text()
    no_traceback(page)
    shot(page, "12-corrupt-run-error")
    go(page, "Compare runs")
    expect(page.get_by_role("heading", name="Maps")).to_be_visible(timeout=60_000)
    no_traceback(page)
