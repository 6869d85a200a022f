"""A large run opened by `explorer summary` and by the app: peak memory and time.

    .venv/bin/python bench/large_run.py                       # 100,000 points per split, 32-D, 50 epochs
    .venv/bin/python bench/large_run.py --points 20000 --epochs 10

It writes a fake run (tests/fakerun.py) with ``--points`` train points, as many test points and as
many shifted copies, ``--dim`` dimensions and ``--epochs`` snapshots, then measures, each in its own
process (peak resident memory from the kernel's accounting of that process):

- `python -m explorer summary RUN --json` on every point, against the same with
  `--max-points 20000`, and prints the ratio of their times;
- the app's inspect page on the run (one Streamlit AppTest script run: header, map, tabs).

The goal of the reliability issue: under 4 GB of memory each, on the 2-core, 24 GB machine.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

APP_RUN = """
import sys
from streamlit.testing.v1 import AppTest
at = AppTest.from_file(sys.argv[1], default_timeout=1800)
at.run()
if at.exception:
    raise SystemExit(at.exception[0].value)
print("notes:", " | ".join(c.value for c in at.caption if "subsample" in c.value or "seeded" in c.value)[:300])
"""


def measure(argv: list[str], env: dict) -> tuple[float, float, str]:
    """(wall seconds, peak resident GB, last stdout line) of one process, its own peak (wait4)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        out.seek(0), err.seek(0)
        stdout, stderr = out.read(), err.read()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(argv[:4])} failed: {(stderr.strip().splitlines() or [stdout[-300:]])[-1]}")
    return seconds, usage.ru_maxrss / 1024 ** 2, (stdout.strip().splitlines() or [""])[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=100_000, help="points per split")
    parser.add_argument("--dim", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=50)
    args = parser.parse_args()
    from fakerun import make_fake_run

    root = Path(tempfile.mkdtemp(prefix="bench-large-"))
    try:
        started = time.perf_counter()
        path = make_fake_run(root, "20260101-000000-large", n_classes=10, dim=args.dim, epochs=args.epochs,
                             n_train=args.points, n_test=args.points, shifts=(3,), n_pairs=5000)
        size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1024 ** 3
        print(f"wrote a run of {args.points:,} points per split, {args.dim}-D, {args.epochs} epochs "
              f"({size:.1f} GB on disk) in {time.perf_counter() - started:.0f} s; load average {os.getloadavg()[0]:.1f}")
        env = {**os.environ, "EXPLORER_RUNS_DIR": str(root), "EXPLORER_WARM_UP": "0"}
        python = sys.executable
        sub_s, sub_gb, _ = measure([python, "-m", "explorer", "summary", str(path), "--json", "--max-points", "20000"], env)
        print(f"explorer summary --max-points 20000: {sub_s:.0f} s, peak memory {sub_gb:.2f} GB")
        all_s, all_gb, _ = measure([python, "-m", "explorer", "summary", str(path), "--json"], env)
        print(f"explorer summary on every point:   {all_s:.0f} s, peak memory {all_gb:.2f} GB "
              f"(time ratio {all_s / sub_s:.1f}x)")
        app_s, app_gb, notes = measure([python, "-c", APP_RUN, str(ROOT / "app.py")], env)
        print(f"the app's inspect page (first script run, PCA map computed): {app_s:.0f} s, "
              f"peak memory {app_gb:.2f} GB")
        print(f"  {notes}")
        print(f"goal, under 4 GB each: {'met' if max(all_gb, app_gb) < 4 else 'missed'}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
