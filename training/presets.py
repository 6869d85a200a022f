"""Presets: the seeds' experiments as named sets of options, for ``--preset NAME``.

A preset fills every option it names; the rest keep TrainConfig's defaults, and options written on
the command line override both. A sweep preset also names the options it sweeps, and runs only
through ``python -m training sweep``. The values come from the seed documents (../shared/seeds/).
Imports no torch: the CLI, the app's form and sweeps read the same table.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from training.errors import InputError

SEED000 = {"dataset": "mnist", "classes": ["4", "9"], "embedding_dim": 2, "margin": 1.0, "epochs": 5,
           "shifts": [-6, -3, 3, 6]}  # the lab: MNIST 4 vs 9, 2-D so it plots as it is, m = 1
OUTLAB = {**SEED000, "backbone": "small-cnn", "nn_k": 5}  # the out-lab's smaller CNN, top-5 neighbours
MAGNET = {"dataset": "mnist", "classes": [], "loss": "magnet", "embedding_dim": 2, "epochs": 15,
          "magnet_m": 8, "magnet_d": 8, "magnet_k": 3, "alpha": 1.0}  # seed 001's MNIST run
SEED004 = {"dataset": "fashion-mnist", "classes": [], "backbone": "vgg", "embedding_dim": 32,
           "normalize": True, "regime": "random", "epochs": 5}  # VGG branch, 32-D, L2-normalised

FASHION_FILES = ("Fashion-MNIST, which is not bundled: put train-images-idx3-ubyte, train-labels-idx1-ubyte, "
                 "t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte (or the same names with .gz) in a folder "
                 "and give it as --data-dir")
FOLDER_FILES = ("a folder-per-class image set (seed 003 used ZooScanNet plankton): give --data-dir DIR, "
                "with one sub-folder of images for each class")
RESNET_WEIGHTS = ("pretrained weights, which are not bundled (nothing is downloaded): give --pretrained PATH, "
                  "a local ImageNet resnet18 state dict (torchvision's resnet18-f37072fd.pth) or the "
                  "checkpoint.pt of a resnet18 run")


class Preset(NamedTuple):
    help: str  # one line: what the preset is, for `python -m training presets`
    options: dict[str, Any]  # TrainConfig field -> value
    swept: dict[str, list] = {}  # a sweep preset: TrainConfig field -> the values it sweeps
    needs: dict[str, str] = {}  # an option the user must give -> what to give (data that is not bundled)


PRESETS: dict[str, Preset] = {
    "seed000-inlab": Preset(
        "seed 000 in-lab: contrastive loss, random pairs, MNIST 4 vs 9, 2-D, seed CNN",
        {**SEED000, "loss": "contrastive", "regime": "random", "backbone": "seed-cnn"}),
    "seed000-outlab-regime1": Preset(
        "seed 000 out-lab regime 1: top-5 nearest-neighbour positives, other-class negatives (nn-other), "
        "small CNN, 2-D",
        {**OUTLAB, "loss": "contrastive", "regime": "nn-other"}),
    "seed000-outlab-regime2": Preset(
        "seed 000 out-lab regime 2: negatives also among same-class non-neighbours (nn-non-neighbour), "
        "small CNN, 2-D",
        {**OUTLAB, "loss": "contrastive", "regime": "nn-non-neighbour"}),
    "seed000-outlab-seed-cnn": Preset(
        "seed 000 out-lab regime 1 with the lab's starter CNN instead of the smaller one (beside "
        "seed000-outlab-regime1: does the smaller CNN spread more?)",
        {**OUTLAB, "loss": "contrastive", "regime": "nn-other", "backbone": "seed-cnn"}),
    "seed000-triplet-nn": Preset(
        "seed 000 out-lab idea 1: triplet loss with a nearest-neighbour positive and an other-class "
        "negative, small CNN, 2-D",
        {**OUTLAB, "loss": "triplet", "regime": "nn-other"}),
    "seed000-3way": Preset(
        "seed 000 out-lab idea 2: contrastive loss over true positives, false negatives and negatives "
        "(contrastive-3way), small CNN, 2-D",
        {**OUTLAB, "loss": "contrastive-3way"}),
    "seed000-augmented": Preset(
        "seed 000 question 8: the in-lab run trained with copies shifted by -6 -3 3 6 px (--train-shifts)",
        {**SEED000, "loss": "contrastive", "regime": "random", "backbone": "seed-cnn",
         "train_shifts": [-6, -3, 3, 6]}),
    "seed001-magnet": Preset(
        "seed 001: magnet loss on MNIST's 10 digits, 2-D, epochs 15, m 8, d 8, k 3, alpha 1",
        MAGNET),
    "seed001-magnet-alpha1.5": Preset(
        "seed 001: the same magnet run with alpha 1.5",
        {**MAGNET, "alpha": 1.5}),
    "seed001-triplet": Preset(
        "seed 001's comparison: triplet loss (random triplets) on MNIST's 10 digits, 2-D, 15 epochs, as the "
        "magnet run",
        {"dataset": "mnist", "classes": [], "loss": "triplet", "regime": "random", "embedding_dim": 2,
         "epochs": 15}),
    "seed002-contrastive": Preset(
        "seed 002's Siamese net: contrastive loss in seed 002's form, y·d² + (1−y)·max(m − d, 0), on MNIST's "
        "10 digits, 32-D (beside its autoencoder and PCA baselines)",
        {"dataset": "mnist", "classes": [], "loss": "contrastive", "contrastive_form": "seed002",
         "regime": "random", "embedding_dim": 32, "epochs": 5}),
    "seed002-pca": Preset(
        "seed 002's linear baseline: the PCA of MNIST's training pixels, 32-D, no training",
        {"dataset": "mnist", "classes": [], "loss": "pca", "embedding_dim": 32, "epochs": 1}),
    "seed002-autoencoder": Preset(
        "seed 002's unsupervised baseline: a convolutional autoencoder on MNIST's 10 digits, 32-D bottleneck",
        {"dataset": "mnist", "classes": [], "loss": "autoencoder", "embedding_dim": 32, "epochs": 5}),
    "seed002-transfer-frozen": Preset(
        "seed 002 transfer approach 1: a frozen pretrained ResNet-18 with a new 32-D head, trained by "
        "triplet loss on MNIST's 10 digits (needs --pretrained)",
        {"dataset": "mnist", "classes": [], "loss": "triplet", "regime": "random", "backbone": "resnet18",
         "freeze": True, "embedding_dim": 32, "epochs": 5},
        needs={"pretrained": RESNET_WEIGHTS}),
    "seed002-transfer-finetuned": Preset(
        "seed 002 transfer approach 2: the same pretrained ResNet-18 and 32-D head, every weight fine-tuned "
        "(needs --pretrained)",
        {"dataset": "mnist", "classes": [], "loss": "triplet", "regime": "random", "backbone": "resnet18",
         "freeze": False, "embedding_dim": 32, "epochs": 5},
        needs={"pretrained": RESNET_WEIGHTS}),
    "seed003-folder-triplet64": Preset(
        "seed 003: triplet loss, 64-D embeddings of a folder-per-class image set at 64 px, 100 epochs "
        "(train/val loss curves; SVM and k-means in explorer summary) (needs --data-dir)",
        {"dataset": "folder", "loss": "triplet", "regime": "random", "embedding_dim": 64, "image_size": 64,
         "epochs": 100},
        needs={"data_dir": FOLDER_FILES}),
    "seed004-bce": Preset(
        "seed 004: Siamese BCE head on Fashion-MNIST, VGG branch, 32-D, L2-normalised, 50/50 random pairs "
        "(needs --data-dir)",
        {**SEED004, "loss": "bce"},
        needs={"data_dir": FASHION_FILES}),
    "seed004-contrastive": Preset(
        "seed 004: contrastive loss in seed 004's form, y·d + (1−y)·max(m − d, 0), on Fashion-MNIST, VGG "
        "branch, 32-D, L2-normalised, margin 1 (needs --data-dir)",
        {**SEED004, "loss": "contrastive", "contrastive_form": "seed004", "margin": 1.0},
        needs={"data_dir": FASHION_FILES}),
    "seed004-triplet": Preset(
        "seed 004: triplet loss on Fashion-MNIST, VGG branch, 32-D, L2-normalised, margin 1 "
        "(needs --data-dir)",
        {**SEED004, "loss": "triplet", "margin": 1.0},
        needs={"data_dir": FASHION_FILES}),
    "seed004-classifier": Preset(
        "seed 004's baseline: the same VGG branch trained as a classifier (cross-entropy), its 32-D layer "
        "before the head as the embedding (needs --data-dir)",
        {**SEED004, "loss": "classifier", "normalize": False},
        needs={"data_dir": FASHION_FILES}),
    "seed004-enrol": Preset(
        "seed 004's enrolment: the triplet run with Trouser and Bag held out of training, to enrol them "
        "afterwards (the Enrol tab; needs --data-dir)",
        {**SEED004, "loss": "triplet", "margin": 1.0, "holdout_classes": ["Trouser", "Bag"]},
        needs={"data_dir": FASHION_FILES}),
    "seed004-embedding-size": Preset(
        "seed 004: a sweep of the triplet run over embedding sizes 2 4 8 32 128 (python -m training "
        "sweep; needs --data-dir)",
        {**SEED004, "loss": "triplet", "margin": 1.0},
        swept={"embedding_dim": [2, 4, 8, 32, 128]},
        needs={"data_dir": FASHION_FILES}),
}


def preset(name: str) -> Preset:
    if name not in PRESETS:
        raise InputError(f"unknown --preset {name!r}; `python -m training presets` lists them")
    return PRESETS[name]


def options_for(name: str, given: dict[str, Any], sweep: bool = False) -> dict[str, Any]:
    """The options of a run (or, with ``sweep``, a sweep's fixed options) from preset ``name``:
    its values, with ``given`` (the options written on the command line) over them.

    Raises InputError in one line for a sweep preset outside a sweep, or an option the preset
    needs that is not given (data that is not bundled)."""
    chosen = preset(name)
    if chosen.swept and not sweep:
        raise InputError(f"--preset {name} is a sweep: run it with python -m training sweep --preset {name} "
                         f"--runs-dir DIR")
    options = {**chosen.options, **given, "preset": name}
    for option, what in chosen.needs.items():
        if not options.get(option):
            raise InputError(f"--preset {name} needs {what}")
    return options


def lines() -> list[str]:
    """One line per preset: its name, then what it is."""
    width = max(map(len, PRESETS))
    return [f"{name:<{width}}  {p.help}" for name, p in PRESETS.items()]


def _check_known(presets: dict[str, Preset]) -> None:
    """Every option a preset names is a declared option of TrainConfig: a typo fails here, on import."""
    from training.config import TrainConfig
    from training.options import declared

    known = set(declared(TrainConfig))
    for name, chosen in presets.items():
        unknown = (set(chosen.options) | set(chosen.swept) | set(chosen.needs)) - known
        if unknown:
            raise ValueError(f"preset {name} names options that TrainConfig does not declare: "
                             f"{', '.join(sorted(unknown))}")


_check_known(PRESETS)
