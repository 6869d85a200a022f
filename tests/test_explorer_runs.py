import json
import shutil

import numpy as np
import pandas as pd
import pytest
from fakerun import make_fake_run

from explorer.runs import list_runs, load_run
import runfmt as rundir
from runfmt import RunDirError


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
    shutil.rmtree(path / rundir.EMBEDDINGS)
    (path / rundir.PAIRS).unlink()
    run = load_run(path)
    assert run.epochs == [] and run.pairs() == {}
    assert any(rundir.EMBEDDINGS in note for note in run.notes)
    with pytest.raises(RunDirError, match=rundir.EMBEDDINGS):
        run.last_epoch


@pytest.mark.parametrize("state", ["failed", "cancelled"])
def test_failed_and_cancelled_runs_load(tmp_path, state):
    run = load_run(make_fake_run(tmp_path, epochs=4, epochs_done=1, state=state))
    assert run.state == state and run.epochs == [0, 1]


def test_an_interrupted_run_loads_and_says_so(tmp_path):
    import subprocess
    import sys

    path = make_fake_run(tmp_path, epochs=4, epochs_done=2, state="running")
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    status = rundir.read_json(path / rundir.STATUS)
    rundir.write_json(path / rundir.STATUS, {**status, "pid": child.pid})
    run = load_run(path)
    assert run.state == rundir.INTERRUPTED and run.epochs == [0, 1, 2]
    assert "was interrupted" in run.describe()


def test_missing_and_non_run_directories(tmp_path):
    with pytest.raises(RunDirError, match="does not exist"):
        load_run(tmp_path / "nope")
    with pytest.raises(RunDirError, match="not a run directory"):
        load_run(tmp_path)


@pytest.mark.parametrize("name", ["embeddings/epoch-000003.parquet", rundir.CONFIG, rundir.STATUS,
                                  rundir.METRICS, rundir.PAIRS, "images/test.npy"])
def test_corrupt_file_is_named(run_path, name):
    (run_path / name).write_bytes(b"\x00garbage, not the file you are looking for")
    with pytest.raises(RunDirError, match=name.replace(".", r"\.")):
        load_run(run_path)


@pytest.mark.parametrize("name", [rundir.EMBEDDINGS, rundir.PAIRS, "images/shifted.npy"])
def test_finished_run_missing_a_file_is_named(run_path, name):
    if name == rundir.EMBEDDINGS:
        shutil.rmtree(run_path / name)
    else:
        (run_path / name).unlink()
    with pytest.raises(RunDirError, match=name.replace(".", r"\.")):
        load_run(run_path)


def test_images_shorter_than_embeddings_is_an_error(run_path):
    rundir.write_images(run_path, "test", np.zeros((3, 28, 28), np.uint8))
    with pytest.raises(RunDirError, match="images/test.npy"):
        load_run(run_path)


def test_a_damaged_or_missing_snapshot_is_named_when_its_epoch_is_asked_for(run_path):
    rundir.snapshot_path(run_path, 1).write_bytes(b"\x00garbage")
    run = load_run(run_path)  # opening looks into the last snapshot only
    rundir.snapshot_path(run_path, 2).unlink()
    assert len(run.points(3)) == 420
    with pytest.raises(RunDirError, match=r"embeddings/epoch-000001\.parquet"):
        run.points(1)
    with pytest.raises(RunDirError, match=r"embeddings/epoch-000002\.parquet is missing"):
        run.points(2, "test")


def test_a_format_1_run_gives_the_same_points_as_format_2(tmp_path):
    v1 = load_run(make_fake_run(tmp_path, "v1", dim=3, epochs=3, format_version=1))
    v2 = load_run(make_fake_run(tmp_path, "v2", dim=3, epochs=3))
    assert not (v1.path / rundir.EMBEDDINGS).exists() and (v1.path / rundir.EMBEDDINGS_V1).exists()
    assert (v1.epochs, v1.splits, v1.embedding_dim) == (v2.epochs, v2.splits, v2.embedding_dim)
    for epoch, split in [(None, None), (1, None), (2, "shifted"), (0, "test")]:
        pd.testing.assert_frame_equal(v1.points(epoch, split), v2.points(epoch, split))


def test_opening_reads_no_snapshot_and_each_epoch_is_read_once(tmp_path, monkeypatch):
    import pyarrow.parquet as pq

    from explorer import runs

    path = make_fake_run(tmp_path, epochs=50, n_train=20, n_test=10)
    snapshots, parquet_reads, tables = [], [], []
    read_snapshot, read_parquet, read_table = rundir.read_snapshot, pd.read_parquet, pq.read_table
    monkeypatch.setattr(rundir, "read_snapshot", lambda run_dir, epoch, split=None: (
        snapshots.append((epoch, split)) or read_snapshot(run_dir, epoch, split)))
    monkeypatch.setattr(pd, "read_parquet", lambda *a, **k: parquet_reads.append(a) or read_parquet(*a, **k))
    monkeypatch.setattr(pq, "read_table", lambda file, **k: tables.append(file) or read_table(file, **k))

    run = load_run(path)
    assert run.epochs == list(range(51)) and run.splits == ["train", "test", "shifted"]
    assert run.embedding_dim == 2 and snapshots == [] and parquet_reads == []
    assert tables == [rundir.snapshot_path(path, 50)]  # its split and row columns alone

    for epoch, split in [(5, None), (5, "test"), (7, "train"), (5, None), (7, "train"), (None, None)]:
        run.points(epoch, split)
    assert snapshots == [(5, None), (7, "train"), (50, None)] and len(parquet_reads) == 3
    for epoch in range(10, 10 + runs.CACHED_SNAPSHOTS):
        run.points(epoch)
    run.points(5)
    assert snapshots[-1] == (5, None)  # the cache is bounded: epoch 5 was dropped and read again


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


def test_a_snapshot_with_some_rows_is_joined_by_row(tmp_path):
    """With --snapshot-max-points an epoch before the last holds a subset of each split's rows."""
    from explorer.classifiers import classify, knn_correct
    from explorer.distances import run_pair_distances
    from explorer.geometry import geometry_over_epochs
    from explorer.neighbours import gallery
    from explorer.shifts import run_shift_table

    path = make_fake_run(tmp_path, epochs=2)
    full = rundir.read_snapshot(path, 1)
    rundir.write_snapshot(path, 1, full[full["row"] % 3 != 0])
    run = load_run(path)
    points = run.points(1)
    test = points[points["split"] == "test"].set_index("row")
    assert list(test.index) == [r for r in range(60) if r % 3] and run.splits == ["train", "test", "shifted"]

    correct = knn_correct(points, classify(run, 1, classifiers=("knn",)))
    assert correct[points["split"] != "train"].notna().all()

    table = run_shift_table(run, 1)
    assert 0 < len(table) < (points["split"] == "shifted").sum() and table["source_index"].isin(test.index).all()
    shifted = points[points["split"] == "shifted"].set_index("row").loc[table["row"]]
    moved = shifted[["e0", "e1"]].to_numpy() - test.loc[table["source_index"], ["e0", "e1"]].to_numpy()
    np.testing.assert_allclose(table["displacement"], np.linalg.norm(moved, axis=1), rtol=1e-6)

    found = gallery(run, "test", 5, epoch=1, reference="test", k=3)
    assert 5 not in found["row"].tolist() and found["row"].isin(test.index).all()
    with pytest.raises(ValueError, match="row 3 is not among"):
        gallery(run, "test", 3, epoch=1)

    pairs = run_pair_distances(run, 1, n_test_pairs=50)
    train_rows = set(points.loc[points["split"] == "train", "row"])
    assert (pairs["set"] == "train").any() and pairs.loc[pairs["set"] == "train", ["i", "j"]].isin(train_rows).all().all()
    i, j = pairs.loc[pairs["set"] == "test", "i"], pairs.loc[pairs["set"] == "test", "j"]
    expected = np.linalg.norm(test.loc[i, ["e0", "e1"]].to_numpy() - test.loc[j, ["e0", "e1"]].to_numpy(), axis=1)
    np.testing.assert_allclose(pairs.loc[pairs["set"] == "test", "distance"], expected, rtol=1e-5)
    assert geometry_over_epochs(run)["epoch"].tolist() == [0, 0, 1, 1, 2, 2]


def test_the_loss_of_every_step_is_read_when_asked_for(tmp_path):
    run = load_run(make_fake_run(tmp_path))
    (run.path / rundir.STEPS).unlink()  # a run written before steps.csv
    assert run.steps().empty
    rundir.append_steps(run.path, 1, 1, [0.9, 0.7])
    assert run.steps()["loss"].tolist() == [0.9, 0.7]


def test_labels_name_the_miner_the_form_and_no_regime_for_a_method_without_one():
    from explorer.runs import method_words

    assert method_words({"loss": "triplet", "miner": "batch-hard", "regime": "random"}) == "triplet, batch-hard miner"
    assert method_words({"loss": "triplet", "regime": "nn-other"}) == "triplet, nn-other pairs"
    assert method_words({"loss": "contrastive", "contrastive_form": "seed004", "regime": "random"}) == \
        "contrastive (seed 004 form), random pairs"
    assert method_words({"loss": "contrastive", "regime": "random"}) == "contrastive, random pairs"  # an old run
    assert method_words({"loss": "magnet", "regime": "random"}) == "magnet"


def test_the_picker_label_of_a_magnet_run_has_no_nan(tmp_path):
    import math

    from ui.widgets import run_label

    row = {"name": "20260101-000000-mnist-magnet-abcdef", "state": "finished", "dataset": "mnist",
           "loss": "magnet", "regime": math.nan, "method": "magnet", "epochs": 15, "epoch": 15,
           "test_knn_accuracy": 0.9}
    assert "nan" not in run_label(row) and "magnet" in run_label(row)
    del row["method"]
    assert "nan" not in run_label(row)
