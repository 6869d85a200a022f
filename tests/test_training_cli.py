import re

import pytest

from conftest import ROOT
from datafiles import write_class_folders
from training import rundir
from training.cli import build_parser


def looks_finished(runs_dir) -> list:
    found = []
    for path in rundir.list_run_dirs(runs_dir):
        try:
            if rundir.read_status(path)["state"] == "finished":
                found.append(path)
        except rundir.RunDirError:
            pass
    return found


BAD_INPUT = [
    (["--dataset", "cifar"], "invalid choice: 'cifar'"),
    (["--classes", "4", "x"], "unknown class 'x'"),
    (["--classes", "4", "4"], "at least two different classes"),
    (["--regime", "nearest"], "invalid choice: 'nearest'"),
    (["--epochs", "0"], "--epochs must be positive"),
    (["--epochs", "-3"], "--epochs must be positive"),
    (["--epochs", "two"], "invalid int value: 'two'"),
    (["--margin", "0"], "--margin must be positive"),
    (["--embedding-dim", "-2"], "--embedding-dim must be positive"),
    (["--dataset", "folder"], "--dataset folder needs --data-dir"),
    (["--dataset", "fashion-mnist"], "--dataset fashion-mnist needs --data-dir"),
    (["--data-dir", "/no/such/dir"], "--data-dir /no/such/dir does not exist"),
    (["--image-size", "8"], "--image-size must be at least 16"),
    (["--loss", "magnet", "--margin", "2"], "--margin does not apply to --loss magnet"),
    (["--loss", "magnet", "--magnet-m", "1"], "--magnet-m must be at least 2"),
    (["--loss", "triplet", "--miner", "batch-hard", "--classes-per-batch", "12"],
     "--classes-per-batch 12 is more than the 10 classes"),
]


@pytest.mark.parametrize("args,message", BAD_INPUT, ids=[" ".join(a) for a, _ in BAD_INPUT])
def test_bad_input_exits_2_with_one_line_and_no_finished_run(cli, tmp_path, args, message):
    result = cli("training", "train", "--runs-dir", str(tmp_path), *args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]
    assert "Traceback" not in result.stderr + result.stdout
    assert looks_finished(tmp_path) == []


def test_undecodable_image_exits_2_naming_it(cli, tmp_path):
    write_class_folders(tmp_path / "data")
    (tmp_path / "data" / "beta" / "broken.jpg").write_bytes(b"\xff\xd8 truncated")
    result = cli("training", "train", "--runs-dir", str(tmp_path / "runs"), "--dataset", "folder",
                 "--data-dir", str(tmp_path / "data"))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert "broken.jpg" in result.stderr
    assert not (tmp_path / "runs").exists() or looks_finished(tmp_path / "runs") == []


def test_missing_idx_files_exit_2_naming_the_files(cli, tmp_path):
    result = cli("training", "train", "--runs-dir", str(tmp_path), "--dataset", "fashion-mnist",
                 "--data-dir", str(tmp_path))
    assert result.returncode == 2 and "train-images-idx3-ubyte" in result.stderr


def test_train_prints_the_run_directory_last_and_list_shows_it(cli, tmp_path):
    result = cli("training", "train", "--classes", "4", "9", "--epochs", "1", "--max-train", "100",
                 env={"EXPLORER_RUNS_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    [run] = rundir.list_run_dirs(tmp_path)
    assert result.stdout.strip().splitlines()[-1] == str(run)
    listing = cli("training", "list", "--runs-dir", str(tmp_path))
    assert run.name in listing.stdout and "finished" in listing.stdout and "1/1" in listing.stdout


def test_list_of_an_empty_runs_dir_says_so(cli, tmp_path):
    result = cli("training", "list", "--runs-dir", str(tmp_path / "none"))
    assert result.returncode == 0 and "no runs" in result.stdout


def train_options() -> set[str]:
    parser = build_parser()
    train = parser._subparsers._group_actions[0].choices["train"]
    long = [[s for s in action.option_strings if s.startswith("--")] for action in train._actions]
    return {names[0] for names in long if names} - {"--help"}  # --normalize, not also --no-normalize


def test_help_documents_every_option(cli):
    result = cli("training", "train", "--help")
    assert result.returncode == 0
    for option in train_options():
        assert option in result.stdout
    parser = build_parser()
    train = parser._subparsers._group_actions[0].choices["train"]
    assert all(action.help for action in train._actions)


def test_readme_options_table_matches_help():
    docs = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]  # the README is moving into docs/
    readme = "".join(path.read_text() for path in docs)
    table = set(re.findall(r"^\| `(--[a-z-]+)", readme, flags=re.M))
    assert table == train_options()


def test_a_finished_run_maps_its_last_epoch_in_the_background(cli, tmp_path):
    import time

    result = cli("training", "train", "--classes", "4", "9", "--epochs", "1", "--max-train", "150",
                 "--shifts", "3", "--embedding-dim", "4", "--runs-dir", str(tmp_path),
                 env={"EXPLORER_PRECOMPUTE_MAPS": "1"})
    assert result.returncode == 0, result.stderr
    run = result.stdout.strip().splitlines()[-1]
    deadline = time.time() + 120
    while time.time() < deadline and not list((tmp_path / run.split("/")[-1] / "projections").glob("tsne-*")):
        time.sleep(0.5)
    from explorer.projections import projection
    from explorer.runs import load_run

    cached = list((tmp_path / run.split("/")[-1] / "projections").glob("tsne-*.parquet"))
    assert cached, "no t-SNE map was cached"
    frame = projection(load_run(run), method="tsne")  # the app's default request hits that cache
    assert len(list((tmp_path / run.split("/")[-1] / "projections").glob("tsne-*.parquet"))) == 1
    assert len(frame) > 0


@pytest.mark.parametrize("options", [
    {"loss": "magnet", "epochs": 15, "magnet_m": 8, "magnet_d": 8, "magnet_k": 3, "alpha": 1.5, "magnet_l": 4},
    {"loss": "triplet", "miner": "semi-hard", "classes_per_batch": 4, "images_per_class": 8, "normalize": True},
    {"loss": "contrastive-3way", "margin": 2.0, "margin_fn": 0.8, "weight_fn": 0.25, "nn_k": 3},
    {"loss": "bce", "regime": "nn-other"},
])
def test_method_options_round_trip_through_the_apps_command_line(tmp_path, options):
    from training import launch
    from training.cli import config_from_args
    from training.config import TrainConfig

    config = TrainConfig(**options, runs_dir=str(tmp_path)).validate()
    args = build_parser().parse_args(launch.training_argv(config, tmp_path / "run")[3:])
    assert config_from_args(args, args.runs_dir) == config
    flags = ["train"] + [part for key, value in options.items() for part in
                         ([f"--{key.replace('_', '-')}"] if value is True else [f"--{key.replace('_', '-')}", str(value)])]
    by_flags = build_parser().parse_args(flags)  # and the same options typed as flags
    assert config_from_args(by_flags, str(tmp_path)) == config
