"""What every browser test needs: a Streamlit server started the way `make app` starts it, on a
free port, and Debian's chromium. Under CI=true a missing chromium or Playwright fails the tests;
elsewhere it skips them (install chromium with `make chromium`)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CI = os.environ.get("CI", "").lower() in ("true", "1", "yes")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking"]

try:
    from playwright.sync_api import sync_playwright
    IMPORT_ERROR = ""
except ImportError as e:  # pragma: no cover - the venv has it
    sync_playwright = None
    IMPORT_ERROR = str(e)


def missing(reason: str):
    if CI:
        pytest.fail(f"browser tests must run under CI=true: {reason}")
    pytest.skip(reason)


def require_browser() -> None:
    """Skip (or, under CI=true, fail) when Playwright or chromium is not there."""
    if sync_playwright is None:
        missing(f"playwright is not importable ({IMPORT_ERROR})")
    if not Path(CHROMIUM).exists():
        missing(f"chromium is not installed at {CHROMIUM} (run `make chromium`)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, process, log_path: Path, timeout: float = 60) -> None:
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
        time.sleep(0.3)  # polling the health endpoint until it answers
    pytest.fail(f"streamlit did not answer within {timeout} s: {log_path.read_text()[-2000:]}")


def wait_until(condition, timeout: float, what, every: float = 0.2):
    """Poll ``condition()`` until it returns something true (returned), failing with ``what`` (a
    text, or a function giving it then) after ``timeout`` seconds: for conditions outside the page
    (files a run writes)."""
    end = time.time() + timeout
    while True:
        found = condition()
        if found:
            return found
        if time.time() >= end:
            pytest.fail(f"{what() if callable(what) else what} within {timeout:g} s")
        time.sleep(every)


@contextmanager
def running_app(log_path: Path, runs: Path | None = None, script: Path | str = "app.py", env: dict | None = None,
                args: tuple[str, ...] = ()):
    """The URL of ``script`` served by Streamlit (the app reading ``runs``), stopped afterwards."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **({"EXPLORER_RUNS_DIR": str(runs)} if runs else {}),
           **(env or {})}
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(script), "--server.headless", "true",
             "--server.port", str(port), "--server.address", "127.0.0.1", *args],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, process, log_path)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


@contextmanager
def chromium():
    """Debian's chromium, launched headless through Playwright."""
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
