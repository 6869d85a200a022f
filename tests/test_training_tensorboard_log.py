"""train --tensorboard DIR: the run's scalars appear in TensorBoard as each epoch ends."""

import numpy as np
from fakerun import make_fake_run
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from explorer.tensorboard_export import STEP_TAG
from training import rundir
from training.tensorboard_log import LiveScalars


def scalars(log_dir, tag):
    events = EventAccumulator(str(log_dir))
    events.Reload()
    return [(s.step, s.value) for s in events.Scalars(tag)] if tag in events.Tags()["scalars"] else []


def test_each_epoch_line_logs_only_what_the_run_added(tmp_path):
    run_dir = make_fake_run(tmp_path / "runs", "fake", epochs=3, epochs_done=1, state="running")
    log = LiveScalars(tmp_path / "tb")
    log(f"run directory: {run_dir}")
    assert [step for step, _ in scalars(tmp_path / "tb", "test/knn_accuracy")] == [1]
    rundir.append_metrics(run_dir, [{"epoch": 2, "split": "test", "knn_accuracy": 0.75, "loss": 0.5}])
    rundir.append_steps(run_dir, 2, 5, [0.4, 0.3])
    log("epoch 2/3  train loss ...")
    log.close()
    assert scalars(tmp_path / "tb", "test/knn_accuracy")[-1] == (2, 0.75)
    assert [step for step, _ in scalars(tmp_path / "tb", "test/knn_accuracy")] == [1, 2]  # none twice
    steps = scalars(tmp_path / "tb", STEP_TAG)
    assert [s for s, _ in steps] == [1, 2, 3, 4, 5, 6] and np.isclose(steps[-1][1], 0.3)


def test_train_with_tensorboard_logs_every_epoch(cli, tmp_path):
    result = cli("training", "train", "--classes", "4", "9", "--epochs", "2", "--max-train", "60", "--device", "cpu",
                 "--runs-dir", str(tmp_path / "runs"), "--tensorboard", str(tmp_path / "tb"))
    assert result.returncode == 0, result.stderr
    run_dir = result.stdout.strip().splitlines()[-1]
    metrics = rundir.read_metrics(run_dir)
    test = metrics[metrics["split"] == "test"]
    logged = scalars(tmp_path / "tb", "test/knn_accuracy")
    assert [s for s, _ in logged] == test["epoch"].tolist() == [0, 1, 2]
    np.testing.assert_allclose([v for _, v in logged], test["knn_accuracy"], rtol=1e-6)
    assert len(scalars(tmp_path / "tb", STEP_TAG)) == len(rundir.read_steps(run_dir)) > 0
