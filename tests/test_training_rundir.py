import os
import subprocess
import sys

import numpy as np
import pytest

from training import rundir


def test_round_trip_of_every_file(tmp_path):
    run = rundir.new_run_dir(tmp_path, "mnist-4-9")
    rundir.write_config(run, {"dataset": "mnist", "class_names": ["4", "9"], "mean": 0.12})
    rundir.write_status(run, rundir.RUNNING, 1, 3)
    rows = [{"epoch": 1, "split": "train", "loss": 0.5, "pos_dist": 0.1, "neg_dist": 0.9},
            {"epoch": 1, "split": "test", "loss": 0.6, "knn_accuracy": 0.95}]
    rundir.write_metrics(run, rows)
    frame = rundir.embedding_frame(1, "shifted", np.array([[0, 1], [2, 3]], np.float32),
                                   np.array([1, 0]), ["4", "9"], shifts=np.array([-3, 3]),
                                   source_index=np.array([0, 0]))
    rundir.write_snapshot(run, 1, frame)
    images = np.arange(2 * 4 * 4, dtype=np.uint8).reshape(2, 4, 4)
    rundir.write_images(run, "shifted", images)
    rundir.write_pairs(run, {"train_pairs": np.array([[930, 1789, 1]])})
    rundir.write_checkpoint(run, {"model_args": {"embedding_dim": 2}, "epoch": 1})

    assert rundir.read_config(run)["class_names"] == ["4", "9"]
    assert rundir.read_config(run)["format_version"] == rundir.FORMAT_VERSION
    status = rundir.read_status(run)
    assert (status["state"], status["epoch"], status["epochs"]) == ("running", 1, 3)
    metrics = rundir.read_metrics(run)
    assert list(metrics.columns) == list(rundir.METRIC_COLUMNS)
    assert metrics.loc[1, "knn_accuracy"] == 0.95 and np.isnan(metrics.loc[0, "knn_accuracy"])
    back = rundir.read_snapshot(run, 1, split="shifted")
    assert back["class_name"].tolist() == ["9", "4"]
    assert back["shift"].tolist() == [-3, 3] and back["source_index"].tolist() == [0, 0]
    assert rundir.embedding_columns(back) == ["e0", "e1"]
    assert rundir.snapshot_epochs(run) == [1]
    assert len(rundir.read_snapshot(run, 1, split="train")) == 0
    with pytest.raises(rundir.RunDirError, match=r"embeddings/epoch-000002\.parquet is missing"):
        rundir.read_snapshot(run, 2)
    np.testing.assert_array_equal(rundir.read_images(run, "shifted"), images)
    assert rundir.read_pairs(run)["train_pairs"].tolist() == [[930, 1789, 1]]
    assert rundir.read_checkpoint(run)["model_args"] == {"embedding_dim": 2}
    assert rundir.list_run_dirs(tmp_path) == [run]
    assert not [p for p in run.rglob("*") if p.name.endswith(".tmp")]


def test_run_names_do_not_collide_within_a_second(tmp_path):
    names = {rundir.new_run_dir(tmp_path, "same").name for _ in range(20)}
    assert len(names) == 20


def test_status_keeps_its_start_time_and_records_the_end(tmp_path):
    first = rundir.write_status(tmp_path, rundir.RUNNING, 0, 2)
    last = rundir.write_status(tmp_path, rundir.FAILED, 1, 2, error="boom")
    assert last["started_at"] == first["started_at"]
    assert last["ended_at"] >= last["started_at"] and last["error"] == "boom"


def test_a_running_status_whose_process_is_gone_reads_as_interrupted(tmp_path):
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    rundir.write_status(tmp_path, rundir.RUNNING, 1, 5, pid=child.pid)
    status = rundir.read_status(tmp_path)
    assert status["state"] == rundir.INTERRUPTED and status["epoch"] == 1
    assert "--resume" in status["error"]
    assert rundir.INTERRUPTED in rundir.ENDED and rundir.INTERRUPTED in rundir.RESUMABLE
    assert rundir.read_json(tmp_path / rundir.STATUS)["state"] == rundir.RUNNING  # read, not written


def _snapshot(epoch: int, n: int = 3):
    return rundir.embedding_frame(epoch, "train", np.full((n, 2), epoch, np.float32), np.arange(n) % 2,
                                  ["a", "b"])


def test_snapshots_are_written_once_per_epoch_and_listed_in_order(tmp_path):
    for epoch in (0, 2, 1, 10):
        rundir.write_snapshot(tmp_path, epoch, _snapshot(epoch))
    (tmp_path / rundir.EMBEDDINGS / "notes.txt").write_text("not a snapshot")
    assert rundir.snapshot_epochs(tmp_path) == [0, 1, 2, 10]
    assert rundir.snapshot_path(tmp_path, 2).name == "epoch-000002.parquet"
    first = rundir.snapshot_path(tmp_path, 0).stat().st_mtime_ns
    rundir.write_snapshot(tmp_path, 11, _snapshot(11))
    assert rundir.snapshot_path(tmp_path, 0).stat().st_mtime_ns == first  # never rewritten
    back = rundir.read_snapshot(tmp_path, 10)
    assert back["epoch"].tolist() == [10, 10, 10] and back["e1"].tolist() == [10.0] * 3
    rundir.remove_snapshots_after(tmp_path, 1)
    assert rundir.snapshot_epochs(tmp_path) == [0, 1]
    assert rundir.snapshot_epochs(tmp_path / "elsewhere") == []


def test_format_1_snapshots_read_from_the_one_file(tmp_path):
    import pandas as pd

    pd.concat([_snapshot(0), _snapshot(1, 5)]).to_parquet(tmp_path / rundir.EMBEDDINGS_V1, index=False)
    rundir.write_json(tmp_path / rundir.CONFIG, {"format_version": 1})
    assert rundir.read_config(tmp_path)["format_version"] == 1
    assert rundir.snapshot_epochs(tmp_path) == [0, 1]
    assert len(rundir.read_snapshot(tmp_path, 1)) == 5 and len(rundir.read_snapshot(tmp_path, 1, "test")) == 0


def test_metrics_are_appended_and_a_partial_last_line_is_left_out(tmp_path):
    rundir.append_metrics(tmp_path, [{"epoch": 1, "split": "train", "loss": 0.5}])
    rundir.append_metrics(tmp_path, [{"epoch": 2, "split": "train", "loss": 0.4},
                                     {"epoch": 2, "split": "test", "knn_accuracy": 0.9}])
    assert rundir.read_metrics(tmp_path)["epoch"].tolist() == [1, 2, 2]
    with open(tmp_path / rundir.METRICS, "a") as f:
        f.write("3,train,0.3")  # a writer caught mid-line
    metrics = rundir.read_metrics(tmp_path)
    assert metrics["epoch"].tolist() == [1, 2, 2] and metrics["knn_accuracy"].iloc[2] == 0.9
    rundir.append_metrics(tmp_path, [])
    rundir.truncate_metrics(tmp_path, 1)
    metrics = rundir.read_metrics(tmp_path)
    assert metrics["epoch"].tolist() == [1] and metrics["loss"].tolist() == [0.5]
    assert np.isnan(metrics["knn_accuracy"].iloc[0])


@pytest.mark.parametrize("name,content,reader", [
    ("config.json", "{not json", rundir.read_config),
    ("status.json", "[1, 2]", rundir.read_status),
    ("embeddings.parquet", "garbage", rundir.snapshot_epochs),
    ("embeddings/epoch-000003.parquet", "garbage", lambda run: rundir.read_snapshot(run, 3)),
    ("metrics.csv", "a,b\n1,2\n", rundir.read_metrics),
    ("pairs.npz", "garbage", rundir.read_pairs),
])
def test_damaged_files_give_an_error_that_names_them(tmp_path, name, content, reader):
    (tmp_path / name).parent.mkdir(exist_ok=True)
    (tmp_path / name).write_text(content)
    with pytest.raises(rundir.RunDirError, match=name.replace(".", r"\.")):
        reader(tmp_path)


def test_missing_files_are_named(tmp_path):
    with pytest.raises(rundir.RunDirError, match="config.json is missing"):
        rundir.read_config(tmp_path)
    with pytest.raises(rundir.RunDirError, match="images/test.npy is missing"):
        rundir.read_images(tmp_path, "test")


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    rundir.write_json(tmp_path / "status.json", {"state": "running"})

    class Unserialisable:
        pass

    with pytest.raises(TypeError):
        rundir.write_json(tmp_path / "status.json", {"state": Unserialisable()})
    assert rundir.read_json(tmp_path / "status.json") == {"state": "running"}
    assert os.listdir(tmp_path) == ["status.json"]


def test_runs_dir_defaults_to_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("EXPLORER_RUNS_DIR", str(tmp_path))
    assert rundir.default_runs_dir() == tmp_path
    monkeypatch.delenv("EXPLORER_RUNS_DIR")
    assert str(rundir.default_runs_dir()) == "runs"


def test_snapshot_arrays_round_trip_beside_their_snapshot_and_go_with_it(tmp_path):
    frame = rundir.embedding_frame(1, "train", np.zeros((2, 2), np.float32), np.array([0, 1]), ["a", "b"])
    for epoch in (1, 2):
        rundir.write_snapshot(tmp_path, epoch, frame)
        rundir.write_snapshot_arrays(tmp_path, epoch, {"magnet_centres": np.ones((3, 2), np.float32) * epoch,
                                                       "magnet_sigma2": np.float64(0.5)})
    assert rundir.snapshot_epochs(tmp_path) == [1, 2]  # the arrays are not snapshots
    back = rundir.read_snapshot_arrays(tmp_path, 2)
    np.testing.assert_array_equal(back["magnet_centres"], np.full((3, 2), 2, np.float32))
    assert float(back["magnet_sigma2"]) == 0.5
    assert rundir.read_snapshot_arrays(tmp_path, 7) == {}  # a method without arrays
    rundir.remove_snapshots_after(tmp_path, 1)
    assert rundir.snapshot_epochs(tmp_path) == [1] and rundir.read_snapshot_arrays(tmp_path, 2) == {}
    with pytest.raises(ValueError, match="numeric"):
        rundir.write_snapshot_arrays(tmp_path, 3, {"bad": np.array([{"a": 1}], dtype=object)})
    rundir.snapshot_arrays_path(tmp_path, 1).write_bytes(b"not an npz")
    with pytest.raises(rundir.RunDirError, match=r"embeddings/epoch-000001\.npz"):
        rundir.read_snapshot_arrays(tmp_path, 1)


def test_steps_are_appended_per_epoch_read_back_and_cut_on_resume(tmp_path):
    rundir.append_steps(tmp_path, 1, 1, [0.5, 0.25])
    rundir.append_steps(tmp_path, 2, 3, [0.125])
    with open(tmp_path / rundir.STEPS, "a") as f:
        f.write("3,1,4,0.0")  # a line still being written
    steps = rundir.read_steps(tmp_path)
    assert steps["iteration"].tolist() == [1, 2, 3] and steps["loss"].tolist() == [0.5, 0.25, 0.125]
    rundir.truncate_steps(tmp_path, 1)
    assert rundir.read_steps(tmp_path)["epoch"].tolist() == [1, 1]
    assert list(rundir.read_steps(tmp_path / "nothing").columns) == list(rundir.STEP_COLUMNS)
