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


def test_a_link_restores_the_map_view_and_the_view_writes_itself_back(runs):
    at = opened(run=OLDER, map="pca", layout="overlay", colour="split", epoch="1", sel="test:3,test:5")
    assert at.segmented_control(key="map_method-True").value == "pca"
    assert at.segmented_control(key="map_layout").value == "overlay"
    assert at.selectbox(key="map_colour").value == "split"
    assert at.select_slider(key=f"map_epoch-{OLDER}").value == 1
    assert at.query_params["sel"] == "test:3,test:5"
    assert not at.warning, [w.value for w in at.warning]
    at.selectbox(key="map_colour").set_value("shift").run()
    at.select_slider(key=f"map_epoch-{OLDER}").set_value(2).run()
    assert (at.query_params["colour"], at.query_params["epoch"], at.query_params["map"]) == ("shift", "2", "pca")


def test_a_link_with_a_value_the_page_does_not_offer_says_so_and_keeps_the_rest(runs):
    at = opened(run=OLDER, map="pca", epoch="99", colour="nonsense")
    assert at.segmented_control(key="map_method-True").value == "pca"
    warnings = " ".join(w.value for w in at.warning)
    assert "epoch “99”" in warnings and "colouring “nonsense”" in warnings, warnings
    assert at.select_slider(key=f"map_epoch-{OLDER}").value == 3  # the newest, as without the link


def test_a_link_to_compare_opens_its_runs(runs):
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("ui/pages/compare.py")
    at.query_params.update({"runs": f"{OLDER},{NEWEST}", "split": "shifted"})
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert [Path(p).name for p in at.multiselect(key="compare_runs").value] == [OLDER, NEWEST]
    assert at.selectbox(key="cmp_split").value == "shifted"
