import sys
import subprocess

import numpy as np
import pytest
import torch

from conftest import ROOT
from datafiles import tiny_splits
from training.config import LOSSES, TrainConfig
from training.model import EmbeddingNet, Network, embed
from training.objectives import METHODS, make_objective, objective_class, used_options
from training.objectives.base import Objective


def tiny_data(n_per_class=12, **kwargs):
    return tiny_splits(n_per_class, n_held=4, **kwargs)


def test_every_registered_method_is_an_objective_and_a_loss_choice():
    assert set(METHODS) == set(LOSSES)
    for name in METHODS:
        assert issubclass(objective_class(name), Objective)


def test_listing_the_methods_imports_no_torch():
    code = "import sys, training.objectives, training.config; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.stdout.strip() == "False", out.stderr


METHOD_CONFIGS = [{"loss": name} for name in sorted(METHODS)] + [
    {"loss": "triplet", "miner": "batch-hard", "images_per_class": 4},
    {"loss": "triplet", "miner": "semi-hard", "images_per_class": 4},
    {"loss": "magnet", "magnet_m": 4, "magnet_d": 3, "magnet_k": 2},
]


@pytest.mark.parametrize("options", METHOD_CONFIGS, ids=lambda o: "-".join(map(str, o.values())))
def test_a_method_yields_batches_covering_its_tuples_and_a_finite_loss(options):
    pairwise = "batch_size" in used_options(options["loss"], options.get("miner", "none"))
    config = TrainConfig(**options, **({"batch_size": 10} if pairwise else {}), epochs=1,
                         image_size=16, embedding_dim=3).validate()
    objective = make_objective(config.resolved("cpu"), tiny_data(), np.random.default_rng(0))
    network = Network(EmbeddingNet(16, 3), objective.modules())
    images = torch.randn(36, 1, 16, 16)
    objective.on_epoch_start(1, lambda split: embed(network.backbone, images))
    generator = torch.Generator().manual_seed(0)
    batches = list(objective.batches(1, generator))
    assert len(batches) == objective.steps_per_epoch()
    if not batches:  # a method with nothing to train (pca) takes no steps
        return
    if pairwise:
        assert all(len(b) <= 10 for b in batches)
    loss_value = objective.loss(network, images, batches[0])
    assert loss_value.ndim == 0 and torch.isfinite(loss_value)
    loss_value.backward()
    assert any(p.grad is not None for p in network.parameters())
    for name, module in objective.modules().items():  # an extra module (the BCE head) is trained too
        assert all(p.grad is not None for p in module.parameters()), name


def test_the_same_generator_state_draws_the_same_batches():
    config = TrainConfig(batch_size=8)
    objective = make_objective(config, tiny_data(), np.random.default_rng(0))
    first = torch.cat(list(objective.batches(1, torch.Generator().manual_seed(4))))
    again = torch.cat(list(objective.batches(1, torch.Generator().manual_seed(4))))
    other = torch.cat(list(objective.batches(1, torch.Generator().manual_seed(5))))
    assert torch.equal(first, again) and not torch.equal(first, other)
    assert sorted(map(tuple, first.tolist())) == sorted(map(tuple, objective.saved_tuples()["train_pairs"].tolist()))


def test_the_loop_names_no_method():
    source = (ROOT / "training" / "loop.py").read_text()
    for name in METHODS:
        assert f'"{name}"' not in source
    assert "triplet" not in source.lower()


# ---------------------------------------------------------------- options of each method

from training.errors import InputError  # noqa: E402
from training.objectives.pairwise import make_miner  # noqa: E402
from training.objectives.samplers import ClassBalancedSampler  # noqa: E402
from training.pairs import pixel_neighbours  # noqa: E402


@pytest.mark.parametrize("options,message", [
    ({"loss": "magnet", "margin": 2.0}, "--margin does not apply to --loss magnet"),
    ({"loss": "contrastive", "alpha": 1.5}, "--alpha does not apply to --loss contrastive; it is an option of magnet"),
    ({"loss": "contrastive", "miner": "batch-hard"}, "--miner does not apply to --loss contrastive"),
    ({"loss": "bce", "margin_fn": 0.3}, "--margin-fn does not apply to --loss bce"),
    ({"loss": "magnet", "regime": "nn-other"}, "--regime does not apply to --loss magnet"),
    ({"loss": "triplet", "miner": "batch-hard", "regime": "nn-other"}, "--regime does not apply with --miner batch-hard"),
    ({"loss": "triplet", "miner": "semi-hard", "batch_size": 64}, "--batch-size does not apply with --miner semi-hard"),
    ({"loss": "triplet", "images_per_class": 8}, "--images-per-class applies only with --miner"),
    ({"loss": "triplet", "miner": "hardest"}, "unknown --miner 'hardest'"),
    ({"loss": "magnet", "magnet_m": 1}, "--magnet-m must be at least 2"),
    ({"loss": "magnet", "magnet_d": 1}, "--magnet-d must be at least 2"),
    ({"loss": "magnet", "alpha": -1.0}, "--alpha must be 0 or more"),
    ({"loss": "contrastive-3way", "margin_fn": 0.0}, "--margin-fn must be positive"),
    ({"loss": "triplet", "miner": "batch-hard", "classes_per_batch": 1}, "--classes-per-batch must be at least 2"),
])
def test_options_a_method_does_not_read_or_bad_values_are_refused_in_one_sentence(options, message):
    with pytest.raises(InputError, match=message.replace("(", r"\(")) as error:
        TrainConfig(**options).validate()
    assert "\n" not in str(error.value)


def test_every_method_accepts_its_own_options_and_the_seed_run():
    TrainConfig(loss="magnet", epochs=15, magnet_m=8, magnet_d=8, magnet_k=3, alpha=1.5).validate()
    TrainConfig(loss="triplet", miner="batch-hard", classes_per_batch=4, images_per_class=8,
                margin=0.5, normalize=True).validate()
    TrainConfig(loss="triplet", regime="nn-non-neighbour", nn_k=3).validate()
    config = TrainConfig(loss="contrastive-3way", margin=2.0, weight_fn=0.25).validate()
    assert config.resolved("cpu").margin_fn == 1.0  # default m/2, recorded in config.json
    assert TrainConfig(loss="contrastive").resolved("cpu").margin_fn is None


# ---------------------------------------------------------------- P×K sampler and miners


def test_the_pk_sampler_gives_p_classes_of_k_images_each():
    labels = np.repeat(np.arange(6), [30, 30, 30, 30, 30, 3])  # class 5 is smaller than K
    sampler = ClassBalancedSampler(labels, classes_per_batch=4, images_per_class=5)
    assert sampler.batch_size == 20 and sampler.steps_per_epoch() == -(-len(labels) // 20)
    generator = torch.Generator().manual_seed(1)
    seen_classes = set()
    for _ in range(200):
        batch = sampler.draw(generator).numpy()
        assert batch.shape == (20,)
        blocks = batch.reshape(4, 5)  # class by class
        block_classes = [set(labels[b]) for b in blocks]
        assert all(len(c) == 1 for c in block_classes)
        classes = [c.pop() for c in block_classes]
        assert len(set(classes)) == 4  # P different classes
        for c, block in zip(classes, blocks):
            if c == 5:  # a small class gives all its images, then repeats them
                assert set(block) == set(np.flatnonzero(labels == 5))
            else:
                assert len(set(block)) == 5  # K different images
        seen_classes.update(classes)
    assert seen_classes == set(range(6))  # every class takes its turn
    again = ClassBalancedSampler(labels, 4, 5)  # the same generator state draws the same batch
    assert torch.equal(sampler.draw(torch.Generator().manual_seed(7)), again.draw(torch.Generator().manual_seed(7)))


def test_the_pk_sampler_defaults_to_every_class_up_to_ten_and_refuses_more_than_there_are():
    assert ClassBalancedSampler(np.repeat(np.arange(3), 4), None, 2).p == 3
    assert ClassBalancedSampler(np.repeat(np.arange(12), 4), None, 2).p == 10
    with pytest.raises(InputError, match="--classes-per-batch 4 is more than the 3 classes"):
        ClassBalancedSampler(np.repeat(np.arange(3), 4), 4, 2)


@pytest.mark.parametrize("seed", range(5))
def test_miners_return_only_valid_triplets(seed):
    generator = torch.Generator().manual_seed(seed)
    labels = torch.arange(6).repeat_interleave(4)
    embeddings = torch.randn(len(labels), 3, generator=generator)
    d = torch.cdist(embeddings, embeddings)
    margin = 0.5

    a, p, n = make_miner("batch-hard", margin)(embeddings, labels)
    assert len(a) > 0
    assert (labels[a] == labels[p]).all() and (a != p).all() and (labels[a] != labels[n]).all()
    for anchor, positive, negative in zip(a.tolist(), p.tolist(), n.tolist()):
        same = (labels == labels[anchor]) & (torch.arange(len(labels)) != anchor)
        assert d[anchor, positive] == pytest.approx(float(d[anchor][same].max()))  # hardest positive
        assert d[anchor, negative] == pytest.approx(float(d[anchor][labels != labels[anchor]].min()))

    a, p, n = make_miner("semi-hard", margin)(embeddings, labels)
    assert (labels[a] == labels[p]).all() and (a != p).all() and (labels[a] != labels[n]).all()
    gap = d[a, n] - d[a, p]
    assert ((gap > 0) & (gap <= margin + 1e-6)).all()  # farther than the positive, inside the margin
    brute = sum(1 for i in range(len(labels)) for j in range(len(labels)) for k in range(len(labels))
                if i != j and labels[i] == labels[j] and labels[k] != labels[i]
                and 0 < float(d[i, k] - d[i, j]) <= margin)
    assert len(a) == brute  # and every such triplet of the batch


def test_a_mined_batch_with_no_semi_hard_triplet_costs_a_zero_that_supports_backward():
    objective = make_objective(TrainConfig(loss="triplet", miner="semi-hard", images_per_class=2,
                                           embedding_dim=3).validate(), tiny_data(), np.random.default_rng(0))
    network = Network(EmbeddingNet(16, 3))
    batch = torch.tensor([0, 3, 1, 4])  # classes 0 and 1
    with torch.no_grad():
        for p in network.parameters():
            p.zero_()  # every embedding equal: no triplet is semi-hard
    value = objective.loss(network, torch.randn(36, 1, 16, 16), batch)
    value.backward()
    assert value.item() == 0.0
    assert all(p.grad is not None and (p.grad == 0).all() for p in network.parameters())


@pytest.mark.parametrize("regime", ["nn-other", "nn-non-neighbour"])
def test_nn_regimes_give_the_triplet_loss_nearest_neighbour_positives(regime):
    data = tiny_data()
    objective = make_objective(TrainConfig(loss="triplet", regime=regime, nn_k=3).validate(), data,
                               np.random.default_rng(0))
    neighbours = pixel_neighbours(data.train.images, data.train.labels, 3)
    triplets = objective.saved_tuples()["train_triplets"]
    assert sorted(triplets[:, 0]) == list(range(len(data.train.labels)))
    for a, p, n in triplets:
        assert p in neighbours[a]  # seed 000, idea 1: the positive is one of the anchor's k NN
        labels = data.train.labels
        if regime == "nn-other":
            assert labels[n] != labels[a]
        else:
            assert labels[n] != labels[a] or (n not in neighbours[a] and a not in neighbours[n] and n != a)
    assert torch.equal(objective.train_tuples, torch.from_numpy(triplets))


# ---------------------------------------------------------------- network, head and normalisation


def test_the_network_runs_an_extra_module_in_the_same_forward_and_keeps_network_x():
    from training.model import PairHead

    network = Network(EmbeddingNet(16, 4), {"head": PairHead(4, 8)})
    x = torch.randn(6, 1, 16, 16)
    plain = network(x)
    assert plain.shape == (6, 4) and plain.dtype == torch.float32
    embeddings, outputs = network(x, {"head": (torch.tensor([0, 1]), torch.tensor([2, 3]))})
    assert torch.equal(embeddings, plain) and outputs["head"].shape == (2,)
    expected = network.extra["head"].mlp(torch.cat([plain[[0, 1]], plain[[2, 3]]], 1)).squeeze(1)
    torch.testing.assert_close(outputs["head"], expected)


def test_normalize_gives_unit_embeddings_and_rebuilds_from_its_arguments():
    net = EmbeddingNet(16, 5, normalize=True)
    out = embed(net, torch.randn(7, 1, 16, 16))
    torch.testing.assert_close(out.norm(dim=1), torch.ones(7))
    assert net.constructor_args == {"image_size": 16, "embedding_dim": 5, "normalize": True}
    again = EmbeddingNet(**net.constructor_args)
    again.load_state_dict(net.state_dict())
    assert again.normalize
    assert EmbeddingNet(16, 5).constructor_args["normalize"] is False  # older checkpoints load as before


def test_bce_head_scores_are_saved_for_every_test_pair():
    config = TrainConfig(loss="bce", embedding_dim=3).validate()
    objective = make_objective(config, tiny_data(), np.random.default_rng(0))
    objective.to(torch.device("cpu"))
    test = torch.randn(12, 3)
    arrays = objective.snapshot_arrays({"test": test, "train": torch.randn(36, 3)})
    pairs = objective.saved_tuples()["test_pairs"]
    scores = arrays["head_test_scores"]
    assert scores.shape == (len(pairs),) and scores.dtype == np.float32 and ((scores > 0) & (scores < 1)).all()
    with torch.no_grad():
        logits = objective.head(test, torch.from_numpy(pairs[:, 0]), torch.from_numpy(pairs[:, 1]))
    np.testing.assert_allclose(scores, torch.sigmoid(logits).numpy(), rtol=1e-6)


def test_three_way_pairs_are_saved_with_their_types():
    objective = make_objective(TrainConfig(loss="contrastive-3way", nn_k=3).validate().resolved("cpu"),
                               tiny_data(), np.random.default_rng(0))
    saved = objective.saved_tuples()
    for split in ("train", "val", "test"):
        pairs, types = saved[f"{split}_pairs"], saved[f"{split}_pair_types"]
        assert pairs.shape[1] == 3 and len(types) == len(pairs)
        np.testing.assert_array_equal(pairs[:, 2], (types == 0).astype(int))  # similar = true positive
    rows = objective.train_tuples.numpy()
    np.testing.assert_array_equal(rows[:, :2], saved["train_pairs"][:, :2])
    np.testing.assert_array_equal(rows[:, 2], saved["train_pair_types"])
    assert objective.criterion.margin_fn == 0.5 and objective.criterion.weight_fn == 0.5


# ---------------------------------------------------------------- every method, end to end

END_TO_END = [{"loss": "triplet", "miner": "batch-hard", "images_per_class": 8},
              {"loss": "triplet", "miner": "semi-hard", "images_per_class": 8, "normalize": True},
              {"loss": "bce"}, {"loss": "magnet", "magnet_m": 4, "magnet_d": 4},
              {"loss": "contrastive-3way", "nn_k": 3}]


@pytest.mark.parametrize("options", END_TO_END, ids=lambda o: "-".join(map(str, o.values())))
def test_each_method_trains_an_epoch_and_its_run_opens_in_the_explorer(tmp_path, options):
    from explorer.runs import load_run
    from explorer.summary import summarize
    from training import rundir
    from training.trainer import train

    config = TrainConfig(**options, classes=["4", "9"], epochs=1, max_train=100, shifts=[3], device="cpu",
                         embedding_dim=3, runs_dir=str(tmp_path))
    path = train(config, log=lambda line: None)
    assert rundir.read_status(path)["state"] == rundir.FINISHED
    run = load_run(path)
    assert run.epochs == [0, 1] and run.splits == ["train", "test", "shifted"]
    pairs = run.pairs()
    for split in ("train", "val", "test"):  # every method keeps (i, j, similar) pairs
        assert pairs[f"{split}_pairs"].shape[1] == 3
    summary = summarize(run)
    assert summary["loss"] == options["loss"] and 0 <= summary["knn_accuracy"] <= 1 and summary["auc"] is not None
    assert (summary["magnet_accuracy"] is not None) == (options["loss"] == "magnet")
    assert (summary["head_auc"] is not None) == (options["loss"] == "bce")
    if options["loss"] == "magnet":
        points = run.points(1)
        assert points["magnet_cluster"].between(0, 5).all()  # k 3 per class, 2 classes
        assert summary["magnet_accuracy"] > 0.5
    if options["loss"] == "bce":
        checkpoint = rundir.read_checkpoint(path)
        assert any(k.startswith("head.") for k in checkpoint["extra_state"])  # the head is saved
    if options["loss"] == "contrastive-3way":
        assert set(np.unique(pairs["test_pair_types"])) == {0, 1, 2}
    if options.get("normalize"):
        X, _ = run.embeddings(1, "test")
        np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0, rtol=1e-5)
        assert rundir.read_config(path)["model"]["args"]["normalize"] is True


def test_the_bce_head_starts_from_the_runs_seed_whatever_the_global_random_state():
    config = TrainConfig(loss="bce", embedding_dim=3).validate()
    heads, after = [], []
    for global_seed in (1, 2):
        torch.manual_seed(global_seed)
        heads.append(make_objective(config, tiny_data(), np.random.default_rng(0)).head.state_dict())
        after.append(torch.rand(1))
    torch.manual_seed(1)
    assert torch.equal(after[0], torch.rand(1))  # the global stream is left as it was
    for name in heads[0]:
        assert torch.equal(heads[0][name], heads[1][name])


def test_used_options_leave_out_the_neighbours_where_no_regime_reads_them():
    assert "nn_k" not in used_options("triplet", "batch-hard")  # mined P×K batches: the regime is unused
    assert "nn_k" not in used_options("contrastive", "none", "random")
    assert "nn_k" in used_options("triplet", "none", "nn-other")
    assert "nn_k" in used_options("contrastive-3way", "none", "random")  # reads it without a regime


def test_a_neighbour_count_with_a_miner_is_refused_in_one_line():
    from training.errors import InputError

    with pytest.raises(InputError, match="--nn-k does not apply with --miner batch-hard"):
        TrainConfig(loss="triplet", miner="batch-hard", nn_k=7).validate()
