"""--preset NAME: every preset of training/presets.py holds the seeds' values, validates on tiny
data of its kind, trains one short epoch, and gives way to options written on the command line."""

import json

import pytest

from conftest import ROOT
from datafiles import write_class_folders, write_idx
from training import presets, rundir
from training.cli import build_parser, config_from_args, given_options, main
from training.presets import PRESETS

# The seeds' own values (../shared/seeds/), written out again so that a changed preset shows here.
SEEDS = {
    "seed000-inlab": dict(dataset="mnist", classes=["4", "9"], loss="contrastive", regime="random",
                          embedding_dim=2, backbone="seed-cnn", margin=1.0),
    "seed000-outlab-regime1": dict(classes=["4", "9"], loss="contrastive", regime="nn-other", nn_k=5,
                                   backbone="small-cnn", embedding_dim=2),
    "seed000-outlab-regime2": dict(classes=["4", "9"], loss="contrastive", regime="nn-non-neighbour", nn_k=5,
                                   backbone="small-cnn", embedding_dim=2),
    "seed000-triplet-nn": dict(classes=["4", "9"], loss="triplet", regime="nn-other", embedding_dim=2),
    "seed000-3way": dict(classes=["4", "9"], loss="contrastive-3way", embedding_dim=2),
    "seed000-augmented": dict(classes=["4", "9"], loss="contrastive", regime="random",
                              train_shifts=[-6, -3, 3, 6], shifts=[-6, -3, 3, 6]),
    "seed001-magnet": dict(dataset="mnist", classes=[], loss="magnet", epochs=15, magnet_m=8, magnet_d=8,
                           magnet_k=3, alpha=1.0, embedding_dim=2),
    "seed001-magnet-alpha1.5": dict(classes=[], loss="magnet", epochs=15, magnet_m=8, magnet_d=8, magnet_k=3,
                                    alpha=1.5, embedding_dim=2),
    "seed002-autoencoder": dict(dataset="mnist", loss="autoencoder"),
    "seed002-transfer-frozen": dict(backbone="resnet18", freeze=True),
    "seed003-folder-triplet64": dict(dataset="folder", loss="triplet", embedding_dim=64, epochs=100),
    "seed004-bce": dict(dataset="fashion-mnist", loss="bce", backbone="vgg", embedding_dim=32, normalize=True,
                        regime="random"),
    "seed004-contrastive": dict(dataset="fashion-mnist", loss="contrastive", contrastive_form="seed004",
                                backbone="vgg", embedding_dim=32, normalize=True, margin=1.0),
    # the presets that run the other seed claims (explorer.claim_checks)
    "seed000-outlab-seed-cnn": dict(classes=["4", "9"], loss="contrastive", regime="nn-other", backbone="seed-cnn"),
    "seed001-triplet": dict(classes=[], loss="triplet", regime="random", embedding_dim=2, epochs=15),
    "seed002-contrastive": dict(classes=[], loss="contrastive", contrastive_form="seed002", embedding_dim=32),
    "seed002-pca": dict(classes=[], loss="pca", embedding_dim=32),
    "seed002-transfer-finetuned": dict(backbone="resnet18", freeze=False, embedding_dim=32),
    "seed004-classifier": dict(dataset="fashion-mnist", loss="classifier", backbone="vgg", embedding_dim=32),
    "seed004-enrol": dict(dataset="fashion-mnist", loss="triplet", holdout_classes=["Trouser", "Bag"]),
    "seed004-triplet": dict(dataset="fashion-mnist", loss="triplet", backbone="vgg", embedding_dim=32,
                            normalize=True, margin=1.0),
    "seed004-embedding-size": dict(dataset="fashion-mnist", loss="triplet", backbone="vgg", normalize=True,
                                   margin=1.0),
}
# What a short test run overrides: one epoch, a few images, one shift.
SHORT = ["--epochs", "1", "--max-train", "40", "--shifts", "3", "--snapshot-max-points", "40"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Tiny data of every kind the presets read, and a resnet18 state dict shaped as ImageNet's."""
    root = tmp_path_factory.mktemp("data")
    write_idx(root / "idx", n_train=100, n_test=20)
    write_class_folders(root / "folder", per_class=12)
    from torchvision.models import resnet18
    import torch

    torch.save(resnet18(weights=None).state_dict(), root / "resnet18.pth")
    return root


def needs(name: str, data) -> list[str]:
    """The options that point a preset at the tiny data of its kind."""
    options = PRESETS[name].options
    extra = ["--data-dir", str(data / ("folder" if options["dataset"] == "folder" else "idx"))]
    if "pretrained" in PRESETS[name].needs:
        extra += ["--pretrained", str(data / "resnet18.pth")]
    return extra


def test_the_issue_names_every_preset():
    assert set(PRESETS) == set(SEEDS)
    assert [name for name, p in PRESETS.items() if p.swept] == ["seed004-embedding-size"]
    assert PRESETS["seed004-embedding-size"].swept == {"embedding_dim": [2, 4, 8, 32, 128]}


@pytest.mark.parametrize("name", [n for n, p in PRESETS.items() if not p.swept])
def test_a_preset_fills_every_option_with_the_seeds_values_and_validates_on_tiny_data(name, data, tmp_path):
    argv = ["train", "--preset", name, *needs(name, data), "--runs-dir", str(tmp_path)]
    config = config_from_args(build_parser().parse_args(argv), str(tmp_path), given_options(argv))
    config.validate()
    assert config.preset == name
    for option, value in SEEDS[name].items():
        assert getattr(config, option) == value, option


def test_the_sweep_preset_validates_every_run_of_its_sweep(data, tmp_path):
    from training import sweep

    argv = ["sweep", "--preset", "seed004-embedding-size", "--data-dir", str(data / "idx"), "--runs-dir",
            str(tmp_path)]
    args = build_parser().parse_args(argv)
    sweep_dir, manifest = sweep.create(args, given_options(argv), ["python", "-m", "training", *argv])
    assert manifest["swept"] == {"embedding_dim": [2, 4, 8, 32, 128]} and manifest["preset"] == "seed004-embedding-size"
    assert [sweep.run_config(manifest, r).embedding_dim for r in manifest["runs"]] == [2, 4, 8, 32, 128]
    assert all(sweep.run_config(manifest, r).backbone == "vgg" for r in manifest["runs"])


def test_options_given_override_the_preset_even_at_their_default_value(tmp_path):
    argv = ["train", "--preset", "seed001-magnet", "--epochs", "5", "--alpha", "2", "--runs-dir", str(tmp_path)]
    config = config_from_args(build_parser().parse_args(argv), str(tmp_path), given_options(argv))
    assert config.epochs == 5 == type(config)().epochs  # 5 is the default, and it still wins over 15
    assert config.alpha == 2.0 and config.magnet_m == 8 and config.loss == "magnet"


# A representative few train one short epoch in this process: each backbone, each kind of data,
# the pair regimes, magnet and the autoencoder. The rest share their code paths and are validated above.
TRAINED = ["seed000-outlab-regime2", "seed000-augmented", "seed001-magnet", "seed002-autoencoder",
           "seed002-transfer-frozen", "seed003-folder-triplet64", "seed004-bce"]


@pytest.mark.parametrize("name", TRAINED)
def test_a_preset_trains_one_short_epoch_and_records_its_name(name, data, tmp_path, capsys):
    quicker = {"seed003-folder-triplet64": ["--image-size", "32"],  # 64 px works too
               "seed002-transfer-frozen": ["--max-train", "30"]}.get(name, [])  # a ResNet-18 at 28 px
    assert main(["train", "--preset", name, *needs(name, data), *SHORT, *quicker, "--runs-dir", str(tmp_path)]) == 0
    run = rundir.list_run_dirs(tmp_path)[0]
    assert capsys.readouterr().out.strip().splitlines()[-1] == str(run)
    assert rundir.read_status(run)["state"] == "finished"
    config = rundir.read_config(run)
    assert config["preset"] == name and config["epochs"] == 1
    kept = {k: v for k, v in SEEDS[name].items() if k not in ("epochs", "shifts")}  # SHORT overrides those
    assert {k: config[k] for k in kept} == kept


def test_presets_lists_every_preset_on_one_line(cli):
    result = cli("training", "presets")
    assert result.returncode == 0
    lines = result.stdout.strip().splitlines()
    assert [line.split()[0] for line in lines] == list(PRESETS)
    assert all(PRESETS[line.split()[0]].help in line for line in lines)


@pytest.mark.parametrize("argv,message", [
    (["--preset", "seed004-triplet"], "train-images-idx3-ubyte"),
    (["--preset", "seed003-folder-triplet64"], "one sub-folder of images for each class"),
    (["--preset", "seed002-transfer-frozen"], "--pretrained PATH"),
    (["--preset", "seed004-embedding-size"], "python -m training sweep --preset seed004-embedding-size"),
    (["--preset", "seed009"], "invalid choice: 'seed009'"),
], ids=["fashion-missing", "folder-missing", "weights-missing", "sweep-preset", "unknown"])
def test_a_preset_that_cannot_run_says_why_in_one_line(argv, message, tmp_path, capsys):
    assert exit_status(["train", *argv, "--runs-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and message in err
    assert not list(tmp_path.iterdir())


def exit_status(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as e:  # argparse's own refusals
        return e.code


def test_the_preset_travels_through_the_apps_command_line(tmp_path):
    from training import launch
    from training.config import TrainConfig

    config = TrainConfig(**{**presets.options_for("seed000-inlab", {}), "runs_dir": str(tmp_path)}).validate()
    options = json.loads(launch.training_argv(config, tmp_path / "run")[-1])
    assert options["preset"] == "seed000-inlab"
    args = build_parser().parse_args(launch.training_argv(config, tmp_path / "run")[3:])
    assert config_from_args(args, args.runs_dir) == config


def test_readme_lists_every_preset():
    readme = "\n".join(p.read_text() for p in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))])
    for name in PRESETS:
        assert f"`{name}`" in readme, name
