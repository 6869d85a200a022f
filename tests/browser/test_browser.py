"""The app in a real browser (headless Debian chromium through Playwright), as a new user meets it.

One Streamlit server is started the way `make app` starts it, on a free port, with
EXPLORER_RUNS_DIR pointing at an empty folder. The tests run in order and build on each other:
train the demo from the first screen and watch it finish; launch a second run from the form with
a double click (one run, not two), reload and open a second tab while it trains; cancel a third;
then, on the demo run: select points with a box, replace the selection with another box, clear
it, select again and double-click it away, counting the points in every panel each time; hover a
point for its image; look closer at one point; the shift demo at 1280 and 1920 px; the replay;
the tabs and a CSV download; compare two runs with one linked selection; open a corrupt run.
Each step saves a screenshot under test-artifacts/browser/.

Under CI=true these tests must run: a missing chromium or Playwright fails them. Elsewhere they
are skipped when chromium is absent (install it with `make chromium`).
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path

import pytest

from .app_server import ROOT, chromium, require_browser, running_app, wait_until

ARTIFACTS = ROOT / "test-artifacts" / "browser"
TRAIN_TIMEOUT_S = 180  # one small CPU run, including the training process's start-up

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError as e:  # pragma: no cover - the venv has it
    sync_playwright = None
    _import_error = str(e)


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """(url, runs_dir, log_path) of a Streamlit server started like `make app`."""
    require_browser()
    runs = tmp_path_factory.mktemp("browser-runs")
    log_path = ARTIFACTS / "streamlit.log"
    with running_app(log_path, runs) as url:
        try:
            yield url, runs, log_path
        finally:
            _stop_training(runs)


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
    with chromium() as browser:
        yield browser


@pytest.fixture(scope="module")
def page(browser, server):
    context = browser.new_context(viewport={"width": 1440, "height": 1400}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()


# ---------------------------------------------------------------- helpers


def shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


# Counts the script runs the page has started (the app's data-test-script-state turning to
# "running"), so that settle waits for the run an action started, not for the quiet before it.
WATCH_RUNS = """() => {
  if (window.__scriptRuns !== undefined) return window.__scriptRuns;
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app) return -1;
  window.__scriptRuns = 0;
  new MutationObserver(records => {
    const states = records.map(r => r.oldValue).concat([app.getAttribute('data-test-script-state')]);
    for (let i = 1; i < states.length; i++)
      if (states[i] === 'running' && states[i - 1] !== 'running') window.__scriptRuns++;
  }).observe(app, {attributes: true, attributeOldValue: true, attributeFilter: ['data-test-script-state']});
  return -1;
}"""
RUN_START_S = 5  # an action that starts no script run (a hover, a zoom) is taken as settled after this


def settle(page, timeout: float = 60) -> None:
    """Wait until the script run the last action started has ended: a new run counted since the
    last settle (or none within RUN_START_S), then the app idle."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    seen = getattr(page, "_script_runs_seen", None)
    started = page.evaluate(WATCH_RUNS)
    if started >= 0 and seen is not None:
        try:
            page.wait_for_function(f"() => window.__scriptRuns > {seen}", timeout=RUN_START_S * 1000)
        except PlaywrightTimeout:
            pass  # the action started no run
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]',
                           timeout=timeout * 1000)
    page._script_runs_seen = max(page.evaluate(WATCH_RUNS), 0)


def to_top(locator) -> None:
    """Scroll the page so ``locator`` sits at the top of the viewport (for the screenshot)."""
    locator.evaluate("e => e.scrollIntoView({block: 'start'})")
    expect(locator).to_be_in_viewport()


def no_traceback(page) -> None:
    body = page.locator("body").inner_text()
    assert "Traceback" not in body and 'File "' not in body, body[:3000]


def run_dirs(runs: Path) -> list[Path]:
    return sorted(p for p in runs.iterdir() if (p / "config.json").exists())


def state_of(path: Path) -> str:
    return json.loads((path / "status.json").read_text())["state"]


def wait_for_state(path: Path, state: str, timeout: float = TRAIN_TIMEOUT_S) -> None:
    def reached() -> bool:
        try:
            return state_of(path) == state
        except (OSError, ValueError):
            return False

    log = path / "train.log"
    wait_until(reached, timeout, lambda: f"{path.name} did not reach {state} (it is {state_of(path)}; log: "
               f"{log.read_text()[-1500:] if log.exists() else ''})", every=0.5)


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


def open_run(page, url: str, text: str) -> None:
    page.goto(url)
    settle(page)
    page.get_by_test_id("stSidebar").get_by_role("combobox", name="Run").click()
    page.get_by_role("option").filter(has_text=text).click()
    settle(page)


def the_map(page, scope: str = "inspect"):
    """The map element (ui/map_element) of a page."""
    return page.locator(f".emap[data-scope='{scope}']")


def drag(page, chart, panel: int, box, tool: str = "Box") -> None:
    """Drag ``box`` = (x0, y0, x1, y1), fractions of panel ``panel``, with the map's ``tool``
    (Box or Lasso: a lasso along the box's edges)."""
    chart.scroll_into_view_if_needed()
    chart.get_by_role("button", name=tool, exact=True).click()
    area = chart.locator(".emap-frame").nth(panel).bounding_box()
    x0, y0, x1, y1 = box
    corners = [(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0 + 0.01)] if tool == "Lasso" else [(x0, y0), (x1, y1)]
    page.mouse.move(area["x"] + x0 * area["width"], area["y"] + y0 * area["height"])
    page.mouse.down()
    for fx, fy in corners[1:]:
        page.mouse.move(area["x"] + fx * area["width"], area["y"] + fy * area["height"], steps=12)
    page.mouse.up()
    settle(page)


def zoom(page, chart, panel: int, at=(0.5, 0.5), clicks: int = 3) -> None:
    """Zoom a panel in with the mouse wheel, centred at ``at`` (fractions of the panel)."""
    area = chart.locator(".emap-frame").nth(panel).bounding_box()
    page.mouse.move(area["x"] + at[0] * area["width"], area["y"] + at[1] * area["height"])
    for _ in range(clicks):
        page.mouse.wheel(0, -300)
    page.wait_for_function("() => true")


def panel_counts(chart) -> list[tuple[int, int | None]]:
    """(points, selected or None) of every panel, read from the subtitles the map shows."""
    counts = []
    for text in chart.locator(".emap-title").all_inner_texts():
        match = re.search(r"(?:^|\n|· )([\d,]+) points(?: · (\d+) selected)?", text)
        if match:
            counts.append((int(match.group(1).replace(",", "")), int(match.group(2)) if match.group(2) else None))
    return counts


def lit(chart) -> int:
    """How many points the map draws lit (the selection; the rest are dimmed)."""
    return int(chart.get_attribute("data-selected") or 0)


def selection_header(page) -> int | None:
    found = page.get_by_test_id("stMain").get_by_text(re.compile(r"^Selection: \d+ points?"))
    if not found.count():
        return None
    return int(re.search(r"\d+", found.first.inner_text()).group())


def thumbnails(page):
    """The selection's thumbnails (a locator: they are drawn a moment after the script run ends)."""
    return page.locator(".st-key-selection-thumbnails img")


def assert_selection(page, per_panel: list[int | None]) -> None:
    """The selection is what every panel, the header and the thumbnails say."""
    counts = panel_counts(the_map(page))
    assert [s for _, s in counts] == per_panel, counts
    total = sum(s or 0 for s in per_panel)
    if per_panel[0] is None:
        assert selection_header(page) is None
        expect(thumbnails(page)).to_have_count(0)
    else:
        assert selection_header(page) == total
        expect(thumbnails(page)).to_have_count(min(total, 60) if total > 1 else 0)


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
    expect(the_map(page)).to_be_visible()
    expect(page.get_by_test_id("stMain").get_by_text("finished", exact=True).first).to_be_visible()
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
    settle(page)
    launch = page.get_by_role("button", name="Launch training")
    launch.dblclick()
    wait_until(lambda: [p for p in run_dirs(runs) if p not in before], 60, "Launch started no run")  # the first click's
    settle(page)  # the second click's rerun, which must start no second run
    new = [p for p in run_dirs(runs) if p not in before]
    assert len(new) == 1, f"a double click started {len(new)} runs"
    (run,) = new
    config = json.loads((run / "config.json").read_text())
    assert (config["loss"], config["regime"], config["epochs"]) == ("triplet", "nn-other", 2)
    # the new job shows right under the button that launched it, in view
    job = page.get_by_text("The run you launched")
    expect(job).to_be_visible()
    assert job.bounding_box()["y"] < page.viewport_size["height"] + 400
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
    expect(page.get_by_role("button", name="Inspect").first).to_be_visible(timeout=30_000)
    no_traceback(page)
    shot(page, "06-form-run-finished")


def test_3_cancel_stops_the_process(page, server):
    _, runs, _ = server
    before = run_dirs(runs)
    go(page, "New run")
    set_number(page, "Seed", 7)
    set_number(page, "Epochs", 20)
    choose(page, "Device", "cpu")
    settle(page)
    page.get_by_role("button", name="Launch training").click()
    settle(page)
    (run,) = [p for p in run_dirs(runs) if p not in before]
    # wait until it trains (status carries a step), so the cancel meets the training loop
    wait_until(lambda: json.loads((run / "status.json").read_text()).get("step"), TRAIN_TIMEOUT_S,
               f"{run.name} took no training step", every=0.5)
    page.get_by_role("button", name="Cancel").first.click()
    wait_for_state(run, "cancelled", timeout=60)
    expect(page.get_by_text("cancelled by the user").first).to_be_visible(timeout=20_000)
    no_traceback(page)
    shot(page, "07-cancelled")


def test_4_selection_replaces_clears_and_reselects_with_counts_in_every_panel(page, server):
    url, runs, _ = server
    open_run(page, url, "demo")
    expect(page.get_by_role("heading", name="Embedding map")).to_be_visible()
    chart = the_map(page)
    points = [n for n, _ in panel_counts(chart)]
    assert len(points) == 3 and all(points), points

    # a box around the whole shifted panel selects every shifted point, and only those
    drag(page, the_map(page), 2, (0.01, 0.01, 0.99, 0.99))
    assert_selection(page, [0, 0, points[2]])
    expect(page.get_by_text("more selected")).to_be_visible()
    to_top(page.get_by_role("heading", name="Embedding map"))
    shot(page, "08-box-selection-shifted-panel")

    # a new box on the train panel replaces it in every panel (it used to pile up)
    drag(page, the_map(page), 0, (0.01, 0.01, 0.99, 0.99))
    assert_selection(page, [points[0], 0, 0])
    to_top(page.get_by_role("heading", name="Embedding map"))
    shot(page, "09-new-box-replaces-the-selection")

    # Clear empties the panel and the map: no selected counts, no dimmed points
    page.get_by_role("button", name="Clear selection").click()
    settle(page)
    assert_selection(page, [None, None, None])
    # a new box does not bring the old points back
    drag(page, the_map(page), 1, (0.01, 0.01, 0.99, 0.99))
    assert_selection(page, [0, points[1], 0])
    shot(page, "10-reselected-after-clear")

    # a double-click on the map clears the selection in every panel
    area = the_map(page).locator(".emap-frame").nth(1).bounding_box()
    page.mouse.dblclick(area["x"] + 0.02 * area["width"], area["y"] + 0.02 * area["height"])
    settle(page)
    assert_selection(page, [None, None, None])
    no_traceback(page)


def test_5_hover_shows_the_image_and_one_point_is_looked_at_closer(page, server):
    chart = the_map(page)
    chart.scroll_into_view_if_needed()
    page.wait_for_function("() => window.__embeddingMaps.inspect.imagesReady()")
    tip = page.locator('[data-testid="embedding-hover-image"]')
    spots = page.evaluate("""() => { const p = window.__embeddingMaps.inspect.panels[1];
      const box = p.canvas.getBoundingClientRect();
      return Array.from({length: 8}, (_, i) => { const s = p.sp.getScreenPosition(i * 5);
        return [box.left + s[0], box.top + s[1]]; }); }""")
    for x, y in spots:  # a point of the test panel (one hidden under another may not answer)
        page.mouse.move(x - 20, y - 20)
        page.mouse.move(x, y, steps=3)
        try:
            expect(tip).to_be_visible(timeout=3000)
            break
        except AssertionError:  # try the next point
            continue
    expect(tip).to_be_visible()
    assert int(tip.get_attribute("width")) >= 56
    shot(page, "11-hover-image")
    page.mouse.move(0, 0)

    drag(page, the_map(page), 2, (0.01, 0.01, 0.99, 0.99))
    closer = page.get_by_role("combobox", name=re.compile("Look closer"))
    closer.evaluate("e => e.scrollIntoView({block: 'center'})")  # room below for its list
    expect(closer).to_be_in_viewport()
    closer.click()
    page.get_by_role("option").nth(1).click()
    settle(page)
    expect(page.get_by_text("Nearest training neighbours")).to_be_visible()
    expect(page.get_by_text("source test image")).to_be_visible()
    # the picked point, its neighbours and its source are marked on the map
    marks = page.evaluate("() => window.__embeddingMaps.inspect.overlays.flatMap(o => o.text || [])")
    assert any(m.startswith("picked:") for m in marks) and any(m.startswith("neighbour #") for m in marks)
    assert any(m.startswith("its source") for m in marks)
    to_top(page.get_by_role("heading", name="Embedding map"))
    no_traceback(page)
    shot(page, "12-one-point-neighbours-on-the-map")
    page.get_by_role("button", name="Clear selection").click()
    settle(page)


@pytest.mark.parametrize("width", [1280, 1920])
def test_6_shift_demo_tells_every_shift_apart(browser, server, width):
    """The augmentation demo: colour by shift, overlay, the test images whose shifted copies change
    class joined to their copies by lines, zoomed in. The screenshots are meant to be looked at."""
    url, _, _ = server
    page = browser.new_page(viewport={"width": width, "height": 1000 if width == 1280 else 1080})
    page.set_default_timeout(30_000)
    open_run(page, url, "demo")
    # at 1280 px nothing is cut: the projection names, Replay, the sidebar table's columns
    for label in ("UMAP", "t-SNE", "overlay"):
        cell = page.get_by_role("radio", name=label)
        assert cell.evaluate("e => e.scrollWidth <= e.clientWidth + 1"), f"{label} is cut at {width} px"
    replay = page.get_by_role("button", name="Replay")
    assert replay.evaluate("e => e.scrollWidth <= e.clientWidth + 1"), "Replay is cut"
    header = page.get_by_test_id("stSidebar").get_by_test_id("stDataFrame").first
    expect(header).to_be_visible()
    # the map starts above the fold
    assert the_map(page).bounding_box()["y"] < page.viewport_size["height"] - 200

    choose(page, "Colour by", "shift")
    settle(page)
    page.get_by_role("radio", name="overlay").click()
    settle(page)
    chart = the_map(page)
    legend = chart.locator(".emap-legend .emap-key").all_inner_texts()
    assert [t for t in legend if t.startswith("shift ")] == ["shift -6 px", "shift -3 px", "shift +3 px", "shift +6 px"]
    colours = chart.locator(".emap-legend .emap-sym").evaluate_all(
        "els => els.map(e => getComputedStyle(e).getPropertyValue('--c'))")
    assert len(set(colours)) == len(colours), colours  # every shift its own colour

    # the test images whose shifted copies change class, from the Shifts tab: on the map with a
    # line from each to its copies, the rest faded; then zoom on them
    page.get_by_role("tab", name="Shifts").click()
    settle(page)
    page.get_by_role("button", name=re.compile("^Show these")).click()
    settle(page)
    the_map(page).locator(".emap-title").filter(has_text=re.compile("selected")).first.wait_for()
    counts = panel_counts(the_map(page))
    assert counts[0][1] and counts[0][1] <= 8, counts
    stars = page.evaluate("() => window.__embeddingMaps.inspect.overlays.filter(o => o.symbol === 'star').length")
    assert stars >= 1  # the sources, starred (drawn over the WebGL points)
    to_top(page.get_by_role("heading", name="Embedding map"))
    zoom(page, the_map(page), 0, at=(0.5, 0.5), clicks=2)
    page.mouse.move(0, 0)
    page.screenshot(path=str(ARTIFACTS / f"13-shift-demo-{width}.png"))
    no_traceback(page)
    page.close()


def test_7_replay_plays_every_epoch_on_fixed_axes_and_ends_on_the_last(page, server):
    url, _, _ = server
    open_run(page, url, "demo")
    page.get_by_role("button", name="Replay").click()
    settle(page)
    chart = page.locator(".st-key-replay-inspect .emap")
    chart.scroll_into_view_if_needed()
    current = chart.locator(".emap-epoch")  # the current epoch
    expect(current).to_have_text("epoch 0")
    axes = page.evaluate("() => { const m = window.__embeddingMaps.replay; return [m.cx, m.cy, m.scale]; }")
    chart.get_by_role("button", name="▶ Play").click()
    # the points move epoch by epoch: the label passes through the epochs between
    page.wait_for_function("() => ['epoch 1', 'epoch 2'].includes(document.querySelector('.st-key-replay-inspect "
                           ".emap-epoch').textContent)")
    shot(page, "14-replay-playing")
    expect(current).to_have_text("epoch 3", timeout=30_000)  # it ends on the last epoch
    expect(chart.get_by_role("button", name="▶ Play")).to_be_visible()
    assert page.evaluate("() => { const m = window.__embeddingMaps.replay; return [m.cx, m.cy, m.scale]; }") == axes
    page.get_by_role("button", name="Back to the map").click()
    settle(page)
    expect(the_map(page)).to_be_visible()
    no_traceback(page)


def test_8_tabs_and_a_csv_download_that_does_not_hang(page, server):
    for tab in ["Distances & ROC", "Hard pairs", "Suspicious points", "Confusion", "Classification report",
                "Centroids", "Metrics over epochs", "Most confused", "Shifts", "Export"]:
        page.get_by_role("tab", name=tab).click()
        settle(page)
        assert not page.get_by_test_id("stMain").get_by_test_id("stAlert").filter(has_text="Cannot show").count(), tab
        no_traceback(page)
        if tab in ("Distances & ROC", "Hard pairs", "Suspicious points", "Shifts"):
            to_top(page.get_by_role("heading", name="Analysis"))
            shot(page, f"15-tab-{tab.split()[0].lower()}")
    started = time.time()
    with page.expect_download(timeout=15_000) as download:
        page.get_by_role("button", name="Embeddings of this epoch (CSV)").click()
    assert download.value.suggested_filename.endswith("-embeddings-epoch3.csv")
    assert time.time() - started < 10
    page.goto(server[0] + "/inspect")  # the page's own address works too
    settle(page)
    expect(page.get_by_role("heading", name="Embedding map")).to_be_visible()
    assert "Page not found" not in page.locator("body").inner_text()


def test_9_compare_links_one_selection_across_two_regimes(page, server):
    go(page, "Compare runs")
    settle(page, timeout=120)
    for heading in ("Setup and final metrics", "Maps", "Pair distances", "Confusion matrices"):
        expect(page.get_by_role("heading", name=heading)).to_be_visible()
    no_traceback(page)
    shot(page, "16-compare-metrics")
    chart = the_map(page, "compare")
    drag(page, chart, 0, (0.01, 0.01, 0.99, 0.99))
    chart = the_map(page, "compare")
    counts = panel_counts(chart)
    assert len(counts) == 2 and counts[0][1] == counts[1][1] == counts[0][0] > 0, counts
    expect(page.get_by_text(re.compile(r"linked across 2 runs"))).to_be_visible()
    strip = page.locator(".st-key-compare-selection img")
    expect(strip).to_have_count(min(counts[0][1], 60))  # drawn a moment after the script run ends
    to_top(page.get_by_role("heading", name="Maps"))
    shot(page, "17-compare-linked-selection")
    # the page keeps its runs while you visit another
    chosen = page.get_by_test_id("stMultiSelect").first.inner_text()
    go(page, "New run")
    go(page, "Compare runs")
    settle(page, timeout=120)
    assert page.get_by_test_id("stMultiSelect").first.inner_text() == chosen


def test_10_a_corrupt_run_shows_one_line_and_the_rest_works(page, server):
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
    shot(page, "18-corrupt-run-error")
    go(page, "Compare runs")
    expect(page.get_by_role("heading", name="Maps")).to_be_visible(timeout=60_000)
    no_traceback(page)
