import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from fakerun import make_fake_run

from explorer.cli import main

ROOT = Path(__file__).resolve().parents[1]
SUMMARY_KEYS = {"knn_accuracy", "knn_accuracy_by_shift", "svm_accuracy", "kmeans_accuracy", "auc", "eer",
                "precision_at_1", "map_at_r"}


@pytest.fixture(scope="module")
def run_path(tmp_path_factory):
    return make_fake_run(tmp_path_factory.mktemp("runs"), n_classes=2, dim=2, epochs=2)


def test_summary_json_has_the_headline_numbers(run_path, capsys):
    assert main(["summary", str(run_path), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert SUMMARY_KEYS <= set(summary)
    assert summary["knn_accuracy_by_shift"].keys() == {"-6", "-3", "3", "6"}
    assert all(0 <= v <= 1 for v in summary["knn_accuracy_by_shift"].values())
    assert summary["knn_accuracy"] > 0.8 and summary["auc"] > 0.8 and summary["state"] == "finished"


def test_summary_text(run_path, capsys):
    assert main(["summary", str(run_path)]) == 0
    out = capsys.readouterr().out
    assert "k-NN accuracy (test)" in out and "MAP@R" in out and "shift -6 px" in out


def test_summary_of_a_run_without_snapshot(tmp_path, capsys):
    path = make_fake_run(tmp_path, state="running")
    shutil.rmtree(path / "embeddings")
    assert main(["summary", str(path), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["state"] == "running" and summary["knn_accuracy"] is None


def test_report_and_project(run_path, tmp_path, capsys):
    out = tmp_path / "report.html"
    assert main(["report", str(run_path), "-o", str(out), "--method", "pca"]) == 0
    assert out.stat().st_size > 1_000_000 and "report written" in capsys.readouterr().err
    assert main(["project", str(run_path), "--method", "pca", "--mode", "joint"]) == 0
    assert Path(capsys.readouterr().out.strip()).exists()


def bad_inputs(run_path, corrupt_path, tmp_path):
    return {
        "missing run": (["summary", str(tmp_path / "nope")], "does not exist"),
        "not a run": (["summary", str(tmp_path)], "not a run directory"),
        "corrupt file": (["summary", str(corrupt_path)], "embeddings/epoch-000002.parquet"),
        "unknown method": (["project", str(run_path), "--method", "isomap"], "unknown projection method"),
        "bad parameter": (["project", str(run_path), "--method", "tsne", "--param", "perplexity=-3"], "perplexity"),
        "foreign parameter": (["report", str(run_path), "-o", "x.html", "--method", "pca", "--param", "k=3"], "no parameter k"),
        "bad mode": (["project", str(run_path), "--mode", "sideways"], "mode"),
        "raw of 3-D": (["project", str(corrupt_path.parent / "three"), "--method", "raw"], "2-D embedding"),
        "missing output folder": (["report", str(run_path), "-o", str(tmp_path / "no" / "r.html")], "does not exist"),
        "no output": (["report", str(run_path)], "-o/--output"),
        "bad far": (["summary", str(run_path), "--far", "1.5"], "--far must lie in [0, 1]"),
        "epoch not in run": (["summary", str(run_path), "--epoch", "7"], "epoch 7 has no snapshot"),
        "epoch not a number": (["summary", str(run_path), "--epoch", "last"], "invalid int value"),
        "no command": ([], "required"),
    }


@pytest.fixture(scope="module")
def broken(tmp_path_factory):
    root = tmp_path_factory.mktemp("broken")
    corrupt = make_fake_run(root, name="corrupt")
    (corrupt / "embeddings" / "epoch-000002.parquet").write_bytes(b"PAR1 nonsense")
    make_fake_run(root, name="three", dim=3)
    return corrupt


@pytest.mark.parametrize("case", list(bad_inputs(Path("r"), Path("c/x"), Path("t"))))
def test_bad_input_exits_2_with_one_line(case, run_path, broken, tmp_path, capsys):
    argv, expected = bad_inputs(run_path, broken, tmp_path)[case]
    assert main(argv) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], captured.err
    assert captured.out == ""


def test_module_entry_point_exit_status(run_path, tmp_path):
    ok = subprocess.run([sys.executable, "-m", "explorer", "summary", str(run_path), "--json"],
                        cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0 and SUMMARY_KEYS <= set(json.loads(ok.stdout))
    bad = subprocess.run([sys.executable, "-m", "explorer", "summary", str(tmp_path / "nope")],
                         cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and bad.stderr.startswith("error: ")
    assert "Traceback" not in bad.stderr
