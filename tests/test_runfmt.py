"""runfmt, the run-directory package: torch-free, the one reader of format 1, and the run's
last-changed stamp. The round trips of every file are in test_training_rundir.py (through
training.rundir, which writes with runfmt)."""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import runfmt
from explorer.runs import load_run

# A format-1 run as the first slice wrote them (every epoch in one embeddings.parquet, rewritten
# each epoch; config.json's format_version 1), kept as files so that later changes to the writers
# cannot quietly change what "format 1" means.
FORMAT_1 = Path(__file__).parent / "fixtures" / "format1-run"


@pytest.fixture
def format1(tmp_path):
    return Path(shutil.copytree(FORMAT_1, tmp_path / FORMAT_1.name))


def test_the_format_1_fixture_opens(format1):
    assert runfmt.read_config(format1)["format_version"] == 1
    assert not (format1 / runfmt.EMBEDDINGS).exists()
    assert runfmt.snapshot_epochs(format1) == [0, 1, 2]
    path, filters = runfmt.snapshot_source(format1, 1)
    assert path.name == runfmt.EMBEDDINGS_V1 and filters == [("epoch", "==", 1)]
    frame = runfmt.read_snapshot(format1, 1, "test")
    assert set(frame["epoch"]) == {1} and set(frame["split"]) == {"test"} and len(frame) == 6
    index = runfmt.read_snapshot_index(format1)
    assert index.epochs == (0, 1, 2) and index.dim == 3 and index.rows["train"] == 12
    run = load_run(format1)
    assert run.epochs == [0, 1, 2] and run.embedding_dim == 3
    X, y = run.embeddings(2, "test")
    assert X.shape == (6, 3) and len(y) == 6


def test_format_2_reads_each_epoch_from_its_own_file(tmp_path):
    frame = runfmt.embedding_frame(3, "train", np.zeros((4, 2)), np.array([0, 1, 0, 1]), ["a", "b"])
    runfmt.write_snapshot(tmp_path, 3, frame)
    path, filters = runfmt.snapshot_source(tmp_path, 3)
    assert path == runfmt.snapshot_path(tmp_path, 3) and filters == []
    assert runfmt.read_snapshot_index(tmp_path).rows == {"train": 4}


def test_last_changed_follows_the_files_that_change(tmp_path):
    assert runfmt.last_changed(tmp_path) == 0.0
    runfmt.write_json(tmp_path / runfmt.CONFIG, {"format_version": 2})
    first = runfmt.last_changed(tmp_path)
    later = time.time() + 10
    (tmp_path / runfmt.EMBEDDINGS).mkdir()
    os.utime(tmp_path / runfmt.EMBEDDINGS, (later, later))
    assert runfmt.last_changed(tmp_path) == pytest.approx(later) and later > first
    assert runfmt.snapshot_marker(tmp_path) == pytest.approx(later)
    (tmp_path / runfmt.LOG).write_text("not a run file that counts")
    os.utime(tmp_path / runfmt.LOG, (later + 10, later + 10))
    assert runfmt.last_changed(tmp_path) == pytest.approx(later)


def test_snapshot_array_names_are_the_ones_listed():
    assert set(runfmt.SNAPSHOT_ARRAYS) == {
        runfmt.MAGNET_CENTRES, runfmt.MAGNET_CENTRE_CLASSES, runfmt.MAGNET_SIGMA2, runfmt.HEAD_TEST_SCORES,
        runfmt.RECONSTRUCTIONS, runfmt.RECONSTRUCTION_ROWS}


def test_opening_a_run_imports_neither_torch_nor_training(format1):
    code = ("import sys; import runfmt; from explorer.runs import load_run; "
            f"run = load_run({str(format1)!r}); run.points(2); "
            "bad = sorted(m for m in sys.modules if m == 'torch' or m.startswith('training')); "
            "print(bad); sys.exit(1 if bad else 0)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=Path(__file__).parent.parent)
    assert done.returncode == 0, done.stdout + done.stderr
