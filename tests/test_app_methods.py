"""The app on runs of each method: a magnet run's clusters, a BCE run's head, a three-way run's
pair types, and the loss at every step."""

import numpy as np
import pytest
from fakerun import add_head_scores, add_heldout, add_magnet_clusters, add_pair_types, make_fake_run
from streamlit.testing.v1 import AppTest

from training import rundir
from test_app import APP, TIMEOUT, assert_clean, charts, text_of, the_map, values


@pytest.fixture(scope="module")
def method_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    magnet = make_fake_run(root, "20260101-000000-magnet", n_classes=3, epochs=2, loss="magnet")
    add_magnet_clusters(magnet, 2)
    bce = make_fake_run(root, "20260101-000001-bce", epochs=2, loss="bce")
    add_head_scores(bce, 2)
    three = make_fake_run(root, "20260101-000002-3way", epochs=2, loss="contrastive-3way")
    add_pair_types(three)
    heldout = make_fake_run(root, "20260101-000003-heldout", n_classes=3, epochs=2)
    add_heldout(heldout)
    autoencoder = make_fake_run(root, "20260101-000004-autoencoder", epochs=2, loss="autoencoder")
    rundir.write_snapshot_arrays(autoencoder, 2, {
        "reconstructions": np.full((4, 28, 28), 200, np.uint8), "reconstruction_rows": np.arange(4)})
    return {"magnet": magnet, "bce": bce, "3way": three, "heldout": heldout, "autoencoder": autoencoder,
            "root": root}


def open_run(method_runs, monkeypatch, name: str, **state) -> AppTest:
    monkeypatch.setenv("EXPLORER_RUNS_DIR", str(method_runs["root"]))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.session_state["run_choice"] = str(method_runs[name])
    for key, value in state.items():
        at.session_state[key] = value
    return at.run()


def test_a_magnet_run_colours_by_cluster_draws_the_centres_and_classifies_by_them(method_runs, monkeypatch):
    at = open_run(method_runs, monkeypatch, "magnet", analysis_tab="Confusion")
    assert_clean(at)
    assert "magnet cluster" in at.selectbox(key="map_colour").options
    assert "test magnet accuracy (L closest centres)" in text_of(at)
    assert "Magnet: softmax over the L closest cluster centres" in at.selectbox(key="conf_classifier").options
    at.selectbox(key="map_colour").set_value("cluster").run()
    assert_clean(at)
    fig = the_map(at)
    diamonds = [m for m in fig.overlays("marks") if m["symbol"] == "diamond"]
    per_panel = {p: sum(len(m["x"]) for m in diamonds if m["panel"] == p) for p in range(len(fig.titles()))}
    assert set(per_panel.values()) == {6}  # 3 classes x 2 clusters, on each panel
    assert all("centre of cluster" in text for m in diamonds for text in m["text"])
    assert fig.spec["colour"]["by"] == "cluster" and len(fig.extras["cluster"]) == fig.n
    at.selectbox(key="conf_classifier").set_value("magnet").run()
    assert_clean(at)


def test_other_runs_offer_no_cluster_colour(method_runs, monkeypatch):
    at = open_run(method_runs, monkeypatch, "bce", map_colour="cluster")
    assert_clean(at)
    assert "magnet cluster" not in at.selectbox(key="map_colour").options
    assert at.selectbox(key="map_colour").value == "class"


def test_a_bce_run_shows_its_head_roc_beside_the_distance_roc(method_runs, monkeypatch):
    at = open_run(method_runs, monkeypatch, "bce", analysis_tab="Distances & ROC")
    assert_clean(at)
    assert "The Siamese head against the embedding distance" in text_of(at)
    assert "head AUC" in text_of(at)
    roc = [f for f in charts(at) if "Two ways to verify" in str(f["layout"].get("title"))]
    names = [t.get("name", "") for t in roc[0]["data"]]
    assert any(n.startswith("head score (AUC") for n in names) and any(n.startswith("embedding distance (AUC") for n in names)


def test_a_three_way_run_shows_its_three_pair_types(method_runs, monkeypatch):
    at = open_run(method_runs, monkeypatch, "3way", analysis_tab="Distances & ROC")
    assert_clean(at)
    assert "The three pair types of the three-way loss" in text_of(at)
    types = [f for f in charts(at) if "by type" in str(f["layout"].get("title"))]
    assert {t["name"] for t in types[0]["data"]} == {"true positive", "false negative", "negative"}


def test_the_metrics_tab_plots_the_loss_of_every_step(method_runs, monkeypatch):
    at = open_run(method_runs, monkeypatch, "magnet", analysis_tab="Metrics over epochs")
    assert_clean(at)
    titles = [str(f["layout"].get("title")) for f in charts(at)]
    assert any("Training loss at every step" in t for t in titles), titles


def test_compare_puts_each_method_beside_a_contrastive_run(method_runs, monkeypatch, tmp_path):
    contrastive = make_fake_run(method_runs["root"], "20251231-000000-contrastive", epochs=2)
    try:
        monkeypatch.setenv("EXPLORER_RUNS_DIR", str(method_runs["root"]))
        at = AppTest.from_file(APP, default_timeout=TIMEOUT)
        at.run()
        at.switch_page("ui/pages/compare.py").run()
        chosen = [str(contrastive), str(method_runs["magnet"]), str(method_runs["bce"]), str(method_runs["3way"])]
        at.multiselect(key="compare_runs").set_value(chosen).run()
        assert_clean(at)
        setup = at.dataframe[0].value
        assert {"contrastive", "magnet", "bce", "contrastive-3way"} <= set(setup.loc["loss"])
        for heading in ("Maps", "Pair distances", "Confusion matrices"):
            assert heading in text_of(at)
    finally:
        import shutil

        shutil.rmtree(contrastive)


def test_a_run_with_held_out_classes_maps_them_and_enrols_them(method_runs, monkeypatch):
    at = open_run(method_runs, monkeypatch, "heldout", analysis_tab="Enrol unseen classes")
    assert_clean(at)
    assert [t.label for t in at.tabs][1] == "Enrol unseen classes"
    fig = the_map(at)
    assert fig.titles()[3].startswith("held-out classes · 60 points") and fig.counts()[3] == 60
    metrics = {m.label: m.value for m in at.metric}
    assert float(metrics["Rank-1 identification"]) > 0.9 and metrics["Images identified"] == "50"
    assert "Unseen classes**: unseen0, unseen1" in text_of(at)
    assert any("pairs of unseen-class images" in str(f["layout"].get("title")) for f in charts(at))
    at.select_slider(key="enrol_shots").set_value(10).run()
    assert_clean(at)
    assert {m.label: m.value for m in at.metric}["Images identified"] == "40"


def test_other_runs_have_no_enrol_tab(method_runs, monkeypatch):
    at = open_run(method_runs, monkeypatch, "bce")
    assert "Enrol unseen classes" not in [t.label for t in at.tabs]


@pytest.mark.parametrize("row, shown", [(2, True), (9, False)])
def test_an_autoencoder_run_shows_a_point_beside_its_reconstruction(method_runs, monkeypatch, row, shown):
    path = method_runs["autoencoder"]
    at = open_run(method_runs, monkeypatch, "autoencoder",
                  **{"selection-inspect": {"owner": str(path), "points": [("test", row)], "how": "map"}})
    assert_clean(at)
    captions = [c.caption for i in at.get("image") for c in i.proto.imgs]
    assert ("its reconstruction (epoch 2)" in captions) == shown
    assert ("Reconstructions are kept for test rows 0 to 3" in text_of(at)) == (not shown)


@pytest.mark.parametrize("config, words", [
    ({"loss": "arcface", "batch_size": 64, "arcface_margin": 28.6, "arcface_scale": 64.0},
     " · batch 64 · margin 28.6° · s 64.0"),
    ({"loss": "proxy-anchor", "batch_size": 128, "proxy_margin": 0.1, "proxy_alpha": 32.0},
     " · batch 128 · δ 0.1 · α 32.0"),
])
def test_the_run_header_names_the_options_of_arcface_and_proxy_anchor(config, words):
    from ui.inspect.picker import method_setup

    assert method_setup(config) == words


def test_a_run_stuck_at_chance_says_so_on_its_page(tmp_path, monkeypatch):
    import math

    stuck = make_fake_run(tmp_path, "20260101-000000-bce-stuck", epochs=2, loss="bce", separation=0.0)
    metrics = rundir.read_metrics(stuck)
    metrics.loc[metrics["split"] == "train", "loss"] = math.log(2)
    rundir.write_metrics(stuck, metrics.to_dict("records"))
    learned = make_fake_run(tmp_path, "20260101-000001-bce-learned", epochs=2, loss="bce", separation=8.0)
    monkeypatch.setenv("EXPLORER_RUNS_DIR", str(tmp_path))
    for path, expected in ((stuck, 1), (learned, 0)):
        at = AppTest.from_file(APP, default_timeout=TIMEOUT)
        at.session_state["run_choice"] = str(path)
        at.run()
        warnings = [w.value for w in at.warning if w.value.startswith("Stuck at chance")]
        assert len(warnings) == expected, [w.value for w in at.warning]
        if expected:
            assert "BCE loss is still 0.693" in warnings[0] and "too few epochs (2)" in warnings[0]


@pytest.mark.parametrize("config, has_k", [
    ({"loss": "contrastive", "regime": "random", "nn_k": 5, "margin": 1.0, "batch_size": 128}, False),
    ({"loss": "contrastive", "regime": "nn-other", "nn_k": 5, "margin": 1.0, "batch_size": 128}, True),
    ({"loss": "triplet", "regime": "random", "miner": "batch-hard", "nn_k": 5, "margin": 1.0,
      "classes_per_batch": 2, "images_per_class": 16}, False),
])
def test_the_run_header_names_neighbours_k_only_where_the_method_reads_it(config, has_k):
    from ui.inspect.picker import method_setup

    assert (" · k 5" in method_setup(config)) == has_k, method_setup(config)
