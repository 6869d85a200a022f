"""The options of a training run, with their defaults and their validation."""

from __future__ import annotations

import dataclasses
import math
import re
from pathlib import Path
from dataclasses import dataclass, field

from training.errors import InputError
from training.objectives import METHOD_OPTIONS, METHODS, used_options

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
# Upper bounds: beyond these a value is a typo, and it would allocate or run without end.
LIMITS = {"epochs": 100_000, "embedding_dim": 4096, "image_size": 512, "seed": 4_294_967_295, "lr": 10.0,
          "margin": 1000.0, "margin_fn": 1000.0, "alpha": 1000.0, "weight_fn": 1000.0,
          "magnet_k": 1000, "magnet_m": 1000, "magnet_d": 10_000, "magnet_l": 10_000,
          "images_per_class": 10_000, "classes_per_batch": 10_000}


@dataclass
class TrainConfig:
    # Data
    dataset: str = "mnist"  # mnist (bundled 5,000-image sample unless --data-dir), fashion-mnist, folder
    data_dir: str | None = None  # IDX files for mnist / fashion-mnist, class folders for folder
    classes: list[str] = field(default_factory=list)  # keep only these (digits, or folder names); empty keeps all
    image_size: int = 28  # folder images are converted to grayscale and resized to this square
    test_fraction: float = 0.2  # share of each class held out for test, where the source has no split
    val_fraction: float = 0.1  # share of each training class held out for validation loss
    max_train: int | None = None  # cap on training images (stratified, seeded); None keeps all
    shifts: list[int] = field(default_factory=lambda: [-6, -3, 3, 6])  # px, seed 000's shifted test set
    holdout_classes: list[str] = field(default_factory=list)  # kept out of training, embedded as the split heldout
    train_shifts: list[int] = field(default_factory=list)  # px; shifted copies of the training images join training

    # Model and loss
    loss: str = "contrastive"  # a method of training.objectives.METHODS; contrastive is seed 000's lab
    embedding_dim: int = 2  # 2 can be plotted as it is, as in seed 000
    normalize: bool = False  # L2-normalise the embedding; seed 004 pairs this with margin 1
    backbone: str = "seed-cnn"  # a network of training.backbones; seed-cnn is seed 000's starter CNN
    pretrained: str | None = None  # local weights (a state dict or a run's checkpoint.pt) below the head
    freeze: bool = False  # train only the backbone's head (seed 002, transfer approach 1)
    margin: float = 1.0  # m of the contrastive, triplet and three-way losses
    contrastive_form: str = "seed000"  # whose contrastive loss: seed000 ½d² and ½max(0,m−d)², seed002, seed004
    regime: str = "random"  # how pairs are drawn: random, nn-other, nn-non-neighbour (seed 000)
    nn_k: int = 5  # positives come from this many nearest same-class neighbours in pixel space

    # Triplet mining (seed 004): online, inside class-balanced batches
    miner: str = "none"  # none keeps the regime's triplets; batch-hard, semi-hard mine each batch (PML)
    classes_per_batch: int | None = None  # P of a mined batch; None takes every class, at most 10
    images_per_class: int = 16  # K of a mined batch: 10 classes x 16 = 160 images a step on MNIST

    # Three-way contrastive (seed 000, out-lab idea 2)
    margin_fn: float | None = None  # margin of false-negative pairs; None is margin / 2
    weight_fn: float = 0.5  # weight of false-negative pairs: pushed away half as hard as negatives

    # Magnet loss (seed 001; its run: epochs 15, m 8, d 8, k 3, alpha 1, and alpha 1.5)
    alpha: float = 1.0  # margin alpha between a point's own cluster and the impostor clusters
    magnet_k: int = 3  # K clusters per class, by k-means in the embedding space
    magnet_m: int = 8  # clusters per batch: a seed cluster and its m - 1 nearest impostor clusters
    magnet_d: int = 8  # examples drawn from each cluster of a batch
    magnet_l: int = 8  # evaluation: softmax over the L closest cluster centres (as many as a batch has)
    magnet_refresh: int = 1  # re-run k-means on the current embeddings every this many epochs

    # Optimisation
    epochs: int = 5  # a few epochs separate 4 from 9 in 2-D
    batch_size: int = 128  # pairs (or triplets) per step
    lr: float = 1e-3  # Adam's learning rate
    seed: int = 0  # drives splits, pairs, weights and batch order
    device: str = "auto"  # auto takes cuda when available
    precision: str = "auto"  # auto: bf16 autocast on CUDA, fp32 on CPU; tf32 allows TF32 matmuls
    compile: bool = False  # torch.compile the network (pays a compile at start, faster steps after)

    # Snapshots
    snapshot_every: int | None = None  # keep every N-th epoch's embeddings; None keeps about 50 in all
    snapshot_max_points: int | None = None  # per split, store a seeded subset this large (last epoch: all)

    # Output
    runs_dir: str = "runs"  # parent of the run directory; EXPLORER_RUNS_DIR sets the default
    name: str | None = None  # optional label in the run directory's name
    preset: str | None = None  # the --preset (training.presets) the options came from; a record only

    def validate(self) -> "TrainConfig":
        """Check every option; raise InputError with one sentence naming the first bad one."""
        _check_types(self)  # values from JSON (--options, the app) may be of any type
        _choice("dataset", self.dataset, DATASETS)
        _choice("loss", self.loss, LOSSES)
        _choice("regime", self.regime, REGIMES)
        _choice("device", self.device, DEVICES)
        _choice("precision", self.precision, PRECISIONS)
        _choice("miner", self.miner, MINERS)
        _choice("contrastive-form", self.contrastive_form, CONTRASTIVE_FORMS)
        _choice("backbone", self.backbone, BACKBONES)
        _positive("epochs", self.epochs)
        _positive("embedding-dim", self.embedding_dim)
        _positive("margin", self.margin)
        _positive("batch-size", self.batch_size)
        _positive("lr", self.lr)
        _positive("nn-k", self.nn_k)
        for name in ("max_train", "snapshot_every", "snapshot_max_points", "margin_fn"):
            if getattr(self, name) is not None:
                _positive(name.replace("_", "-"), getattr(self, name))
        _at_least("magnet-k", self.magnet_k, 1)
        _at_least("magnet-m", self.magnet_m, 2)  # a batch needs impostor clusters
        _at_least("magnet-d", self.magnet_d, 2)  # a cluster's batch mean needs two examples
        _at_least("magnet-l", self.magnet_l, 1)
        _at_least("magnet-refresh", self.magnet_refresh, 1)
        _at_least("images-per-class", self.images_per_class, 2)  # a positive needs two
        if self.classes_per_batch is not None:
            _at_least("classes-per-batch", self.classes_per_batch, 2)  # a negative needs two
        for name in ("weight_fn", "alpha"):
            if not getattr(self, name) >= 0:
                raise InputError(f"--{name.replace('_', '-')} must be 0 or more, got {getattr(self, name)}")
        if self.image_size < MIN_IMAGE_SIZE:
            raise InputError(f"--image-size must be at least {MIN_IMAGE_SIZE}, got {self.image_size}")
        for name in ("test_fraction", "val_fraction"):
            value = getattr(self, name)
            if not 0 < value < 1:
                raise InputError(f"--{name.replace('_', '-')} must be between 0 and 1, got {value}")
        if self.dataset in ("fashion-mnist", "folder") and not self.data_dir:
            raise InputError(f"--dataset {self.dataset} needs --data-dir DIR pointing at its files")
        if self.data_dir and Path(self.data_dir).expanduser().is_file():
            raise InputError(f"--data-dir {self.data_dir} is a file, not a folder: give the folder that "
                             f"holds the data set")
        if self.data_dir and not Path(self.data_dir).expanduser().is_dir():
            raise InputError(f"--data-dir {self.data_dir} does not exist or is not a directory")
        if self.seed < 0:
            raise InputError(f"--seed must be 0 or more, got {self.seed}")
        _check_limits(self)
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
            if self.loss == "triplet" and name in ("regime", "batch_size"):
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
        margin_fn = self.margin_fn
        if margin_fn is None and "margin_fn" in METHODS[self.loss].options:
            margin_fn = self.margin / 2
        return dataclasses.replace(self, precision=precision, snapshot_every=every, margin_fn=margin_fn)

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


def snapshot_epochs(epochs: int, every: int) -> list[int]:
    """The epochs that get a snapshot: 0 (the untrained network), every ``every``-th, and the last."""
    return sorted({0, epochs, *range(every, epochs + 1, every)})


def _choice(option: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise InputError(f"unknown --{option} {value!r}; choose one of: {', '.join(allowed)}")


def _positive(option: str, value: float) -> None:
    if not value > 0:
        raise InputError(f"--{option} must be positive, got {value}")
    if isinstance(value, float) and not math.isfinite(value):
        raise InputError(f"--{option} must be a finite number, got {value}")


def _check_limits(config: TrainConfig) -> None:
    for name, limit in LIMITS.items():
        value = getattr(config, name)
        if isinstance(value, float) and not math.isfinite(value):
            raise InputError(f"--{name.replace('_', '-')} must be a finite number, got {value}")
        if value is not None and value > limit:
            raise InputError(f"--{name.replace('_', '-')} must be at most {limit if isinstance(limit, int) else f'{limit:g}'}, got {value}")


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


def _at_least(option: str, value: int, least: int) -> None:
    if not value >= least:
        raise InputError(f"--{option} must be at least {least}, got {value}")
