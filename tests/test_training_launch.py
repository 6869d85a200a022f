import time

import pytest

from training import launch, rundir
from training.config import TrainConfig
from training.errors import InputError


def wait_for(run_dir, states, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        status = rundir.read_status(run_dir)
        if status["state"] in states:
            return status
        time.sleep(0.3)
    raise AssertionError(f"run did not reach {states}: {rundir.read_status(run_dir)}")


def test_launch_trains_in_its_own_process_and_double_launch_starts_one_run(tmp_path):
    config = TrainConfig(classes=["4", "9"], epochs=1, max_train=100, runs_dir=str(tmp_path))
    run = launch.start(config)
    assert launch.start(config) == run
    status = wait_for(run, {"finished", "failed"})
    assert status["state"] == "finished", launch.log_tail(run)
    assert rundir.list_run_dirs(tmp_path) == [run]
    assert rundir.read_config(run)["class_names"] == ["4", "9"]
    assert any("epoch 1/1" in line for line in launch.log_tail(run))


def test_cancel_marks_the_run_cancelled(tmp_path):
    run = launch.start(TrainConfig(classes=["4", "9"], epochs=300, runs_dir=str(tmp_path)))
    deadline = time.time() + 120
    while rundir.read_status(run)["epoch"] < 1 and time.time() < deadline:
        time.sleep(0.3)
    assert launch.cancel(run)
    status = wait_for(run, {"cancelled", "failed", "finished"})
    assert status["state"] == "cancelled"
    assert not launch.cancel(run)


def test_bad_data_shows_as_a_failed_run_with_the_reason(tmp_path):
    (tmp_path / "empty").mkdir()
    run = launch.start(TrainConfig(dataset="folder", data_dir=str(tmp_path / "empty"),
                                   runs_dir=str(tmp_path / "runs")))
    status = wait_for(run, {"failed", "finished"})
    assert status["state"] == "failed" and "class folders" in status["error"]


def test_argv_round_trips_every_option_and_no_value_becomes_a_flag(tmp_path):
    from training.cli import build_parser, config_from_args

    for compile in (False, True):
        config = TrainConfig(classes=["4", "--lr", "100"], shifts=[], epochs=7, lr=0.01, regime="nn-other",
                             snapshot_every=3, precision="fp32", compile=compile, name="--epochs 9",
                             runs_dir=str(tmp_path))
        argv = launch.training_argv(config, tmp_path / "run")
        args = build_parser().parse_args(argv[3:])
        assert config_from_args(args, args.runs_dir) == config


def test_cancel_while_starting_up_still_ends_as_cancelled(tmp_path):
    run = launch.start(TrainConfig(classes=["4", "9"], epochs=300, runs_dir=str(tmp_path)))
    time.sleep(0.5)  # the process is still importing torch
    assert launch.cancel(run)
    status = wait_for(run, {"cancelled", "failed", "finished"})
    assert status["state"] == "cancelled", status


def test_resume_from_the_app_finishes_an_interrupted_run_and_refuses_a_second_click(tmp_path):
    from training import trainer

    config = TrainConfig(classes=["4", "9"], epochs=2, max_train=100, shifts=[3], device="cpu",
                         runs_dir=str(tmp_path))
    run = trainer.train(config, log=lambda line: None)
    rundir.write_status(run, rundir.RUNNING, 1, 2, pid=2 ** 22 + 12345)  # a process that is gone
    assert rundir.read_status(run)["state"] == rundir.INTERRUPTED
    assert launch.resume(run) == run
    with pytest.raises(InputError, match="running"):
        launch.resume(run)
    deadline = time.time() + 180
    while rundir.read_status(run)["state"] == rundir.RUNNING and time.time() < deadline:
        time.sleep(0.5)
    assert rundir.read_status(run)["state"] == rundir.FINISHED, launch.log_tail(run)
    assert any("resuming" in line for line in launch.log_tail(run))
