"""The waits a new user meets in the first hour, each against issue 20's goal of 10 s on an idle
2-core machine, on the bundled data:

    .venv/bin/python bench/newcomer.py            # about 2 minutes on 2 cores
    .venv/bin/python bench/app_speed.py --newcomer   # the same, as part of the app's figures

1. The demo end to end: `python -m training train` with the demo's options (MNIST 4 vs 9 from the
   bundled sample, 3 epochs on the CPU), from the command to the process's end, run directory and
   maps included; beside it the training steps alone, from the run's own timings.
2. The first map of every projection of the demo run, each in a new process as the app's first
   request for it meets it (`python -m explorer project RUN --method M`), against the same map
   again in that process (warm).
3. Switching runs in headless chromium: from picking the other run in the sidebar to its name in
   the page's title and its map painted.

It prints the load average: on a busy machine every figure is larger.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOAL = 10.0
DEMO = ["--dataset", "mnist", "--classes", "4", "9", "--regime", "random", "--epochs", "3", "--device", "cpu"]


def verdict(what: str, seconds: float) -> str:
    met = "goal met" if seconds <= GOAL else f"goal missed by {seconds - GOAL:.1f} s"
    return f"  {what:<58} {seconds:6.1f} s   ({met})"


def demo(runs: Path, name: str) -> tuple[Path, float]:
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "training", "train", *DEMO, "--runs-dir", str(runs),
                             "--name", name], cwd=ROOT, capture_output=True, text=True,
                            env={**os.environ, "EXPLORER_PRECOMPUTE_MAPS": "0"})
    seconds = time.perf_counter() - started
    if result.returncode:
        raise SystemExit(f"the demo failed: {result.stderr.strip().splitlines()[-1]}")
    return Path(result.stdout.strip().splitlines()[-1]), seconds


def training_seconds(run: Path) -> float:
    import pandas as pd

    metrics = pd.read_csv(run / "metrics.csv")
    return float(metrics.loc[metrics["split"] == "train", "seconds"].sum()) if "seconds" in metrics else float("nan")


def first_map(run: Path, method: str) -> tuple[float, float]:
    """(seconds in a new process, seconds of the same map computed again in that process)."""
    script = (
        "import sys, time, json\n"
        "from explorer.runs import load_run\n"
        "from explorer.projections import projection\n"
        "run = load_run(sys.argv[1])\n"
        "t = time.perf_counter(); projection(run, None, sys.argv[2], cache=False)\n"
        "first = time.perf_counter() - t\n"
        "t = time.perf_counter(); projection(run, None, sys.argv[2], cache=False)\n"
        "print(json.dumps([first, time.perf_counter() - t]))\n")
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", script, str(run), method], cwd=ROOT, capture_output=True,
                            text=True)
    whole = time.perf_counter() - started
    if result.returncode:
        raise SystemExit(f"the {method} map failed: {result.stderr.strip().splitlines()[-1]}")
    first, again = json.loads(result.stdout.strip().splitlines()[-1])
    return whole, again


def switching(runs: Path, names: list[str]) -> float:
    """Seconds from picking the second run in the sidebar to its title and map shown."""
    from playwright.sync_api import sync_playwright

    from app_speed import CHROMIUM, CHROMIUM_ARGS, PAINTED, free_port, start_app

    port = free_port()
    server = start_app(runs, port)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1440, "height": 1000})
            page.goto(f"http://127.0.0.1:{port}/?run={names[0]}")
            page.wait_for_function(PAINTED, arg=[1, "inspect"], timeout=300_000, polling=50)
            page.get_by_test_id("stSidebar").get_by_role("combobox", name="Run").click()
            started = time.perf_counter()
            page.get_by_role("option").filter(has_text="switch-b").click()
            page.get_by_test_id("stMain").locator("h1").filter(has_text="switch-b").first.wait_for(timeout=300_000)
            title = time.perf_counter() - started
            page.wait_for_function(PAINTED, arg=[1, "inspect"], timeout=300_000, polling=50)
            painted = time.perf_counter() - started
            browser.close()
    finally:
        server.terminate()
    print(f"  (switching: the new run's title after {title:.1f} s)")
    return painted


def main() -> None:
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "bench"))
    print(f"newcomer's waits on {os.cpu_count()} CPUs, goal {GOAL:g} s each on an idle machine")
    with tempfile.TemporaryDirectory() as folder:
        runs = Path(folder)
        run, seconds = demo(runs, "switch-a")
        print(verdict("the demo, end to end (command to the run directory)", seconds))
        print(f"  {'  of which the training steps':<58} {training_seconds(run):6.1f} s")
        for method in ("pca", "tsne", "umap"):
            cold, warm = first_map(run, method)
            print(verdict(f"the first {method} map of the demo run, new process", cold)
                  + f"   again, warm: {warm:.1f} s ({cold / max(warm, 1e-3):.0f}x)")
        other, _ = demo(runs, "switch-b")
        print(verdict("switching runs: picker to the map painted", switching(runs, [run.name, other.name])))
    print(f"load average during the run: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
