import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Finished runs map themselves in the background; tests that want it turn it back on.
os.environ.setdefault("EXPLORER_PRECOMPUTE_MAPS", "0")
# The app compiles UMAP in a background thread at start; under AppTest that thread can deadlock
# with numba, and in the browser tests it would compete for the CPU. tests/test_app_warm_up.py
# checks the start itself.
os.environ.setdefault("EXPLORER_WARM_UP", "0")
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def run_cli(*args: str, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run ``python -m <args>`` from the repository root, as a user would."""
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=timeout)


@pytest.fixture
def cli():
    return run_cli
