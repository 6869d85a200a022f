"""The view in the address bar (ui/url_state.py): a reload or a copied link opens the same view,
and a link to something that is not here says so in one line."""

from __future__ import annotations

from pathlib import Path

import pytest
from fakerun import make_fake_run
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")
NEWEST = "20260103-000000-fake-newest"
OLDER = "20260101-000000-fake-older"


@pytest.fixture
def runs(tmp_path, monkeypatch) -> Path:
    make_fake_run(tmp_path, NEWEST, n_classes=2, dim=2, epochs=2)
    make_fake_run(tmp_path, OLDER, n_classes=3, dim=2, epochs=3, seed=1)
    monkeypatch.setenv("EXPLORER_RUNS_DIR", str(tmp_path))
    return tmp_path


def opened(**query) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params.update(query)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def chosen_run(at: AppTest) -> str:
    return Path(at.sidebar.selectbox(key="run_choice").value).name


def test_the_url_names_the_run_on_screen(runs):
    at = opened()
    assert chosen_run(at) == NEWEST
    assert at.query_params["run"] == NEWEST
    at.sidebar.selectbox(key="run_choice").select(str(runs / OLDER)).run()
    assert at.query_params["run"] == OLDER


def test_a_link_to_a_run_opens_that_run(runs):
    at = opened(run=OLDER)
    assert chosen_run(at) == OLDER
    assert not at.warning


def test_a_link_to_a_missing_run_says_so_in_one_line_and_opens_the_newest(runs):
    at = opened(run="20250101-000000-gone")
    assert chosen_run(at) == NEWEST
    warnings = [w.value for w in at.warning]
    assert len(warnings) == 1 and "20250101-000000-gone" in warnings[0], warnings
    assert at.query_params["run"] == NEWEST
