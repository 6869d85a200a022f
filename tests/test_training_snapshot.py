import numpy as np
import pytest

from training import rundir
from training.config import TrainConfig, default_snapshot_every, snapshot_plan
from training.trainer import train


def quiet(line):
    pass


@pytest.mark.parametrize("epochs,every,expected", [
    (5, 1, [0, 1, 2, 3, 4, 5]),
    (5, 2, [0, 2, 4, 5]),
    (7, 10, [0, 7]),
])
def test_snapshot_plan_keeps_the_first_the_last_and_every_nth(epochs, every, expected):
    assert snapshot_plan(epochs, every) == expected


@pytest.mark.parametrize("epochs", [1, 49, 50, 51, 100, 1000])
def test_the_default_keeps_at_most_about_fifty_snapshots(epochs):
    kept = snapshot_plan(epochs, default_snapshot_every(epochs))
    assert len(kept) <= 52 and kept[0] == 0 and kept[-1] == epochs


def test_a_run_keeps_every_nth_epoch_and_a_fixed_subsample_until_the_last(tmp_path):
    config = TrainConfig(classes=["4", "9"], epochs=5, max_train=150, shifts=[3], device="cpu",
                         snapshot_every=2, snapshot_max_points=40, runs_dir=str(tmp_path))
    run = train(config, log=quiet)
    assert rundir.snapshot_epochs(run) == [0, 2, 4, 5]
    sizes = rundir.read_config(run)["sizes"]
    assert rundir.read_config(run)["snapshot_every"] == 2
    rows_at = {}
    for epoch in (0, 2, 4):
        frame = rundir.read_snapshot(run, epoch)
        for split in ("train", "test", "shifted"):
            rows = frame.loc[frame.split == split, "row"].to_numpy()
            assert len(rows) == min(40, sizes[split]) or split == "shifted" and len(rows) <= 40
            rows_at.setdefault(split, rows)
            np.testing.assert_array_equal(rows, rows_at[split])  # the same points every epoch
    last = rundir.read_snapshot(run, 5)
    for split in ("train", "test", "shifted"):
        assert sorted(last.loc[last.split == split, "row"]) == list(range(sizes[split]))
    shifted = rundir.read_snapshot(run, 2, "shifted")
    full = last[last.split == "shifted"].set_index("row")
    np.testing.assert_array_equal(shifted["source_index"], full.loc[shifted["row"], "source_index"])
    # the shifted copies kept are copies of kept test images, so they can be joined to their source
    assert len(shifted) == 40 and shifted["source_index"].isin(rows_at["test"]).all()
    # metrics are still recorded for every epoch, snapshot or not
    assert sorted(rundir.read_metrics(run)["epoch"].unique()) == [0, 1, 2, 3, 4, 5]


def test_snapshots_are_written_once_each(tmp_path, monkeypatch):
    written = []
    real = rundir.write_snapshot
    monkeypatch.setattr(rundir, "write_snapshot", lambda d, e, f: written.append(e) or real(d, e, f))
    config = TrainConfig(classes=["4", "9"], epochs=3, max_train=100, shifts=[3], device="cpu",
                         runs_dir=str(tmp_path))
    train(config, log=quiet)
    assert written == [0, 1, 2, 3]
