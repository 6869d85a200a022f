"""The options of a training run, with their defaults and their validation."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from dataclasses import dataclass

from training.errors import InputError
from training.objectives import METHOD_OPTIONS, METHODS, UNMINED, used_options
from training.options import check, option

DATASETS = ("mnist", "fashion-mnist", "folder")
LOSSES = tuple(METHODS)
REGIMES = ("random", "nn-other", "nn-non-neighbour")
DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("auto", "fp32", "tf32", "bf16")
MINERS = ("none", "batch-hard", "semi-hard")
CONTRASTIVE_FORMS = ("seed000", "seed002", "seed004")  # training.losses.CONTRASTIVE_FORMS, without torch
BACKBONES = ("seed-cnn", "small-cnn", "vgg", "resnet18")  # training.backbones.REGISTRY's names, without torch
KNOWN_CLASSES = {
    "mnist": [str(d) for d in range(10)],
    "fashion-mnist": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                      "Sneaker", "Bag", "Ankle boot"],
}
MAX_SNAPSHOTS = 50  # the default --snapshot-every keeps at most about this many snapshots
MIN_IMAGE_SIZE = 16  # the starter CNN's two 5x5 convolutions and poolings need at least 16 px

REGIME_HELP = {
    "random": "positive = any image of the same class, negative = any image of another class (the in-lab)",
    "nn-other": "positive = one of the k nearest same-class neighbours (pixel space), negative = another "
                "class (out-lab regime 1)",
    "nn-non-neighbour": "positive as nn-other; negative = another class or a same-class image that is not a "
                        "neighbour (out-lab regime 2)",
}
DATA, MODEL, MINING = "data", "model and loss", "triplet mining (--loss triplet)"
THREE_WAY, MAGNET = "three-way contrastive (--loss contrastive-3way)", "magnet loss (--loss magnet)"
PROXIES = "ArcFace and Proxy-Anchor (--loss arcface, proxy-anchor)"
OPTIM, OUTPUT = "optimisation", "output"


def _method_help() -> dict:
    return {name: method.help for name, method in METHODS.items()}


# Every option, with its default (the comment says why) and its declaration (training.options):
# the command line, the form, validation and docs/training-options.md are derived from these.
@dataclass
class TrainConfig:
    # Data
    dataset: str = option(  # the bundled 5,000-image MNIST sample unless --data-dir
        "mnist", group=DATA, label="Data set", choices=DATASETS,
        help="mnist reads the bundled 5,000-image sample unless --data-dir is given; fashion-mnist needs its "
             "IDX files; folder needs one sub-folder of images per class")
    data_dir: str | None = option(
        None, group=DATA, label="Data directory",
        help="folder with the MNIST/Fashion-MNIST IDX files, or with one folder per class")
    classes: list[str] = option(  # empty keeps all
        factory=list, group=DATA, label="Classes", metavar="CLASS",
        help="keep only these classes: digits or class indices, or folder names (default: all)")
    image_size: int = option(  # the starter CNN's two 5x5 convolutions and poolings need 16 px
        28, group=DATA, label="Image size", least=MIN_IMAGE_SIZE, most=512,
        help="folder images are made grayscale and resized to this many pixels square")
    test_fraction: float = option(  # where the source has no split
        0.2, group=DATA, label="Test fraction", least=0, above=True, most=1, below=True,
        help="share of each class kept for test where the source has no test split")
    val_fraction: float = option(
        0.1, group=DATA, label="Validation fraction", least=0, above=True, most=1, below=True,
        help="share of each training class kept for the validation loss")
    max_train: int | None = option(  # None keeps all
        None, group=DATA, label="Max training images", least=0, above=True,
        help="use at most this many training images (stratified, seeded)")
    shifts: list[int] = option(  # seed 000's shifted test set
        factory=lambda: [-6, -3, 3, 6], group=DATA, label="Shifts", metavar="PX",
        help="horizontal shifts in pixels of the shifted-augmented test set")
    holdout_classes: list[str] = option(
        factory=list, group=DATA, label="Held-out classes", metavar="CLASS",
        help="keep these classes out of training (train, val and test) and embed all their images as the "
             "split heldout")
    train_shifts: list[int] = option(
        factory=list, group=DATA, label="Training shifts", metavar="PX",
        help="add copies of the training images shifted by these pixels to training; a copy counts as "
             "similar to its source (seed 000, question 8)")

    # Model and loss
    loss: str = option(  # contrastive is seed 000's lab
        "contrastive", group=MODEL, label="Loss", choices=lambda: LOSSES, choice_help=_method_help,
        help="the training method")
    embedding_dim: int = option(  # 2 can be plotted as it is, as in seed 000
        2, group=MODEL, label="Embedding size", least=0, above=True, most=4096,
        help="size of the embedding; 2 can be drawn as it is, larger sizes are projected")
    normalize: bool = option(  # seed 004 pairs this with margin 1
        False, group=MODEL, label="L2-normalise",
        help="L2-normalise the embedding (seed 004 uses margin 1 with it)")
    backbone: str = option(  # seed-cnn is seed 000's starter CNN
        "seed-cnn", group=MODEL, label="Backbone", choices=BACKBONES,
        help="the network that embeds: seed-cnn (seed 000's starter CNN), small-cnn (seed 000's out-lab net), "
             "vgg (seed 004's branch), resnet18 (torchvision's, one-channel 3x3 stem)")
    pretrained: str | None = option(
        None, group=MODEL, label="Pretrained weights", metavar="PATH",
        help="start the backbone below its head from these local weights: a state dict (ImageNet's "
             "resnet18 file fits resnet18) or a run's checkpoint.pt")
    freeze: bool = option(
        False, group=MODEL, label="Freeze the backbone",
        help="train only the backbone's new head (seed 002, transfer approach 1); without it every layer "
             "is fine-tuned")
    margin: float = option(
        1.0, group=MODEL, label="Margin", short="margin {}", least=0, above=True, most=1000.0,
        help="margin m of the contrastive, triplet and three-way losses")
    contrastive_form: str = option(  # seed 000's, the lab's
        "seed000", group=MODEL, label="Contrastive form", short="{} form", choices=CONTRASTIVE_FORMS,
        help="whose contrastive loss (--loss contrastive): seed000 ½·y·d² + ½·(1−y)·max(0, m − d)², "
             "seed002 y·d² + (1−y)·max(m − d, 0), seed004 y·d + (1−y)·max(m − d, 0)")
    regime: str = option(  # seed 000's in-lab
        "random", group=MODEL, label="Pair regime", short="{} pairs", choices=REGIMES,
        choice_help=lambda: REGIME_HELP, help="how positive and negative partners are drawn (seed 000)")
    nn_k: int = option(
        5, group=MODEL, label="Neighbours k", short="k {}", least=0, above=True,
        help="nn regimes and contrastive-3way: positives come from this many nearest same-class neighbours "
             "in pixel space")

    # Triplet mining (seed 004): online, inside class-balanced batches
    miner: str = option(  # none keeps the regime's triplets
        "none", group=MINING, label="Miner", short="{} miner", choices=MINERS,
        help="none uses the regime's triplets; batch-hard and semi-hard mine each class-balanced batch "
             "with pytorch-metric-learning")
    classes_per_batch: int | None = option(  # None takes every class, at most 10
        None, group=MINING, label="Classes per batch P", short="P {}", metavar="P", least=2, most=10_000,
        help="with a miner: P classes in each batch (default: every class, at most 10)")
    images_per_class: int = option(  # 10 classes x 16 = 160 images a step on MNIST
        16, group=MINING, label="Images per class K", short="K {}", metavar="K", least=2, most=10_000,
        help="with a miner: K images of each class in each batch")

    # Three-way contrastive (seed 000, out-lab idea 2)
    margin_fn: float | None = option(  # None is margin / 2
        None, group=THREE_WAY, label="False-negative margin", short="m_fn {}", least=0, above=True,
        most=1000.0, help="margin m_fn of the false-negative pairs (default: --margin / 2)")
    weight_fn: float = option(  # pushed away half as hard as negatives
        0.5, group=THREE_WAY, label="False-negative weight", short="w_fn {}", least=0, most=1000.0,
        help="weight w_fn of the false-negative pairs, against 1 for negatives")

    # Magnet loss (seed 001; its run: epochs 15, m 8, d 8, k 3, alpha 1, and alpha 1.5)
    alpha: float = option(
        1.0, group=MAGNET, label="Margin α", short="α {}", least=0, most=1000.0,
        help="margin α between a point's cluster and the impostor clusters")
    magnet_k: int = option(
        3, group=MAGNET, label="Clusters per class k", short="k {}", least=1, most=1000,
        help="K clusters per class, by k-means in the embedding space")
    magnet_m: int = option(  # a batch needs impostor clusters
        8, group=MAGNET, label="Clusters per batch m", short="m {}", least=2, most=1000,
        help="clusters per batch: a seed cluster and its m − 1 nearest impostor clusters")
    magnet_d: int = option(  # a cluster's batch mean needs two examples
        8, group=MAGNET, label="Examples per cluster d", short="d {}", least=2, most=10_000,
        help="examples drawn from each cluster of a batch")
    magnet_l: int = option(  # as many as a batch has
        8, group=MAGNET, label="Closest centres L", short="L {}", least=1, most=10_000,
        help="evaluation: softmax over the L closest cluster centres")
    magnet_refresh: int = option(
        1, group=MAGNET, label="Refresh clusters every", short="refresh every {}", metavar="EPOCHS", least=1,
        help="re-run k-means on the current embeddings every this many epochs")

    # ArcFace and Proxy-Anchor (pytorch-metric-learning): a learnable vector per class
    arcface_margin: float = option(  # PML's default
        28.6, group=PROXIES, label="Angular margin (°)", short="margin {}°", metavar="DEGREES", least=0,
        above=True, most=90.0, help="ArcFace's additive angular margin, in degrees")
    arcface_scale: float = option(  # PML's default
        64.0, group=PROXIES, label="Scale s", short="s {}", least=0, above=True, most=1000.0,
        help="ArcFace's scale s of the softmax")
    proxy_margin: float = option(  # PML's default
        0.1, group=PROXIES, label="Margin δ", short="δ {}", least=0, above=True, most=10.0,
        help="Proxy-Anchor's margin δ")
    proxy_alpha: float = option(  # PML's default
        32.0, group=PROXIES, label="Scale α", short="α {}", least=0, above=True, most=1000.0,
        help="Proxy-Anchor's scale α")

    # Optimisation
    epochs: int = option(  # a few epochs separate 4 from 9 in 2-D
        5, group=OPTIM, label="Epochs", least=0, above=True, most=100_000, help="passes over the training pairs")
    batch_size: int = option(
        128, group=OPTIM, label="Batch size", short="batch {}", least=0, above=True,
        help="pairs (or triplets, or images) per optimiser step (not magnet, nor a miner: their batches "
             "are m × d and P × K images)")
    lr: float = option(
        1e-3, group=OPTIM, label="Learning rate", least=0, above=True, most=10.0, help="Adam learning rate")
    seed: int = option(
        0, group=OPTIM, label="Seed", least=0, most=4_294_967_295,
        help="seed of splits, pairs, weights and batch order")
    device: str = option(
        "auto", group=OPTIM, label="Device", choices=DEVICES,
        help="auto uses CUDA when available; under torchrun each rank takes its own GPU")
    precision: str = option(
        "auto", group=OPTIM, label="Precision", choices=PRECISIONS,
        help="auto is bf16 autocast on CUDA and fp32 on CPU; tf32 allows TF32 matmuls")
    compile: bool = option(  # pays a compile at start, faster steps after
        False, group=OPTIM, label="Compile", help="torch.compile the network: a compile at start, faster steps after")

    # Output
    runs_dir: str = option(  # EXPLORER_RUNS_DIR sets the default
        "runs", group=OUTPUT, label="Runs directory", flag=False,
        help="where runs live (default: $EXPLORER_RUNS_DIR or ./runs)")
    snapshot_every: int | None = option(  # None keeps about 50 in all
        None, group=OUTPUT, label="Snapshot every", metavar="N", least=0, above=True,
        help="keep the embeddings of every N-th epoch; epoch 0 and the last are always kept (default: "
             "about 50 snapshots in all)")
    snapshot_max_points: int | None = option(  # the last epoch stores all
        None, group=OUTPUT, label="Snapshot points", metavar="K", least=0, above=True,
        help="per split, store a seeded subset of K points in each snapshot (the same points every epoch); "
             "the last epoch stores every point")
    name: str | None = option(None, group=OUTPUT, label="Run name", help="label added to the run directory's name")
    preset: str | None = option(  # a record only
        None, group=OUTPUT, label="Preset", flag=False,
        help="the --preset (training.presets) the options came from")

    def validate(self) -> "TrainConfig":
        """Check every option; raise InputError with one sentence naming the first bad one."""
        _check_types(self)  # values from JSON (--options, the app) may be of any type
        check(self)  # each option's declared choices and limits
        if self.dataset in ("fashion-mnist", "folder") and not self.data_dir:
            raise InputError(f"--dataset {self.dataset} needs --data-dir DIR pointing at its files")
        if self.data_dir and Path(self.data_dir).expanduser().is_file():
            raise InputError(f"--data-dir {self.data_dir} is a file, not a folder: give the folder that "
                             f"holds the data set")
        if self.data_dir and not Path(self.data_dir).expanduser().is_dir():
            raise InputError(f"--data-dir {self.data_dir} does not exist or is not a directory")
        if Path(self.runs_dir).expanduser().exists() and not Path(self.runs_dir).expanduser().is_dir():
            raise InputError(f"--runs-dir {self.runs_dir} is a file, not a folder: choose a folder for the runs")
        for shift in self.shifts:
            if abs(shift) >= self.image_size:
                raise InputError(f"--shifts must be smaller than the image ({self.image_size} px), got {shift}")
        self._validate_classes()
        self._validate_holdout()
        self._validate_train_shifts()
        self._validate_backbone_options()
        self._validate_method_options()
        return self

    def _validate_backbone_options(self) -> None:
        if self.pretrained and not Path(self.pretrained).expanduser().is_file():
            raise InputError(f"--pretrained {self.pretrained} does not exist or is not a file")
        if METHODS[self.loss].backbone:
            return
        for option, value in (("--backbone", self.backbone != TrainConfig.backbone),
                              ("--pretrained", self.pretrained), ("--freeze", self.freeze)):
            if value:
                raise InputError(f"{option} does not apply to --loss {self.loss}: it brings its own "
                                 f"embedding, with nothing to train")

    def _validate_holdout(self) -> None:
        """Held-out classes must be among the chosen ones and leave two or more to train on."""
        if not self.holdout_classes:
            return
        known = self.known_classes()
        if known is None:
            return  # a folder that cannot be listed: load_splits says so

        def name(c: str) -> str:
            return known[int(c)] if c not in known and c.isdigit() and int(c) < len(known) else c

        chosen = {name(c) for c in self.classes} if self.classes else set(known)
        for wanted in self.holdout_classes:
            if name(wanted) not in chosen:
                among = "the chosen --classes" if self.classes else "the data set's classes"
                raise InputError(f"--holdout-classes {wanted} is not among {among}")
        if len(chosen - {name(c) for c in self.holdout_classes}) < 2:
            raise InputError("--holdout-classes must leave at least two classes to train on")

    def _validate_train_shifts(self) -> None:
        if len(set(self.train_shifts)) != len(self.train_shifts):
            raise InputError(f"--train-shifts has a shift twice: {self.train_shifts}")
        for shift in self.train_shifts:
            if shift == 0 or abs(shift) >= self.image_size:
                raise InputError(f"--train-shifts must be non-zero shifts smaller than the image, got {shift}")

    def _validate_method_options(self) -> None:
        """Refuse a value for an option the chosen method does not read, rather than ignore it."""
        used = set(used_options(self.loss, self.miner))
        defaults = TrainConfig()
        for name in METHOD_OPTIONS:
            if name in used or getattr(self, name) == getattr(defaults, name):
                continue
            option = f"--{name.replace('_', '-')}"
            if self.loss == "triplet" and name in UNMINED:
                raise InputError(f"{option} does not apply with --miner {self.miner}: each batch is "
                                 f"--classes-per-batch x --images-per-class images, mined for triplets")
            if self.loss == "triplet" and name in ("classes_per_batch", "images_per_class"):
                raise InputError(f"{option} applies only with --miner batch-hard or semi-hard")
            owners = [m for m, method in METHODS.items() if name in method.options]
            raise InputError(f"{option} does not apply to --loss {self.loss}; it is an option of "
                             f"{' and '.join(owners)}")

    def known_classes(self) -> list[str] | None:
        """The class names the data set offers, where they are known without reading it."""
        if self.dataset == "folder":
            root = Path(self.data_dir).expanduser()
            if not root.is_dir():
                return None
            try:  # hidden folders (.git, .ipynb_checkpoints) are not classes (training.data skips them)
                return sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
            except OSError:
                return None  # load_splits says what is wrong with the folder
        return KNOWN_CLASSES[self.dataset]

    def _validate_classes(self) -> None:
        if not self.classes:
            return
        if len(set(self.classes)) < 2:
            raise InputError("--classes needs at least two different classes, e.g. --classes 4 9")
        known = self.known_classes()
        if known is None:
            return
        for wanted in self.classes:
            if wanted not in known and not (wanted.isdigit() and int(wanted) < len(known)):
                shown = ", ".join(known[:30]) + (" ..." if len(known) > 30 else "")
                raise InputError(f"unknown class {wanted!r}; choose from: {shown}")

    def run_name_hint(self) -> str:
        """The readable middle of the run directory's name, e.g. ``mnist-4-9-contrastive-random``."""
        regime = self.regime if "regime" in used_options(self.loss, self.miner) else None
        miner = self.miner if self.miner != "none" else None
        form = self.contrastive_form if self.loss == "contrastive" and self.contrastive_form != "seed000" else None
        held = "held-out-" + "-".join(self.holdout_classes) if self.holdout_classes else None
        what = re.sub(r"[^A-Za-z0-9_.-]+", "_", "-".join(filter(None, [self.dataset, "-".join(self.classes), held,
                                                                       self.loss, form, regime, miner])))
        room = max(80 - len(what) - 1, 16)  # a long label (a sweep's values and seed) gives way first
        label = shorten_words(re.sub(r"[^A-Za-z0-9_.-]+", "_", self.name), room) if self.name else ""
        return shorten_words("-".join(filter(None, [label, what])), 80)

    def resolved(self, device_type: str) -> "TrainConfig":
        """A copy with the automatic choices made for ``device_type``, as config.json records them."""
        precision = self.precision
        if precision == "auto":
            precision = "bf16" if device_type == "cuda" else "fp32"
        every = self.snapshot_every or default_snapshot_every(self.epochs)
        margin_fn = self.false_negative_margin() if "margin_fn" in METHODS[self.loss].options else self.margin_fn
        return dataclasses.replace(self, precision=precision, snapshot_every=every, margin_fn=margin_fn)

    def false_negative_margin(self) -> float:
        """m_fn of the three-way loss: --margin-fn, or half the margin when it is not given."""
        return self.margin / 2 if self.margin_fn is None else self.margin_fn

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, saved: dict) -> "TrainConfig":
        """The options of a saved config.json (its other keys, such as class_names, are dropped)."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in saved.items() if k in names})


def shorten_words(name: str, limit: int) -> str:
    """``name`` cut to at most ``limit`` characters at a word boundary (``-`` or ``_``), never mid-word."""
    if len(name) <= limit:
        return name
    cut = max(name.rfind("-", 0, limit + 1), name.rfind("_", 0, limit + 1))
    return name[:cut if cut > 0 else limit].rstrip("-_")


def default_snapshot_every(epochs: int) -> int:
    return max(1, -(-epochs // MAX_SNAPSHOTS))


def snapshot_plan(epochs: int, every: int) -> list[int]:
    """The epochs that get a snapshot: 0 (the untrained network), every ``every``-th, and the last."""
    return sorted({0, epochs, *range(every, epochs + 1, every)})


_TYPES = {"str": ((str,), "text"), "int": ((int,), "a whole number"), "float": ((int, float), "a number"),
          "bool": ((bool,), "true or false")}


def _type_ok(value, annotation: str) -> bool:
    for kind in annotation.replace(" ", "").split("|"):
        if kind == "None" and value is None:
            return True
        if kind.startswith("list[") and isinstance(value, list):
            if all(_type_ok(v, kind[5:-1]) for v in value):
                return True
        elif kind in _TYPES and isinstance(value, _TYPES[kind][0]) and (kind == "bool" or not isinstance(value, bool)):
            return True
    return False


def _check_types(config: TrainConfig) -> None:
    """Every option of its declared type (``--options`` JSON and the app may send anything)."""
    for f in dataclasses.fields(config):
        value, annotation = getattr(config, f.name), str(f.type)
        if _type_ok(value, annotation):
            continue
        kinds = [k for k in annotation.replace(" ", "").split("|") if k != "None"]
        kind = kinds[0] if kinds else "str"
        wanted = (f"a list of {_TYPES.get(kind[5:-1], ((), 'values'))[1]}" if kind.startswith("list[")
                  else _TYPES.get(kind, ((), kind))[1])
        raise InputError(f"--{f.name.replace('_', '-')} must be {wanted}, got {value!r}"[:200])
