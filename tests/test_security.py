"""Nothing in a run directory is unpickled: every reader refuses a planted pickle."""

import os
import pickle

import numpy as np
import pytest
import torch

from explorer.runs import load_run
from fakerun import make_fake_run
from training import rundir

MARKER = "pickle-bomb-went-off"


class Bomb:
    """Unpickling this runs a command: exactly what a reader must never do."""

    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (os.system, (f"touch {self.target}",))


@pytest.fixture
def run(tmp_path):
    return make_fake_run(tmp_path / "runs")


def went_off(tmp_path) -> bool:
    return (tmp_path / MARKER).exists()


def test_a_pickled_checkpoint_is_refused(tmp_path, run):
    with open(run / rundir.CHECKPOINT, "wb") as f:
        torch.save({"model_state": Bomb(tmp_path / MARKER)}, f)
    with pytest.raises(rundir.RunDirError, match="checkpoint.pt"):
        rundir.read_checkpoint(run)
    assert not went_off(tmp_path)


def test_a_pickle_inside_pairs_is_refused(tmp_path, run):
    np.savez(run / rundir.PAIRS, train_pairs=np.array([Bomb(tmp_path / MARKER)], dtype=object))
    with pytest.raises(rundir.RunDirError, match="pairs.npz"):
        rundir.read_pairs(run)
    with pytest.raises(rundir.RunDirError):
        load_run(run)
    assert not went_off(tmp_path)


def test_a_pickle_in_place_of_images_is_refused(tmp_path, run):
    np.save(run / rundir.IMAGES_DIR / "test.npy", np.array([Bomb(tmp_path / MARKER)], dtype=object),
            allow_pickle=True)
    with pytest.raises(rundir.RunDirError, match="test.npy"):
        rundir.read_images(run, "test")
    assert not went_off(tmp_path)


def test_a_plain_pickle_file_in_place_of_a_snapshot_is_refused(tmp_path, run):
    with open(rundir.snapshot_path(run, 1), "wb") as f:
        pickle.dump(Bomb(tmp_path / MARKER), f)
    opened = load_run(run)
    with pytest.raises(rundir.RunDirError, match="epoch-000001"):
        opened.points(1)
    assert not went_off(tmp_path)


def test_a_pickle_in_place_of_json_is_refused(tmp_path, run):
    with open(run / rundir.STATUS, "wb") as f:
        pickle.dump(Bomb(tmp_path / MARKER), f)
    with pytest.raises(rundir.RunDirError, match="status.json"):
        rundir.read_status(run)
    assert not went_off(tmp_path)
