"""Every page fits at 1280 px and looks good at 1920 px (issue 20, point 1), in headless chromium.

A runs directory of fake runs (tests/fakerun.py, tests/fakesweep.py): a held-out run whose map has
four panels, a sweep over two regimes with three seeds (its runs also make Compare's four runs and
the Seed experiments page's claims), and seed 000's in-lab run. At 1280×800 and 1920×1080 each page
is visited and measured in the DOM: no two panel titles overlap each other or a map, every analysis
tab is reachable without hidden scrolling, no widget label is cut, the sweep tables show their
verdict and pooled-std columns, the sidebar picker shows the run's name. A screenshot of every page
at both widths goes to test-artifacts/layout/ (the viewport grown to the page's height).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # pragma: no cover - the venv has it
    expect = None

from .app_server import ROOT, chromium, require_browser, running_app

ARTIFACTS = ROOT / "test-artifacts" / "layout"
sys.path.insert(0, str(ROOT / "tests"))
WIDTHS = {1280: 800, 1920: 1080}
TIMEOUT_MS = 120_000  # a page's first maps at load average 8
HELDOUT = "20260401-000000-heldout-classes-contrastive-nn-other"


def make_runs(root: Path) -> None:
    from fakerun import add_heldout, make_fake_run
    from fakesweep import make_preset_run, make_sweep, place_shifted, scale_classes

    from training.presets import PRESETS

    seed000 = {k: v for k, v in PRESETS["seed000-outlab-regime1"].options.items() if k != "regime"}
    accuracy = {"nn-other": 0.70, "nn-non-neighbour": 0.90}
    make_sweep(root, "regimes", {"regime": ["nn-other", "nn-non-neighbour"]}, preset="seed000-outlab-regime1",
               options=seed000, accuracy=lambda v, s: accuracy[v["regime"]] + 0.01 * (s - 1), created_at=1769904000,
               change=lambda path, v, s: scale_classes(path, 3.0 if v["regime"] == "nn-non-neighbour" else 1.0))
    inlab = make_preset_run(root, "20260301-000000-inlab", "seed000-inlab", separation=8.0,
                            **PRESETS["seed000-inlab"].options)
    place_shifted(inlab, {3: 0.0, 6: 12.0})
    heldout = make_fake_run(root, HELDOUT, n_classes=4, n_train=800, n_test=400, epochs=2)
    add_heldout(heldout, n_per_class=60)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    require_browser()
    runs = tmp_path_factory.mktemp("layout-runs")
    make_runs(runs)
    with running_app(ARTIFACTS / "streamlit.log", runs) as url:
        yield url


@pytest.fixture(scope="module")
def browser(server):
    with chromium() as browser:
        yield browser


@pytest.fixture(params=sorted(WIDTHS), ids=lambda w: f"{w}px")
def page(request, browser):
    width = request.param
    context = browser.new_context(viewport={"width": width, "height": WIDTHS[width]})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    yield page
    context.close()


# ---------------------------------------------------------------- waiting and measuring

SETTLED = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  return app && app.dataset.testScriptState === 'notRunning'
    && !document.querySelector('[data-stale="true"]')
    && !document.querySelector('[data-testid="stSkeleton"], [data-testid="stSpinner"]');
}"""


def settle(page) -> None:
    """Wait until the script run has ended and nothing on the page is stale or spinning."""
    page.wait_for_function(SETTLED, timeout=TIMEOUT_MS, polling=200)


def go(page, url: str, path: str = "") -> None:
    page.goto(f"{url}/{path}")
    page.get_by_test_id("stSidebarNav").wait_for()
    settle(page)


def width_of(page) -> int:
    return page.viewport_size["width"]


def shot(page, name: str) -> None:
    """A screenshot of the whole page: the viewport grown to the main container's height, then back."""
    size = dict(page.viewport_size)
    height = page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
    page.set_viewport_size({"width": size["width"], "height": min(max(height, size["height"]), 6000)})
    settle(page)
    page.screenshot(path=str(ARTIFACTS / f"{name}-{size['width']}.png"))
    page.set_viewport_size(size)
    settle(page)


MEASURE = """() => {
  const box = (e) => e.getBoundingClientRect();
  const overlap = (a, b) => a.width > 0 && b.width > 0 && a.left < b.right - 1 && b.left < a.right - 1
    && a.top < b.bottom - 1 && b.top < a.bottom - 1;
  const text = (e) => (e.innerText || '').trim().slice(0, 60);
  const problems = [];
  // panel titles: none overlaps another title or another panel's map
  for (const map of document.querySelectorAll('.emap')) {
    const titles = [...map.querySelectorAll('.emap-title')], frames = [...map.querySelectorAll('.emap-frame')];
    titles.forEach((t, i) => {
      titles.slice(i + 1).forEach((u) => { if (overlap(box(t), box(u))) problems.push(`titles overlap: "${text(t)}" / "${text(u)}"`); });
      frames.forEach((f, j) => { if (overlap(box(t), box(f))) problems.push(`title "${text(t)}" overlaps map ${j}`); });
      if (t.scrollWidth > t.clientWidth + 1) problems.push(`title cut: "${text(t)}"`);
    });
  }
  // the page's headings and captions do not run into each other
  const blocks = [...document.querySelectorAll('[data-testid="stMain"] :is(h1, h2, h3, [data-testid="stCaptionContainer"])')];
  blocks.forEach((a, i) => blocks.slice(i + 1).forEach((b) => {
    if (!a.contains(b) && !b.contains(a) && overlap(box(a), box(b))) problems.push(`"${text(a)}" overlaps "${text(b)}"`);
  }));
  // every tab reachable: the tab list scrolls nothing away
  for (const list of document.querySelectorAll('[data-testid="stTabs"] [role="tablist"]')) {
    if (list.scrollWidth > list.clientWidth + 1) {
      const hidden = [...list.querySelectorAll('[role="tab"]')].filter((t) => box(t).right > box(list).right + 1).map(text);
      problems.push(`tabs behind a scroll: ${hidden.join(', ')}`);
    }
  }
  // no widget label, button or radio option cut
  const labels = document.querySelectorAll('[data-testid="stWidgetLabel"], [data-testid="stWidgetLabel"] *, '
    + 'label[data-baseweb="checkbox"] *, [data-testid="stRadio"] label *, [data-testid="stButton"] button *');
  for (const l of labels) {
    if (l.offsetParent !== null && text(l) && l.scrollWidth > l.clientWidth + 1 && l.clientWidth > 0
        && getComputedStyle(l).overflow !== 'visible') problems.push(`label cut: "${text(l)}" (${l.clientWidth} of ${l.scrollWidth} px)`);
  }
  return problems;
}"""


def layout_problems(page) -> list[str]:
    return page.evaluate(MEASURE)


def assert_fits(page) -> None:
    body = page.locator('[data-testid="stMain"]').inner_text()
    assert "Traceback" not in body and "This page hit an error" not in body, body[:2000]
    problems = layout_problems(page)
    assert not problems, f"at {width_of(page)} px: " + "; ".join(problems)


def picker_name_visible(page) -> str:
    """The part of the sidebar picker's value that shows: the input's text cut to its width."""
    return page.get_by_test_id("stSidebar").get_by_role("combobox", name="Run").evaluate(
        "(e) => e.value.slice(0, Math.floor(e.value.length * Math.min(1, e.clientWidth / e.scrollWidth)))")


# ---------------------------------------------------------------- the pages


def test_inspect_with_four_panels(page, server):
    go(page, server)
    page.get_by_test_id("stSidebar").get_by_role("combobox", name="Run").click()
    page.get_by_role("option").filter(has_text="heldout-classes").click()
    settle(page)
    the_map = page.locator(".emap[data-scope='inspect']")
    expect(the_map.locator(".emap-frame")).to_have_count(4)
    settle(page)
    visible = picker_name_visible(page)
    assert len(visible) >= 20 and "heldout" in visible, f"the picker shows only {visible!r}"
    page.get_by_test_id("stSidebar").get_by_text("All 8 runs").click()
    names = page.get_by_test_id("stSidebar").get_by_test_id("stDataFrame")
    expect(names).to_be_visible()  # its columns (the name second) are tests/test_app.py's to check
    assert_fits(page)
    shot(page, "inspect-four-panels")


def test_compare_four_runs(page, server):
    go(page, server, "compare")
    expect(page.locator(".emap[data-scope='compare'] .emap-frame")).to_have_count(2)
    for name in ("regimes-1-s0", "heldout-classes"):
        page.get_by_role("combobox", name="Runs to compare").click()
        page.get_by_role("option").filter(has_text=name).first.click()
        page.keyboard.press("Escape")
        settle(page)
    the_map = page.locator(".emap[data-scope='compare']")
    expect(the_map.locator(".emap-frame")).to_have_count(4)
    settle(page)
    assert_fits(page)
    frames = [f.bounding_box() for f in the_map.locator(".emap-frame").all()]
    if width_of(page) < 1600:  # four maps side by side would be too small: a 2×2 grid
        assert len({round(f["y"]) for f in frames}) == 2, frames
    assert min(f["width"] for f in frames) >= 250, frames
    shot(page, "compare-four-runs")


def test_sweep_view(page, server):
    go(page, server, "compare")
    page.get_by_text("A sweep", exact=True).click()
    settle(page)
    expect(page.get_by_text("Which differences exceed the spread between seeds")).to_be_visible()
    assert_fits(page)
    tables = page.get_by_test_id("stDataFrame")
    # the verdict and the pooled std it is judged by come before any column a narrow screen scrolls away
    verdicts = tables.filter(has_text="exceeds the spread")
    expect(verdicts).to_have_count(1)
    header = verdicts.evaluate("(t) => [...t.querySelectorAll('th')].map((h) => h.innerText.trim()).filter(Boolean)")
    assert header[:4] == ["from", "to", "exceeds the spread between seeds?", "pooled std over seeds"], header
    assert verdicts.bounding_box()["width"] >= 0.6 * width_of(page), verdicts.bounding_box()
    shot(page, "sweep-view")


def test_seed_experiments(page, server):
    go(page, server, "seeds")
    expect(page.get_by_test_id("stDataFrame").first).to_be_visible()
    settle(page)
    assert_fits(page)
    shot(page, "seed-experiments")


def test_new_run(page, server):
    go(page, server, "new")
    expect(page.get_by_role("button", name="Launch training")).to_be_visible()
    page.get_by_text(re.compile("^More options")).click()  # its labels are the longest
    expect(page.get_by_text(re.compile("^Freeze the backbone"))).to_be_visible()
    page.wait_for_function("""() => { const d = document.querySelector('[data-testid="stExpander"] details[open]');
      return d && d.getBoundingClientRect().height >= d.scrollHeight - 1; }""")  # done opening
    settle(page)
    assert_fits(page)
    shot(page, "new-run")


def test_import(page, server):
    go(page, server, "import")
    expect(page.get_by_test_id("stFileUploader").first).to_be_visible()
    assert_fits(page)
    shot(page, "import")
