"""The map element in headless chromium (software WebGL), on a page with nothing else
(map_harness.py): a lasso and a box give exactly the row ids Python receives; hover shows the
image; zoom is linked across panels and can be unlinked; thumbnails appear at high zoom; a
replay's transition ends on the next epoch's positions; an empty panel says so; without WebGL
the element says what to do. Screenshots go to test-artifacts/browser/map-*.png.

Every wait is on a condition (an attribute the element sets, the text Python prints)."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from .app_server import CHROMIUM, CHROMIUM_ARGS, ROOT, require_browser, running_app

ARTIFACTS = ROOT / "test-artifacts" / "browser"

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError as e:  # pragma: no cover - the venv has it
    sync_playwright = None
    _import_error = str(e)


def prepare_harness(folder: Path) -> Path:
    """map_harness.py in ``folder``, where ``static`` links to the repository's (Streamlit serves
    the static folder beside the main script)."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "tests" / "browser" / "map_harness.py", folder / "map_harness.py")
    if not (folder / "static").exists():
        (folder / "static").symlink_to(ROOT / "static")
    return folder / "map_harness.py"


@pytest.fixture(scope="module")
def harness(tmp_path_factory):
    require_browser()
    script = prepare_harness(tmp_path_factory.mktemp("harness"))
    with running_app(ARTIFACTS / "map-harness.log", script=script, env={"PYTHONPATH": str(ROOT)},
                     args=("--server.enableStaticServing", "true", "--server.fileWatcherType", "none",
                           "--browser.gatherUsageStats", "false")) as url:
        yield url


@pytest.fixture(scope="module")
def pw(harness):
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(pw):
    browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture()
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    yield page
    context.close()


# ---------------------------------------------------------------- helpers


def open_map(page, url: str, query: str = "") -> None:
    page.goto(f"{url}/?{query}")
    page.wait_for_selector(".emap[data-ready='true']")
    page.wait_for_function("() => Array.from(document.querySelectorAll('.emap-panel'))"
                           ".every(p => p.dataset.transition === 'done')")


def received(page) -> dict:
    return json.loads(page.get_by_test_id("stCode").first.inner_text())


def wait_for_event(page, events: int) -> dict:
    page.wait_for_function(
        "n => { const c = document.querySelector('[data-testid=stCode]');"
        " return c && JSON.parse(c.innerText).events >= n; }", arg=events)
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]')
    return received(page)


SCREEN = """p => { const panel = window.__embeddingMaps.harness.panels[p];
  const box = panel.canvas.getBoundingClientRect();
  return Array.from(panel.ids, (id, i) => { const s = panel.sp.getScreenPosition(i);
    return [id, box.left + s[0], box.top + s[1]]; }); }"""


def screen_points(page, panel: int) -> list[tuple[int, float, float]]:
    """(row id, x, y) of every point of a panel on the screen, from regl-scatterplot's own
    projection (getScreenPosition), not from the element's code under test."""
    return [tuple(p) for p in page.evaluate(SCREEN, panel)]


def expected_keys(points, inside, split: str) -> list[str]:
    """The points whose screen position is inside, as the harness prints them (the grid's row
    ids are split, then row in order)."""
    per = {"train": 0, "test": 1}[split]
    found = sorted(i for i, x, y in points if inside(x, y))
    n = len(points)
    return [f"{split}:{i - per * n}" for i in found]


def gaps(values: list[float]) -> list[float]:
    """Midpoints between the distinct screen columns (or rows) of a grid."""
    distinct = sorted(set(round(v, 1) for v in values))
    return [(a + b) / 2 for a, b in zip(distinct, distinct[1:])]


def drag(page, path: list[tuple[float, float]]) -> None:
    page.mouse.move(*path[0])
    page.mouse.down()
    for x, y in path[1:]:
        page.mouse.move(x, y, steps=6)
    page.mouse.up()


# ---------------------------------------------------------------- the tests


def test_a_box_and_a_lasso_give_python_exactly_the_row_ids_inside(page, harness):
    open_map(page, harness)
    points = screen_points(page, 0)
    cols, rows = gaps([x for _, x, _ in points]), gaps([y for _, _, y in points])
    # a box from between columns 3 and 4 to between columns 12 and 13, rows likewise
    x0, x1, y0, y1 = cols[3], cols[12], rows[5], rows[20]
    page.get_by_role("button", name="Box", exact=True).click()
    drag(page, [(x0, y0), (x1, y1)])
    got = wait_for_event(page, 1)
    want = expected_keys(points, lambda x, y: x0 < x < x1 and y0 < y < y1, "train")
    assert len(want) == 9 * 15 and got["points"] == want
    page.wait_for_function("n => document.querySelector('.emap').dataset.selected === String(n)", arg=len(want))
    page.screenshot(path=str(ARTIFACTS / "map-box-selection.png"))

    # an L-shaped lasso on the test panel replaces the selection in every panel
    points = screen_points(page, 1)
    cols, rows = gaps([x for _, x, _ in points]), gaps([y for _, _, y in points])
    a, b, c = cols[2], cols[8], cols[16]
    top, mid, bottom = rows[2], rows[10], rows[18]
    shape = [(a, top), (b, top), (b, mid), (c, mid), (c, bottom), (a, bottom), (a, top + 1)]
    page.get_by_role("button", name="Lasso", exact=True).click()
    drag(page, shape)
    got = wait_for_event(page, 2)

    def in_l(x, y):
        return (a < x < b and top < y < bottom) or (b <= x < c and mid < y < bottom)

    want = expected_keys(points, in_l, "test")
    assert len(want) == 6 * 16 + 8 * 8 and got["points"] == want
    page.wait_for_function("n => document.querySelector('.emap').dataset.selected === String(n)", arg=len(want))
    page.screenshot(path=str(ARTIFACTS / "map-lasso-replaces.png"))

    # a double-click between the points clears it
    page.mouse.dblclick(cols[5], rows[5])
    got = wait_for_event(page, 3)
    assert got["count"] == 0 and got["events"] == 3
    page.wait_for_function("() => document.querySelector('.emap').dataset.selected === '0'")


def hover_point(page, offset: int):
    """Hover a point of the first panel (the one ``offset`` past its middle) and return the tip's
    image, checked to be that point's own picture (its number's bright blocks)."""
    points = screen_points(page, 1)
    target, x, y = points[len(points) // 2 + offset]
    page.mouse.move(x - 30, y - 30)
    page.mouse.move(x, y, steps=3)
    tip = page.get_by_test_id("embedding-hover-image")
    expect(tip).to_be_visible()
    assert tip.get_attribute("data-id") == str(target)
    per = len(points)  # the test panel's points follow the train panel's, rows from 0
    expect(page.locator(".emap-tip")).to_contain_text(f"test row {target - per}")
    bright = page.evaluate("""() => { const c = document.querySelector('[data-testid=embedding-hover-image]');
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let n = 0;
      for (let i = 0; i < d.length; i += 4) if (d[i] > 200) n += 1; return n; }""")
    assert bright > 0
    return tip


def test_hover_shows_the_points_image(page, harness):
    open_map(page, harness)
    page.wait_for_function("() => window.__embeddingMaps.harness.imagesReady()")
    tip = hover_point(page, 7)
    assert int(tip.get_attribute("width")) >= 56
    page.screenshot(path=str(ARTIFACTS / "map-hover-image.png"))


def test_zoom_is_linked_across_panels_and_can_be_unlinked(page, harness):
    open_map(page, harness)
    views = "() => window.__embeddingMaps.harness.panels.map(p => Array.from(p.sp.get('cameraView')))"
    before = page.evaluate(views)
    frame = page.locator(".emap-panel").nth(0).locator(".emap-frame").bounding_box()
    page.mouse.move(frame["x"] + frame["width"] * 0.3, frame["y"] + frame["height"] * 0.4)
    page.mouse.wheel(0, -400)
    page.wait_for_function(f"() => ({views})()[0][0] > {before[0][0] * 1.2}")
    after = page.evaluate(views)
    assert after[1] == pytest.approx(after[0]) and after[2] == pytest.approx(after[0])
    page.screenshot(path=str(ARTIFACTS / "map-linked-zoom.png"))
    page.locator(".emap-link").uncheck()
    assert page.evaluate("() => window.__embeddingMaps.harness.linked") is False
    page.mouse.move(frame["x"] + frame["width"] * 0.3, frame["y"] + frame["height"] * 0.4)
    page.mouse.wheel(0, -400)
    page.wait_for_function(f"() => ({views})()[0][0] > {after[0][0] * 1.2}")
    alone = page.evaluate(views)
    assert alone[1] == pytest.approx(after[1]) and alone[0][0] > after[1][0] * 1.2
    # the empty held-out panel says so
    expect(page.locator(".emap-panel").nth(2).locator(".emap-empty")).to_have_text("No held-out points in this run.")


def test_thumbnails_appear_at_high_zoom(page, harness):
    open_map(page, harness)
    page.wait_for_function("() => window.__embeddingMaps.harness.imagesReady()")
    assert page.locator(".emap-panel").nth(0).get_attribute("data-thumbnails") == "0"
    frame = page.locator(".emap-panel").nth(0).locator(".emap-frame").bounding_box()
    page.mouse.move(frame["x"] + frame["width"] / 2, frame["y"] + frame["height"] / 2)
    for _ in range(12):
        page.mouse.wheel(0, -300)
        shown = int(page.locator(".emap-panel").nth(0).get_attribute("data-thumbnails") or 0)
        if shown:
            break
        page.wait_for_function("() => true")  # one round trip: let the wheel's frame be drawn
    page.wait_for_function("() => Number(document.querySelector('.emap-panel').dataset.thumbnails) > 0")
    shown = int(page.locator(".emap-panel").nth(0).get_attribute("data-thumbnails"))
    assert 0 < shown <= 300
    page.screenshot(path=str(ARTIFACTS / "map-thumbnails.png"))


BIG = "panels=2&n=12100"  # 24,200 images: more than one sheet may hold, so they come a view at a time
HELD = """() => { const m = window.__embeddingMaps.harness, s = m.images;
  return {cells: s.cells.size, whole: s.whole}; }"""


def zoom_until_thumbnails(page, panel: int = 0) -> int:
    frame = page.locator(".emap-panel").nth(panel).locator(".emap-frame").bounding_box()
    page.mouse.move(frame["x"] + frame["width"] / 2, frame["y"] + frame["height"] / 2)
    for _ in range(20):
        page.mouse.wheel(0, -300)
        page.wait_for_function("() => true")  # one round trip: let the wheel's frame be drawn
        if page.evaluate(f"() => window.__embeddingMaps.harness.panels[{panel}].inView(300) !== null"):
            break
    page.wait_for_function(f"() => Number(document.querySelectorAll('.emap-panel')[{panel}].dataset.thumbnails) > 0")
    return int(page.locator(".emap-panel").nth(panel).get_attribute("data-thumbnails"))


def test_a_large_sources_thumbnails_come_a_view_at_a_time_without_a_page_rerun(page, harness):
    open_map(page, harness, BIG)
    assert page.evaluate("() => window.__embeddingMaps.harness.spec.images.whole") is False
    runs = received(page)["page_runs"]
    assert page.evaluate(HELD)["cells"] == 0  # nothing is sent before it is needed
    shown = zoom_until_thumbnails(page)
    in_view = page.evaluate("() => window.__embeddingMaps.harness.panels[0].inView(300).length")
    assert 0 < shown <= in_view <= 300
    held = page.evaluate(HELD)
    assert held["whole"] is False and in_view <= held["cells"] <= 2 * 300  # this view's (and the linked panel's)
    # every thumbnail is the point's own image: the pattern of its image number
    assert page.evaluate("""() => { const m = window.__embeddingMaps.harness, p = m.panels[0];
      return p.inView(300).every(i => m.images.has(m.imageOf(p.ids[i]))); }""")
    assert received(page)["page_runs"] == runs  # the courier's fragment answered, not a page rerun
    page.screenshot(path=str(ARTIFACTS / "map-thumbnails-large.png"))


def test_a_large_sources_hover_image_comes_when_asked(page, harness):
    open_map(page, harness, BIG)
    hover_point(page, 31)
    # the points around the mouse's path came with it (up to 121 a hover), not the 24,200 images
    assert 1 < page.evaluate(HELD)["cells"] <= 1000


def test_a_replay_transition_ends_on_the_next_epochs_positions(page, harness):
    open_map(page, harness, "case=replay&panels=1&n=400")
    m = ".emap"
    expect(page.locator(f"{m} .emap-epoch")).to_have_text("epoch 0")
    page.get_by_role("button", name="Next epoch ▸").click()
    page.wait_for_function("() => document.querySelector('.emap-panel').dataset.transition === 'running'")
    page.wait_for_function("() => document.querySelector('.emap-panel').dataset.transition === 'done'")
    expect(page.locator(f"{m} .emap-epoch")).to_have_text("epoch 1")
    drawn = page.evaluate("""() => { const m = window.__embeddingMaps.harness, p = m.panels[0];
      return p.sp.get('points').map((q, i) => [p.ids[i], ...m.denorm(q[0], q[1], 0)]); }""")
    side = 20
    for i, x, y in drawn:  # epoch 1 is the grid stretched x2
        assert x == pytest.approx((i % side) * 2, abs=1e-3) and y == pytest.approx((i // side) * 2, abs=1e-3)
    page.screenshot(path=str(ARTIFACTS / "map-replay-epoch-1.png"))


def test_without_webgl_the_element_says_what_to_do(pw, harness):
    browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS + ["--disable-webgl"])
    try:
        page = browser.new_page()
        page.goto(harness)
        message = page.get_by_test_id("embedding-map-no-webgl")
        expect(message).to_be_visible(timeout=60_000)
        assert "WebGL" in message.inner_text() and "hardware acceleration" in message.inner_text()
        page.screenshot(path=str(ARTIFACTS / "map-no-webgl.png"))
    finally:
        browser.close()


# ---------------------------------------------------------------- the live map, in the app


def test_a_training_runs_map_follows_each_new_epoch_without_a_page_rerun(browser, tmp_path):
    sys.path.insert(0, str(ROOT / "tests"))
    sys.path.insert(0, str(ROOT))
    from fakerun import make_fake_run

    from training import rundir

    path = make_fake_run(tmp_path, "20260101-000000-live-abcdef", state="running", epochs=3, epochs_done=1)
    with running_app(ARTIFACTS / "map-live.log", tmp_path, env={"EXPLORER_WARM_UP": "0"}) as url:
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        page.set_default_timeout(60_000)
        page.goto(url)
        page.wait_for_selector(".emap[data-scope='inspect'][data-ready='true']")
        expect(page.get_by_text("Live: the map follows the training, now at epoch 1").first).to_be_visible()
        header = page.get_by_test_id("stMarkdown").filter(has_text="running · epoch 1 of 3 done")
        expect(header.first).to_be_visible()  # a rerun of the whole page would rewrite it
        # the trainer writes epoch 2: every point moves 3 units right
        snapshot = rundir.read_snapshot(path, 1)
        rundir.write_snapshot(path, 2, snapshot.assign(e0=snapshot["e0"] + 3.0))
        rundir.write_status(path, "running", 2, 3)
        page.wait_for_function("() => document.querySelector('.emap-panel').dataset.transition === 'running'",
                               timeout=30_000)
        page.wait_for_function("() => document.querySelector('.emap-panel').dataset.transition === 'done'")
        expect(page.get_by_text("Live: the map follows the training, now at epoch 2").first).to_be_visible()
        moved = page.evaluate("""() => { const m = window.__embeddingMaps.inspect, p = m.panels[0];
          const pos = m.positions(); return Array.from(p.ids.slice(0, 5), (id) => [pos.x[id], m.table.x[id]]); }""")
        assert all(new == pytest.approx(old + 3.0, abs=1e-4) for new, old in moved)
        expect(header.first).to_be_visible()  # the page around the map was not rerun
        page.screenshot(path=str(ARTIFACTS / "map-live-epoch-2.png"))
        page.close()
