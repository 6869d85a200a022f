"""The app's sweep group on the Compare page and its Seed experiments page, under AppTest.

Sweeps and preset runs are hand-made (tests/fakesweep.py) with known accuracies, so the page's
mean ± std, its differences and its verdicts can be checked against the right answer.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fakesweep import make_preset_run, make_sweep, place_shifted, scale_classes, write_manifest
from streamlit.testing.v1 import AppTest
from test_app import APP, PAGE_COMPARE, PAGE_INSPECT, TIMEOUT, assert_clean, charts, text_of, values

from explorer import seeds
from training import rundir
from training.presets import PRESETS

ROOT = Path(__file__).resolve().parents[1]
PAGE_SEEDS = "ui/pages/seeds.py"
REGIMES = ["nn-other", "nn-non-neighbour"]
SEED000 = {k: v for k, v in PRESETS["seed000-outlab-regime1"].options.items() if k != "regime"}
INLAB = PRESETS["seed000-inlab"].options
ACCURACY = {"nn-other": 0.70, "nn-non-neighbour": 0.90}  # ± 0.01 over seeds 0, 1, 2


@pytest.fixture(scope="module")
def runs_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("runs")
    # the example: three seeds over two regimes, started from the regime-1 preset;
    # regime 2 spreads each class three times as wide
    make_sweep(root, "regimes", {"regime": REGIMES}, preset="seed000-outlab-regime1", options=SEED000,
               accuracy=lambda v, s: ACCURACY[v["regime"]] + 0.01 * (s - 1), created_at=3000,
               change=lambda path, v, s: scale_classes(path, 3.0 if v["regime"] == "nn-non-neighbour" else 1.0))
    # two options swept, not all runs done
    make_sweep(root, "sizes", {"embedding_dim": [2, 4, 8], "loss": ["contrastive", "triplet"]}, seeds=(0, 1),
               accuracy=lambda v, s: 0.5 + 0.02 * v["embedding_dim"] + 0.01 * s,
               states={(0, 1): "running", (1, 1): "pending"}, created_at=2000)
    write_manifest(root, "broken", "{ not json")
    # seed 000's in-lab run: its ±6 px copies confused, its ±3 px ones not
    inlab = make_preset_run(root, "20260301-000000-inlab", "seed000-inlab", separation=8.0, **INLAB)
    place_shifted(inlab, {3: 0.0, 6: 12.0})
    return root


@pytest.fixture
def runs(runs_root, monkeypatch) -> Path:
    monkeypatch.setenv("EXPLORER_RUNS_DIR", str(runs_root))
    return runs_root


def start(page: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    at.switch_page(page).run()
    return at


def open_sweep(at: AppTest, sweep: str | None = None) -> AppTest:
    at.radio(key="cmp_mode").set_value("A sweep").run()
    if sweep:
        at.selectbox(key="cmp_sweep").set_value(sweep).run()
    return at


def sweep_figure(at: AppTest) -> dict:
    (fig,) = [f for f in charts(at) if "mean ± std over seeds" in (f["layout"].get("title", {}).get("text") or "")]
    return fig


def frame(at: AppTest, column: str):
    """The dataframe on the page that has this column."""
    for found in at.dataframe:
        if column in found.value.columns:
            return found.value
    raise AssertionError(f"no table with a column {column!r}")


# ---------------------------------------------------------------- the sweep group on Compare


def test_a_sweep_of_three_seeds_over_two_regimes_shows_mean_and_std(runs):
    at = open_sweep(start(PAGE_COMPARE))
    assert_clean(at)
    assert at.selectbox(key="cmp_sweep").value == "regimes"  # the newest sweep
    text = text_of(at)
    assert "Sweep regimes" in text and "6 runs: ✓ 6 finished" in text and "seeds 0, 1, 2" in text
    fig = sweep_figure(at)
    panels = [a["text"] for a in fig["layout"]["annotations"]]
    assert panels == ["test 5-NN accuracy", "shifted test 5-NN accuracy", "verification AUC (fresh test pairs)"]
    knn = fig["data"][0]
    assert values(knn["x"]) == [0, 1] and values(knn["y"]) == pytest.approx([0.70, 0.90])
    assert fig["layout"]["xaxis"]["ticktext"] == REGIMES
    assert values(knn["error_y"]["array"]) == pytest.approx([0.01, 0.01]) and knn["error_y"]["visible"]
    assert fig["layout"]["xaxis"]["title"]["text"] == "regime"
    means = frame(at, "test 5-NN accuracy")
    assert list(means["test 5-NN accuracy"]) == ["0.700 ± 0.010 (n 3)", "0.900 ± 0.010 (n 3)"]
    differences = frame(at, "exceeds the spread between seeds?")
    (row,) = differences.to_dict("records")
    assert (row["from"], row["to"]) == ("regime nn-other", "regime nn-non-neighbour")
    assert row["Δ mean (to − from)"] == pytest.approx(0.2) and row["exceeds the spread between seeds?"].startswith("yes")
    assert "pooled standard deviation" in text and "Welch" in text
    listed = frame(at, "seed")
    assert len(listed) == 6 and set(listed["state"]) == {"✓ finished"}


def test_a_sweep_in_progress_shows_its_pending_and_running_runs(runs):
    at = open_sweep(start(PAGE_COMPARE), "sizes")
    assert_clean(at)
    text = text_of(at)
    assert "12 runs: ✓ 10 finished, • 1 pending, ▶ 1 running" in text
    assert "count the 10 finished runs only; 2 more are pending, running or stopped" in text
    listed = frame(at, "seed")
    assert sorted(listed["state"].value_counts().items()) == [("• pending", 1), ("▶ running", 1), ("✓ finished", 10)]
    assert "(not started)" in set(listed["run"])
    # two options swept: one line per loss against the embedding size, chosen by default as the longer
    assert at.segmented_control(key="cmp_sweep_x").value == "embedding_dim"
    lines = [t for t in sweep_figure(at)["data"] if t.get("mode") == "lines+markers"]
    assert [t["name"] for t in lines[:2]] == ["loss contrastive", "loss triplet"]
    assert values(lines[0]["y"]) == pytest.approx([0.54, 0.585, 0.665])  # 2-D: seed 0 only, seed 1 still running
    at.segmented_control(key="cmp_sweep_x").set_value("loss").run()
    assert_clean(at)
    lines = [t for t in sweep_figure(at)["data"] if t.get("mode") == "lines+markers"]
    assert [t["name"] for t in lines[:3]] == ["embedding_dim 2", "embedding_dim 4", "embedding_dim 8"]
    at.selectbox(key="cmp_sweep_metric").set_value("shifted_knn_accuracy").run()
    assert_clean(at)
    assert "shifted test 5-NN accuracy, comparing neighbouring values" in text_of(at)


def test_an_unreadable_manifest_is_one_line_and_the_rest_still_works(runs):
    at = open_sweep(start(PAGE_COMPARE))
    assert_clean(at)
    (warning,) = [w.value for w in at.warning if "broken" in w.value]
    assert "unreadable" in warning and "not valid JSON" in warning and "\n" not in warning
    labels = at.selectbox(key="cmp_sweep").options
    assert [label.split(" · ")[0] for label in labels] == ["regimes", "sizes"]
    assert "regime (2) · 3 seeds · 6/6 runs finished" in labels[0]


def test_a_run_of_the_sweep_opens_on_the_inspect_page(runs):
    at = open_sweep(start(PAGE_COMPARE))
    path = at.selectbox(key="cmp_sweep_run").value
    assert Path(path).parent == runs and "regimes" in Path(path).name
    at.button(key="cmp_sweep_inspect").click().run()
    assert_clean(at)
    assert at.session_state["run_choice"] == path


def test_the_compare_page_keeps_the_sweep_view_across_pages(runs):
    at = open_sweep(start(PAGE_COMPARE), "sizes")
    at.switch_page(PAGE_INSPECT).run()
    at.switch_page(PAGE_COMPARE).run()
    assert_clean(at)
    assert at.radio(key="cmp_mode").value == "A sweep" and at.selectbox(key="cmp_sweep").value == "sizes"


def test_no_sweep_yet_says_how_to_start_one(tmp_path, monkeypatch):
    monkeypatch.setenv("EXPLORER_RUNS_DIR", str(tmp_path))
    at = open_sweep(start(PAGE_COMPARE))
    assert_clean(at)
    assert "No sweep in" in text_of(at) and "python -m training sweep" in text_of(at)


# ---------------------------------------------------------------- the Seed experiments page


def test_the_seeds_page_marks_each_claim_with_the_evidence_of_the_runs(runs):
    at = start(PAGE_SEEDS)
    assert_clean(at)
    text = text_of(at)
    assert at.title[0].value == "Seed experiments"
    for seed in ("000", "001", "003", "004"):
        assert f"Seed {seed}:" in text
    # regime 2 spreads each class more: measured on the sweep's runs
    # over three seeds a side: a strong verdict; one in-lab run: a weak one, in orange
    assert (":green-badge[:material/check: reproduced over 3 seeds a side] **Regime 2 spreads each class more, "
            "relative to the distance between classes.**") in text
    assert "relative spread:" in text
    assert (":orange-badge[:material/help: reproduced in 1 run; spread unknown] **Shifted ±6 px copies are "
            "confused more") in text
    assert "k-NN accuracy at ±6 px" in text and "**Rule:** 5-NN accuracy" in text
    assert ":gray-badge[:material/hourglass_empty: not yet run] **Training with shifts reduces that confusion.**" in text
    codes = "\n".join(c.value for c in at.code)
    assert f"python -m training train --preset seed000-augmented --runs-dir {runs}" in codes
    assert (f"python -m training sweep --preset seed004-embedding-size --seeds 0 1 2 --data-dir DATA_DIR "
            f"--runs-dir {runs}") in codes
    assert "**Needs data that is not bundled:** --data-dir: Fashion-MNIST" in text
    # one in-lab run: the spread between seeds is unknown, and the page says how to get it
    assert f"python -m training sweep --preset seed000-inlab --seeds 1 2 --runs-dir {runs}" in codes
    table = frame(at, "evidence").set_index("claim")
    assert table.loc["Shifted ±6 px copies are confused more than ±3 px ones.", "status"] == "reproduced"
    assert table.loc["Training with shifts reduces that confusion.", "status"] == "not yet run"
    n = len(seeds.CLAIMS)
    assert at.metric[2].value.endswith(f"of {n}") and int(at.metric[0].value.split()[0]) >= 2


def test_the_seeds_page_on_no_runs_marks_every_claim_not_yet_run(tmp_path, monkeypatch):
    monkeypatch.setenv("EXPLORER_RUNS_DIR", str(tmp_path))
    at = start(PAGE_SEEDS)
    assert_clean(at)
    n = len(seeds.CLAIMS)
    assert [m.value for m in at.metric] == [f"0 of {n}", f"0 of {n}", f"{n} of {n}"]
    assert set(frame(at, "evidence")["status"]) == {"not yet run"}


def test_a_damaged_run_of_a_preset_is_said_in_words_not_a_traceback(tmp_path, monkeypatch):
    path = make_preset_run(tmp_path, "20260301-000000-inlab", "seed000-inlab", **INLAB)
    for snapshot in (path / rundir.EMBEDDINGS).iterdir():
        snapshot.write_bytes(b"garbage")
    monkeypatch.setenv("EXPLORER_RUNS_DIR", str(tmp_path))
    at = start(PAGE_SEEDS)
    assert_clean(at)
    assert "a run could not be measured" in text_of(at) and "cannot be read" in text_of(at)


def test_the_new_pages_import_no_other_page():
    for path in ("ui/seeds.py", "ui/sweep_view.py"):
        text = (ROOT / path).read_text()
        for other in ("ui.new_run", "ui.inspect", "ui.compare"):
            assert f"from {other}" not in text and f"import {other}" not in text, (path, other)
        assert len(text.splitlines()) < 500


def test_a_sweep_of_seeds_alone_shows_their_mean_and_std(tmp_path, monkeypatch):
    make_sweep(tmp_path, "repeat", {}, accuracy=lambda v, s: 0.80 + 0.01 * s)
    monkeypatch.setenv("EXPLORER_RUNS_DIR", str(tmp_path))
    at = open_sweep(start(PAGE_COMPARE))
    assert_clean(at)
    assert "sweeps no option" in text_of(at)
    assert list(frame(at, "test 5-NN accuracy")["test 5-NN accuracy"]) == ["0.810 ± 0.010 (n 3)"]
