"""--backbone, --pretrained and --freeze: every backbone embeds 28 and 64 px images, the seeds'
layer tables hold, frozen layers stay put through a step, weights load or fail in one line, and a
run of every backbone resumes to the embeddings of an uninterrupted one."""

import copy

import numpy as np
import pytest
import torch
from torch import nn

from datafiles import write_class_folders
from datafiles import tiny_splits
from training import rundir
from training.backbones import REGISTRY, build, load_pretrained, make
from training.config import BACKBONES, TrainConfig
from training.errors import Cancelled, InputError
from training.loop import build_engine, train_step
from training.model import embed
from training.objectives import make_objective
from training.shift import shift_images
from training.trainer import Prepared, resume, train


def tiny_data(n_per_class=6, **kwargs):
    return tiny_splits(n_per_class, n_held=2, **kwargs)


def test_the_registry_and_the_torch_free_names_agree():
    assert tuple(REGISTRY) == BACKBONES
    for name, entry in REGISTRY.items():
        assert entry.build.name == name and entry.help
    with pytest.raises(InputError, match="unknown --backbone 'vgg16'; choose one of: seed-cnn"):
        TrainConfig(backbone="vgg16").validate()


@pytest.mark.parametrize("size", [28, 64])
@pytest.mark.parametrize("name", BACKBONES)
def test_every_backbone_embeds_28_and_64_px_images_and_rebuilds_from_its_arguments(name, size):
    torch.manual_seed(0)
    net = build(name, image_size=size, embedding_dim=3, normalize=True)
    x = torch.randn(4, 1, size, size)
    out = embed(net, x)
    assert out.shape == (4, 3)
    torch.testing.assert_close(out.norm(dim=1), torch.ones(4))  # --normalize holds for every backbone
    torch.testing.assert_close(embed(net, x), out)  # evaluation mode: no dropout, fixed statistics
    again = build(name, **net.constructor_args)
    again.load_state_dict(net.state_dict())
    torch.testing.assert_close(embed(again, x), out)
    assert net.constructor_args == {"image_size": size, "embedding_dim": 3, "normalize": True}


def test_small_cnn_is_seed_000s_out_lab_net():
    net = build("small-cnn", image_size=28, embedding_dim=2)
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size) for c in convs] == [(1, 16, (5, 5)), (16, 64, (3, 3))]
    linears = [m for m in net.modules() if isinstance(m, nn.Linear)]
    assert [(l.in_features, l.out_features) for l in linears] == [(64 * 5 * 5, 256), (256, 64), (64, 2)]
    assert sum(isinstance(m, nn.PReLU) for m in net.modules()) == 4
    assert sum(isinstance(m, nn.MaxPool2d) for m in net.modules()) == 2


def test_vgg_has_seed_004s_layer_table():
    net = build("vgg", image_size=28, embedding_dim=32)
    trainable = sum(p.numel() for p in net.parameters())
    statistics = sum(b.numel() for name, b in net.named_buffers() if "running" in name)
    assert (trainable, trainable + statistics) == (428_552, 429_176)  # the table's trainable and total
    convs = [m.out_channels for m in net.modules() if isinstance(m, nn.Conv2d)]
    assert convs == [8, 8, 16, 16, 32, 32]
    kinds = [type(m) for m in net.modules()]
    assert kinds.count(nn.BatchNorm2d) == 3 and kinds.count(nn.BatchNorm1d) == 1
    assert kinds.count(nn.Dropout2d) == 3 and kinds.count(nn.MaxPool2d) == 2
    x = torch.randn(8, 1, 28, 28)
    net.train()
    assert not torch.equal(net(x), net(x))  # spatial dropout while training...
    assert torch.equal(embed(net, x), embed(net, x))  # ...and none when embedding


def test_resnet18_has_a_one_channel_stem_for_small_images():
    net = build("resnet18", image_size=28, embedding_dim=4)
    stem = net.body.conv1
    assert (stem.in_channels, stem.kernel_size, stem.stride) == (1, (3, 3), (1, 1))
    assert isinstance(net.body.maxpool, nn.Identity)
    assert net.head is net.body.fc and (net.head.in_features, net.head.out_features) == (512, 4)


# ---------------------------------------------------------------- --freeze


def engine_for(name: str, freeze: bool):
    config = TrainConfig(backbone=name, freeze=freeze, embedding_dim=3, batch_size=8, seed=1).validate()
    config = config.resolved("cpu")
    data = tiny_data()
    rng = np.random.default_rng(0)
    objective = make_objective(config, data, rng)
    prepared = Prepared(config, data, shift_images(data.test.images, [3]), objective, rng, torch.device("cpu"))
    engine = build_engine(prepared, {"image_size": 16, "embedding_dim": 3, "normalize": False})
    return engine, objective, torch.from_numpy(data.normalise(data.train.images)).unsqueeze(1)


def one_step(engine, objective, images) -> None:
    from contextlib import nullcontext

    engine.network.train()  # as the loop does before each epoch
    batch = next(iter(objective.batches(1, engine.generator)))
    train_step(objective, engine.network, engine.optimiser, images, batch, nullcontext())


@pytest.mark.parametrize("name", BACKBONES)
def test_freeze_leaves_the_backbone_unchanged_after_a_step_and_trains_the_head(name):
    engine, objective, images = engine_for(name, freeze=True)
    backbone = engine.network.backbone
    head = {f"{n}" for n, m in backbone.named_modules() if m is backbone.head}.pop() + "."
    before = copy.deepcopy(backbone.state_dict())  # batch-norm statistics included
    one_step(engine, objective, images)
    after = backbone.state_dict()
    below = [k for k in before if not k.startswith(head)]
    assert below and all(torch.equal(before[k], after[k]) for k in below)
    assert any(not torch.equal(before[k], after[k]) for k in before if k.startswith(head))
    optimised = {id(p) for group in engine.optimiser.param_groups for p in group["params"]}
    assert optimised == {id(p) for p in backbone.head.parameters()}


def test_without_freeze_every_layer_is_fine_tuned():
    engine, objective, images = engine_for("vgg", freeze=False)
    backbone = engine.network.backbone
    before = copy.deepcopy(backbone.state_dict())
    one_step(engine, objective, images)
    changed = [k for k, v in backbone.state_dict().items() if not torch.equal(before[k], v)]
    assert "features.0.weight" in changed and "features.2.running_mean" in changed


# ---------------------------------------------------------------- --pretrained


def test_imagenet_weights_load_into_resnet18_below_its_head(tmp_path):
    from torchvision.models import resnet18

    torch.manual_seed(3)
    imagenet = resnet18(weights=None).state_dict()  # the file torchvision's ImageNet weights come as
    path = tmp_path / "resnet18-imagenet.pth"
    torch.save(imagenet, path)
    torch.manual_seed(4)
    net = make(TrainConfig(backbone="resnet18", pretrained=str(path)), {"image_size": 28, "embedding_dim": 2,
                                                                       "normalize": False})
    own = net.state_dict()
    torch.testing.assert_close(own["body.layer3.1.conv2.weight"], imagenet["layer3.1.conv2.weight"])
    torch.testing.assert_close(own["body.bn1.running_var"], imagenet["bn1.running_var"])
    stem = imagenet["conv1.weight"].sum(dim=1, keepdim=True)[..., 2:5, 2:5]  # RGB summed, centre 3x3
    torch.testing.assert_close(own["body.conv1.weight"], stem)
    assert own["body.fc.weight"].shape == (2, 512)  # the head is new


def test_weights_from_a_runs_checkpoint_start_the_same_backbone(tmp_path):
    torch.manual_seed(5)
    source = build("small-cnn", image_size=28, embedding_dim=2)
    path = tmp_path / "checkpoint.pt"
    torch.save({"model_state": source.state_dict(), "epoch": 3}, path)
    torch.manual_seed(6)
    net = build("small-cnn", image_size=28, embedding_dim=2)
    load_pretrained(net, str(path))
    torch.testing.assert_close(net.convnet[0].weight, source.convnet[0].weight)
    torch.testing.assert_close(net.fc[2].weight, source.fc[2].weight)
    assert not torch.equal(net.fc[4].weight, source.fc[4].weight)  # the head is not taken


class NotWeights:
    pass


def test_weights_that_are_missing_unreadable_or_do_not_fit_are_refused_in_one_line(tmp_path, cli):
    with pytest.raises(InputError, match="--pretrained /nowhere/w.pt does not exist"):
        TrainConfig(pretrained="/nowhere/w.pt").validate()
    small = tmp_path / "small.pt"
    torch.save(build("small-cnn").state_dict(), small)
    pickled = tmp_path / "pickled.pt"
    torch.save({"weights": NotWeights()}, pickled)  # loading it would unpickle a class
    text = tmp_path / "notes.pt"
    text.write_text("not weights")
    cases = [(small, "vgg", "does not fit --backbone vgg: it lacks"),
             (pickled, "small-cnn", "cannot be read as weights"),
             (text, "small-cnn", "cannot be read as weights")]
    for path, name, message in cases:
        with pytest.raises(InputError, match=message) as error:
            load_pretrained(build(name), str(path))
        assert "\n" not in str(error.value)
    wrong_size = tmp_path / "wide.pt"
    torch.save(build("small-cnn", image_size=64).state_dict(), wrong_size)
    with pytest.raises(InputError, match=r"fc.0.weight is \(256, 12544\) there and \(256, 1600\) here"):
        load_pretrained(build("small-cnn"), str(wrong_size))

    result = cli("training", "train", "--pretrained", str(tmp_path / "missing.pt"), "--runs-dir", str(tmp_path))
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "--pretrained" in result.stderr
    result = cli("training", "train", "--loss", "pca", "--backbone", "vgg", "--runs-dir", str(tmp_path))
    assert result.returncode == 2 and "--backbone does not apply to --loss pca" in result.stderr


def test_a_misfit_pretrained_file_fails_before_a_run_directory_exists(tmp_path, folder_data):
    weights = tmp_path / "seed-cnn.pt"
    torch.save(build("seed-cnn", image_size=16).state_dict(), weights)
    config = run_config(folder_data, tmp_path / "runs", "vgg", pretrained=str(weights))
    with pytest.raises(InputError, match="does not fit --backbone vgg"):
        train(config, log=lambda line: None)
    assert rundir.list_run_dirs(tmp_path / "runs") == []


# ---------------------------------------------------------------- runs and --resume


@pytest.fixture(scope="module")
def folder_data(tmp_path_factory):
    return write_class_folders(tmp_path_factory.mktemp("folders"), per_class=10, size=(20, 20))


def run_config(data_dir, runs_dir, name, **options) -> TrainConfig:
    return TrainConfig(dataset="folder", data_dir=str(data_dir), image_size=16, backbone=name, epochs=2,
                       embedding_dim=3, shifts=[2], device="cpu", runs_dir=str(runs_dir), **options)


def stop_after_epoch_1(line: str) -> None:
    if line.startswith("epoch 1/"):
        raise KeyboardInterrupt


@pytest.mark.parametrize("name", BACKBONES)
def test_a_run_of_every_backbone_resumes_to_the_embeddings_of_an_uninterrupted_one(tmp_path, folder_data, name):
    whole = train(run_config(folder_data, tmp_path / "whole", name), log=lambda line: None)
    with pytest.raises(Cancelled):
        train(run_config(folder_data, tmp_path / "cut", name), log=stop_after_epoch_1)
    [cut] = rundir.list_run_dirs(tmp_path / "cut")
    assert rundir.read_status(cut)["state"] == rundir.CANCELLED and rundir.snapshot_epochs(cut) == [0, 1]
    resume(cut, log=lambda line: None)
    assert rundir.read_status(cut)["state"] == rundir.FINISHED
    a, b = rundir.read_snapshot(whole, 2), rundir.read_snapshot(cut, 2)
    columns = rundir.embedding_columns(a)
    np.testing.assert_allclose(b[columns].to_numpy(), a[columns].to_numpy(), atol=1e-5)

    checkpoint = rundir.read_checkpoint(cut)
    assert checkpoint["backbone"] == name == rundir.read_config(cut)["model"]["backbone"]
    net = build(checkpoint["backbone"], **checkpoint["model_args"])  # what a checkpoint rebuilds
    net.load_state_dict(checkpoint["model_state"])
    config = rundir.read_config(cut)
    test = rundir.read_images(cut, "test").astype(np.float32)
    x = torch.from_numpy((test / 255 - config["mean"]) / config["std"]).unsqueeze(1)
    saved = b[b.split == "test"].sort_values("row")[columns].to_numpy()
    np.testing.assert_allclose(embed(net, x).numpy(), saved, atol=1e-4)


def test_a_frozen_pretrained_run_keeps_the_weights_it_started_from(tmp_path, folder_data):
    torch.manual_seed(9)
    source = build("vgg", image_size=16, embedding_dim=3)
    weights = tmp_path / "vgg.pt"
    torch.save(source.state_dict(), weights)
    path = train(run_config(folder_data, tmp_path / "runs", "vgg", pretrained=str(weights), freeze=True),
                 log=lambda line: None)
    state = rundir.read_checkpoint(path)["model_state"]
    for key, value in source.state_dict().items():
        if not key.startswith("embedding."):
            assert torch.equal(state[key], value), key
    assert rundir.read_config(path)["pretrained"] == str(weights)


def test_the_command_line_reads_the_backbone_options():
    from training.cli import build_parser, config_from_args

    args = build_parser().parse_args(["train", "--backbone", "resnet18", "--pretrained", "w.pt", "--freeze"])
    config = config_from_args(args, "runs")
    assert (config.backbone, config.pretrained, config.freeze) == ("resnet18", "w.pt", True)
    defaults = config_from_args(build_parser().parse_args(["train"]), "runs")
    assert (defaults.backbone, defaults.pretrained, defaults.freeze) == ("seed-cnn", None, False)
    assert TrainConfig.from_dict({"loss": "contrastive"}).backbone == "seed-cnn"  # an older config.json
