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
    rundir.write_embeddings(run, frame)
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
    back = rundir.read_embeddings(run, epoch=1, split="shifted")
    assert back["class_name"].tolist() == ["9", "4"]
    assert back["shift"].tolist() == [-3, 3] and back["source_index"].tolist() == [0, 0]
    assert rundir.embedding_columns(back) == ["e0", "e1"]
    assert len(rundir.read_embeddings(run, epoch=2)) == 0
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


def test_a_running_status_whose_process_is_gone_reads_as_failed(tmp_path):
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    rundir.write_status(tmp_path, rundir.RUNNING, 1, 5, pid=child.pid)
    status = rundir.read_status(tmp_path)
    assert status["state"] == rundir.FAILED and "ended" in status["error"]


@pytest.mark.parametrize("name,content,reader", [
    ("config.json", "{not json", rundir.read_config),
    ("status.json", "[1, 2]", rundir.read_status),
    ("embeddings.parquet", "garbage", rundir.read_embeddings),
    ("metrics.csv", "a,b\n1,2\n", rundir.read_metrics),
    ("pairs.npz", "garbage", rundir.read_pairs),
])
def test_damaged_files_give_an_error_that_names_them(tmp_path, name, content, reader):
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
