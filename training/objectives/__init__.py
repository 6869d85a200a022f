"""Training methods, registered in one place: ``METHODS``. The loop (training.loop) knows none by name.

A method is an ``Objective`` subclass (see ``base``): a sampler that yields index tuples for each
batch, a loss over the batch's embeddings, optional per-epoch hooks and extra outputs. Adding a
method means writing one such class and adding one entry here (its options declared on
``TrainConfig``, see training.options); the loop, the CLI's ``--loss`` choices, the options a
method accepts (``TrainConfig.validate``), the app's form and the options table follow. This
module imports no torch, so the CLI and the app can list the methods without it.
"""

from __future__ import annotations

from importlib import import_module
from typing import NamedTuple


class Method(NamedTuple):
    module: str
    cls: str
    help: str  # one line for --help and the app's form
    options: tuple[str, ...]  # the TrainConfig fields this method reads beyond those every method reads
    backbone: bool = True  # False: the method brings its own embedding (pca); --backbone does not apply


METHODS: dict[str, Method] = {
    "contrastive": Method(
        "training.objectives.pairwise", "Contrastive",
        "seed 000: ½·y·d² + ½·(1−y)·max(0, m − d)² on the regime's pairs (--contrastive-form "
        "seed002: y·d² + (1−y)·max(m − d, 0); seed004: y·d + (1−y)·max(m − d, 0))",
        ("margin", "contrastive_form", "regime", "nn_k", "batch_size")),
    "triplet": Method(
        "training.objectives.pairwise", "Triplet",
        "seeds 000/004: max(d(a, p) − d(a, n) + m, 0) on the regime's triplets, or on triplets "
        "mined in P×K class-balanced batches (--miner)",
        ("margin", "regime", "nn_k", "batch_size", "miner", "classes_per_batch", "images_per_class")),
    "bce": Method(
        "training.objectives.bce", "SiameseBCE",
        "seeds 002/004: a Siamese MLP head with one sigmoid output on the two embeddings, binary "
        "cross-entropy on the regime's 50/50 pairs",
        ("regime", "nn_k", "batch_size")),
    "magnet": Method(
        "training.objectives.magnet", "Magnet",
        "seed 001: magnet loss, k-means clusters per class, neighbourhood batches of m clusters × "
        "d examples, margin α",
        ("alpha", "magnet_k", "magnet_m", "magnet_d", "magnet_l", "magnet_refresh")),
    "contrastive-3way": Method(
        "training.objectives.pairwise", "ThreeWayContrastive",
        "seed 000 idea 2: true positives ½·d², false negatives ½·w_fn·max(0, m_fn − d)², "
        "negatives ½·max(0, m − d)²",
        ("margin", "nn_k", "batch_size", "margin_fn", "weight_fn")),
    "classifier": Method(
        "training.objectives.baselines", "Classifier",
        "seed 004's baseline: cross-entropy on a linear head over the embedding, the layer before it",
        ("batch_size",)),
    "autoencoder": Method(
        "training.objectives.baselines", "Autoencoder",
        "seed 002's baseline: a convolutional autoencoder whose bottleneck is the embedding "
        "(mean squared reconstruction error)",
        ("batch_size",)),
    "arcface": Method(
        "training.objectives.proxies", "ArcFace",
        "ArcFace (pytorch-metric-learning): softmax over the angles to learnable class vectors, "
        "with an additive angular margin",
        ("batch_size", "arcface_margin", "arcface_scale")),
    "proxy-anchor": Method(
        "training.objectives.proxies", "ProxyAnchor",
        "Proxy-Anchor (pytorch-metric-learning): each class's learnable proxy anchors its "
        "positives and negatives in the batch",
        ("batch_size", "proxy_margin", "proxy_alpha")),
    "pca": Method(
        "training.objectives.baselines", "PCA",
        "seed 002's linear baseline: the PCA of the training pixels, no training",
        (), backbone=False),
}


# Options that only some methods read: those the entries above list. Every other option (data,
# embedding size, --normalize, optimisation, snapshots) applies to every method. A method's form
# shows only its own ones, and TrainConfig.validate refuses a value other than the default for an
# option the method ignores.
METHOD_OPTIONS = tuple(dict.fromkeys(o for method in METHODS.values() for o in method.options))

MINED = ("classes_per_batch", "images_per_class")  # triplet's options with a --miner
UNMINED = ("regime", "nn_k", "batch_size")  # triplet's options without one (a mined run's regime is random)
NEIGHBOUR_OPTIONS = ("nn_k",)  # a method with a regime reads these only under the nearest-neighbour regimes


def used_options(loss: str, miner: str = "none", regime: str | None = None) -> tuple[str, ...]:
    """The options of METHOD_OPTIONS that ``loss`` reads: a mined triplet run draws P×K
    class-balanced batches, so it reads classes_per_batch and images_per_class instead of the
    regime, its neighbours and the batch size; without a miner, the other way round. Given its
    ``regime``, a method that draws its tuples by the regime reads nn_k only under an nn regime."""
    options = METHODS[loss].options
    if loss == "triplet":
        dropped = UNMINED if miner != "none" else MINED
        options = tuple(o for o in options if o not in dropped)
    if regime == "random" and "regime" in options:
        options = tuple(o for o in options if o not in NEIGHBOUR_OPTIONS)
    return options


def objective_class(name: str):
    method = METHODS[name]
    return getattr(import_module(method.module), method.cls)


def make_objective(config, data, rng):
    """The objective that ``config.loss`` names, built on the run's data."""
    return objective_class(config.loss)(config, data, rng)
