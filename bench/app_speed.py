"""The app on a large run, in headless chromium: how long until the map is painted, and how long a
box selection of many points takes to show its thumbnails.

    .venv/bin/python bench/app_speed.py                     # 100,000 train points, 8-D
    .venv/bin/python bench/app_speed.py --train 20000        # a smaller run

It writes a fake run (tests/fakerun.py: Gaussian classes, random images) with ``--train`` points in
the train split, a tenth as many test points and two shifts of them, and caches its PCA map, as a
finished run has. Then it starts the app as `make app` does and times, in one run:

- the first page load (the server's caches cold: the run, its map and the figure are read and
  built) against a reload (the server's caches warm), from navigation to the scatter painted
  (every panel's WebGL trace holds all its points), and prints the ratio;
- the server's part of a warm page: the script run, timed by Streamlit's AppTest;
- a box selection of about ``--select`` points of the train panel (the box is found from the
  map's own coordinates), from mouse-up to the thumbnails shown, and the number of points the
  selection holds (thumbnails are capped; the header counts the rest).

Each figure is printed beside issue 10's goal (painted in 3 s, the server's part in 1 s), with
how far it misses. Then the same app on a small run (``--floor`` train points) is timed the same
way: the part of a first load that is the app's own start in a fresh browser, whatever the map.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking"]
GOAL_PAINT, GOAL_SERVER = 3.0, 1.0
PAINTED = """n => {
  const plot = document.querySelector('.st-key-mapbox-inspect .js-plotly-plot');
  if (!plot || !plot._fullData || !plot.querySelector('canvas')) return false;
  const drawn = plot._fullData.filter(t => t.type === 'scattergl' && t.customdata)
                              .reduce((sum, t) => sum + (t._length || 0), 0);
  return drawn >= n;
}"""


def make_run(root: Path, n_train: int):
    from fakerun import make_fake_run

    from explorer.projections import projection
    from explorer.runs import load_run

    started = time.perf_counter()
    path = make_fake_run(root, "20260101-000000-bench-large", n_classes=10, dim=8, epochs=1,
                         n_train=n_train, n_test=n_train // 10, shifts=(-3, 3), n_pairs=2000)
    run = load_run(path)
    frame = projection(run, 1, "pca")
    print(f"wrote the run and cached its PCA map ({len(frame):,} points) in {time.perf_counter() - started:.1f} s")
    return path, frame


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(runs: Path, port: int) -> subprocess.Popen:
    env = {**os.environ, "EXPLORER_RUNS_DIR": str(runs), "EXPLORER_WARM_UP": "0"}
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1", "--server.fileWatcherType", "none"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    for _ in range(120):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process
        except OSError:
            time.sleep(0.5)
    raise SystemExit("the app did not start within a minute")


def time_paint(page, url: str, n_points: int) -> float:
    started = time.perf_counter()
    page.goto(url)
    page.wait_for_function(PAINTED, arg=n_points, timeout=180_000, polling=50)
    return time.perf_counter() - started


def box_around(x, y, n: int) -> tuple[float, float, float, float]:
    """A square box (x0, y0, x1, y1) centred on the median point that holds about n points."""
    import numpy as np

    cx, cy = np.median(x), np.median(y)
    reach = np.sort(np.maximum(np.abs(x - cx), np.abs(y - cy)))
    r = float(reach[min(n, len(reach)) - 1])
    return cx - r, cy - r, cx + r, cy + r


TO_PIXELS = """([x0, y0, x1, y1]) => {
  const plot = document.querySelector('.st-key-mapbox-inspect .js-plotly-plot');
  const xa = plot._fullLayout.xaxis, ya = plot._fullLayout.yaxis, box = plot.getBoundingClientRect();
  return [box.left + xa._offset + xa.d2p(x0), box.top + ya._offset + ya.d2p(y1),
          box.left + xa._offset + xa.d2p(x1), box.top + ya._offset + ya.d2p(y0)];
}"""


def time_selection(page, box) -> tuple[float, str]:
    chart = page.locator(".st-key-mapbox-inspect").get_by_test_id("stPlotlyChart").first
    chart.scroll_into_view_if_needed()
    chart.hover()
    chart.locator('[data-title="Box Select"]').click()
    left, top, right, bottom = page.evaluate(TO_PIXELS, list(box))
    page.mouse.move(left, top)
    page.mouse.down()
    page.mouse.move(right, bottom, steps=8)
    started = time.perf_counter()
    page.mouse.up()
    page.locator(".st-key-selection-thumbnails img").first.wait_for(timeout=180_000)
    seconds = time.perf_counter() - started
    header = page.get_by_test_id("stMain").get_by_text("Selection:").first.inner_text()
    return seconds, header


def server_part(runs: Path) -> float:
    """A warm script run of the inspect page, as the server does it (AppTest, no browser)."""
    os.environ["EXPLORER_RUNS_DIR"] = str(runs)
    os.environ["EXPLORER_WARM_UP"] = "0"
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.run()  # cold: fills the caches
    started = time.perf_counter()
    at.run()
    seconds = time.perf_counter() - started
    if at.exception:
        raise SystemExit(f"the page failed: {at.exception[0].value}")
    return seconds


def verdict(what: str, seconds: float, goal: float) -> str:
    met = "goal met" if seconds <= goal else f"goal missed by {seconds - goal:.2f} s ({seconds / goal:.1f}x)"
    return f"{what}: {seconds:.2f} s (goal {goal:.0f} s: {met})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=100_000, help="points in the train split")
    parser.add_argument("--select", type=int, default=10_000, help="points the box selection holds, about")
    parser.add_argument("--floor", type=int, default=500,
                        help="train points of the small run timed the same way, the app's floor (0: skip)")
    args = parser.parse_args()
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"{platform.processor() or platform.machine()}, {cpus} CPUs, Python {platform.python_version()}, "
          f"chromium {CHROMIUM}, load average {os.getloadavg()[0]:.1f}")
    runs = Path(tempfile.mkdtemp(prefix="bench-app-"))
    try:
        _, frame = make_run(runs, args.train)
        train = frame[frame["split"] == "train"]
        box = box_around(train["x"].to_numpy(), train["y"].to_numpy(), args.select)
        print(verdict("server's part of a warm page (AppTest script run)", server_part(runs), GOAL_SERVER))
        cold, _ = in_the_browser(runs, len(frame), box)
        print(verdict("first load to painted", cold, GOAL_PAINT))
        if args.floor:
            small = Path(tempfile.mkdtemp(prefix="bench-app-floor-"))
            try:
                _, frame = make_run(small, args.floor)
                floor, _ = in_the_browser(small, len(frame))
                print(f"the large map's own share of a first load: {cold - floor:.2f} s "
                      f"({cold:.2f} s against {floor:.2f} s with {len(frame):,} points)")
            finally:
                shutil.rmtree(small, ignore_errors=True)
    finally:
        shutil.rmtree(runs, ignore_errors=True)


def in_the_browser(runs: Path, n_points: int, box=None) -> tuple[float, float]:
    """Start the app on ``runs``; time a fresh browser's first load and a reload to the map
    painted, and, given a ``box``, a selection with it. Returns (first load, reload)."""
    from playwright.sync_api import sync_playwright

    port = free_port()
    app = start_app(runs, port)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1440, "height": 1000})
            url = f"http://127.0.0.1:{port}/"
            cold = time_paint(page, url, n_points)
            warm = time_paint(page, url, n_points)
            print(f"page load to {n_points:,} points painted: first load {cold:.2f} s, reload {warm:.2f} s "
                  f"(ratio {cold / warm:.1f}x)")
            if box is not None:
                seconds, header = time_selection(page, box)
                print(f"box selection to thumbnails shown: {seconds:.2f} s ({header})")
            browser.close()
    finally:
        os.killpg(app.pid, 15)
    return cold, warm


if __name__ == "__main__":
    main()
