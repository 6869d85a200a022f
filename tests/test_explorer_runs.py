import json

import numpy as np
import pytest
from fakerun import make_fake_run

from explorer.runs import list_runs, load_run
from training import rundir
from training.rundir import RunDirError


@pytest.fixture
def run_path(tmp_path):
    return make_fake_run(tmp_path, n_classes=3, dim=4, epochs=3)


def test_finished_run_loads_everything(run_path):
    run = load_run(run_path)
    assert run.state == "finished" and run.notes == []
    assert run.epochs == [0, 1, 2, 3] and run.last_epoch == 3
    assert run.splits == ["train", "test", "shifted"]
    assert run.class_names == ["class0", "class1", "class2"] and run.embedding_dim == 4
    assert run.shifts == [-6, -3, 3, 6]
    X, y = run.embeddings(2, "test")
    assert X.shape == (60, 4) and X.dtype == np.float32 and list(y[:3]) == [0, 1, 2]
    shifted = run.points(2, "shifted")
    assert list(shifted["row"]) == list(range(240)) and set(shifted["shift"]) == {-6, -3, 3, 6}
    assert run.images("train").shape == (120, 28, 28)
    assert {"train_pairs", "test_pairs", "train_triplets"} <= set(run.pairs())
    assert set(run.metrics["split"]) == {"train", "val", "test", "shifted"}
    assert run.mtime > 0 and "finished" in run.describe()


def test_points_rejects_unknown_epoch_and_split(run_path):
    run = load_run(run_path)
    with pytest.raises(ValueError, match="epoch 9"):
        run.points(9)
    with pytest.raises(ValueError, match="heldout"):
        run.points(1, "heldout")


def test_running_run_loads_what_it_has(tmp_path):
    path = make_fake_run(tmp_path, epochs=10, epochs_done=2, state="running")  # pid: this process
    run = load_run(path)
    assert run.state == "running" and run.epochs == [0, 1, 2]
    assert "still running" in run.describe()


def test_running_run_without_snapshot_says_so(tmp_path):
    path = make_fake_run(tmp_path, state="running")
    for name in (rundir.EMBEDDINGS, rundir.PAIRS):
        (path / name).unlink()
    run = load_run(path)
    assert run.epochs == [] and run.pairs() == {}
    assert any(rundir.EMBEDDINGS in note for note in run.notes)
    with pytest.raises(RunDirError, match=rundir.EMBEDDINGS):
        run.last_epoch


@pytest.mark.parametrize("state", ["failed", "cancelled"])
def test_failed_and_cancelled_runs_load(tmp_path, state):
    run = load_run(make_fake_run(tmp_path, epochs=4, epochs_done=1, state=state))
    assert run.state == state and run.epochs == [0, 1]


def test_missing_and_non_run_directories(tmp_path):
    with pytest.raises(RunDirError, match="does not exist"):
        load_run(tmp_path / "nope")
    with pytest.raises(RunDirError, match="not a run directory"):
        load_run(tmp_path)


@pytest.mark.parametrize("name", [rundir.EMBEDDINGS, rundir.CONFIG, rundir.STATUS, rundir.METRICS,
                                  rundir.PAIRS, "images/test.npy"])
def test_corrupt_file_is_named(run_path, name):
    (run_path / name).write_bytes(b"\x00garbage, not the file you are looking for")
    with pytest.raises(RunDirError, match=name.replace(".", r"\.")):
        load_run(run_path)


@pytest.mark.parametrize("name", [rundir.EMBEDDINGS, rundir.PAIRS, "images/shifted.npy"])
def test_finished_run_missing_a_file_is_named(run_path, name):
    (run_path / name).unlink()
    with pytest.raises(RunDirError, match=name.replace(".", r"\.")):
        load_run(run_path)


def test_images_shorter_than_embeddings_is_an_error(run_path):
    rundir.write_images(run_path, "test", np.zeros((3, 28, 28), np.uint8))
    with pytest.raises(RunDirError, match="images/test.npy"):
        load_run(run_path)


def test_list_runs_lists_unreadable_runs_too(tmp_path):
    make_fake_run(tmp_path, name="b-good")
    bad = make_fake_run(tmp_path, name="a-bad")
    (bad / rundir.CONFIG).write_text(json.dumps({"format_version": 999}))
    runs = list_runs(tmp_path)
    assert list(runs["name"]) == ["b-good", "a-bad"]
    assert list(runs["state"]) == ["finished", "unreadable"]
    assert "format version" in runs["error"].iloc[1]
    assert list_runs(tmp_path / "none").empty


def test_opening_a_run_and_a_pca_map_need_no_torch(run_path):
    import subprocess
    import sys
    from pathlib import Path

    code = ("import sys; from explorer import load_run, projection; "
            f"projection(load_run({str(run_path)!r}), method='pca', cache=False); "
            "heavy = [m for m in ('torch', 'umap', 'openTSNE', 'pytorch_metric_learning') if m in sys.modules]; "
            "print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[1],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
