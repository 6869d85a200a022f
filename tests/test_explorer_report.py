import re
import shutil

import pytest
from fakerun import make_fake_run

from explorer.report import SECTIONS, build_report
from explorer.runs import load_run


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    run = load_run(make_fake_run(root, n_classes=3, dim=2, epochs=2))
    messages = []
    path = build_report(run, root / "report.html", progress=lambda f, m: messages.append((f, m)))
    return path.read_text(), messages


def test_report_has_every_section(report):
    text, _ = report
    for key, title in SECTIONS:
        assert f'<section id="{key}"><h2>{title}</h2>' in text


def test_report_inlines_plotly_once_and_loads_nothing(report):
    text, _ = report
    assert text.count("plotly.js v") == 1  # the library's banner comment
    assert not re.search(r'<script[^>]+src=', text)


def test_report_shows_maps_histograms_confusions_centroids_and_epochs(report):
    text, _ = report
    for title in ("train set, epoch 2", "test set, epoch 2", "shifted set, epoch 2",
                  "Distances of training pairs", "Distances of fresh seeded test pairs", "Verification ROC",
                  "Metrics over epochs", "Train, val and test loss over epochs",
                  "Centroid distances of the test set", "Cluster size and centroid distance over epochs",
                  "Accuracy by shift", "Nearest training points of test point"):
        assert title in text, title
    for classifier in ("k-NN", "SVM (polynomial, degree 3)", "Nearest centroid",
                       "k-means (Hungarian mapping)", "k-means (majority mapping)"):
        assert f"{classifier}: confusion matrices" in text
    for subset in ("test (accuracy", "shifted (accuracy", "shift -6 (accuracy", "shift +6 (accuracy"):
        assert text.count(subset) == 5, subset  # one confusion matrix per classifier
    assert "The embedding is 2-D" in text


def test_report_progress_runs_to_the_end(report):
    _, messages = report
    fractions = [f for f, _ in messages]
    assert fractions[-1] == 1.0 and fractions == sorted(fractions)


def test_report_refuses_a_run_without_snapshot_and_a_missing_folder(tmp_path):
    path = make_fake_run(tmp_path, state="running")
    shutil.rmtree(path / "embeddings")
    with pytest.raises(ValueError, match="no embedding snapshot"):
        build_report(load_run(path), tmp_path / "r.html")
    with pytest.raises(ValueError, match="does not exist"):
        build_report(load_run(make_fake_run(tmp_path, name="ok")), tmp_path / "missing" / "r.html")


def test_the_report_shows_the_test_map_over_epochs(tmp_path):
    from explorer.report import series_epochs

    assert series_epochs([0, 1, 2, 3, 4, 5, 6, 7, 8], 8, 4) == [0, 3, 5, 8]
    assert series_epochs([0, 1, 2], 1, 6) == [0, 1]
    path = make_fake_run(tmp_path / "runs", epochs=3)
    out = build_report(load_run(path), tmp_path / "report.html", method="pca")
    html = out.read_text()
    assert "map over epochs" in html and all(f"epoch {e}" in html for e in range(4))
