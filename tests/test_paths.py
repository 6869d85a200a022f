"""Path containment: nothing is written or read outside the chosen runs directory.

Run names are built from user-given names (``--name``, the app's form) through one sanitiser, so
``../x``, absolute paths and newlines cannot leave the runs directory; ``--run-dir`` must lie
inside ``--runs-dir``; a symbolic link in the runs directory that leads outside is ignored by the
listings (with one line saying so) and refused when opened; a link inside a run that leads out of
it is neither read nor written through.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from datafiles import write_class_folders
from explorer.cli import main as explorer_main
from explorer.runs import list_runs, load_run
from fakerun import make_fake_run
from training import rundir
from training.cli import main as training_main
from training.config import TrainConfig

HOSTILE_NAMES = ["../x", "../../etc/cron.d/x", "/etc/passwd", "/tmp/elsewhere", "a\nb", "line\rfeed",
                 "..", ".", ".hidden", "-rf", "nul\x00byte", "a/../../b", "ünï/../cødé", "x" * 500, ""]


def call(main, argv, capsys) -> tuple[int, str, str]:
    try:
        code = main(argv)
    except SystemExit as e:
        code = e.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def everything_under(root: Path) -> set[Path]:
    return set(root.rglob("*"))


@pytest.mark.parametrize("name", HOSTILE_NAMES, ids=repr)
def test_hostile_run_names_stay_inside_the_runs_dir(tmp_path, name):
    runs = tmp_path / "box" / "runs"
    hint = TrainConfig(name=name, classes=["4", "9"]).run_name_hint()
    path = rundir.new_run_dir(runs, hint)
    assert path.parent == runs and path.is_dir()
    assert "\n" not in path.name and "\r" not in path.name and "\x00" not in path.name
    assert not path.name.startswith((".", "-")) and ".." not in path.name and len(path.name) < 120
    assert everything_under(tmp_path) == {tmp_path / "box", runs, path}
    raw = rundir.new_run_dir(runs, name)  # even a caller that skips run_name_hint stays inside
    assert raw.parent == runs and rundir.is_inside(raw, runs)


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return write_class_folders(tmp_path_factory.mktemp("data") / "classes", per_class=6, size=(16, 16))


def train_argv(runs: Path, data: Path, *extra: str) -> list[str]:
    return ["train", "--runs-dir", str(runs), "--dataset", "folder", "--data-dir", str(data),
            "--image-size", "16", "--epochs", "1", "--device", "cpu", *extra]


def test_train_with_a_climbing_name_writes_only_inside(tmp_path, data, capsys):
    box = tmp_path / "box"
    runs = box / "runs"
    code, out, err = call(training_main, train_argv(runs, data, "--name", "../../escaped\nline"), capsys)
    assert code == 0, err
    run = Path(out.strip().splitlines()[-1])
    assert run.parent == runs and "escaped_line" in run.name
    assert {p.relative_to(box).parts[0] for p in everything_under(box)} == {"runs"}
    assert not (tmp_path / "escaped").exists() and not list(tmp_path.glob("*escaped*"))


@pytest.mark.parametrize("where", ["beside", "absolute", "climbing", "link"])
def test_run_dir_must_be_inside_the_runs_dir(tmp_path, data, capsys, where):
    runs = tmp_path / "runs"
    runs.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    run_dir = {"beside": outside, "absolute": Path("/tmp") / "elsewhere-run",
               "climbing": runs / ".." / "outside", "link": runs / "link"}[where]
    if where == "link":
        (runs / "link").symlink_to(outside, target_is_directory=True)
    code, out, err = call(training_main, train_argv(runs, data, "--run-dir", str(run_dir)), capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "is not inside the runs directory" in lines[0]
    assert list(outside.iterdir()) == [] and not Path("/tmp/elsewhere-run").exists()


@pytest.fixture
def runs_with_a_link_out(tmp_path) -> tuple[Path, Path]:
    runs, outside = tmp_path / "runs", tmp_path / "outside"
    make_fake_run(runs, name="inside", n_train=30, n_test=10, n_pairs=20)
    foreign = make_fake_run(outside, name="foreign", n_train=30, n_test=10, n_pairs=20)
    (runs / "link-to-foreign").symlink_to(foreign, target_is_directory=True)
    return runs, foreign


def test_listings_ignore_a_link_leading_outside_with_one_line(runs_with_a_link_out, capsys):
    runs, foreign = runs_with_a_link_out
    assert [p.name for p in rundir.list_run_dirs(runs)] == ["inside"]
    assert rundir.outside_links(runs) == [runs / "link-to-foreign"]
    assert list(list_runs(runs)["name"]) == ["inside"]
    for main, argv in ((explorer_main, ["list", str(runs)]), (training_main, ["list", "--runs-dir", str(runs)])):
        code, out, err = call(main, argv, capsys)
        assert code == 0 and "inside" in out and "foreign" not in out
        assert err.strip().splitlines() == [f"note: ignored link-to-foreign: a link to {foreign}, outside {runs}"]


def test_a_link_inside_the_runs_dir_is_still_listed(tmp_path, capsys):
    runs = tmp_path / "runs"
    real = make_fake_run(runs / "archive", name="real", n_train=30, n_test=10, n_pairs=20)
    (runs / "alias").symlink_to(real, target_is_directory=True)
    assert "alias" in [p.name for p in rundir.list_run_dirs(runs)] and rundir.outside_links(runs) == []


@pytest.mark.parametrize("command", ["summary", "project", "report"])
def test_opening_a_link_leading_outside_is_refused(runs_with_a_link_out, tmp_path, capsys, command):
    runs, foreign = runs_with_a_link_out
    argv = [command, str(runs / "link-to-foreign")] + (["-o", str(tmp_path / "r.html")] if command == "report" else [])
    before = everything_under(foreign)
    code, out, err = call(explorer_main, argv, capsys)
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "is a symbolic link to" in lines[0] and "outside" in lines[0]
    assert everything_under(foreign) == before  # no projections cache written there


@pytest.mark.parametrize("name", [rundir.CONFIG, rundir.STATUS, rundir.METRICS, rundir.PAIRS, "images/test.npy",
                                  "embeddings/epoch-000002.parquet"])
def test_a_file_linked_out_of_the_run_is_not_read(tmp_path, capsys, name):
    run = make_fake_run(tmp_path / "runs", name="run", n_train=30, n_test=10, n_pairs=20)
    secret = tmp_path / "secret" / Path(name).name
    secret.parent.mkdir()
    os.replace(run / name, secret)
    (run / name).symlink_to(secret)
    with pytest.raises(rundir.RunDirError, match="outside the run"):
        load_run(run).points(2)
    code, out, err = call(explorer_main, ["summary", str(run)], capsys)
    assert code == 2 and f"{name} in {run} is a link to {secret}, outside the run" in err


def test_nothing_is_written_through_a_link_out_of_the_run(tmp_path):
    run = make_fake_run(tmp_path / "runs", name="run", n_train=30, n_test=10, n_pairs=20)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "metrics.csv").write_text("precious\n")
    (run / rundir.METRICS).unlink()
    (run / rundir.METRICS).symlink_to(outside / "metrics.csv")
    with pytest.raises(rundir.RunDirError, match="symbolic link"):
        rundir.append_metrics(run, [{"epoch": 3, "split": "train", "loss": 0.1}])
    (run / rundir.STEPS).unlink(missing_ok=True)
    (run / rundir.STEPS).symlink_to(outside / "metrics.csv")
    with pytest.raises(rundir.RunDirError, match="symbolic link"):
        rundir.append_steps(run, 3, 1, [0.1])
    assert (outside / "metrics.csv").read_text() == "precious\n"

    embeddings = run / rundir.EMBEDDINGS
    for path in embeddings.iterdir():
        path.unlink()
    embeddings.rmdir()
    embeddings.symlink_to(outside, target_is_directory=True)
    frame = rundir.embedding_frame(3, "train", np.zeros((2, 2)), np.array([0, 1]), ["a", "b"])
    with pytest.raises(rundir.RunDirError, match="outside the run"):
        rundir.write_snapshot(run, 3, frame)
    assert sorted(p.name for p in outside.iterdir()) == ["metrics.csv"]


def test_a_projections_folder_linked_outside_is_neither_read_nor_written(tmp_path, capsys):
    run = make_fake_run(tmp_path / "runs", name="run", n_train=30, n_test=10, n_pairs=20)
    outside = tmp_path / "outside"
    outside.mkdir()
    (run / rundir.PROJECTIONS_DIR).symlink_to(outside, target_is_directory=True)
    code, out, err = call(explorer_main, ["project", str(run), "--method", "pca"], capsys)
    assert code == 0, err
    cache = Path(out.strip().splitlines()[-1])
    assert list(outside.iterdir()) == []  # the map was computed, and not cached outside
    planted = pd.DataFrame({"split": ["train"], "row": [0], "label": [0], "class_name": ["a"], "shift": [0],
                            "source_index": [-1], "x": [1e9], "y": [1e9]})
    planted.attrs.update(method="pca", params={}, epoch=2)
    planted.to_parquet(outside / cache.name)
    from explorer.projections import projection

    frame = projection(load_run(run), method="pca")
    assert len(frame) > 1 and frame["x"].abs().max() < 1e6  # the planted map was not read


def test_run_names_carry_held_out_classes_the_miner_and_the_form_and_are_cut_between_words():
    from training.config import shorten_words

    name = TrainConfig(name="a-rather-long-descriptive-name-for-checking-word-boundaries", classes=["4", "9", "7"],
                       loss="triplet", miner="batch-hard", holdout_classes=["7"]).run_name_hint()
    assert len(name) <= 80 and "held-out-7" in name and name.endswith("triplet-batch-hard")
    assert all(word in "a-rather-long-descriptive-name-for-checking-word-boundaries".split("-")
               for word in name.split("-mnist-")[0].split("-"))  # whole words only
    assert TrainConfig(classes=["4", "9"], contrastive_form="seed004").run_name_hint() == "mnist-4-9-contrastive-seed004-random"
    assert shorten_words("sweep_1a2b3c-embedding_dim_128-seed_2", 29) == "sweep_1a2b3c-embedding_dim"
